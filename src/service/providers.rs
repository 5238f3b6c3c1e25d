//! Service providers: registering a customer as one, which it must be before it can offer
//! anything (docs/api.md §5.1).

use super::checked::{self, Checked, Reference, Resolved};
use super::{access, ServiceError, ServiceResult};
use crate::authz::{self, Principal, Visibility};
use crate::domain::page::{Listed, PageRequest};
use crate::domain::service_provider::{ProviderFields, ServiceProvider};
use crate::domain::Uuid32;
use crate::store::{self, Db};

pub const NOT_FOUND: &str = "No ServiceProvider matches the given query.";
/// DRF's UniqueValidator message for the one-to-one `customer` field.
pub const ALREADY_REGISTERED: &str = "Service provider with this customer already exists.";

/// Which providers a list holds.
#[derive(Debug, Clone, Default)]
pub struct ProviderFilter {
    /// Only the registration of this customer (32 hex characters).
    pub customer_uuid: Option<String>,
}

/// One page of providers, by customer name.
pub async fn list(db: &Db, filter: &ProviderFilter, page: PageRequest) -> ServiceResult<Listed<ServiceProvider>> {
    let pool = db.reader();
    let customer = filter.customer_uuid.as_deref();
    let page = page.resolve(store::providers::count(pool, customer).await?)?;
    Ok(Listed {
        items: store::providers::list(pool, customer, page.limit(), page.offset()).await?,
        page,
    })
}

pub async fn retrieve(db: &Db, uuid: &Uuid32) -> ServiceResult<ServiceProvider> {
    store::providers::by_uuid(db.reader(), uuid)
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))
}

/// A registration as the client asked for it: the customer it names, checked here, and the rest
/// of the body.
#[derive(Debug, Clone)]
pub struct NewProvider {
    /// `None` when absent or not a customer URL (the body's errors say so).
    pub customer: Option<Reference>,
    pub fields: Checked<ProviderFields>,
}

/// Registers the customer. Field errors come first (a customer already registered among them),
/// then the permission check (staff, or an owner of the customer), as upstream's serializer does.
pub async fn register(db: &Db, caller: &Principal, new: NewProvider, now: i64) -> ServiceResult<ServiceProvider> {
    let customer = match new.customer {
        Some(r) => Some(Resolved::new(
            "customer",
            r,
            unregistered_customer(db, caller, &r.uuid, now).await?,
        )),
        None => None,
    };
    let fields = checked::with_references(new.fields, &customer.iter().collect::<Vec<_>>())?;
    let Some(customer_id) = customer.as_ref().and_then(Resolved::found) else {
        return Err(ServiceError::Field("customer", checked::DOES_NOT_EXIST.into()));
    };
    // Staff need no roles read.
    if !caller.is_staff {
        let roles = access::roles(db, caller, customer_id, None, now).await?;
        if !authz::may_register_provider(caller, &roles) {
            return Err(ServiceError::Forbidden);
        }
    }
    let uuid = Uuid32::new_v4();
    let mut tx = db.begin().await?;
    match store::providers::insert(&mut tx, &uuid, customer_id, &fields, now).await {
        Err(e) if store::is_unique_violation(&e) => {
            return Err(ServiceError::Field("customer", ALREADY_REGISTERED.into()));
        }
        other => other?,
    };
    tx.commit().await?;
    retrieve(db, &uuid).await
}

/// `customer`: a customer the caller sees (one they may not see looks missing, not "already
/// registered", nor 403) that is not registered yet.
async fn unregistered_customer(
    db: &Db,
    caller: &Principal,
    uuid: &Uuid32,
    now: i64,
) -> store::Result<Result<i64, String>> {
    let pool = db.reader();
    let Some(id) = store::customers::visible_id(pool, uuid, Visibility::of(caller, now)).await? else {
        return Ok(Err(checked::DOES_NOT_EXIST.into()));
    };
    if store::providers::is_registered(pool, id).await? {
        return Ok(Err(ALREADY_REGISTERED.into()));
    }
    Ok(Ok(id))
}
