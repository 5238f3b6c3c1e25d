//! Orders: listing and reading them, placing Create orders, the orders that change or end a
//! resource, and the steps of their state machine, each with its permission decision.

use super::{access, blocks, checked, ServiceError, ServiceResult};
use crate::authz::{Principal, Visibility};
use crate::domain::marketplace::{resource_state_after, OrderState, OrderStep, OrderType, ResourceState};
use crate::domain::order::{Order, OrderFilter};
use crate::domain::page::{Listed, PageRequest};
use crate::domain::resource::Resource;
use crate::domain::{Action, OfferingState, ResourceLimits, Uuid32};
use crate::store::offerings::Catalog;
use crate::store::orders::{NewOrder, Reviewer};
use crate::store::resources::NewResource;
use crate::store::{self, Db, Tx};
use serde_json::{json, Map, Value};

pub const NOT_FOUND: &str = "No Order matches the given query.";

const OFFERING_UNAVAILABLE: &str = "Offering is not available.";
const PLAN_UNAVAILABLE: &str = "This plan is not available for selected offering.";

/// The orders the caller sees that match `filter`, newest first, one page of them.
pub async fn list(
    db: &Db,
    caller: &Principal,
    filter: &OrderFilter,
    request: PageRequest,
    now: i64,
) -> ServiceResult<Listed<Order>> {
    let vis = Visibility::of(caller, now);
    let page = request.resolve(store::orders::count(db.reader(), vis, filter).await?)?;
    let items = store::orders::list(db.reader(), vis, filter, page.limit(), page.offset()).await?;
    Ok(Listed { items, page })
}

/// The order, if the caller sees it (its consumer or its provider).
pub async fn retrieve(db: &Db, caller: &Principal, uuid: &Uuid32, now: i64) -> ServiceResult<Order> {
    store::orders::visible_by_uuid(db.reader(), uuid, Visibility::of(caller, now))
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))
}

/// A plan hyperlink: the offering it is nested under, and the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanLink {
    pub offering: Uuid32,
    pub plan: Uuid32,
}

/// A Create order as the API read its body: what its hyperlinks name (`None` where the field
/// was refused or left out), the resource's name and description taken from `attributes`, and
/// the fields the API refused before anything was looked up.
#[derive(Debug, Clone, Default)]
pub struct OrderDraft {
    pub offering: Option<Uuid32>,
    pub plan: Option<PlanLink>,
    pub project: Option<Uuid32>,
    pub name: String,
    pub description: String,
    /// The client's `attributes` object, as JSON text.
    pub attributes: String,
    pub limits: ResourceLimits,
    /// DRF's messages under each refused field's name.
    pub refused: Map<String, Value>,
}

/// The create serializer's fields in declaration order: DRF reports their errors in this order,
/// whether a field was refused as sent or after a lookup, and then the plan's check against the
/// offering, which needs both.
const FIELDS: [&str; 6] = ["offering", "plan", "project", "type", "attributes", "limits"];

