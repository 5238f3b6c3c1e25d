//! Usage reports: replace the month's amount per (resource, component, billing month), keep the
//! customer's monthly totals, and re-evaluate the affected policies, all in one transaction.
//! Reports arrive through `report_batch::ReportQueue`, which commits them in groups. Also the
//! rows they leave: listed, retrieved, deleted (docs/api.md §8).

use super::evaluation::{self, MonthDelta, UsageChange};
use super::report_batch::{Queued, ReportQueue};
use super::{access, ServiceError, ServiceResult};
use crate::actions::ActionsConfig;
use crate::authz::{Principal, Visibility};
use crate::domain::page::{Listed, PageRequest};
use crate::domain::usage::{UsageFilter, UsageRecord};
use crate::domain::{Amount, BillingType, Month, Uuid32};
use crate::engine::TransitionCount;
use crate::store::report_log::LogEntry;
use crate::store::usages::{TotalDelta, UsageReport, UsageTarget};
use crate::store::{self, Db, Tx};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// The 404 detail of a usage row that does not exist or that the caller may not see.
pub const NOT_FOUND: &str = "No ComponentUsage matches the given query.";

pub struct UsageItem {
    pub component_type: String,
    pub amount: Amount,
    pub description: String,
    pub recurring: bool,
}

/// Who reports: staff may backfill anything; a provider only what upstream lets it.
#[derive(Debug, Clone, Copy)]
pub struct Reporter {
    pub user_id: i64,
    pub is_staff: bool,
    /// Staff, or a manager of the service provider whose offering the resource uses.
    pub may_report: bool,
}

pub struct Report {
    pub resource: Uuid32,
    pub items: Vec<UsageItem>,
    /// When the usage was measured; its month is the billing period. `None`: now.
    pub date: Option<DateTime<Utc>>,
}

/// What a checked report writes.
pub(super) struct Plan<'r> {
    resource_id: i64,
    customer_id: i64,
    month: Month,
    date: DateTime<Utc>,
    user_id: i64,
    /// When it was reported.
    now: DateTime<Utc>,
    /// (component id, item).
    rows: Vec<(i64, &'r UsageItem)>,
}

/// The refusal of a report on a resource that does not exist, or that the caller may neither
/// see nor report on.
fn no_such_resource(uuid: &Uuid32) -> ServiceError {
    ServiceError::Field(
        "resource",
        format!("Object with uuid={} does not exist.", uuid.hyphenated()),
    )
}

/// Reports usage (docs/api.md §8.2): decides who may report, then queues the report for the
/// next batch and answers once it is committed or refused. Who may report is only known once
/// the resource is found; the provider's roles are loaded before the report's transaction,
/// which only reads the verdict.
pub async fn report(
    db: &Db,
    queue: &ReportQueue,
    caller: &Principal,
    report: Report,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let may_report = caller.is_staff || {
        let vis = Visibility::of(caller, now.timestamp_micros());
        let Some(resource) = store::usages::reported_resource(db.reader(), &report.resource, vis).await? else {
            return Err(no_such_resource(&report.resource));
        };
        let may =
            access::may_act_for_provider(db, caller, resource.provider_customer_id, now.timestamp_micros()).await?;
        // Refused either way; a resource the caller cannot see must look missing, not forbidden.
        if !may && !resource.visible {
            return Err(no_such_resource(&report.resource));
        }
        may
    };
    let reporter = Reporter {
        user_id: caller.id,
        is_staff: caller.is_staff,
        may_report,
    };
    queue.submit(Queued { reporter, report, now }).await
}

/// The usage rows the caller may see that pass `filter`, newest first, one page of them.
pub async fn list(
    db: &Db,
    caller: &Principal,
    filter: &UsageFilter,
    request: PageRequest,
    now: i64,
) -> ServiceResult<Listed<UsageRecord>> {
    let vis = Visibility::of(caller, now);
    let page = request.resolve(store::usages::count(db.reader(), vis, filter).await?)?;
    let items = store::usages::list(db.reader(), vis, filter, page.limit(), page.offset()).await?;
    Ok(Listed { items, page })
}

