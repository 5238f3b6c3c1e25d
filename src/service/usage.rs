//! Usage reports: replace the month's amount per (resource, component, billing month), keep the
//! customer's monthly totals, and re-evaluate the affected policies, all in one transaction.

use super::{evaluation, ServiceError, ServiceResult};
use crate::actions::ActionsConfig;
use crate::domain::marketplace::ResourceState;
use crate::domain::{Amount, BillingType, Month, Uuid32};
use crate::store::usages::{UsageReport, UsageTarget};
use crate::store::{self, Db, Tx};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;

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

/// Applies one report in its own transaction; the policies' decisions are committed with it.
/// Reports arrive through `report_batch::ReportQueue`, which on SQLite commits them in groups.
pub(super) async fn set_usage(
    db: &Db,
    cfg: &ActionsConfig,
    reporter: Reporter,
    report: &Report,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let mut tx = db.begin().await?;
    let mut targets = store::usages::targets(&mut tx, &[&report.resource]).await?;
    let target = targets.remove(&report.resource.to_string());
    let plan = check(target, reporter, report, now)?;
    let transitions = apply(&mut tx, db, cfg, plan, now).await?;
    tx.commit().await?;
    cfg.after_commit(transitions);
    metrics::counter!("meterguard_usage_reports_total").increment(1);
    Ok(())
}

/// What a checked report writes.
pub(super) struct Plan<'r> {
    resource_id: i64,
    customer_id: i64,
    month: Month,
    date: DateTime<Utc>,
    user_id: i64,
    /// (component id, item), in component id order.
    rows: Vec<(i64, &'r UsageItem)>,
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
    let resource = target.ok_or_else(|| {
        ServiceError::Field(
            "resource",
            format!("Object with uuid={} does not exist.", report.resource.hyphenated()),
        )
    })?;
    if !reporter.may_report {
        return Err(ServiceError::Forbidden);
    }
    if resource.plan_id.is_none() {
        return Err(ServiceError::Field(
            "resource",
            "Resource must have a plan to report usage.".into(),
        ));
    }
    if !ResourceState::parse(&resource.state).is_some_and(ResourceState::accepts_usage) {
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
        let metered = components.iter().find(|c| {
            c.r#type == item.component_type && BillingType::parse(&c.billing_type).is_some_and(BillingType::is_metered)
        });
        match metered {
            Some(c) => rows.push((c, item)),
            None => {
                invalid.insert(item.component_type.clone());
            }
        }
    }
    if !invalid.is_empty() {
        let names: Vec<String> = invalid.into_iter().collect();
        return Err(ServiceError::Rejected(format!(
            "These components are invalid: {}.",
            names.join(", ")
        )));
    }
    let month = Month::of(date.date_naive());
    let backfill = month < Month::of(now.date_naive());
    if backfill && !reporter.is_staff && rows.iter().any(|(c, _)| c.billing_type != BillingType::Limit.as_str()) {
        return Err(ServiceError::Field(
            "date",
            "Service providers can only specify date for limit-based billing components when backfilling past billing periods.".into(),
        ));
    }
    // Component order, so concurrent reports lock totals in one order and never deadlock.
    rows.sort_by_key(|(c, _)| c.id);
    Ok(Plan {
        resource_id: resource.resource_id,
        customer_id: resource.customer_id,
        month,
        date,
        user_id: reporter.user_id,
        rows: rows.into_iter().map(|(c, item)| (c.id, item)).collect(),
    })
}

/// Writes a checked report and re-evaluates the policies it touches; fails only on the database.
/// Returns how many transitions it made.
pub(super) async fn apply(
    tx: &mut Tx,
    db: &Db,
    cfg: &ActionsConfig,
    plan: Plan<'_>,
    now: DateTime<Utc>,
) -> store::Result<usize> {
    let stamp = now.timestamp_micros();
    // Only totals that moved can change a decision: a report that repeats the month's amount
    // (providers often resend) writes its row and stops there.
    let mut moved = BTreeSet::new();
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
        };
        let previous = store::usages::replace(tx, &row, stamp).await?;
        let delta = item.amount.hundredths() - previous;
        if delta != 0 {
            store::usages::add_to_total(tx, plan.customer_id, *component_id, plan.month.index(), delta).await?;
            moved.insert(*component_id);
        }
    }
    let moved: Vec<i64> = moved.into_iter().collect();
    evaluation::after_usage_change(tx, db, cfg, plan.customer_id, &moved, now).await
}

/// Deletes a usage row (staff); its amount leaves the totals and the policies are re-evaluated.
pub async fn delete(db: &Db, cfg: &ActionsConfig, uuid: &Uuid32, now: DateTime<Utc>) -> ServiceResult<bool> {
    let mut tx = db.begin().await?;
    let Some(key) = store::usages::key_for_delete(&mut tx, uuid, db.row_lock()).await? else {
        return Ok(false);
    };
    store::usages::delete(&mut tx, key.id).await?;
    store::usages::add_to_total(
        &mut tx,
        key.customer_id,
        key.component_id,
        key.billing_month,
        -key.usage,
    )
    .await?;
    let transitions =
        evaluation::after_usage_change(&mut tx, db, cfg, key.customer_id, &[key.component_id], now).await?;
    tx.commit().await?;
    cfg.after_commit(transitions);
    Ok(true)
}
