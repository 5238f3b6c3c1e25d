//! Offerings with their components and plans: creation, activation, deletion and the provider's
//! component actions. Each is one transaction; uniqueness of component types is checked inside it.

use super::{evaluation, ServiceError, ServiceResult};
use crate::actions::ActionsConfig;
use crate::domain::{OfferingState, Uuid32};
use crate::store::evaluation::Components;
use crate::store::offerings::{ComponentFields, OfferingFields, PlanFields};
use crate::store::{self, Db, Tx};
use chrono::{DateTime, Utc};

/// Django's message for a second component of one type in an offering (`unique_together`).
pub const DUPLICATE_TYPE: &str = "Offering component with this Offering and Type already exists.";

/// A new offering as the client described it, already well-formed.
#[derive(Debug, Clone, Default)]
pub struct NewOffering {
    pub fields: OfferingFields,
    pub components: Vec<ComponentFields>,
    pub plans: Vec<PlanFields>,
}

/// Creates the offering (state Draft) with its components and plans; returns its uuid.
pub async fn create(db: &Db, new: &NewOffering, now: i64) -> ServiceResult<Uuid32> {
    let mut tx = db.begin().await?;
    let uuid = Uuid32::new_v4();
    let id = store::offerings::insert(&mut tx, &uuid, &new.fields, now).await?;
    for component in &new.components {
        insert_component(&mut tx, id, component, now).await?;
    }
    for plan in &new.plans {
        store::offerings::insert_plan(&mut tx, id, &Uuid32::new_v4(), plan, now).await?;
    }
    tx.commit().await?;
    Ok(uuid)
}

/// Upstream's `activate/`: the offering must have a plan, then Draft or Paused become Active.
/// `Ok(None)` when the offering does not exist.
pub async fn activate(db: &Db, uuid: &Uuid32) -> ServiceResult<Option<OfferingState>> {
    let mut tx = db.begin().await?;
    let Some((id, state)) = store::offerings::state_for_update(&mut tx, uuid, db.row_lock()).await? else {
        return Ok(None);
    };
    if store::offerings::plan_count(&mut tx, id).await? == 0 {
        return Err(ServiceError::Rejected(
            "Offering does not have any billing plans.".into(),
        ));
    }
    let next = OfferingState::parse(&state)
        .and_then(OfferingState::activated)
        .ok_or_else(|| ServiceError::Rejected("Offering state is invalid.".into()))?;
    store::offerings::set_state(&mut tx, id, next.as_str()).await?;
    tx.commit().await?;
    Ok(Some(next))
}

/// Deletes the offering with its components, plans and the policy limits on its components,
/// and re-evaluates the policies that lose limits; `false` when it does not exist. An offering
/// that has resources stays: their orders, usage and history name it.
pub async fn delete(db: &Db, cfg: &ActionsConfig, uuid: &Uuid32, now: DateTime<Utc>) -> ServiceResult<bool> {
    let mut tx = db.begin().await?;
    let Some((id, _)) = store::offerings::state_for_update(&mut tx, uuid, db.row_lock()).await? else {
        return Ok(false);
    };
    if store::offerings::has_resources(&mut tx, id).await? {
        return Err(ServiceError::Conflict(
            "Offering has resources and cannot be deleted.".into(),
        ));
    }
    let limited = store::evaluation::policies_limiting(&mut tx, Components::OfOffering(id)).await?;
    store::offerings::delete(&mut tx, id).await?;
    tx.commit().await?;
    evaluation::after_limits_removed(db, cfg, &limited, now).await?;
    Ok(true)
}

/// `create_offering_component/`; returns the new component's uuid.
pub async fn add_component(db: &Db, offering_id: i64, fields: &ComponentFields, now: i64) -> ServiceResult<Uuid32> {
    let mut tx = db.begin().await?;
    if store::offerings::component_type_taken(&mut tx, offering_id, &fields.r#type, None).await? {
        return Err(duplicate_type());
    }
    let uuid = insert_component(&mut tx, offering_id, fields, now).await?;
    tx.commit().await?;
    Ok(uuid)
}

/// `update_offering_component/`: `change` turns the stored fields into the new ones. `Ok(false)`
/// when the offering has no such component.
pub async fn update_component(
    db: &Db,
    offering_id: i64,
    component: &Uuid32,
    change: impl FnOnce(ComponentFields) -> ComponentFields,
) -> ServiceResult<bool> {
    let mut tx = db.begin().await?;
    let Some(row) = store::offerings::component_in_offering(&mut tx, offering_id, component).await? else {
        return Ok(false);
    };
    let id = row.id;
    let fields = change(row.into());
    if store::offerings::component_type_taken(&mut tx, offering_id, &fields.r#type, Some(id)).await? {
        return Err(duplicate_type());
    }
    store::offerings::update_component(&mut tx, id, &fields)
        .await
        .map_err(unique_as_duplicate)?;
    tx.commit().await?;
    Ok(true)
}

/// `remove_offering_component/`: the component goes, and with it (FK cascade) its usage, its
/// totals and the policy limits on it; the policies that had such limits are re-evaluated, as a
/// fired one may now be under every limit left. `Ok(false)` when the offering has no such
/// component.
pub async fn remove_component(
    db: &Db,
    cfg: &ActionsConfig,
    offering_id: i64,
    component: &Uuid32,
    now: DateTime<Utc>,
) -> ServiceResult<bool> {
    let mut tx = db.begin().await?;
    let Some(row) = store::offerings::component_in_offering(&mut tx, offering_id, component).await? else {
        return Ok(false);
    };
    let limited = store::evaluation::policies_limiting(&mut tx, Components::One(row.id)).await?;
    store::offerings::delete_component(&mut tx, row.id).await?;
    tx.commit().await?;
    evaluation::after_limits_removed(db, cfg, &limited, now).await?;
    Ok(true)
}

async fn insert_component(tx: &mut Tx, offering_id: i64, fields: &ComponentFields, now: i64) -> ServiceResult<Uuid32> {
    let uuid = Uuid32::new_v4();
    store::offerings::insert_component(tx, offering_id, &uuid, fields, now)
        .await
        .map_err(unique_as_duplicate)?;
    Ok(uuid)
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
