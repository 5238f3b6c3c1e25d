-- Which fired policy holds which flag of a resource. This used to be kept in the resource's
-- `attributes` (as `_policy_attribution`), JSON a client writes when it orders, so a crafted
-- value could break the policy that next set a flag. The attributes are now stored as sent and
-- never read; existing attributions move here, for the flags still set, and leave the attributes.

CREATE TABLE resource_restrictions (
    resource_id BIGINT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
    flag        TEXT   NOT NULL,
    policy_id   BIGINT NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
    since       BIGINT NOT NULL,
    PRIMARY KEY (resource_id, flag, policy_id)
);
CREATE INDEX resource_restrictions_policy ON resource_restrictions(policy_id);

-- Only attributions of flags that are set are moved; a flag is set only by a policy, which
-- wrote its own attribution at that moment, so their timestamps are ours.
INSERT INTO resource_restrictions (resource_id, flag, policy_id, since)
SELECT a.id, a.flag, pol.id,
       COALESCE((EXTRACT(EPOCH FROM (a.entry ->> 'timestamp')::timestamptz) * 1000000)::BIGINT, a.modified)
FROM (
    SELECT r.id, r.modified, p.customer_id, f.flag,
           CASE WHEN jsonb_typeof(r.attributes::jsonb -> '_policy_attribution') = 'object'
                 AND jsonb_typeof(r.attributes::jsonb -> '_policy_attribution' -> f.flag) = 'object'
                THEN r.attributes::jsonb -> '_policy_attribution' -> f.flag END AS entry,
           CASE f.flag WHEN 'paused' THEN r.paused WHEN 'downscaled' THEN r.downscaled
                ELSE r.restrict_member_access END AS is_set
    FROM resources r
    JOIN projects p ON p.id = r.project_id
    CROSS JOIN (VALUES ('paused'), ('downscaled'), ('restrict_member_access')) AS f(flag)
) a
JOIN policies pol ON pol.uuid = a.entry ->> 'policy_uuid' AND pol.customer_id = a.customer_id
WHERE a.is_set = 1;

UPDATE resources SET attributes = (attributes::jsonb - '_policy_attribution')::text
WHERE jsonb_typeof(attributes::jsonb -> '_policy_attribution') = 'object'
  AND 'CustomerComponentUsagePolicy' IN (
      attributes::jsonb -> '_policy_attribution' -> 'paused' ->> 'policy_class',
      attributes::jsonb -> '_policy_attribution' -> 'downscaled' ->> 'policy_class',
      attributes::jsonb -> '_policy_attribution' -> 'restrict_member_access' ->> 'policy_class');
