use super::visibility as sql;
use super::{any_of, NameFilter, Result, Tx};
use crate::authz::Visibility;
use crate::domain::Uuid32;
use sqlx::{AnyPool, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct ProjectRow {
    pub id: i64,
    pub uuid: String,
    pub customer_id: i64,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub backend_id: String,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub created: i64,
    pub customer_uuid: String,
    pub customer_name: String,
    pub customer_slug: String,
    pub customer_native_name: String,
    pub customer_abbreviation: String,
}

const SELECT: &str = "SELECT p.id, p.uuid, p.customer_id, p.name, p.slug, p.description, \
     p.backend_id, p.start_date, p.end_date, p.created, c.uuid AS customer_uuid, \
     c.name AS customer_name, c.slug AS customer_slug, c.native_name AS customer_native_name, \
     c.abbreviation AS customer_abbreviation \
     FROM projects p JOIN customers c ON c.id = p.customer_id";

#[derive(Debug, Clone, Default)]
pub struct ProjectFields {
    pub customer_id: i64,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub backend_id: String,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
}

impl ProjectFields {
    pub fn from_row(row: &ProjectRow) -> Self {
        Self {
            customer_id: row.customer_id,
            name: row.name.clone(),
            slug: row.slug.clone(),
            description: row.description.clone(),
            backend_id: row.backend_id.clone(),
            start_date: row.start_date.clone(),
            end_date: row.end_date.clone(),
        }
    }
}

/// The fields a request names, laid over the row it changes (`Some(None)` clears a date).
#[derive(Debug, Clone, Default)]
pub struct ProjectPatch {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<String>,
    pub backend_id: Option<String>,
    pub start_date: Option<Option<String>>,
    pub end_date: Option<Option<String>>,
}

impl ProjectPatch {
    pub fn apply(&self, f: &mut ProjectFields) {
        let text = [
            (&self.name, &mut f.name),
            (&self.slug, &mut f.slug),
            (&self.description, &mut f.description),
            (&self.backend_id, &mut f.backend_id),
        ];
        for (given, slot) in text {
            if let Some(v) = given {
                slot.clone_from(v);
            }
        }
        for (given, slot) in [(&self.start_date, &mut f.start_date), (&self.end_date, &mut f.end_date)] {
            if let Some(v) = given {
                slot.clone_from(v);
            }
        }
    }
}

/// The fields of a project that is not removed, read inside the writing transaction with its
/// row locked by `lock`.
pub async fn fields_for_update(tx: &mut Tx, id: i64, lock: &str) -> Result<Option<ProjectFields>> {
    let lock = super::lock_of(lock, "p");
    let row: Option<ProjectRow> = sqlx::query_as(&format!("{SELECT} WHERE p.id = $1 AND p.is_removed = 0 {lock}"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.as_ref().map(ProjectFields::from_row))
}

pub async fn insert(tx: &mut Tx, uuid: &Uuid32, f: &ProjectFields, now: i64) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO projects (uuid, customer_id, name, slug, description, backend_id, start_date, \
         end_date, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(uuid.to_string())
    .bind(f.customer_id)
    .bind(&f.name)
    .bind(&f.slug)
    .bind(&f.description)
    .bind(&f.backend_id)
    .bind(f.start_date.clone())
    .bind(f.end_date.clone())
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

pub async fn update(tx: &mut Tx, id: i64, f: &ProjectFields) -> Result<()> {
    sqlx::query(
        "UPDATE projects SET customer_id = $1, name = $2, slug = $3, description = $4, \
         backend_id = $5, start_date = $6, end_date = $7 WHERE id = $8",
    )
    .bind(f.customer_id)
    .bind(&f.name)
    .bind(&f.slug)
    .bind(&f.description)
    .bind(&f.backend_id)
    .bind(f.start_date.clone())
    .bind(f.end_date.clone())
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Projects are soft-deleted, as upstream: their resources and history stay.
pub async fn soft_delete(tx: &mut Tx, id: i64) -> Result<()> {
    sqlx::query("UPDATE projects SET is_removed = 1 WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn by_uuid(pool: &AnyPool, uuid: &Uuid32) -> Result<Option<ProjectRow>> {
    sqlx::query_as(&format!("{SELECT} WHERE p.uuid = $1 AND p.is_removed = 0"))
        .bind(uuid.to_string())
        .fetch_optional(pool)
        .await
}

pub async fn visible_by_uuid(pool: &AnyPool, uuid: &Uuid32, vis: Visibility) -> Result<Option<ProjectRow>> {
    let (user, now) = vis.binds();
    sqlx::query_as(&format!(
        "{SELECT} WHERE p.uuid = $1 AND p.is_removed = 0 AND {}",
        sql::project_member(vis, "p.id", "p.customer_id", "$2", "$3")
    ))
    .bind(uuid.to_string())
    .bind(user)
    .bind(now)
    .fetch_optional(pool)
    .await
}

pub struct ProjectFilter {
    pub customer_uuid: Option<String>,
    pub name: NameFilter,
    /// Any of these customers (none: any).
    pub customers: Vec<String>,
}

fn filter() -> String {
    format!(
        "p.is_removed = 0 AND ($3 IS NULL OR c.uuid = $3) AND {} AND ($6 IS NULL OR $6 LIKE '%,' || c.uuid || ',%')",
        NameFilter::sql("p.name", 4)
    )
}

pub async fn count(pool: &AnyPool, vis: Visibility, f: &ProjectFilter) -> Result<i64> {
    let (user, now) = vis.binds();
    let (name, pattern) = f.name.binds();
    sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM projects p JOIN customers c ON c.id = p.customer_id WHERE {} AND {}",
        sql::project_member(vis, "p.id", "p.customer_id", "$1", "$2"),
        filter()
    ))
    .bind(user)
    .bind(now)
    .bind(f.customer_uuid.clone())
    .bind(name)
    .bind(pattern)
    .bind(any_of(&f.customers))
    .fetch_one(pool)
    .await
}

pub async fn list(
    pool: &AnyPool,
    vis: Visibility,
    f: &ProjectFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<ProjectRow>> {
    let (user, now) = vis.binds();
    let (name, pattern) = f.name.binds();
    sqlx::query_as(&format!(
        "{SELECT} WHERE {} AND {} ORDER BY p.created DESC, p.id DESC LIMIT $7 OFFSET $8",
        sql::project_member(vis, "p.id", "p.customer_id", "$1", "$2"),
        filter()
    ))
    .bind(user)
    .bind(now)
    .bind(f.customer_uuid.clone())
    .bind(name)
    .bind(pattern)
    .bind(any_of(&f.customers))
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
}
