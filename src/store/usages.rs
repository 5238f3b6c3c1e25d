//! Component usage rows and the per-customer monthly totals kept beside them.

use super::evaluation::{TotalRow, TotalsWanted, TOTAL_COLUMNS};
use super::report_log::{self, LogEntry};
use super::rows::{self, undecodable};
use super::visibility as sql;
use super::{in_list, placeholders, Backend, Result, RowLock, Tx};
use crate::authz::Visibility;
use crate::domain::evaluation::CustomerTotal;
use crate::domain::marketplace::ResourceState;
use crate::domain::usage::{UsageFilter, UsageRecord};
use crate::domain::{Amount, BillingType, Month, Uuid32};
use sqlx::{AnyPool, FromRow};
use std::collections::HashMap;

/// One reported amount: the month's total for (resource, component, billing month).
pub struct UsageReport<'a> {
    pub resource_id: i64,
    pub component_id: i64,
    pub billing_month: i64,
    /// Hundredths.
    pub usage: i64,
    pub date: i64,
    pub description: &'a str,
    pub recurring: bool,
    pub modified_by: i64,
    /// When it was reported (created or modified).
    pub at: i64,
}

/// (resource, component, billing month): what a usage row is unique on.
pub type RowKey = (i64, i64, i64);

/// Rows per statement, well under both backends' limits on bound parameters.
const ROWS_PER_STATEMENT: usize = 200;

/// What `replace_all` did: per key, the amount it replaced (0 for a new row), and the monthly
/// totals it was asked for, as they stood before it.
pub struct Replaced {
    pub previous: HashMap<RowKey, i64>,
    pub totals_before: Vec<CustomerTotal>,
}

