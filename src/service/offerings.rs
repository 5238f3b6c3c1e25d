//! Offerings with their components and plans: the provider's and the public catalogue's reads,
//! creation, activation, deletion and the provider's component actions (docs/api.md §5.3, §5.4).
//! Each write is one transaction; uniqueness of component types is checked inside it.

use super::checked::{self, verdict, Checked, Reference, Resolved};
use super::{access, evaluation, ServiceError, ServiceResult};
use crate::actions::ActionsConfig;
use crate::authz::{Principal, Visibility};
use crate::domain::offering::{
    Component, ComponentFields, ComponentPatch, Offering, OfferingDetails, OfferingDraft, Plan, View,
};
use crate::domain::page::{Listed, PageRequest};
use crate::domain::{OfferingState, Uuid32};
use crate::store::evaluation::Components;
use crate::store::offerings::Catalog;
use crate::store::{self, Db, Tx};
use chrono::{DateTime, Utc};
use sqlx::AnyPool;
use std::collections::HashMap;

pub const NOT_FOUND: &str = "No Offering matches the given query.";
pub const PLAN_NOT_FOUND: &str = "No Plan matches the given query.";
/// A component, or a public plan, that the offering does not have: DRF's bare 404.
pub const NOT_IN_OFFERING: &str = "Not found.";
/// Django's message for a second component of one type in an offering (`unique_together`).
pub const DUPLICATE_TYPE: &str = "Offering component with this Offering and Type already exists.";
const NOT_A_PROVIDER: &str = "Customer is not registered as a service provider.";

/// Which offerings a list holds besides those the view shows.
#[derive(Debug, Clone, Default)]
pub struct OfferingFilter {
    /// Only the offerings of this customer (32 hex characters).
    pub customer_uuid: Option<String>,
}

/// The offerings the caller sees in this view.
fn catalog(view: View, caller: &Principal, now: i64) -> Catalog {
    let vis = Visibility::of(caller, now);
    match view {
        View::Provider => Catalog::Provider(vis),
        View::Public => Catalog::Public(vis),
    }
}

/// One page of the offerings the caller sees, newest first, with their components and plans.
pub async fn list(
    db: &Db,
    caller: &Principal,
    view: View,
    filter: &OfferingFilter,
    page: PageRequest,
    now: i64,
) -> ServiceResult<Listed<OfferingDetails>> {
    let pool = db.reader();
    let catalog = catalog(view, caller, now);
    let customer = filter.customer_uuid.as_deref();
    let page = page.resolve(store::offerings::count(pool, catalog, customer).await?)?;
    let offerings = store::offerings::list(pool, catalog, customer, page.limit(), page.offset()).await?;
    Ok(Listed {
        items: with_parts(pool, offerings).await?,
        page,
    })
}

/// One offering the caller sees in this view, with its components and plans.
pub async fn retrieve(
    db: &Db,
    caller: &Principal,
    view: View,
    uuid: &Uuid32,
    now: i64,
) -> ServiceResult<OfferingDetails> {
    let pool = db.reader();
    let offering = visible(pool, caller, view, uuid, now).await?;
    one_with_parts(pool, offering).await
}

async fn visible(pool: &AnyPool, caller: &Principal, view: View, uuid: &Uuid32, now: i64) -> ServiceResult<Offering> {
    store::offerings::visible_by_uuid(pool, uuid, catalog(view, caller, now))
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))
}

/// Offerings with their components and plans, read in two queries whatever their number.
async fn with_parts(pool: &AnyPool, offerings: Vec<Offering>) -> store::Result<Vec<OfferingDetails>> {
    let ids: Vec<i64> = offerings.iter().map(|o| o.id).collect();
    let mut components: HashMap<i64, Vec<Component>> = HashMap::new();
    for component in store::offerings::components_of(pool, &ids).await? {
        components.entry(component.offering_id).or_default().push(component);
    }
    let mut plans: HashMap<i64, Vec<Plan>> = HashMap::new();
    for plan in store::offerings::plans_of(pool, &ids).await? {
        plans.entry(plan.offering_id).or_default().push(plan);
    }
    Ok(offerings
        .into_iter()
        .map(|offering| OfferingDetails {
            components: components.remove(&offering.id).unwrap_or_default(),
            plans: plans.remove(&offering.id).unwrap_or_default(),
            offering,
        })
        .collect())
}

async fn one_with_parts(pool: &AnyPool, offering: Offering) -> ServiceResult<OfferingDetails> {
    with_parts(pool, vec![offering])
        .await?
        .pop()
        .ok_or(ServiceError::NotFound(NOT_FOUND))
}

/// The plans of an offering in the public catalogue.
pub async fn public_plans(db: &Db, caller: &Principal, offering: &Uuid32, now: i64) -> ServiceResult<Vec<Plan>> {
    let pool = db.reader();
    let offering = visible(pool, caller, View::Public, offering, now).await?;
    Ok(store::offerings::plans_of(pool, &[offering.id]).await?)
}