/// A usage row the caller may see.
pub async fn retrieve(db: &Db, caller: &Principal, uuid: &Uuid32, now: i64) -> ServiceResult<UsageRecord> {
    store::usages::visible_by_uuid(db.reader(), uuid, Visibility::of(caller, now))
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))
}

/// Everything that can reject a report, given its resource as `targets` read it (`None`: no
/// such resource). A rejected report has written nothing, so it can fail inside a transaction
/// that goes on for other reports.
pub(super) fn check<'r>(
    target: Option<UsageTarget>,
    reporter: Reporter,
    report: &'r Report,
    now: DateTime<Utc>,
) -> ServiceResult<Plan<'r>> {
    let resource = target.ok_or_else(|| no_such_resource(&report.resource))?;
    if !reporter.may_report {
        return Err(ServiceError::Forbidden);
    }
    if resource.plan_id.is_none() {
        return Err(ServiceError::Field(
            "resource",
            "Resource must have a plan to report usage.".into(),
        ));
    }
    if !resource.state.accepts_usage() {
        return Err(ServiceError::Field(
            "resource",
            "Resource is not in valid state.".into(),
        ));
    }
    let date = report.date.unwrap_or(now);
    if date.date_naive() > now.date_naive() {
        return Err(ServiceError::Field(
            "date",
            "Cannot submit usage for future dates. Date must be current date or earlier.".into(),
        ));
    }
    let components = &resource.components;
    let mut invalid = BTreeSet::new();
    let mut rows = Vec::new();
    for item in &report.items {
        let metered = components
            .iter()
            .find(|c| c.r#type == item.component_type && c.billing_type.is_metered());
        match metered {
            Some(c) => rows.push((c, item)),
            None => {
                invalid.insert(item.component_type.clone());
            }
        }
    }
    if !invalid.is_empty() {
        let names: Vec<String> = invalid.into_iter().collect();
        // Upstream raises it in the serializer's validate(), which DRF files under
        // non_field_errors (clients such as waldur-site-agent read it there).
        return Err(ServiceError::Field(
            "non_field_errors",
            format!("These components are invalid: {}.", names.join(", ")),
        ));
    }
    let month = Month::of(date.date_naive());
    let backfill = month < Month::of(now.date_naive());
    if backfill && !reporter.is_staff && rows.iter().any(|(c, _)| c.billing_type != BillingType::Limit) {
        return Err(ServiceError::Field(
            "date",
            "Service providers can only specify date for limit-based billing components when backfilling past billing periods.".into(),
        ));
    }
    Ok(Plan {
        resource_id: resource.resource_id,
        customer_id: resource.customer_id,
        month,
        date,
        user_id: reporter.user_id,
        now,
        rows: rows.into_iter().map(|(c, item)| (c.id, item)).collect(),
    })
}