/// Places a Create order with its resource (state Creating): the offering (active, and one the
/// caller may order from), the project and the plan are looked up and every refusal is reported
/// together with the API's, before the permission check (staff, customer owners, project
/// managers and admins); then the order is read back as the caller sees it.
pub async fn create(db: &Db, caller: &Principal, draft: OrderDraft, now: i64) -> ServiceResult<Order> {
    let reader = db.reader();
    let vis = Visibility::of(caller, now);
    let mut found = Map::new();
    let mut offering = None;
    if let Some(uuid) = &draft.offering {
        // A private offering of another customer looks missing.
        match store::offerings::visible_by_uuid(reader, uuid, Catalog::Consumer(vis)).await? {
            Some(o) if o.state == OfferingState::Active => offering = Some(o),
            Some(_) => refuse(&mut found, "offering", OFFERING_UNAVAILABLE),
            None => refuse(&mut found, "offering", checked::DOES_NOT_EXIST),
        }
    }
    let mut project = None;
    if let Some(uuid) = &draft.project {
        match store::projects::visible_by_uuid(reader, uuid, vis).await? {
            Some(p) => project = Some(p),
            None => refuse(&mut found, "project", checked::DOES_NOT_EXIST),
        }
    }
    let mut plan_id = None;
    let mut errors = Map::new();
    for field in FIELDS {
        if let Some(messages) = draft.refused.get(field).or_else(|| found.get(field)) {
            errors.insert(field.to_string(), messages.clone());
        }
    }
    for (field, messages) in &draft.refused {
        if !errors.contains_key(field) {
            errors.insert(field.clone(), messages.clone());
        }
    }
    if let (Some(o), Some(link)) = (&offering, draft.plan) {
        let plans = store::offerings::plans_of(reader, &[o.id]).await?;
        let plan = plans.iter().find(|p| p.uuid == link.plan && link.offering == o.uuid);
        match plan {
            Some(p) if !p.archived => plan_id = Some(p.id),
            _ => refuse(&mut errors, "plan", PLAN_UNAVAILABLE),
        }
    }
    let (Some(offering), Some(project)) = (offering, project) else {
        // A reference is unset only where its field was refused.
        return Err(ServiceError::Invalid(Value::Object(errors)));
    };
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(Value::Object(errors)));
    }
    if !access::may_manage_consumer(db, caller, project.customer.id, project.id, now).await? {
        return Err(ServiceError::Forbidden);
    }
    let subject = json!({"project_uuid": project.uuid.to_string()});
    let tx = db.begin().await?;
    let block = Action::BlockCreationOfNewResources;
    let mut tx = blocks::guard(tx, db, project.customer.id, block, subject, now).await?;
    let attributes = draft.attributes.as_str();
    let limits = draft.limits.to_json().to_string();
    let resource = NewResource {
        project_id: project.id,
        offering_id: offering.id,
        plan_id,
        name: &draft.name,
        description: &draft.description,
        limits: &limits,
        attributes,
    };
    let resource_id =
        store::resources::insert(&mut tx, &Uuid32::new_v4(), &resource, ResourceState::Creating, now).await?;
    let order = NewOrder {
        kind: OrderType::Create,
        state: OrderState::PendingConsumer,
        project_id: project.id,
        offering_id: offering.id,
        plan_id,
        resource_id,
        attributes,
        limits: &limits,
        created_by: caller.id,
    };
    let id = store::orders::insert(&mut tx, &Uuid32::new_v4(), &order, now).await?;
    tx.commit().await?;
    store::orders::by_id(reader, id)
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))
}

// The catalogue's rows still carry the offering's state as text.
/// Adds `message` to the field's messages, as DRF collects them.
fn refuse(errors: &mut Map<String, Value>, field: &str, message: &str) {
    let messages = errors.entry(field).or_insert_with(|| json!([]));
    if let Value::Array(list) = messages {
        list.push(message.into());
    }
}

/// Places an Update (new limits) or Terminate order for an existing resource; returns its uuid.
pub(super) async fn place_for_resource(
    db: &Db,
    resource: &Resource,
    kind: OrderType,
    limits: Option<String>,
    created_by: i64,
    now: i64,
) -> ServiceResult<Uuid32> {
    // The state first, so a resource that is not there to change says so rather than meet
    // the block (checked again under the lock below).
    check_state(kind, resource.state)?;
    let mut tx = db.begin().await?;
    if kind == OrderType::Update {
        // A resource never changes customer, so the one read before is the one to guard.
        let subject = json!({"resource_uuid": resource.uuid.to_string(), "resource_name": resource.name});
        let block = Action::BlockModificationOfExistingResources;
        tx = blocks::guard(tx, db, resource.customer_id, block, subject, now).await?;
    }
    let r = store::resources::by_id_tx(&mut tx, resource.id)
        .await?
        .ok_or_else(|| ServiceError::Rejected("Resource does not exist.".into()))?;
    check_state(kind, r.state)?;
    if store::resources::has_open_order(&mut tx, r.id).await? {
        return Err(ServiceError::Rejected(
            "Pending order for resource already exists.".into(),
        ));
    }
    let uuid = Uuid32::new_v4();
    let new = NewOrder {
        kind,
        state: OrderState::PendingConsumer,
        project_id: r.project_id,
        offering_id: r.offering_id,
        plan_id: r.plan_id,
        resource_id: r.id,
        attributes: "{}",
        limits: limits.as_deref().unwrap_or(&r.limits),
        created_by,
    };
    store::orders::insert(&mut tx, &uuid, &new, now).await?;
    tx.commit().await?;
    Ok(uuid)
}