/// One plan of an offering in the public catalogue; `plan` is `None` for a path segment that is
/// not a uuid, which names no plan (the offering is looked up first, as upstream does).
pub async fn public_plan(
    db: &Db,
    caller: &Principal,
    offering: &Uuid32,
    plan: Option<Uuid32>,
    now: i64,
) -> ServiceResult<Plan> {
    let plans = public_plans(db, caller, offering, now).await?;
    plans
        .into_iter()
        .find(|p| Some(p.uuid) == plan)
        .ok_or(ServiceError::NotFound(NOT_IN_OFFERING))
}

/// A plan of an offering the caller sees in the provider's view (`/api/marketplace-plans/`).
pub async fn plan(db: &Db, caller: &Principal, uuid: &Uuid32, now: i64) -> ServiceResult<Plan> {
    store::offerings::visible_plan(db.reader(), uuid, catalog(View::Provider, caller, now))
        .await?
        .ok_or(ServiceError::NotFound(PLAN_NOT_FOUND))
}

/// A new offering as the client described it: the customer and category it names, checked here,
/// and the rest of the body.
#[derive(Debug, Clone)]
pub struct NewOffering {
    /// `None` when absent or not a customer URL (the body's errors say so).
    pub customer: Option<Reference>,
    pub category: Option<Reference>,
    pub draft: Checked<OfferingDraft>,
}

/// Creates the offering (state Draft) with its components and plans. As upstream, the body is
/// validated first, its customer and category included; then the customer it names decides who
/// may create: staff, or its owners and managers (`authz::may_act_for_provider`).
pub async fn create(db: &Db, caller: &Principal, new: NewOffering, now: i64) -> ServiceResult<OfferingDetails> {
    let pool = db.reader();
    let customer = match new.customer {
        Some(r) => Some(Resolved::new(
            "customer",
            r,
            provider_customer(pool, caller, &r.uuid, now).await?,
        )),
        None => None,
    };
    let category = match new.category {
        Some(r) => Some(Resolved::new("category", r, category(pool, &r.uuid).await?)),
        None => None,
    };
    let references: Vec<&Resolved<i64>> = customer.iter().chain(category.iter()).collect();
    let draft = checked::with_references(new.draft, &references)?;
    let (Some(customer_id), Some(category_id)) = (
        customer.as_ref().and_then(Resolved::found),
        category.as_ref().and_then(Resolved::found),
    ) else {
        return Err(ServiceError::Rejected(
            "An offering needs a customer and a category.".into(),
        ));
    };
    if !access::may_act_for_provider(db, caller, customer_id, now).await? {
        return Err(ServiceError::Forbidden);
    }
    let uuid = Uuid32::new_v4();
    let mut tx = db.begin().await?;
    let id = store::offerings::insert(&mut tx, &uuid, customer_id, category_id, &draft.fields, now).await?;
    for component in &draft.components {
        insert_component(&mut tx, id, component, now).await?;
    }
    for plan in &draft.plans {
        store::offerings::insert_plan(&mut tx, id, &Uuid32::new_v4(), plan, now).await?;
    }
    tx.commit().await?;
    retrieve(db, caller, View::Provider, &uuid, now).await
}

/// `customer`: a customer the caller sees that is a registered service provider; one the caller
/// may not see looks missing.
async fn provider_customer(
    pool: &AnyPool,
    caller: &Principal,
    uuid: &Uuid32,
    now: i64,
) -> store::Result<Result<i64, String>> {
    let Some(id) = store::customers::visible_id(pool, uuid, Visibility::of(caller, now)).await? else {
        return Ok(Err(checked::DOES_NOT_EXIST.into()));
    };
    if !store::providers::is_registered(pool, id).await? {
        return Ok(Err(NOT_A_PROVIDER.into()));
    }
    Ok(Ok(id))
}

async fn category(pool: &AnyPool, uuid: &Uuid32) -> store::Result<Result<i64, String>> {
    Ok(store::categories::id_by_uuid(pool, uuid)
        .await?
        .ok_or_else(|| checked::DOES_NOT_EXIST.to_string()))
}

/// Upstream's `activate/`: the offering must have a plan, then Draft or Paused become Active.
pub async fn activate(db: &Db, uuid: &Uuid32) -> ServiceResult<OfferingState> {
    let mut tx = db.begin().await?;
    let (id, state) = store::offerings::state_for_update(&mut tx, uuid)
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))?;
    if store::offerings::plan_count(&mut tx, id).await? == 0 {
        return Err(ServiceError::Rejected(
            "Offering does not have any billing plans.".into(),
        ));
    }
    let next = state
        .activated()
        .ok_or_else(|| ServiceError::Rejected("Offering state is invalid.".into()))?;
    store::offerings::set_state(&mut tx, id, next).await?;
    tx.commit().await?;
    Ok(next)
}

