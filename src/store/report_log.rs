//! The report log (docs/api.md §8.4): appended in the transaction of the reports it records,
//! listed newest first to whoever may see the reported usage.

use super::rows;
use super::visibility as sql;
use super::{placeholders, Result, Tx};
use crate::authz::Visibility;
use crate::domain::report_log::{LoggedReport, ReportLogFilter, Reporter};
use crate::domain::{Amount, Month};
use sqlx::{AnyPool, Executor, FromRow};

/// A report of one component to append.
#[derive(Debug, Clone, Copy)]
pub struct LogEntry {
    pub resource_id: i64,
    pub component_id: i64,
    pub billing_month: i64,
    /// Hundredths.
    pub amount: i64,
    pub reported_at: i64,
    pub reported_by: i64,
    pub deleted: bool,
}

/// Entries per statement: 7 parameters each, well under both backends' limits on bound
/// parameters, also with the usage rows a report batch sends along (`store::usages`).
pub(super) const ENTRIES_PER_STATEMENT: usize = 1000;

/// The INSERT of `n` entries, its parameters numbered from `$first`.
pub(super) fn insert_sql(first: usize, n: usize) -> String {
    let values: Vec<String> = (0..n)
        .map(|i| format!("({})", placeholders(first + i * PARAMETERS, PARAMETERS)))
        .collect();
    format!(
        "INSERT INTO usage_report_log (resource_id, component_id, billing_month, amount, reported_at, \
         reported_by_id, deleted) VALUES {}",
        values.join(", ")
    )
}

/// Parameters an entry takes.
pub(super) const PARAMETERS: usize = 7;

/// Binds the entries' values in the order `insert_sql` numbers them.
pub(super) fn bind<'q, O>(
    mut q: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>,
    entries: &[LogEntry],
) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>> {
    for e in entries {
        q = q
            .bind(e.resource_id)
            .bind(e.component_id)
            .bind(e.billing_month)
            .bind(e.amount)
            .bind(e.reported_at)
            .bind(e.reported_by)
            .bind(i64::from(e.deleted));
    }
    q
}

/// Appends the entries, in their order. A report batch's entries go with its usage rows
/// instead, in the same round trip (`store::usages::replace_all`).
pub async fn append(tx: &mut Tx, entries: &[LogEntry]) -> Result<()> {
    for chunk in entries.chunks(ENTRIES_PER_STATEMENT) {
        let sql = insert_sql(1, chunk.len());
        // No row comes back, so the row type is never decoded.
        (&mut **tx)
            .execute(bind(sqlx::query_as::<_, (i64,)>(&sql), chunk))
            .await?;
    }
    Ok(())
}

#[derive(FromRow)]
struct LogRow {
    resource_uuid: String,
    resource_name: String,
    customer_uuid: String,
    component_type: String,
    billing_month: i64,
    amount: i64,
    reported_at: i64,
    reporter_uuid: Option<String>,
    reporter_username: Option<String>,
    deleted: i64,
}

impl TryFrom<LogRow> for LoggedReport {
    type Error = sqlx::Error;

    fn try_from(row: LogRow) -> Result<Self> {
        let reported_by = match (row.reporter_uuid, row.reporter_username) {
            (Some(uuid), Some(username)) => Some(Reporter {
                uuid: rows::uuid("users.uuid", &uuid)?,
                username,
            }),
            (None, None) => None,
            _ => return Err(rows::undecodable("reported_by", "a partial user")),
        };
        Ok(LoggedReport {
            resource_uuid: rows::uuid("resources.uuid", &row.resource_uuid)?,
            resource_name: row.resource_name,
            customer_uuid: rows::uuid("customers.uuid", &row.customer_uuid)?,
            component_type: row.component_type,
            billing_month: Month::from_index(row.billing_month),
            amount: Amount::from_hundredths(row.amount),
            reported_at: row.reported_at,
            reported_by,
            deleted: rows::flag("usage_report_log.deleted", row.deleted)?,
        })
    }
}

const SELECT: &str = "SELECT r.uuid AS resource_uuid, r.name AS resource_name, c.uuid AS customer_uuid, \
     oc.type AS component_type, l.billing_month, l.amount, l.reported_at, u.uuid AS reporter_uuid, \
     u.username AS reporter_username, l.deleted";

const FROM: &str = "FROM usage_report_log l JOIN offering_components oc ON oc.id = l.component_id \
     JOIN resources r ON r.id = l.resource_id JOIN offerings o ON o.id = r.offering_id \
     JOIN projects p ON p.id = r.project_id JOIN customers c ON c.id = p.customer_id \
     LEFT JOIN users u ON u.id = l.reported_by_id";

/// Whoever sees the resource's usage rows sees their reports (docs/api.md §8.4).
fn visible(vis: Visibility) -> String {
    sql::resource_usage(vis, "r.project_id", "p.customer_id", "o.customer_id", "$1", "$2")
}

const FILTER: &str = "($3 IS NULL OR r.uuid = $3) AND ($4 IS NULL OR c.uuid = $4) AND ($5 IS NULL OR oc.type = $5) \
     AND ($6 IS NULL OR l.reported_at >= $6) AND ($7 IS NULL OR l.reported_at < $7)";

macro_rules! bind_filter {
    ($q:expr, $vis:expr, $f:expr) => {{
        let (user, now) = $vis.binds();
        $q.bind(user)
            .bind(now)
            .bind($f.resource_uuid.clone())
            .bind($f.customer_uuid.clone())
            .bind($f.r#type.clone())
            .bind($f.reported_after)
            .bind($f.reported_before)
    }};
}

pub async fn count(pool: &AnyPool, vis: Visibility, f: &ReportLogFilter) -> Result<i64> {
    let sql = format!("SELECT COUNT(*) {FROM} WHERE {} AND {FILTER}", visible(vis));
    bind_filter!(sqlx::query_scalar(&sql), vis, f).fetch_one(pool).await
}

/// A page of the log, newest first (the order of arrival within one instant).
pub async fn list(
    pool: &AnyPool,
    vis: Visibility,
    f: &ReportLogFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<LoggedReport>> {
    let sql = format!(
        "{SELECT} {FROM} WHERE {} AND {FILTER} ORDER BY l.reported_at DESC, l.id DESC LIMIT $8 OFFSET $9",
        visible(vis)
    );
    bind_filter!(sqlx::query_as::<_, LogRow>(&sql), vis, f)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(LoggedReport::try_from)
        .collect()
}