/// Replaces the usage of each report's key, adds what each replacement moved to its customer's
/// monthly total, and reads the totals `wanted` as they were before. `reports` holds each key
/// once. The caller holds the locks of the reported resources' customers (`targets`): every
/// writer of a customer's usage rows and totals takes that lock first (docs/evaluation.md §5.1),
/// so these rows are written in no particular order without two writers ever waiting on each
/// other. `log`, the reports as they came, is appended to the report log, and the totals are
/// added to and read, in the same round trip as the first upsert (docs/api.md §8.4): each as its
/// own statement cost a batch a round trip more (bench/RESULTS.md runs 20, 25 and 27).
pub async fn replace_all(
    tx: &mut Tx,
    reports: &[UsageReport<'_>],
    log: &[LogEntry],
    wanted: Option<&TotalsWanted>,
) -> Result<Replaced> {
    let mut replaced = Replaced {
        previous: HashMap::with_capacity(reports.len()),
        totals_before: Vec::new(),
    };
    let (mut log_along, rest) = log.split_at(log.len().min(report_log::ENTRIES_PER_STATEMENT));
    let mut wanted_along = wanted;
    let backend = Backend::of(tx);
    for chunk in reports.chunks(ROWS_PER_STATEMENT) {
        let first = log_along.len() * report_log::PARAMETERS;
        let sql = replace_sql(backend, log_along.len(), first, chunk.len(), wanted_along);
        let mut q = report_log::bind(sqlx::query_as(&sql), log_along);
        log_along = &[];
        for r in chunk {
            q = q
                .bind(Uuid32::new_v4().to_string())
                .bind(r.resource_id)
                .bind(r.component_id)
                .bind(r.billing_month)
                .bind(r.usage)
                .bind(r.date)
                .bind(r.description)
                .bind(i64::from(r.recurring))
                .bind(r.modified_by)
                .bind(r.at);
        }
        for value in wanted_along.map(TotalsWanted::binds).unwrap_or_default() {
            q = q.bind(value);
        }
        wanted_along = None;
        let rows: Vec<(i64, i64, i64, i64, i64)> = q.fetch_all(&mut **tx).await?;
        for (kind, a, b, c, d) in rows {
            if kind == TOTAL_ROW {
                let row = TotalRow {
                    customer_id: a,
                    component_id: b,
                    billing_month: c,
                    usage: d,
                };
                replaced.totals_before.push(row.into());
            } else {
                replaced.previous.insert((a, b, c), d);
            }
        }
    }
    // Without usage rows, or past the first statement's share, the log goes on its own.
    report_log::append(tx, log_along).await?;
    report_log::append(tx, rest).await?;
    if let Some(wanted) = wanted_along {
        replaced.totals_before = super::evaluation::totals(tx, wanted).await?;
    }
    Ok(replaced)
}

/// Parameters a usage row takes in `replace_sql`.
const ROW_PARAMETERS: usize = 10;

/// The first column of `replace_sql`'s rows: a usage row's replaced amount, or a monthly total.
const USAGE_ROW: i64 = 0;
const TOTAL_ROW: i64 = 1;

/// One round trip of `replace_all`: `logged` log entries (parameters from $1), then the upsert of
/// `rows` usage rows (parameters after `first`), then the totals, then the read of the totals
/// `wanted` (parameters after the rows'). PostgreSQL runs it as one statement, the log's INSERT
/// and the totals' as data-modifying WITHs, the totals summed from what the upsert returns; its
/// read of the totals sees them as they were before the statement, as every part of one statement
/// does. SQLite, which has no data-modifying WITH, runs the statements of the text one after the
/// other: the read first, and the totals' write reads the rows the upsert has just written.
fn replace_sql(backend: Backend, logged: usize, first: usize, rows: usize, wanted: Option<&TotalsWanted>) -> String {
    let values: Vec<String> = (0..rows)
        .map(|i| {
            let p = first + i * ROW_PARAMETERS;
            format!(
                "({}, 0, {}, ${})",
                placeholders(p + 1, 5),
                placeholders(p + 6, 5),
                p + 10
            )
        })
        .collect();
    // A new row's previous_usage is 0, a replaced one's the amount it replaced.
    let upsert = format!(
        "INSERT INTO component_usages (uuid, resource_id, component_id, billing_month, usage, \
         previous_usage, date, description, recurring, modified_by_id, created, modified) \
         VALUES {} ON CONFLICT (resource_id, component_id, billing_month) DO UPDATE SET \
         previous_usage = component_usages.usage, usage = excluded.usage, date = excluded.date, \
         description = excluded.description, recurring = excluded.recurring, \
         modified_by_id = excluded.modified_by_id, modified = excluded.modified",
        values.join(", ")
    );
    let returned = format!("CAST({USAGE_ROW} AS BIGINT), resource_id, component_id, billing_month, previous_usage");
    let read = wanted.map(|wanted| {
        format!(
            "SELECT CAST({TOTAL_ROW} AS BIGINT), {} {}",
            TOTAL_COLUMNS.join(", "),
            wanted.where_sql(first + rows * ROW_PARAMETERS + 1)
        )
    });
    let log = (logged > 0).then(|| report_log::insert_sql(1, logged));
    match backend {
        Backend::Postgres => {
            let log = log.map_or(String::new(), |log| format!("logged AS ({log}), "));
            let read = read.map_or(String::new(), |read| format!(" UNION ALL {read}"));
            format!(
                "WITH {log}up AS ({upsert} RETURNING resource_id, component_id, billing_month, usage, \
                 previous_usage), moved AS ({}) SELECT {returned} FROM up{read}",
                add_moved("up u")
            )
        }
        Backend::Sqlite => {
            let keys: Vec<String> = (0..rows)
                .map(|i| format!("({})", placeholders(first + i * ROW_PARAMETERS + 2, 3)))
                .collect();
            // Driven by the keys (CROSS JOIN keeps that order), so the rows are found by the
            // unique key instead of a scan.
            let written = format!(
                "(VALUES {}) k CROSS JOIN component_usages u ON u.resource_id = k.column1 \
                 AND u.component_id = k.column2 AND u.billing_month = k.column3",
                keys.join(", ")
            );
            let read = read.map_or(String::new(), |read| format!("{read}; "));
            let log = log.map_or(String::new(), |log| format!("{log}; "));
            format!("{read}{log}{upsert} RETURNING {returned}; {}", add_moved(&written))
        }
    }
}

/// Adds to the customers' monthly totals what the usage rows `u` of `source` moved, one row per
/// customer, component and month; a total that did not move is not written. (`WHERE true` keeps
/// SQLite from reading the upsert's ON as a join's.)
fn add_moved(source: &str) -> String {
    format!(
        "INSERT INTO usage_totals (customer_id, component_id, billing_month, usage) \
         SELECT p.customer_id, u.component_id, u.billing_month, SUM(u.usage - u.previous_usage) \
         FROM {source} JOIN resources r ON r.id = u.resource_id JOIN projects p ON p.id = r.project_id \
         WHERE true GROUP BY p.customer_id, u.component_id, u.billing_month \
         HAVING SUM(u.usage - u.previous_usage) <> 0 \
         ON CONFLICT (customer_id, component_id, billing_month) DO UPDATE SET usage = usage_totals.usage + excluded.usage"
    )
}

/// A reported resource with its offering's components: all a report is checked against.
#[derive(Debug, Clone)]
pub struct UsageTarget {
    pub resource_id: i64,
    pub customer_id: i64,
    pub plan_id: Option<i64>,
    pub state: ResourceState,
    pub components: Vec<TargetComponent>,
}

#[derive(Debug, Clone)]
pub struct TargetComponent {
    pub id: i64,
    pub r#type: String,
    pub billing_type: BillingType,
}

#[derive(FromRow)]
struct TargetRow {
    resource_uuid: String,
    resource_id: i64,
    customer_id: i64,
    plan_id: Option<i64>,
    state: String,
    component_id: Option<i64>,
    component_type: Option<String>,
    billing_type: Option<String>,
}

/// The reported resources, by uuid (hex), in one query for a whole batch of reports, with their
/// customers' rows locked (PostgreSQL) in id order: the batch goes on to write those customers'
/// usage rows and totals and to evaluate their policies, which every path does under that lock
/// (docs/evaluation.md §5.1); taking it here saves the batch a round trip. The resources are
/// not locked: reports on one key queue on their customer, and a policy action that flags a
/// resource must not wait for the report that fired it to end.
pub async fn targets(tx: &mut Tx, resources: &[&Uuid32]) -> Result<HashMap<String, UsageTarget>> {
    let mut targets: HashMap<String, UsageTarget> = HashMap::with_capacity(resources.len());
    if resources.is_empty() {
        return Ok(targets);
    }
    let uuids = in_list(resources);
    let lock = RowLock::Update.of(tx, "c");
    // Rows are locked in the order they are sorted in, so the customers come first.
    let sql = format!(
        "SELECT r.uuid AS resource_uuid, r.id AS resource_id, p.customer_id, r.plan_id, r.state, \
         oc.id AS component_id, oc.type AS component_type, oc.billing_type FROM resources r \
         JOIN projects p ON p.id = r.project_id JOIN customers c ON c.id = p.customer_id \
         LEFT JOIN offering_components oc ON oc.offering_id = r.offering_id \
         WHERE r.uuid IN ({}) ORDER BY c.id, r.id, oc.id {lock}",
        placeholders(1, uuids.len())
    );
    let mut q = sqlx::query_as(&sql);
    for uuid in uuids {
        q = q.bind(uuid.to_string());
    }
    let read: Vec<TargetRow> = q.fetch_all(&mut **tx).await?;
    for row in read {
        let target = match targets.entry(row.resource_uuid) {
            std::collections::hash_map::Entry::Occupied(found) => found.into_mut(),
            std::collections::hash_map::Entry::Vacant(new) => new.insert(UsageTarget {
                resource_id: row.resource_id,
                customer_id: row.customer_id,
                plan_id: row.plan_id,
                state: ResourceState::parse(&row.state).ok_or_else(|| undecodable("resources.state", &row.state))?,
                components: Vec::new(),
            }),
        };
        if let (Some(id), Some(r#type), Some(billing_type)) = (row.component_id, row.component_type, row.billing_type) {
            target.components.push(TargetComponent {
                id,
                r#type,
                billing_type: BillingType::parse(&billing_type)
                    .ok_or_else(|| undecodable("offering_components.billing_type", &billing_type))?,
            });
        }
    }
    Ok(targets)
}

/// A change of a customer's monthly total of a component, in hundredths.
#[derive(Debug, Clone, Copy)]
pub struct TotalDelta {
    pub customer_id: i64,
    pub component_id: i64,
    pub billing_month: i64,
    pub delta: i64,
}

/// Adds the delta to the customer's monthly total; the caller holds the customer's lock.
pub async fn add_to_total(tx: &mut Tx, d: TotalDelta) -> Result<()> {
    sqlx::query(
        "INSERT INTO usage_totals (customer_id, component_id, billing_month, usage) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (customer_id, component_id, billing_month) \
         DO UPDATE SET usage = usage_totals.usage + excluded.usage",
    )
    .bind(d.customer_id)
    .bind(d.component_id)
    .bind(d.billing_month)
    .bind(d.delta)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What a deletion needs to undo a row's contribution.
#[derive(Debug, Clone, FromRow)]
pub struct UsageKey {
    pub id: i64,
    pub resource_id: i64,
    pub customer_id: i64,
    pub component_id: i64,
    pub billing_month: i64,
    pub usage: i64,
}

/// The row's key. Not locked: its writers hold its customer's lock, which the deletion takes
/// before it reads the key again.
pub async fn key_for_delete(tx: &mut Tx, uuid: &Uuid32) -> Result<Option<UsageKey>> {
    sqlx::query_as(
        "SELECT u.id, u.resource_id, p.customer_id, u.component_id, u.billing_month, u.usage FROM component_usages u \
         JOIN resources r ON r.id = u.resource_id JOIN projects p ON p.id = r.project_id \
         WHERE u.uuid = $1",
    )
    .bind(uuid.to_string())
    .fetch_optional(&mut **tx)
    .await
}

pub async fn delete(tx: &mut Tx, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM component_usages WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[derive(FromRow)]
struct UsageRow {
    uuid: String,
    created: i64,
    description: String,
    component_type: String,
    component_name: String,
    measured_unit: String,
    usage: i64,
    date: i64,
    recurring: i64,
    billing_month: i64,
    resource_uuid: String,
    resource_name: String,
    offering_uuid: String,
    offering_name: String,
    project_uuid: String,
    project_name: String,
    customer_uuid: String,
    customer_name: String,
    modified_by: Option<i64>,
}

impl TryFrom<UsageRow> for UsageRecord {
    type Error = sqlx::Error;

    fn try_from(row: UsageRow) -> Result<Self> {
        Ok(UsageRecord {
            uuid: rows::uuid("component_usages.uuid", &row.uuid)?,
            created: row.created,
            description: row.description,
            component_type: row.component_type,
            component_name: row.component_name,
            measured_unit: row.measured_unit,
            usage: Amount::from_hundredths(row.usage),
            date: row.date,
            recurring: rows::flag("recurring", row.recurring)?,
            billing_period: Month::from_index(row.billing_month),
            resource_uuid: rows::uuid("resources.uuid", &row.resource_uuid)?,
            resource_name: row.resource_name,
            offering_uuid: rows::uuid("offerings.uuid", &row.offering_uuid)?,
            offering_name: row.offering_name,
            project_uuid: rows::uuid("projects.uuid", &row.project_uuid)?,
            project_name: row.project_name,
            customer_uuid: rows::uuid("customers.uuid", &row.customer_uuid)?,
            customer_name: row.customer_name,
            modified_by: row.modified_by,
        })
    }
}

const SELECT: &str = "SELECT u.uuid, u.created, u.description, oc.type AS component_type, \
     oc.name AS component_name, oc.measured_unit, u.usage, u.date, u.recurring, u.billing_month, \
     r.uuid AS resource_uuid, r.name AS resource_name, o.uuid AS offering_uuid, o.name AS offering_name, \
     p.uuid AS project_uuid, p.name AS project_name, c.uuid AS customer_uuid, c.name AS customer_name, \
     u.modified_by_id AS modified_by";

const FROM: &str = "FROM component_usages u JOIN offering_components oc ON oc.id = u.component_id \
     JOIN resources r ON r.id = u.resource_id JOIN offerings o ON o.id = r.offering_id \
     JOIN projects p ON p.id = r.project_id JOIN customers c ON c.id = p.customer_id";

/// Whoever sees the resource's usage (store::visibility::resource_usage).
fn visible(vis: Visibility, u: &str, n: &str) -> String {
    sql::resource_usage(vis, "r.project_id", "p.customer_id", "o.customer_id", u, n)
}

const FILTER: &str = "($3 IS NULL OR c.uuid = $3) AND ($4 IS NULL OR p.uuid = $4) \
     AND ($5 IS NULL OR o.uuid = $5) AND ($6 IS NULL OR r.uuid = $6) AND ($7 IS NULL OR oc.type = $7) \
     AND ($8 IS NULL OR u.billing_month = $8) AND ($9 IS NULL OR u.billing_month / 12 = $9) \
     AND ($10 IS NULL OR u.billing_month % 12 + 1 = $10) AND ($11 IS NULL OR u.date >= $11) \
     AND ($12 IS NULL OR u.date < $12)";

macro_rules! bind_filter {
    ($q:expr, $vis:expr, $f:expr) => {{
        let (user, now) = $vis.binds();
        $q.bind(user)
            .bind(now)
            .bind($f.customer_uuid.clone())
            .bind($f.project_uuid.clone())
            .bind($f.offering_uuid.clone())
            .bind($f.resource_uuid.clone())
            .bind($f.r#type.clone())
            .bind($f.billing_month.map(Month::index))
            .bind($f.billing_year)
            .bind($f.billing_month_of_year)
            .bind($f.date_after)
            .bind($f.date_before)
    }};
}

pub async fn count(pool: &AnyPool, vis: Visibility, f: &UsageFilter) -> Result<i64> {
    let sql = format!("SELECT COUNT(*) {FROM} WHERE {} AND {FILTER}", visible(vis, "$1", "$2"));
    bind_filter!(sqlx::query_scalar(&sql), vis, f).fetch_one(pool).await
}

pub async fn list(
    pool: &AnyPool,
    vis: Visibility,
    f: &UsageFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<UsageRecord>> {
    let sql = format!(
        "{SELECT} {FROM} WHERE {} AND {FILTER} ORDER BY u.date DESC, oc.type, u.id LIMIT $13 OFFSET $14",
        visible(vis, "$1", "$2")
    );
    bind_filter!(sqlx::query_as::<_, UsageRow>(&sql), vis, f)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(UsageRecord::try_from)
        .collect()
}

pub async fn visible_by_uuid(pool: &AnyPool, uuid: &Uuid32, vis: Visibility) -> Result<Option<UsageRecord>> {
    let (user, now) = vis.binds();
    sqlx::query_as::<_, UsageRow>(&format!(
        "{SELECT} {FROM} WHERE u.uuid = $1 AND {}",
        visible(vis, "$2", "$3")
    ))
    .bind(uuid.to_string())
    .bind(user)
    .bind(now)
    .fetch_optional(pool)
    .await?
    .map(UsageRecord::try_from)
    .transpose()
}

/// A resource a usage report names, as deciding who may report on it needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportedResource {
    /// The customer of the resource's offering: its owners and managers may report.
    pub provider_customer_id: i64,
    /// Whether the caller whose visibility was asked for may see the resource.
    pub visible: bool,
}

/// The resource a report names, in one query, before the report's transaction.
pub async fn reported_resource(pool: &AnyPool, uuid: &Uuid32, vis: Visibility) -> Result<Option<ReportedResource>> {
    let (user, now) = vis.binds();
    let found: Option<(i64, i64)> = sqlx::query_as(&format!(
        "SELECT o.customer_id, CASE WHEN {} THEN 1 ELSE 0 END FROM resources r \
         JOIN projects p ON p.id = r.project_id JOIN offerings o ON o.id = r.offering_id WHERE r.uuid = $1",
        sql::project_member(vis, "r.project_id", "p.customer_id", "$2", "$3")
    ))
    .bind(uuid.to_string())
    .bind(user)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    found
        .map(|(provider_customer_id, visible)| {
            Ok(ReportedResource {
                provider_customer_id,
                visible: rows::flag("visible", visible)?,
            })
        })
        .transpose()
}
