use super::visibility as sql;
use super::{any_of, rows, NameFilter, Result, RowLock, Tx};
use crate::authz::Visibility;
use crate::domain::project::{Project, ProjectCustomer, ProjectFields, ProjectFilter};
use crate::domain::Uuid32;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, FromRow, Row};

const SELECT: &str = "SELECT p.id, p.uuid, p.name, p.slug, p.description, p.backend_id, \
     p.start_date, p.end_date, p.created, p.customer_id, c.uuid AS customer_uuid, \
     c.name AS customer_name, c.slug AS customer_slug, c.native_name AS customer_native_name, \
     c.abbreviation AS customer_abbreviation \
     FROM projects p JOIN customers c ON c.id = p.customer_id";

/// A row of `SELECT`, decoded.
struct Stored(Project);

impl FromRow<'_, AnyRow> for Stored {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let uuid: String = row.try_get("uuid")?;
        let customer_uuid: String = row.try_get("customer_uuid")?;
        Ok(Self(Project {
            id: row.try_get("id")?,
            uuid: rows::uuid("projects.uuid", &uuid)?,
            created: row.try_get("created")?,
            fields: ProjectFields {
                name: row.try_get("name")?,
                slug: row.try_get("slug")?,
                description: row.try_get("description")?,
                backend_id: row.try_get("backend_id")?,
                start_date: row.try_get("start_date")?,
                end_date: row.try_get("end_date")?,
            },
            customer: ProjectCustomer {
                id: row.try_get("customer_id")?,
                uuid: rows::uuid("customers.uuid", &customer_uuid)?,
                name: row.try_get("customer_name")?,
                slug: row.try_get("customer_slug")?,
                native_name: row.try_get("customer_native_name")?,
                abbreviation: row.try_get("customer_abbreviation")?,
            },
        }))
    }
}

/// The fields of a project that is not removed, read inside the writing transaction with its
/// row locked by `lock`.
pub async fn fields_for_update(tx: &mut Tx, id: i64) -> Result<Option<ProjectFields>> {
    let lock = RowLock::Update.of(tx, "p");
    let row: Option<Stored> = sqlx::query_as(&format!("{SELECT} WHERE p.id = $1 AND p.is_removed = 0 {lock}"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(|Stored(p)| p.fields))
}

/// The slugs of projects that start with `stem`, for the next one made from it.
pub async fn slugs_starting(tx: &mut Tx, stem: &str) -> Result<Vec<String>> {
    // A prefix compared as text, not a LIKE pattern: `_` is a slug character.
    sqlx::query_scalar("SELECT slug FROM projects WHERE SUBSTR(slug, 1, LENGTH($1)) = $1")
        .bind(stem)
        .fetch_all(&mut **tx)
        .await
}

pub async fn insert(tx: &mut Tx, uuid: &Uuid32, customer_id: i64, f: &ProjectFields, now: i64) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO projects (uuid, customer_id, name, slug, description, backend_id, start_date, \
         end_date, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(uuid.to_string())
    .bind(customer_id)
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
        "UPDATE projects SET name = $1, slug = $2, description = $3, backend_id = $4, \
         start_date = $5, end_date = $6 WHERE id = $7",
    )
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

pub async fn by_uuid(pool: &AnyPool, uuid: &Uuid32) -> Result<Option<Project>> {
    let row: Option<Stored> = sqlx::query_as(&format!("{SELECT} WHERE p.uuid = $1 AND p.is_removed = 0"))
        .bind(uuid.to_string())
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|Stored(p)| p))
}

pub async fn visible_by_uuid(pool: &AnyPool, uuid: &Uuid32, vis: Visibility) -> Result<Option<Project>> {
    let (user, now) = vis.binds();
    let row: Option<Stored> = sqlx::query_as(&format!(
        "{SELECT} WHERE p.uuid = $1 AND p.is_removed = 0 AND {}",
        sql::project_member(vis, "p.id", "p.customer_id", "$2", "$3")
    ))
    .bind(uuid.to_string())
    .bind(user)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|Stored(p)| p))
}

fn filter() -> String {
    format!(
        "p.is_removed = 0 AND ($3 IS NULL OR c.uuid = $3) AND {} AND ($6 IS NULL OR $6 LIKE '%,' || c.uuid || ',%')",
        NameFilter::sql("p.name", 4)
    )
}

/// The filter's binds after the caller's two: `$3` the customer, `$4`/`$5` the name, `$6` the
/// customers.
fn filter_binds(f: &ProjectFilter) -> (Option<String>, Option<String>, Option<String>, Option<String>) {
    let (exact, pattern) = NameFilter::new(f.name_exact.as_deref(), f.name.as_deref()).binds();
    let customers: Vec<String> = f.customers.iter().map(Uuid32::to_string).collect();
    (
        f.customer_uuid.map(|u| u.to_string()),
        exact,
        pattern,
        any_of(&customers),
    )
}

pub async fn count(pool: &AnyPool, vis: Visibility, f: &ProjectFilter) -> Result<i64> {
    let (user, now) = vis.binds();
    let (customer, exact, pattern, customers) = filter_binds(f);
    sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM projects p JOIN customers c ON c.id = p.customer_id WHERE {} AND {}",
        sql::project_member(vis, "p.id", "p.customer_id", "$1", "$2"),
        filter()
    ))
    .bind(user)
    .bind(now)
    .bind(customer)
    .bind(exact)
    .bind(pattern)
    .bind(customers)
    .fetch_one(pool)
    .await
}

pub async fn list(pool: &AnyPool, vis: Visibility, f: &ProjectFilter, limit: i64, offset: i64) -> Result<Vec<Project>> {
    let (user, now) = vis.binds();
    let (customer, exact, pattern, customers) = filter_binds(f);
    let rows: Vec<Stored> = sqlx::query_as(&format!(
        "{SELECT} WHERE {} AND {} ORDER BY p.created DESC, p.id DESC LIMIT $7 OFFSET $8",
        sql::project_member(vis, "p.id", "p.customer_id", "$1", "$2"),
        filter()
    ))
    .bind(user)
    .bind(now)
    .bind(customer)
    .bind(exact)
    .bind(pattern)
    .bind(customers)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|Stored(p)| p).collect())
}
