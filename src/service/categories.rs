//! Marketplace categories: read by every user, written by staff (docs/api.md §5.2).

use super::checked::{verdict, Checked};
use super::{ServiceError, ServiceResult};
use crate::domain::category::{Category, CategoryChanges, CategoryFields};
use crate::domain::page::{Listed, PageRequest};
use crate::domain::Uuid32;
use crate::store::{self, Db};

pub const NOT_FOUND: &str = "No Category matches the given query.";
/// Upstream cascades a category's deletion to its offerings; meterguard refuses instead, as
/// that would silently drop components that usage policies limit.
pub const IN_USE: &str = "Category has offerings and cannot be deleted.";

/// One page of categories, by title.
pub async fn list(db: &Db, page: PageRequest) -> ServiceResult<Listed<Category>> {
    let pool = db.reader();
    let page = page.resolve(store::categories::count(pool).await?)?;
    Ok(Listed {
        items: store::categories::list(pool, page.limit(), page.offset()).await?,
        page,
    })
}

pub async fn retrieve(db: &Db, uuid: &Uuid32) -> ServiceResult<Category> {
    store::categories::by_uuid(db.reader(), uuid)
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))
}

pub async fn create(db: &Db, fields: CategoryFields, now: i64) -> ServiceResult<Category> {
    let uuid = Uuid32::new_v4();
    let mut tx = db.begin().await?;
    store::categories::insert(&mut tx, &uuid, &fields, now).await?;
    tx.commit().await?;
    retrieve(db, &uuid).await
}

/// PUT and PATCH: the category first (404), then the body (400), as DRF's update does.
pub async fn update(db: &Db, uuid: &Uuid32, changes: Checked<CategoryChanges>) -> ServiceResult<Category> {
    let mut tx = db.begin().await?;
    let current = store::categories::for_update(&mut tx, uuid)
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))?;
    let fields = verdict(changes)?.apply(CategoryFields {
        title: current.title,
        description: current.description,
    });
    store::categories::update(&mut tx, current.id, &fields).await?;
    tx.commit().await?;
    retrieve(db, uuid).await
}

/// Deletes a category no offering is in.
pub async fn delete(db: &Db, uuid: &Uuid32) -> ServiceResult<()> {
    let mut tx = db.begin().await?;
    let current = store::categories::for_update(&mut tx, uuid)
        .await?
        .ok_or(ServiceError::NotFound(NOT_FOUND))?;
    if current.offering_count > 0 {
        return Err(ServiceError::Rejected(IN_USE.into()));
    }
    match store::categories::delete(&mut tx, current.id).await {
        // An offering created meanwhile still holds the category.
        Err(e) if store::is_foreign_key_violation(&e) => return Err(ServiceError::Rejected(IN_USE.into())),
        other => other?,
    }
    tx.commit().await?;
    Ok(())
}
