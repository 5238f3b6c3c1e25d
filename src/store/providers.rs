use super::{Result, Tx};
use crate::domain::Uuid32;
use sqlx::{AnyPool, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct ProviderRow {
    pub id: i64,
    pub uuid: String,
    pub description: String,
    pub enable_notifications: i64,
    pub created: i64,
    pub customer_id: i64,
    pub customer_uuid: String,
    pub customer_name: String,
    pub customer_abbreviation: String,
    pub customer_slug: String,
    pub customer_native_name: String,
    pub customer_country: String,
    pub offering_count: i64,
}

const SELECT: &str = "SELECT s.id, s.uuid, s.description, s.enable_notifications, s.created, \
     s.customer_id, c.uuid AS customer_uuid, c.name AS customer_name, \
     c.abbreviation AS customer_abbreviation, c.slug AS customer_slug, \
     c.native_name AS customer_native_name, c.country AS customer_country, \
     (SELECT COUNT(*) FROM offerings o WHERE o.customer_id = s.customer_id) AS offering_count \
     FROM service_providers s JOIN customers c ON c.id = s.customer_id";

pub async fn insert(
    tx: &mut Tx,
    uuid: &Uuid32,
    customer_id: i64,
    description: &str,
    enable_notifications: bool,
    now: i64,
) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO service_providers (uuid, customer_id, description, enable_notifications, created) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(uuid.to_string())
    .bind(customer_id)
    .bind(description)
    .bind(i64::from(enable_notifications))
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

pub async fn by_uuid(pool: &AnyPool, uuid: &Uuid32) -> Result<Option<ProviderRow>> {
    sqlx::query_as(&format!("{SELECT} WHERE s.uuid = $1"))
        .bind(uuid.to_string())
        .fetch_optional(pool)
        .await
}

/// Whether the customer is registered as a service provider.
pub async fn is_registered(pool: &AnyPool, customer_id: i64) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM service_providers WHERE customer_id = $1")
        .bind(customer_id)
        .fetch_one(pool)
        .await?;
    Ok(n > 0)
}

pub async fn exists_for_customer(tx: &mut Tx, customer_id: i64) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM service_providers WHERE customer_id = $1")
        .bind(customer_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(n > 0)
}

pub async fn count(pool: &AnyPool, customer_uuid: Option<&str>) -> Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM service_providers s JOIN customers c ON c.id = s.customer_id \
         WHERE ($1 IS NULL OR c.uuid = $1)",
    )
    .bind(customer_uuid)
    .fetch_one(pool)
    .await
}

/// Ordered by customer name, as upstream.
pub async fn list(pool: &AnyPool, customer_uuid: Option<&str>, limit: i64, offset: i64) -> Result<Vec<ProviderRow>> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE ($1 IS NULL OR c.uuid = $1) ORDER BY c.name, s.id LIMIT $2 OFFSET $3"
    ))
    .bind(customer_uuid)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
}
