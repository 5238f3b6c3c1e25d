use super::{Result, Tx};
use crate::domain::Uuid32;
use sqlx::{AnyPool, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct CategoryRow {
    pub id: i64,
    pub uuid: String,
    pub title: String,
    pub description: String,
    pub icon: Option<String>,
    pub offering_count: i64,
    pub available_offerings_count: i64,
}

const SELECT: &str = "SELECT k.id, k.uuid, k.title, k.description, k.icon, \
     (SELECT COUNT(*) FROM offerings o WHERE o.category_id = k.id) AS offering_count, \
     (SELECT COUNT(*) FROM offerings o WHERE o.category_id = k.id AND o.state = 'Active') \
     AS available_offerings_count \
     FROM categories k";

pub async fn insert(tx: &mut Tx, uuid: &Uuid32, title: &str, description: &str, now: i64) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO categories (uuid, title, description, created) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(uuid.to_string())
    .bind(title)
    .bind(description)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

pub async fn update(tx: &mut Tx, id: i64, title: &str, description: &str) -> Result<()> {
    sqlx::query("UPDATE categories SET title = $1, description = $2 WHERE id = $3")
        .bind(title)
        .bind(description)
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

pub async fn by_uuid(pool: &AnyPool, uuid: &Uuid32) -> Result<Option<CategoryRow>> {
    sqlx::query_as(&format!("{SELECT} WHERE k.uuid = $1"))
        .bind(uuid.to_string())
        .fetch_optional(pool)
        .await
}

pub async fn count(pool: &AnyPool) -> Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM categories")
        .fetch_one(pool)
        .await
}

pub async fn list(pool: &AnyPool, limit: i64, offset: i64) -> Result<Vec<CategoryRow>> {
    sqlx::query_as(&format!("{SELECT} ORDER BY k.title, k.id LIMIT $1 OFFSET $2"))
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await
}
