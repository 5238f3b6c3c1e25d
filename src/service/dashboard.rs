//! What the dashboard shows (docs/dashboard.md): every customer the caller may see with the
//! gauges of its policies' limit rows, and one customer's history, grants and, for staff, what
//! its dry-run form offers. Reads only, through the same store reads and the same engine as the
//! API's lists and `…/status/`.

use super::access::require_staff;
use super::policy_status::{limit_statuses, LimitStatus};
use super::{customers, events, ServiceResult};
use crate::authz::{Principal, Visibility};
use crate::domain::customer::{Customer, CustomerFilter, CustomerText};
use crate::domain::evaluation::ComponentLimit;
use crate::domain::event::{Event, EventFilter};
use crate::domain::grant::{ComponentGrant, GrantFilter};
use crate::domain::ladder::PendingAction;
use crate::domain::offering::Component;
use crate::domain::page::PageRequest;
use crate::domain::policy::{Policy, PolicyFilter};
use crate::domain::resource::Restriction;
use crate::domain::time::Micros;
use crate::domain::{Amount, Month, Uuid32};
use crate::engine::assessment::Assessment;
use crate::engine::{self, LimitRule, MonthlyTotal};
use crate::store::resources::ActionTarget;
use crate::store::{self, Db};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;
use std::collections::{HashMap, HashSet};

/// How many ids one read binds: far below what either backend allows in a statement.
const IDS_PER_READ: usize = 500;
/// How many months a customer page charts, the current one included.
pub const HISTORY_MONTHS: u32 = 12;
/// How many of a customer's events its page lists, newest first.
const TIMELINE_EVENTS: &str = "50";

/// The overview: the customers the caller may see, by name, each with its policies.
#[derive(Debug, Clone)]
pub struct Overview {
    pub evaluated_at: DateTime<Utc>,
    pub customers: Vec<CustomerGauges>,
}

/// A customer with the gauges of the policies the caller may see, and the restrictions its
/// fired policies hold on its resources.
#[derive(Debug, Clone)]
pub struct CustomerGauges {
    pub uuid: Uuid32,
    pub name: String,
    pub policies: Vec<PolicyGauges>,
    pub restrictions: Vec<HeldRestriction>,
}

/// A policy with the status of each of its limit rows, as `…/status/` reports it.
#[derive(Debug, Clone)]
pub struct PolicyGauges {
    pub policy: Policy,
    pub limits: Vec<LimitStatus>,
    /// Its actions waiting out a grace period, soonest first (docs/ladder.md §4).
    pub pending: Vec<PendingAction>,
}

/// A resource of the customer with a restriction flag set now: by a fired policy's action, or
/// (shown on the customer's page only) by its provider.
#[derive(Debug, Clone)]
pub struct HeldRestriction {
    pub resource_uuid: Uuid32,
    pub resource_name: String,
    /// What is restricted, in words: "paused", "downscaled", "member access restricted".
    pub restrictions: Vec<&'static str>,
    /// The fired policies holding its flags, oldest hold first (docs/ladder.md §5); none for a
    /// flag its provider set.
    pub holders: Vec<Restriction>,
}

/// One customer's page.
#[derive(Debug, Clone)]
pub struct CustomerPage {
    pub evaluated_at: DateTime<Utc>,
    pub customer: Customer,
    pub policies: Vec<PolicyHistory>,
    pub restrictions: Vec<HeldRestriction>,
    /// Newest first.
    pub events: Vec<Event>,
    /// For staff, who may dry run a policy for it: the components its resources' offerings
    /// have, in creation order; `None` for everyone else.
    pub dry_run_components: Option<Vec<Component>>,
}

