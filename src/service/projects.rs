//! Projects: reading, creating, changing and removing them (docs/api.md §3.2).

use super::parsed::Parsed;
use super::{access, checked, ServiceError, ServiceResult};
use crate::authz::{Principal, Visibility};
use crate::domain::page::{Listed, PageRequest};
use crate::domain::project::{Project, ProjectFields, ProjectFilter, ProjectPatch};
use crate::domain::{slug, Uuid32};
use crate::store::{self, Db, Tx};

pub const NOT_FOUND: &str = "No Project matches the given query.";

/// The projects the caller sees (staff and support all; others those where they hold a role, on
/// the project or its customer), newest first.
pub async fn list(
    db: &Db,
    caller: &Principal,
    filter: &ProjectFilter,
    page: PageRequest,
    now: i64,
) -> ServiceResult<Listed<Project>> {
    let vis = Visibility::of(caller, now);
    let page = page.resolve(store::projects::count(db.reader(), vis, filter).await?)?;
    let items = store::projects::list(db.reader(), vis, filter, page.limit(), page.offset()).await?;
    Ok(Listed { items, page })
}

/// The project if the caller may see it; 404 otherwise.
pub async fn retrieve(db: &Db, caller: &Principal, uuid: &Uuid32, now: i64) -> ServiceResult<Project> {
    store::projects::visible_by_uuid(db.reader(), uuid, Visibility::of(caller, now))
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))
}

/// A project to create: the customer the body names (when it names one well-formed) and the
/// fields it sets.
#[derive(Debug, Default)]
pub struct NewProject {
    pub customer: Option<Uuid32>,
    pub fields: ProjectPatch,
}

/// Creates a project in a customer the caller sees (one it does not see is reported as missing,
/// with the body's other errors), if the caller is staff or an owner of that customer.
pub async fn create(db: &Db, caller: &Principal, mut request: Parsed<NewProject>, now: i64) -> ServiceResult<Project> {
    let customer_id = match request.value().customer {
        Some(uuid) => {
            let vis = Visibility::of(caller, now);
            let id = store::customers::visible_id(db.reader(), &uuid, vis).await?;
            if id.is_none() {
                request.refuse_first("customer", checked::DOES_NOT_EXIST);
            }
            id
        }
        None => None,
    };
    let request = request.accept()?;
    let Some(customer_id) = customer_id else {
        return Err(ServiceError::Rejected("A project needs a customer.".into()));
    };
    if !access::owns_customer(db, caller, customer_id, now).await? {
        return Err(ServiceError::Forbidden);
    }
    let mut fields = ProjectFields::default();
    request.fields.apply(&mut fields);
    let uuid = Uuid32::new_v4();
    let mut tx = db.begin().await?;
    give_slug(&mut tx, &mut fields).await?;
    store::projects::insert(&mut tx, &uuid, customer_id, &fields, now).await?;
    tx.commit().await?;
    reread(db, &uuid).await
}

/// Lays the request's fields over the project as it is inside the writing transaction (its row
/// locked), so concurrent edits of different fields both hold and a project removed meanwhile
/// is not written. Staff, the customer's owners and the project's admins and managers edit it;
/// the project is looked up and the caller's permission checked before the body's errors are
/// reported, as upstream does.
pub async fn update(
    db: &Db,
    caller: &Principal,
    uuid: &Uuid32,
    patch: Parsed<ProjectPatch>,
    now: i64,
) -> ServiceResult<Project> {
    let project = retrieve(db, caller, uuid, now).await?;
    if !access::may_manage_consumer(db, caller, project.customer.id, project.id, now).await? {
        return Err(ServiceError::Forbidden);
    }
    let patch = patch.accept()?;
    let mut tx = db.begin().await?;
    let mut fields = store::projects::fields_for_update(&mut tx, project.id)
        .await?
        .ok_or_else(|| ServiceError::Conflict("Project has been removed.".into()))?;
    patch.apply(&mut fields);
    give_slug(&mut tx, &mut fields).await?;
    store::projects::update(&mut tx, project.id, &fields).await?;
    tx.commit().await?;
    reread(db, uuid).await
}

/// Removes the project (a soft delete: its resources and history stay), if the caller is staff
/// or an owner of its customer.
pub async fn delete(db: &Db, caller: &Principal, uuid: &Uuid32, now: i64) -> ServiceResult<()> {
    let project = retrieve(db, caller, uuid, now).await?;
    if !access::owns_customer(db, caller, project.customer.id, now).await? {
        return Err(ServiceError::Forbidden);
    }
    let mut tx = db.begin().await?;
    store::projects::soft_delete(&mut tx, project.id).await?;
    tx.commit().await?;
    Ok(())
}

/// A project without a slug gets one made from its name; one that has a slug keeps it, whatever
/// its name becomes (docs/api.md §3.2).
async fn give_slug(tx: &mut Tx, fields: &mut ProjectFields) -> ServiceResult<()> {
    if fields.slug.is_empty() {
        let stem = slug::stem(&fields.name);
        let taken = store::projects::slugs_starting(tx, &stem).await?;
        fields.slug = slug::next(&stem, taken.iter().map(String::as_str));
    }
    Ok(())
}

async fn reread(db: &Db, uuid: &Uuid32) -> ServiceResult<Project> {
    store::projects::by_uuid(db.reader(), uuid)
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))
}
