//! Marketplace categories, decoded here into `domain::category` records.

use super::rows::uuid;
use super::{Result, RowLock, Tx};
use crate::domain::category::{Category, CategoryFields};
use crate::domain::{OfferingState, Uuid32};
use sqlx::{AnyPool, FromRow};

#[derive(FromRow)]
struct CategoryRow {
    id: i64,
    uuid: String,
    title: String,
    description: String,
    icon: Option<String>,
    offering_count: i64,
    available_offerings_count: i64,
}

impl TryFrom<CategoryRow> for Category {
    type Error = sqlx::Error;

    fn try_from(r: CategoryRow) -> Result<Self> {
        Ok(Self {
            id: r.id,
            uuid: uuid("categories.uuid", &r.uuid)?,
            title: r.title,
            description: r.description,
            icon: r.icon,
            offering_count: r.offering_count,
            available_offerings_count: r.available_offerings_count,
        })
    }
}

fn select() -> String {
    format!(
        "SELECT k.id, k.uuid, k.title, k.description, k.icon, \
         (SELECT COUNT(*) FROM offerings o WHERE o.category_id = k.id) AS offering_count, \
         (SELECT COUNT(*) FROM offerings o WHERE o.category_id = k.id AND o.state = '{}') \
         AS available_offerings_count \
         FROM categories k",
        OfferingState::Active.as_str()
    )
}

pub async fn insert(tx: &mut Tx, uuid: &Uuid32, f: &CategoryFields, now: i64) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO categories (uuid, title, description, created) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(uuid.to_string())
    .bind(&f.title)
    .bind(&f.description)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

pub async fn update(tx: &mut Tx, id: i64, f: &CategoryFields) -> Result<()> {
    sqlx::query("UPDATE categories SET title = $1, description = $2 WHERE id = $3")
        .bind(&f.title)
        .bind(&f.description)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM categories WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The id of the category with this uuid.
pub async fn id_by_uuid(pool: &AnyPool, uuid: &Uuid32) -> Result<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM categories WHERE uuid = $1")
        .bind(uuid.to_string())
        .fetch_optional(pool)
        .await
}

pub async fn by_uuid(pool: &AnyPool, uuid: &Uuid32) -> Result<Option<Category>> {
    let row: Option<CategoryRow> = sqlx::query_as(&format!("{} WHERE k.uuid = $1", select()))
        .bind(uuid.to_string())
        .fetch_optional(pool)
        .await?;
    row.map(Category::try_from).transpose()
}

/// The category read again inside a write transaction, locked for the rest of it.
pub async fn for_update(tx: &mut Tx, uuid: &Uuid32) -> Result<Option<Category>> {
    let lock = RowLock::Update.of(tx, "k");
    let row: Option<CategoryRow> = sqlx::query_as(&format!("{} WHERE k.uuid = $1 {lock}", select()))
        .bind(uuid.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    row.map(Category::try_from).transpose()
}

pub async fn count(pool: &AnyPool) -> Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM categories")
        .fetch_one(pool)
        .await
}

/// By title.
pub async fn list(pool: &AnyPool, limit: i64, offset: i64) -> Result<Vec<Category>> {
    let rows: Vec<CategoryRow> = sqlx::query_as(&format!("{} ORDER BY k.title, k.id LIMIT $1 OFFSET $2", select()))
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?;
    rows.into_iter().map(Category::try_from).collect()
}