/// A policy's gauges, and for each limit row the usage its window held at the end of each of
/// the last `HISTORY_MONTHS` months (the current month so far), oldest first.
#[derive(Debug, Clone)]
pub struct PolicyHistory {
    pub gauges: PolicyGauges,
    pub history: Vec<Vec<MonthUsage>>,
    /// Its grants the caller may see (docs/grants.md §1), newest first, whether active or not.
    pub grants: Vec<ComponentGrant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthUsage {
    pub month: Month,
    pub usage: Amount,
}

/// Which customers the overview shows and in which order.
#[derive(Debug, Clone, Default)]
pub struct OverviewQuery {
    /// Only customers whose name contains this, ignoring case.
    pub name: Option<String>,
    pub order: OverviewOrder,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OverviewOrder {
    /// Customers by name, as the customer list orders them.
    #[default]
    Name,
    /// The customer with the fullest limit row first; within a customer, its fullest policy
    /// first and, within a policy, its fullest row first.
    Percent,
}

/// The customers the caller may see (staff and support: all; others: where they hold a role)
/// that `query` selects, with their policies' gauges as of `now`.
pub async fn overview(
    db: &Db,
    caller: &Principal,
    query: &OverviewQuery,
    now: DateTime<Utc>,
) -> ServiceResult<Overview> {
    let vis = Visibility::of(caller, now.timestamp_micros());
    let pool = db.reader();
    let filter = CustomerFilter {
        name: query.name.clone(),
        ..CustomerFilter::default()
    };
    let count = store::customers::count(pool, vis, &filter).await?;
    let listed = store::customers::list(pool, vis, &filter, count.max(1), 0).await?;
    let shown: HashSet<i64> = listed.iter().map(|c| c.id).collect();
    let mut policies = visible_policies(db, vis, PolicyFilter::default()).await?;
    policies.retain(|p| shown.contains(&p.customer.id));
    let mut by_customer: HashMap<i64, Vec<PolicyGauges>> = HashMap::new();
    for g in gauges(db, policies, now).await? {
        by_customer.entry(g.policy.customer.id).or_default().push(g);
    }
    let mut customers = Vec::with_capacity(listed.len());
    for customer in listed {
        let policies = by_customer.remove(&customer.id).unwrap_or_default();
        // Only a fired policy's actions set flags, so only its customer is asked for them; a
        // flag a provider set is shown on the customer's page.
        let restrictions = if policies.iter().any(|p| p.policy.has_fired) {
            held_restrictions(db, customer.id, vis).await?
        } else {
            Vec::new()
        };
        customers.push(CustomerGauges {
            uuid: customer.uuid,
            name: customer.fields.text(CustomerText::Name).to_string(),
            policies,
            restrictions,
        });
    }
    if query.order == OverviewOrder::Percent {
        by_percent(&mut customers);
    }
    Ok(Overview {
        evaluated_at: now,
        customers,
    })
}

/// Fullest first at every level; a row without a percent (a limit that is not positive) last.
/// The sorts are stable, so equals keep their order by name.
fn by_percent(customers: &mut [CustomerGauges]) {
    for customer in customers.iter_mut() {
        for policy in &mut customer.policies {
            policy
                .limits
                .sort_by_key(|l| std::cmp::Reverse(l.headroom.percent_hundredths));
        }
        customer.policies.sort_by_key(|p| std::cmp::Reverse(p.fullest()));
    }
    customers.sort_by_key(|c| std::cmp::Reverse(c.policies.iter().filter_map(PolicyGauges::fullest).max()));
}

impl PolicyGauges {
    /// The highest percent of its rows, in hundredths.
    pub fn fullest(&self) -> Option<i64> {
        self.limits.iter().filter_map(|l| l.headroom.percent_hundredths).max()
    }
}

/// The page of a customer the caller may see; one it may not see is missing (404).
pub async fn customer(db: &Db, caller: &Principal, uuid: &Uuid32, now: DateTime<Utc>) -> ServiceResult<CustomerPage> {
    let micros = now.timestamp_micros();
    let vis = Visibility::of(caller, micros);
    let customer = customers::retrieve(db, caller, uuid, micros).await?;
    let filter = PolicyFilter {
        customer_uuids: vec![customer.uuid],
        matches_nothing: false,
    };
    let gauges = gauges(db, visible_policies(db, vis, filter).await?, now).await?;
    let history = history(db, customer.id, &gauges, now).await?;
    let mut grants = grants_by_policy(db, vis, &customer.uuid, micros).await?;
    let policies = gauges
        .into_iter()
        .zip(history)
        .map(|(gauges, history)| PolicyHistory {
            grants: grants.remove(&gauges.policy.uuid).unwrap_or_default(),
            gauges,
            history,
        })
        .collect();
    let resources = store::resources::of_customer(db.reader(), customer.id, vis).await?;
    // Whoever may dry run a policy (staff) is offered the form.
    let dry_run_components = if require_staff(caller).is_ok() {
        let offerings = distinct(resources.iter().map(|r| r.offering_id));
        Some(store::offerings::components_of(db.reader(), &offerings).await?)
    } else {
        None
    };
    let restrictions = restrictions_of(db, resources).await?;
    let events = events::list(
        db,
        caller,
        &EventFilter {
            customer_uuids: vec![customer.uuid],
            ..EventFilter::default()
        },
        PageRequest::from_query(&HashMap::from([("page_size".to_string(), TIMELINE_EVENTS.to_string())]))?,
        micros,
    )
    .await?
    .items;
    Ok(CustomerPage {
        evaluated_at: now,
        customer,
        policies,
        restrictions,
        events,
        dry_run_components,
    })
}

/// The customer's grants `vis` shows, by policy, through the grant list's own read.
async fn grants_by_policy(
    db: &Db,
    vis: Visibility,
    customer: &Uuid32,
    now: Micros,
) -> ServiceResult<HashMap<Uuid32, Vec<ComponentGrant>>> {
    let filter = GrantFilter {
        customer_uuid: Some(customer.to_string()),
        ..GrantFilter::default()
    };
    let count = store::grants::count(db.reader(), vis, &filter, now).await?;
    let mut by_policy: HashMap<Uuid32, Vec<ComponentGrant>> = HashMap::new();
    if count > 0 {
        for g in store::grants::list(db.reader(), vis, &filter, now, count, 0).await? {
            by_policy.entry(g.policy_uuid).or_default().push(g);
        }
    }
    Ok(by_policy)
}

/// Every policy `vis` and `filter` select, newest first, with their limit rows.
async fn visible_policies(db: &Db, vis: Visibility, filter: PolicyFilter) -> ServiceResult<Vec<Policy>> {
    let pool = db.reader();
    let count = store::policies::count(pool, vis, &filter).await?;
    if count == 0 {
        return Ok(Vec::new());
    }
    Ok(store::policies::page(pool, vis, &filter, count, 0).await?.0)
}

/// The policies with the status of their limit rows as of `now`, in their order: their limit
/// rows and their customers' totals are read a few hundred ids at a time.
async fn gauges(db: &Db, policies: Vec<Policy>, now: DateTime<Utc>) -> ServiceResult<Vec<PolicyGauges>> {
    let current = Month::of(now.date_naive());
    let mut conn = db.reader().acquire().await?;
    let ids: Vec<i64> = policies.iter().map(|p| p.id).collect();
    let mut limits: HashMap<i64, Vec<ComponentLimit>> = HashMap::new();
    let mut pending: HashMap<i64, Vec<PendingAction>> = HashMap::new();
    for chunk in ids.chunks(IDS_PER_READ) {
        for l in store::evaluation::limits_of(&mut *conn, chunk, now.timestamp_micros()).await? {
            limits.entry(l.policy_id).or_default().push(l);
        }
        for action in store::pending_actions::of_policies(&mut conn, chunk).await? {
            pending.entry(action.policy_id).or_default().push(action);
        }
    }
    let customers = distinct(policies.iter().map(|p| p.customer.id));
    let earliest = engine::earliest(limits.values().flatten().map(|l| l.period), current);
    let totals = totals(&mut conn, &customers, &limits, earliest, current).await?;
    drop(conn);
    let today = now.date_naive();
    Ok(policies
        .into_iter()
        .map(|policy| {
            let customer_totals = totals.get(&policy.customer.id).map(Vec::as_slice).unwrap_or(&[]);
            let assessment = Assessment::of(limits.remove(&policy.id).unwrap_or_default(), customer_totals, current);
            let limits = limit_statuses(&assessment, policy.ladder.reset_below.percent(), today);
            let mut pending = pending.remove(&policy.id).unwrap_or_default();
            pending.sort_by_key(|a| a.due);
            PolicyGauges {
                policy,
                limits,
                pending,
            }
        })
        .collect())
}

/// The customers' monthly totals of the components `limits` name, from `earliest` (`None`: the
/// first) to `current`, by customer.
async fn totals(
    conn: &mut AnyConnection,
    customers: &[i64],
    limits: &HashMap<i64, Vec<ComponentLimit>>,
    earliest: Option<Month>,
    current: Month,
) -> ServiceResult<HashMap<i64, Vec<MonthlyTotal<i64>>>> {
    let components = distinct(limits.values().flatten().map(|l| l.component_id));
    let mut totals: HashMap<i64, Vec<MonthlyTotal<i64>>> = HashMap::new();
    for chunk in customers.chunks(IDS_PER_READ) {
        for t in store::evaluation::totals_of(conn, chunk, &components, earliest, current).await? {
            totals.entry(t.customer_id).or_default().push(MonthlyTotal::from(&t));
        }
    }
    Ok(totals)
}

/// For each policy, each limit row's window usage at the end of each of the last
/// `HISTORY_MONTHS` months: the engine's evaluation with that month as the current one.
async fn history(
    db: &Db,
    customer_id: i64,
    policies: &[PolicyGauges],
    now: DateTime<Utc>,
) -> ServiceResult<Vec<Vec<Vec<MonthUsage>>>> {
    let current = Month::of(now.date_naive());
    let first = current.minus(HISTORY_MONTHS - 1);
    let mut conn = db.reader().acquire().await?;
    let ids: Vec<i64> = policies.iter().map(|p| p.policy.id).collect();
    let mut limits: HashMap<i64, Vec<ComponentLimit>> = HashMap::new();
    for l in store::evaluation::limits_of(&mut *conn, &ids, now.timestamp_micros()).await? {
        limits.entry(l.policy_id).or_default().push(l);
    }
    let earliest = engine::earliest(limits.values().flatten().map(|l| l.period), first);
    let mut totals = totals(&mut conn, &[customer_id], &limits, earliest, current).await?;
    let totals = totals.remove(&customer_id).unwrap_or_default();
    let months: Vec<Month> = (0..HISTORY_MONTHS)
        .map(|back| current.minus(HISTORY_MONTHS - 1 - back))
        .collect();
    Ok(ids
        .iter()
        .map(|id| {
            let rules: Vec<LimitRule<i64>> = limits.get(id).into_iter().flatten().map(LimitRule::from).collect();
            let by_month: Vec<Vec<MonthUsage>> = months
                .iter()
                .map(|&month| {
                    engine::evaluate(&rules, &totals, month)
                        .rows
                        .into_iter()
                        .map(|row| MonthUsage {
                            month,
                            usage: row.usage,
                        })
                        .collect()
                })
                .collect();
            // Month by row → row by month.
            (0..rules.len())
                .map(|row| by_month.iter().map(|m| m[row]).collect())
                .collect()
        })
        .collect())
}

/// The customer's resources (those `vis` shows) that a policy flag restricts now. A flag is set
/// only while a fired policy holds it (docs/actions.md).
async fn held_restrictions(db: &Db, customer_id: i64, vis: Visibility) -> ServiceResult<Vec<HeldRestriction>> {
    restrictions_of(db, store::resources::of_customer(db.reader(), customer_id, vis).await?).await
}

/// Those of `resources` that a flag restricts now, with the policies holding each.
async fn restrictions_of(db: &Db, resources: Vec<ActionTarget>) -> ServiceResult<Vec<HeldRestriction>> {
    let restricted: Vec<i64> = resources
        .iter()
        .filter(|r| r.paused || r.downscaled || r.restrict_member_access)
        .map(|r| r.id)
        .collect();
    let mut holders: HashMap<i64, Vec<Restriction>> = HashMap::new();
    for (resource_id, hold) in store::restrictions::of_resources(db.reader(), &restricted).await? {
        holders.entry(resource_id).or_default().push(hold);
    }
    Ok(resources
        .into_iter()
        .filter_map(|r| {
            let restrictions: Vec<&'static str> = [
                (r.paused, "paused"),
                (r.downscaled, "downscaled"),
                (r.restrict_member_access, "member access restricted"),
            ]
            .into_iter()
            .filter_map(|(set, what)| set.then_some(what))
            .collect();
            (!restrictions.is_empty()).then(|| HeldRestriction {
                resource_uuid: r.uuid,
                resource_name: r.name,
                restrictions,
                holders: holders.remove(&r.id).unwrap_or_default(),
            })
        })
        .collect())
}

fn distinct(ids: impl Iterator<Item = i64>) -> Vec<i64> {
    let mut seen = HashSet::new();
    ids.filter(|id| seen.insert(*id)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::PolicyCustomer;
    use crate::domain::{ActionSet, Period};
    use crate::engine::headroom::Headroom;
    use chrono::NaiveDate;

    fn row(percent: Option<i64>) -> LimitStatus {
        let day = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        LimitStatus {
            component_uuid: String::new(),
            component_type: format!("{percent:?}"),
            component_name: String::new(),
            measured_unit: String::new(),
            period: Period::Month1,
            headroom: Headroom {
                window_start: None,
                window_end: day,
                usage: Amount::ZERO,
                limit: 100,
                granted: Amount::ZERO,
                effective_limit: Amount::from_units(100),
                remaining: Amount::ZERO,
                percent_hundredths: percent,
                over: false,
                projected_crossing: None,
            },
            reset_below: Amount::ZERO,
        }
    }

    fn customer(name: &str, policies: &[&[Option<i64>]]) -> CustomerGauges {
        let policies = policies
            .iter()
            .enumerate()
            .map(|(i, rows)| PolicyGauges {
                policy: Policy {
                    id: i as i64,
                    uuid: Uuid32::new_v4(),
                    customer: PolicyCustomer {
                        id: 1,
                        uuid: Uuid32::new_v4(),
                        name: name.into(),
                    },
                    actions: ActionSet::parse("notify_organization_owners").unwrap(),
                    options: Default::default(),
                    has_fired: false,
                    fired_at: None,
                    created: 0,
                    created_by: None,
                    limits: Vec::new(),
                    ladder: Default::default(),
                },
                limits: rows.iter().map(|&p| row(p)).collect(),
                pending: Vec::new(),
            })
            .collect();
        CustomerGauges {
            uuid: Uuid32::new_v4(),
            name: name.into(),
            policies,
            restrictions: Vec::new(),
        }
    }

    #[test]
    fn fullest_first_at_every_level_and_rows_without_a_percent_last() {
        let mut customers = vec![
            customer("a", &[&[Some(1_000)]]),
            customer("b", &[&[None, Some(2_000)], &[Some(9_000), Some(500)]]),
            customer("c", &[]),
            customer("d", &[&[Some(9_000)]]),
        ];
        by_percent(&mut customers);
        let names: Vec<&str> = customers.iter().map(|c| c.name.as_str()).collect();
        // b and d tie at 90 %: they keep their order by name.
        assert_eq!(names, ["b", "d", "a", "c"]);
        let b: Vec<Vec<Option<i64>>> = customers[0]
            .policies
            .iter()
            .map(|p| p.limits.iter().map(|l| l.headroom.percent_hundredths).collect())
            .collect();
        assert_eq!(b, [vec![Some(9_000), Some(500)], vec![Some(2_000), None]]);
    }
}
