//! Service providers, decoded here into `domain::service_provider` records.

use super::rows::{flag, int, uuid};
use super::{Result, Tx};
use crate::domain::service_provider::{ProviderFields, ServiceProvider};
use crate::domain::Uuid32;
use sqlx::{AnyPool, FromRow};

#[derive(FromRow)]
struct ProviderRow {
    id: i64,
    uuid: String,
    description: String,
    enable_notifications: i64,
    created: i64,
    customer_id: i64,
    customer_uuid: String,
    customer_name: String,
    customer_abbreviation: String,
    customer_slug: String,
    customer_native_name: String,
    customer_country: String,
    offering_count: i64,
}

impl TryFrom<ProviderRow> for ServiceProvider {
    type Error = sqlx::Error;

    fn try_from(r: ProviderRow) -> Result<Self> {
        Ok(Self {
            id: r.id,
            uuid: uuid("service_providers.uuid", &r.uuid)?,
            description: r.description,
            enable_notifications: flag("enable_notifications", r.enable_notifications)?,
            created: r.created,
            customer_id: r.customer_id,
            customer_uuid: uuid("customers.uuid", &r.customer_uuid)?,
            customer_name: r.customer_name,
            customer_abbreviation: r.customer_abbreviation,
            customer_slug: r.customer_slug,
            customer_native_name: r.customer_native_name,
            customer_country: r.customer_country,
            offering_count: r.offering_count,
        })
    }
}

const SELECT: &str = "SELECT s.id, s.uuid, s.description, s.enable_notifications, s.created, \
     s.customer_id, c.uuid AS customer_uuid, c.name AS customer_name, \
     c.abbreviation AS customer_abbreviation, c.slug AS customer_slug, \
     c.native_name AS customer_native_name, c.country AS customer_country, \
     (SELECT COUNT(*) FROM offerings o WHERE o.customer_id = s.customer_id) AS offering_count \
     FROM service_providers s JOIN customers c ON c.id = s.customer_id";

/// Registers the customer; a second registration violates the unique index on `customer_id`.
pub async fn insert(tx: &mut Tx, uuid: &Uuid32, customer_id: i64, f: &ProviderFields, now: i64) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO service_providers (uuid, customer_id, description, enable_notifications, created) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(uuid.to_string())
    .bind(customer_id)
    .bind(&f.description)
    .bind(int(f.enable_notifications))
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

pub async fn by_uuid(pool: &AnyPool, uuid: &Uuid32) -> Result<Option<ServiceProvider>> {
    let row: Option<ProviderRow> = sqlx::query_as(&format!("{SELECT} WHERE s.uuid = $1"))
        .bind(uuid.to_string())
        .fetch_optional(pool)
        .await?;
    row.map(ServiceProvider::try_from).transpose()
}

/// Whether the customer is registered as a service provider.
pub async fn is_registered(pool: &AnyPool, customer_id: i64) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM service_providers WHERE customer_id = $1")
        .bind(customer_id)
        .fetch_one(pool)
        .await?;
    Ok(n > 0)
}

/// `customer_uuid`: only that customer's registration (32 hex characters).
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
pub async fn list(
    pool: &AnyPool,
    customer_uuid: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<ServiceProvider>> {
    let rows: Vec<ProviderRow> = sqlx::query_as(&format!(
        "{SELECT} WHERE ($1 IS NULL OR c.uuid = $1) ORDER BY c.name, s.id LIMIT $2 OFFSET $3"
    ))
    .bind(customer_uuid)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(ServiceProvider::try_from).collect()
}
