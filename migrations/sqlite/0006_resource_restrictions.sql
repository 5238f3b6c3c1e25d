-- Which fired policy holds which flag of a resource. This used to be kept in the resource's
-- `attributes` (as `_policy_attribution`), JSON a client writes when it orders, so a crafted
-- value could break the policy that next set a flag. The attributes are now stored as sent and
-- never read; existing attributions move here, for the flags still set, and leave the attributes.

CREATE TABLE resource_restrictions (
    resource_id INTEGER NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    flag        TEXT    NOT NULL,
    policy_id   INTEGER NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    since       INTEGER NOT NULL,
    PRIMARY KEY (resource_id, flag, policy_id)
);
CREATE INDEX resource_restrictions_policy ON resource_restrictions(policy_id);

INSERT INTO resource_restrictions (resource_id, flag, policy_id, since)
SELECT a.id, a.flag, pol.id,
       -- timestamps were rendered as YYYY-MM-DDTHH:MM:SS.ffffffZ
       COALESCE(CAST(strftime('%s', a.ts) AS INTEGER) * 1000000 + CAST(substr(a.ts, 21, 6) AS INTEGER), a.modified)
FROM (
    SELECT r.id, r.modified, p.customer_id, f.flag,
           CASE WHEN json_valid(r.attributes)
                THEN json_extract(r.attributes, '$._policy_attribution.' || f.flag || '.policy_uuid') END AS policy_uuid,
           CASE WHEN json_valid(r.attributes)
                THEN json_extract(r.attributes, '$._policy_attribution.' || f.flag || '.timestamp') END AS ts,
           CASE f.flag WHEN 'paused' THEN r.paused WHEN 'downscaled' THEN r.downscaled
                ELSE r.restrict_member_access END AS is_set
    FROM resources r
    JOIN projects p ON p.id = r.project_id
    CROSS JOIN (SELECT 'paused' AS flag UNION ALL SELECT 'downscaled' UNION ALL SELECT 'restrict_member_access') f
) a
JOIN policies pol ON pol.uuid = a.policy_uuid AND pol.customer_id = a.customer_id
WHERE a.is_set = 1;

UPDATE resources SET attributes = json_remove(attributes, '$._policy_attribution')
WHERE json_valid(attributes)
  AND 'CustomerComponentUsagePolicy' IN (
      json_extract(attributes, '$._policy_attribution.paused.policy_class'),
      json_extract(attributes, '$._policy_attribution.downscaled.policy_class'),
      json_extract(attributes, '$._policy_attribution.restrict_member_access.policy_class'));