/// Upstream's StateValidator on the resource actions, and its message.
fn check_state(kind: OrderType, state: ResourceState) -> ServiceResult<()> {
    let valid: &[ResourceState] = match kind {
        OrderType::Update => &[ResourceState::Ok],
        _ => &[ResourceState::Ok, ResourceState::Erred],
    };
    if valid.contains(&state) {
        return Ok(());
    }
    let names: Vec<&str> = valid.iter().map(|s| s.as_str()).collect();
    Err(ServiceError::Conflict(format!(
        "Valid states for operation: {}.",
        names.join(", ")
    )))
}

/// Takes a step of the order's state machine for the caller. The order must be one the caller
/// sees (404), and the step the caller's to take (403): consumer steps are for staff, customer
/// owners and project managers and admins, and a cancel also for the order's creator; provider
/// steps for the provider's owners and managers. Only then is the body's refusal reported
/// (`error_message`: `Err` holds the API's 400 body), as DRF checks permissions before it reads
/// the body; a step the order is not where it starts is a 409.
pub async fn take_step(
    db: &Db,
    caller: &Principal,
    uuid: &Uuid32,
    step: OrderStep,
    error_message: Result<Option<String>, Value>,
    now: i64,
) -> ServiceResult<()> {
    let order = retrieve(db, caller, uuid, now).await?;
    let allowed = if step.by_consumer() {
        let creator =
            step == OrderStep::Cancel && order.created_by_username.as_deref() == Some(caller.username.as_str());
        creator || access::may_manage_consumer(db, caller, order.customer_id, order.project_id, now).await?
    } else {
        access::may_act_for_provider(db, caller, order.provider_customer_id, now).await?
    };
    if !allowed {
        return Err(ServiceError::Forbidden);
    }
    let error_message = error_message.map_err(ServiceError::Invalid)?;
    move_order(db, order.id, step, caller.id, error_message.as_deref(), now).await
}

/// Moves the order one step in a transaction of its own, and its resource with it.
async fn move_order(
    db: &Db,
    order_id: i64,
    step: OrderStep,
    by: i64,
    error_message: Option<&str>,
    now: i64,
) -> ServiceResult<()> {
    let mut tx = db.begin().await?;
    let order = store::orders::by_id_tx(&mut tx, order_id)
        .await?
        .ok_or_else(|| ServiceError::Rejected("Order does not exist.".into()))?;
    let (from, to) = step.transition();
    // An Update order placed before its customer's modifications were blocked waits while they
    // are: the provider's steps that would change the resource are refused as update_limits/
    // would be now. An order not where the step starts answers its 409 below, not the block.
    if matches!(step, OrderStep::ApproveByProvider | OrderStep::SetDone)
        && from.contains(&order.state)
        && order.kind == OrderType::Update
    {
        let subject = json!({
            "resource_uuid": order.resource_uuid.map(|u| u.to_string()),
            "resource_name": order.resource_name,
        });
        let block = Action::BlockModificationOfExistingResources;
        tx = blocks::guard(tx, db, order.customer_id, block, subject, now).await?;
    }
    // The resource before its order, as `terminate_resources` locks resources before it cancels
    // their other orders: the two never wait on each other in a cycle.
    if let Some(resource_id) = order.resource_id {
        store::resources::lock(&mut tx, resource_id).await?;
    }
    if !store::orders::transition(&mut tx, order.id, from, to, now).await? {
        let names: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        return Err(ServiceError::Conflict(format!(
            "Valid states for operation: {}.",
            names.join(", ")
        )));
    }
    match step {
        OrderStep::ApproveByConsumer | OrderStep::RejectByConsumer => {
            store::orders::set_reviewed(&mut tx, order.id, Reviewer::Consumer, by, now).await?
        }
        OrderStep::ApproveByProvider | OrderStep::RejectByProvider => {
            store::orders::set_reviewed(&mut tx, order.id, Reviewer::Provider, by, now).await?
        }
        _ => {}
    }
    if let Some(message) = error_message {
        store::orders::set_error(&mut tx, order.id, message).await?;
    }
    if let Some(resource_id) = order.resource_id {
        apply_to_resource(&mut tx, resource_id, order.kind, to, &order.limits, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn apply_to_resource(
    tx: &mut Tx,
    resource_id: i64,
    kind: OrderType,
    reached: OrderState,
    limits: &str,
    now: i64,
) -> ServiceResult<()> {
    if let Some(state) = resource_state_after(kind, reached) {
        store::resources::set_state(tx, resource_id, state, now).await?;
    }
    if kind == OrderType::Update && reached == OrderState::Done {
        store::resources::set_limits(tx, resource_id, limits, now).await?;
    }
    Ok(())
}