/// Writes checked reports, in their order, and re-evaluates the policies they touch, each
/// report's decisions made as if it had been committed alone; fails only on the database.
/// Returns the transitions it made. Each statement covers the whole batch. The caller holds the
/// locks of the reports' customers (`store::usages::targets` takes them).
pub(super) async fn apply(
    tx: &mut Tx,
    db: &Db,
    cfg: &ActionsConfig,
    plans: &[Plan<'_>],
) -> store::Result<TransitionCount> {
    // A key reported twice keeps the later amount; the earlier one still counts in between.
    let mut latest = BTreeMap::new();
    for plan in plans {
        for (component_id, item) in &plan.rows {
            let row = UsageReport {
                resource_id: plan.resource_id,
                component_id: *component_id,
                billing_month: plan.month.index(),
                usage: item.amount.hundredths(),
                date: plan.date.timestamp_micros(),
                description: &item.description,
                recurring: item.recurring,
                modified_by: plan.user_id,
                at: plan.now.timestamp_micros(),
            };
            latest.insert((row.resource_id, row.component_id, row.billing_month), row);
        }
    }
    let rows: Vec<UsageReport> = latest.into_values().collect();
    // Every report is logged as it came, the repeats and the replaced amounts included
    // (docs/api.md §8.4).
    let logged: Vec<LogEntry> = plans
        .iter()
        .flat_map(|plan| {
            plan.rows.iter().map(|(component_id, item)| LogEntry {
                resource_id: plan.resource_id,
                component_id: *component_id,
                billing_month: plan.month.index(),
                amount: item.amount.hundredths(),
                reported_at: plan.now.timestamp_micros(),
                reported_by: plan.user_id,
                deleted: false,
            })
        })
        .collect();
    let customers: Vec<i64> = plans.iter().map(|plan| plan.customer_id).collect();
    let components: Vec<i64> = rows.iter().map(|row| row.component_id).collect();
    let instants: Vec<DateTime<Utc>> = plans.iter().map(|plan| plan.now).collect();
    // Read before the writes, so that the totals are read in the upsert's round trip.
    let affected = evaluation::before_usage_changes(tx, &customers, &components, &instants).await?;
    let replaced = store::usages::replace_all(tx, &rows, &logged, affected.totals_wanted()).await?;
    let mut amounts = replaced.previous;
    // Only totals that moved can change a decision: a report that repeats the month's amount
    // (providers often resend) writes its row and stops there.
    let mut changes = Vec::new();
    for plan in plans {
        let mut deltas = Vec::new();
        for (component_id, item) in &plan.rows {
            let key = (plan.resource_id, *component_id, plan.month.index());
            let before = amounts.insert(key, item.amount.hundredths()).unwrap_or(0);
            let delta = item.amount.hundredths() - before;
            if delta != 0 {
                deltas.push(MonthDelta {
                    component_id: *component_id,
                    billing_month: plan.month.index(),
                    delta,
                });
            }
        }
        if !deltas.is_empty() {
            changes.push(UsageChange {
                customer_id: plan.customer_id,
                now: plan.now,
                deltas,
            });
        }
    }
    evaluation::after_usage_changes(tx, db, cfg, affected, &replaced.totals_before, &changes).await
}

/// Deletes a usage row (staff); its amount leaves the totals and the policies are re-evaluated
/// (docs/evaluation.md §4.3). The log records it as a report of 0 (docs/api.md §8.4).
pub async fn delete(
    db: &Db,
    cfg: &ActionsConfig,
    caller: &Principal,
    uuid: &Uuid32,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let mut tx = db.begin().await?;
    // Found first to learn its customer, then read again under the customer's lock, which every
    // writer of the row and of the totals holds (docs/evaluation.md §5.1).
    let Some(found) = store::usages::key_for_delete(&mut tx, uuid).await? else {
        return Err(ServiceError::NotFound(NOT_FOUND));
    };
    evaluation::lock_customers(&mut tx, &[found.customer_id]).await?;
    let Some(key) = store::usages::key_for_delete(&mut tx, uuid).await? else {
        return Err(ServiceError::NotFound(NOT_FOUND));
    };
    // A row of 0 moves no total, so no policy is decided on.
    let moved = (key.usage != 0).then_some(key.component_id);
    let affected = evaluation::before_usage_changes(&mut tx, &[key.customer_id], moved.as_slice(), &[now]).await?;
    let totals_before = match affected.totals_wanted() {
        Some(wanted) => store::evaluation::totals(&mut tx, wanted).await?,
        None => Vec::new(),
    };
    store::usages::delete(&mut tx, key.id).await?;
    let deletion = LogEntry {
        resource_id: key.resource_id,
        component_id: key.component_id,
        billing_month: key.billing_month,
        amount: 0,
        reported_at: now.timestamp_micros(),
        reported_by: caller.id,
        deleted: true,
    };
    store::report_log::append(&mut tx, &[deletion]).await?;
    let mut changes = Vec::new();
    if key.usage != 0 {
        store::usages::add_to_total(
            &mut tx,
            TotalDelta {
                customer_id: key.customer_id,
                component_id: key.component_id,
                billing_month: key.billing_month,
                delta: -key.usage,
            },
        )
        .await?;
        changes.push(UsageChange {
            customer_id: key.customer_id,
            now,
            deltas: vec![MonthDelta {
                component_id: key.component_id,
                billing_month: key.billing_month,
                delta: -key.usage,
            }],
        });
    }
    let transitions = evaluation::after_usage_changes(&mut tx, db, cfg, affected, &totals_before, &changes).await?;
    tx.commit().await?;
    cfg.after_commit(transitions);
    Ok(())
}