/// Deletes the offering with its components, plans and the policy limits on its components,
/// and re-evaluates the policies that lose limits. An offering that has resources stays (409):
/// their orders, usage and history name it.
pub async fn delete(db: &Db, cfg: &ActionsConfig, uuid: &Uuid32, now: DateTime<Utc>) -> ServiceResult<()> {
    let mut tx = db.begin().await?;
    let (id, _) = store::offerings::state_for_update(&mut tx, uuid)
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))?;
    if store::offerings::has_resources(&mut tx, id).await? {
        return Err(ServiceError::Conflict(
            "Offering has resources and cannot be deleted.".into(),
        ));
    }
    let limited = store::evaluation::policies_limiting(&mut tx, Components::OfOffering(id)).await?;
    store::offerings::delete(&mut tx, id).await?;
    tx.commit().await?;
    evaluation::after_limits_removed(db, cfg, &limited, now).await?;
    Ok(())
}

/// The offering a component action names: 404 when the caller does not see it in the provider's
/// view, 403 when it is not theirs to manage (staff, the provider's owners and managers).
async fn managed(db: &Db, caller: &Principal, uuid: &Uuid32, now: i64) -> ServiceResult<Offering> {
    let offering = visible(db.reader(), caller, View::Provider, uuid, now).await?;
    if !access::may_act_for_provider(db, caller, offering.customer_id, now).await? {
        return Err(ServiceError::Forbidden);
    }
    Ok(offering)
}

/// `create_offering_component/`: the offering's permission first, then the body.
pub async fn add_component(
    db: &Db,
    caller: &Principal,
    offering: &Uuid32,
    fields: Checked<ComponentFields>,
    now: i64,
) -> ServiceResult<Component> {
    let offering = managed(db, caller, offering, now).await?;
    let fields = verdict(fields)?;
    let mut tx = db.begin().await?;
    if store::offerings::component_type_taken(&mut tx, offering.id, &fields.r#type, None).await? {
        return Err(duplicate_type());
    }
    let component = insert_component(&mut tx, offering.id, &fields, now).await?;
    tx.commit().await?;
    Ok(component)
}

/// `update_offering_component/`'s body: the component it names, and the changes to it.
#[derive(Debug, Clone)]
pub struct ComponentUpdate {
    pub component: Checked<Uuid32>,
    pub patch: Checked<ComponentPatch>,
}

/// `update_offering_component/`, in upstream's order: the offering's permission, the component's
/// uuid, the component itself (404), then the changes.
pub async fn update_component(
    db: &Db,
    caller: &Principal,
    offering: &Uuid32,
    update: ComponentUpdate,
    now: i64,
) -> ServiceResult<Component> {
    let offering = managed(db, caller, offering, now).await?;
    let uuid = verdict(update.component)?;
    let mut tx = db.begin().await?;
    let current = store::offerings::component_in_offering(&mut tx, offering.id, &uuid)
        .await?
        .ok_or(ServiceError::NotFound(NOT_IN_OFFERING))?;
    let fields = verdict(update.patch)?.apply(current.fields);
    if store::offerings::component_type_taken(&mut tx, offering.id, &fields.r#type, Some(current.id)).await? {
        return Err(duplicate_type());
    }
    store::offerings::update_component(&mut tx, current.id, &fields)
        .await
        .map_err(unique_as_duplicate)?;
    tx.commit().await?;
    Ok(Component { fields, ..current })
}

/// `remove_offering_component/`: the component goes, and with it (FK cascade) its usage, its
/// totals and the policy limits on it; the policies that had such limits are re-evaluated, as a
/// fired one may now be under every limit left (docs/evaluation.md §4.6).
pub async fn remove_component(
    db: &Db,
    cfg: &ActionsConfig,
    caller: &Principal,
    offering: &Uuid32,
    component: Checked<Uuid32>,
    now: DateTime<Utc>,
) -> ServiceResult<()> {
    let offering = managed(db, caller, offering, now.timestamp_micros()).await?;
    let uuid = verdict(component)?;
    let mut tx = db.begin().await?;
    let component = store::offerings::component_in_offering(&mut tx, offering.id, &uuid)
        .await?
        .ok_or(ServiceError::NotFound(NOT_IN_OFFERING))?;
    let limited = store::evaluation::policies_limiting(&mut tx, Components::One(component.id)).await?;
    store::offerings::delete_component(&mut tx, component.id).await?;
    tx.commit().await?;
    evaluation::after_limits_removed(db, cfg, &limited, now).await?;
    Ok(())
}

async fn insert_component(
    tx: &mut Tx,
    offering_id: i64,
    fields: &ComponentFields,
    now: i64,
) -> ServiceResult<Component> {
    let uuid = Uuid32::new_v4();
    let id = store::offerings::insert_component(tx, offering_id, &uuid, fields, now)
        .await
        .map_err(unique_as_duplicate)?;
    Ok(Component {
        id,
        uuid,
        offering_id,
        fields: fields.clone(),
    })
}

fn duplicate_type() -> ServiceError {
    ServiceError::Field("type", DUPLICATE_TYPE.into())
}

/// A concurrent writer may win the race past the check; the constraint still answers 400.
fn unique_as_duplicate(err: sqlx::Error) -> ServiceError {
    if store::is_unique_violation(&err) {
        duplicate_type()
    } else {
        err.into()
    }
}
