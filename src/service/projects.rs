//! Changing a project.

use super::{ServiceError, ServiceResult};
use crate::store::projects::ProjectPatch;
use crate::store::{self, Db};

/// Lays the request's fields over the project as it is inside the writing transaction (its row
/// locked), so concurrent edits of different fields both hold and a project removed meanwhile
/// is not written.
pub async fn update(db: &Db, project_id: i64, patch: &ProjectPatch) -> ServiceResult<()> {
    let mut tx = db.begin().await?;
    let mut fields = store::projects::fields_for_update(&mut tx, project_id, db.row_lock())
        .await?
        .ok_or_else(|| ServiceError::Conflict("Project has been removed.".into()))?;
    patch.apply(&mut fields);
    store::projects::update(&mut tx, project_id, &fields).await?;
    tx.commit().await?;
    Ok(())
}
