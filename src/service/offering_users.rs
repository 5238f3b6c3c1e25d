//! Offering users: a user's account on an offering (docs/site-agent.md). The provider (staff, its
//! owners and managers) creates them with the username the cluster knows the user by; the agent
//! reads them to map cluster usernames to users.

use super::site_agent::no_such_object;
use super::{access, ServiceError, ServiceResult};
use crate::authz::{Principal, Visibility};
use crate::domain::offering_user::{OfferingUser, OfferingUserFilter};
use crate::domain::page::{Listed, PageRequest};
use crate::domain::Uuid32;
use crate::store::offerings::Catalog;
use crate::store::{self, Db};

pub const NOT_FOUND: &str = "No OfferingUser matches the given query.";
const ALREADY_EXISTS: &str = "Offering user with this offering and user already exists.";

pub async fn list(
    db: &Db,
    caller: &Principal,
    filter: &OfferingUserFilter,
    request: PageRequest,
    now: i64,
) -> ServiceResult<Listed<OfferingUser>> {
    let vis = Visibility::of(caller, now);
    let page = request.resolve(store::offering_users::count(db.reader(), vis, filter).await?)?;
    let items = store::offering_users::list(db.reader(), vis, filter, page.limit(), page.offset()).await?;
    Ok(Listed { items, page })
}

pub async fn retrieve(db: &Db, caller: &Principal, uuid: &Uuid32, now: i64) -> ServiceResult<OfferingUser> {
    store::offering_users::visible_by_uuid(db.reader(), uuid, Visibility::of(caller, now))
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))
}

/// A new offering user as a request names it.
#[derive(Debug, Clone)]
pub struct NewOfferingUser {
    pub offering: Uuid32,
    pub user: Uuid32,
    pub username: Option<String>,
}

/// Creates the account: the offering must be one the caller sees as its provider and acts for,
/// the user one that exists; one account per user and offering.
pub async fn create(db: &Db, caller: &Principal, new: NewOfferingUser, now: i64) -> ServiceResult<OfferingUser> {
    let catalog = Catalog::Provider(Visibility::of(caller, now));
    let Some(offering) = store::offerings::visible_by_uuid(db.reader(), &new.offering, catalog).await? else {
        return Err(ServiceError::Field("offering", no_such_object(&new.offering)));
    };
    let Some(user_id) = store::users::id_by_uuid(db.reader(), &new.user).await? else {
        return Err(ServiceError::Field("user", no_such_object(&new.user)));
    };
    if !access::may_act_for_provider(db, caller, offering.customer_id, now).await? {
        return Err(ServiceError::Forbidden);
    }
    let uuid = Uuid32::new_v4();
    let mut tx = db.begin().await?;
    match store::offering_users::insert(&mut tx, &uuid, offering.id, user_id, new.username.as_deref(), now).await {
        Err(e) if store::is_unique_violation(&e) => return Err(ServiceError::Rejected(ALREADY_EXISTS.into())),
        other => other?,
    }
    tx.commit().await?;
    retrieve(db, caller, &uuid, now).await
}
