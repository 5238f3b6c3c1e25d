//! How far each limit row of a policy is from its limit, and when it would cross at the current
//! pace (docs/evaluation.md §7).

use super::policies::NOT_FOUND;
use super::{evaluation, ServiceError, ServiceResult};
use crate::authz::{Principal, Visibility};
use crate::domain::ladder::PendingAction;
use crate::domain::policy::Policy;
use crate::domain::{Amount, Period, Uuid32};
use crate::engine::assessment::Assessment;
use crate::engine::headroom::{headroom, Headroom};
use crate::engine::ladder::reset_below;
use crate::store::{self, Db};
use chrono::{DateTime, NaiveDate, Utc};

/// A policy's state and the headroom of each of its limit rows, evaluated at `evaluated_at`.
#[derive(Debug, Clone)]
pub struct PolicyStatus {
    pub policy: Policy,
    pub evaluated_at: DateTime<Utc>,
    pub limits: Vec<LimitStatus>,
    /// Actions waiting out their grace period, the earliest due first (docs/ladder.md §4).
    pub pending_actions: Vec<PendingAction>,
}

/// One limit row: its component, its period and how far its window's usage is from the limit.
#[derive(Debug, Clone)]
pub struct LimitStatus {
    pub component_uuid: String,
    pub component_type: String,
    pub component_name: String,
    pub measured_unit: String,
    pub period: Period,
    pub headroom: Headroom,
    /// The usage the row must fall to for the fired policy to reset (docs/ladder.md §3).
    pub reset_below: Amount,
}

/// Each limit row of an assessed policy as the status shows it (docs/api.md, the status
/// endpoint); the dashboard's gauges show the same rows.
pub(super) fn limit_statuses(assessment: &Assessment, reset_percent: u8, today: NaiveDate) -> Vec<LimitStatus> {
    assessment
        .limits
        .iter()
        .zip(&assessment.evaluation.rows)
        .zip(&assessment.month_usage)
        .map(|((l, row), month_usage)| LimitStatus {
            component_uuid: l.component_uuid.to_string(),
            component_type: l.component_type.clone(),
            component_name: l.component_name.clone(),
            measured_unit: l.measured_unit.clone(),
            period: l.period,
            headroom: headroom(row, *month_usage, today),
            reset_below: reset_below(row.effective(), reset_percent),
        })
        .collect()
}

/// The status of a policy the caller may see, as of `now`; reads only.
pub async fn status(db: &Db, caller: &Principal, uuid: &Uuid32, now: DateTime<Utc>) -> ServiceResult<PolicyStatus> {
    let vis = Visibility::of(caller, now.timestamp_micros());
    let policy = store::policies::visible_by_uuid(db.reader(), uuid, vis)
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))?;
    let mut conn = db.reader().acquire().await?;
    let assessment = evaluation::assess(&mut conn, policy.id, policy.customer.id, now).await?;
    let pending_actions = store::pending_actions::of_policies(&mut conn, &[policy.id]).await?;
    drop(conn);
    let limits = limit_statuses(&assessment, policy.ladder.reset_below.percent(), now.date_naive());
    Ok(PolicyStatus {
        policy,
        evaluated_at: now,
        limits,
        pending_actions,
    })
}
