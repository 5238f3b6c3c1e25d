//! What a dry run replays (docs/dry-run.md §3): a customer's logged reports of some components,
//! in the order they were logged.

use super::packed::Select;
use super::{in_list, placeholders, rows, Result};
use crate::domain::report_log::Reported;
use crate::domain::time::Micros;
use crate::domain::{Amount, Month, Uuid32};
use serde::Deserialize;
use sqlx::{AnyConnection, FromRow};
use std::collections::HashMap;

#[derive(FromRow, Deserialize)]
struct LogRow {
    resource_id: i64,
    component_id: i64,
    billing_month: i64,
    amount: i64,
    reported_at: i64,
}

/// The reports of the customer's resources on `component_ids` logged up to `until`, oldest
/// first (the order of arrival within one instant). Resources and components are by id.
pub async fn reports_of_customer(
    conn: &mut AnyConnection,
    customer_id: i64,
    component_ids: &[i64],
    until: Micros,
) -> Result<Vec<Reported<i64, i64>>> {
    if component_ids.is_empty() {
        return Ok(vec![]);
    }
    let components = in_list(component_ids);
    let from = format!(
        "FROM usage_report_log l JOIN resources r ON r.id = l.resource_id JOIN projects p ON p.id = r.project_id \
         WHERE p.customer_id = $1 AND l.reported_at <= $2 AND l.component_id IN ({})",
        placeholders(3, components.len())
    );
    let binds = [&[customer_id, until][..], &components].concat();
    let read: Vec<LogRow> = Select::new(
        &[
            "l.resource_id AS resource_id",
            "l.component_id AS component_id",
            "l.billing_month AS billing_month",
            "l.amount AS amount",
            "l.reported_at AS reported_at",
        ],
        &from,
    )
    .order_by("l.reported_at, l.id")
    .fetch_all(conn, &binds)
    .await?;
    Ok(read
        .into_iter()
        .map(|row| Reported {
            at: row.reported_at,
            resource: row.resource_id,
            component: row.component_id,
            month: Month::from_index(row.billing_month),
            amount: Amount::from_hundredths(row.amount),
        })
        .collect())
}

/// The uuids of the resources a timeline names, by id: only those, as the log's rows carry ids.
pub async fn resource_uuids(conn: &mut AnyConnection, resource_ids: &[i64]) -> Result<HashMap<i64, Uuid32>> {
    if resource_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let ids = in_list(resource_ids);
    let sql = format!(
        "SELECT id, uuid FROM resources WHERE id IN ({})",
        placeholders(1, ids.len())
    );
    let mut q = sqlx::query_as::<_, (i64, String)>(&sql);
    for id in &ids {
        q = q.bind(*id);
    }
    q.fetch_all(conn)
        .await?
        .into_iter()
        .map(|(id, uuid)| Ok((id, rows::uuid("resources.uuid", &uuid)?)))
        .collect()
}
