//! Which fired policy holds which flag of a resource (docs/ladder.md §5): rows of
//! `resource_restrictions`, never keys of the client's `attributes`. Holds are written by
//! `resources::hold` as a flag is set; here they are read.

use super::resources::Flag;
use super::rows::{decoded, uuid};
use super::{in_list, placeholders, Result, Tx};
use crate::domain::ladder::Hold;
use crate::domain::resource::{RestrictedFlag, Restriction};
use sqlx::{AnyPool, FromRow};

/// The holds on the flag of the customer's resources.
pub async fn of_customer(tx: &mut Tx, customer_id: i64, flag: Flag) -> Result<Vec<Hold>> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT rr.resource_id, rr.policy_id FROM resource_restrictions rr \
         JOIN resources r ON r.id = rr.resource_id JOIN projects p ON p.id = r.project_id \
         WHERE p.customer_id = $1 AND rr.flag = $2 ORDER BY rr.resource_id, rr.policy_id",
    )
    .bind(customer_id)
    .bind(flag.column())
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(resource_id, policy_id)| Hold { resource_id, policy_id })
        .collect())
}

#[derive(FromRow)]
struct RestrictionRow {
    resource_id: i64,
    flag: String,
    policy_uuid: String,
    since: i64,
}

/// The holds on the resources, as (resource id, restriction), oldest first.
pub async fn of_resources(pool: &AnyPool, resource_ids: &[i64]) -> Result<Vec<(i64, Restriction)>> {
    if resource_ids.is_empty() {
        return Ok(vec![]);
    }
    let ids = in_list(resource_ids);
    let sql = format!(
        "SELECT rr.resource_id, rr.flag, p.uuid AS policy_uuid, rr.since FROM resource_restrictions rr \
         JOIN policies p ON p.id = rr.policy_id WHERE rr.resource_id IN ({}) ORDER BY rr.since, p.id",
        placeholders(1, ids.len())
    );
    let mut q = sqlx::query_as::<_, RestrictionRow>(&sql);
    for id in &ids {
        q = q.bind(*id);
    }
    q.fetch_all(pool)
        .await?
        .into_iter()
        .map(|row| {
            let restriction = Restriction {
                flag: decoded("resource_restrictions.flag", &row.flag, RestrictedFlag::parse)?,
                policy_uuid: uuid("policies.uuid", &row.policy_uuid)?,
                since: row.since,
            };
            Ok((row.resource_id, restriction))
        })
        .collect()
}
