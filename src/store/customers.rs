use super::visibility as sql;
use super::{rows, NameFilter, Result, RowLock, Tx};
use crate::authz::Visibility;
use crate::domain::customer::{Customer, CustomerFields, CustomerFilter, CustomerText};
use crate::domain::Uuid32;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, FromRow, Row};

const SELECT: &str = "SELECT c.id, c.uuid, c.name, c.slug, c.native_name, c.abbreviation, \
     c.description, c.contact_details, c.email, c.phone_number, c.registration_code, \
     c.agreement_number, c.backend_id, c.domain, c.homepage, c.address, c.postal, c.country, \
     c.vat_code, c.access_subnets, c.blocked, c.archived, c.created, \
     (SELECT COUNT(*) FROM projects p WHERE p.customer_id = c.id AND p.is_removed = 0) AS projects_count, \
     (SELECT COUNT(DISTINCT r.user_id) FROM user_roles r WHERE r.scope_type = 'customer' \
      AND r.scope_id = c.id AND r.is_active = 1) AS users_count, \
     (SELECT sp.uuid FROM service_providers sp WHERE sp.customer_id = c.id) AS service_provider_uuid \
     FROM customers c";

/// A row of `SELECT`, decoded.
struct Stored(Customer);

impl FromRow<'_, AnyRow> for Stored {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let uuid: String = row.try_get("uuid")?;
        let provider: Option<String> = row.try_get("service_provider_uuid")?;
        Ok(Self(Customer {
            id: row.try_get("id")?,
            uuid: rows::uuid("customers.uuid", &uuid)?,
            created: row.try_get("created")?,
            fields: fields_of(row)?,
            projects_count: row.try_get("projects_count")?,
            users_count: row.try_get("users_count")?,
            service_provider_uuid: provider.map(|p| rows::uuid("service_providers.uuid", &p)).transpose()?,
        }))
    }
}

fn fields_of(row: &AnyRow) -> Result<CustomerFields> {
    let mut fields = CustomerFields::default();
    for field in CustomerText::ALL {
        fields.set(field, row.try_get(field.key())?);
    }
    fields.blocked = rows::flag("customers.blocked", row.try_get("blocked")?)?;
    fields.archived = rows::flag("customers.archived", row.try_get("archived")?)?;
    Ok(fields)
}

/// The customer's fields read inside the writing transaction, its row locked with `lock`.
pub async fn fields_for_update(tx: &mut Tx, id: i64) -> Result<Option<CustomerFields>> {
    let lock = RowLock::Update.of(tx, "c");
    let row: Option<Stored> = sqlx::query_as(&format!("{SELECT} WHERE c.id = $1 {lock}"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(|Stored(c)| c.fields))
}

/// The slugs of customers that start with `stem`, for the next one made from it.
pub async fn slugs_starting(tx: &mut Tx, stem: &str) -> Result<Vec<String>> {
    // A prefix compared as text, not a LIKE pattern: `_` is a slug character.
    sqlx::query_scalar("SELECT slug FROM customers WHERE SUBSTR(slug, 1, LENGTH($1)) = $1")
        .bind(stem)
        .fetch_all(&mut **tx)
        .await
}

pub async fn insert(tx: &mut Tx, uuid: &Uuid32, f: &CustomerFields, now: i64) -> Result<i64> {
    let columns: Vec<&str> = CustomerText::ALL.iter().map(|t| t.key()).collect();
    let params: Vec<String> = (1..=CustomerText::ALL.len() + 4).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO customers ({}, blocked, archived, uuid, created) VALUES ({}) RETURNING id",
        columns.join(", "),
        params.join(", ")
    );
    let mut q = sqlx::query_scalar(&sql);
    for field in CustomerText::ALL {
        q = q.bind(f.text(field).to_string());
    }
    q.bind(rows::int(f.blocked))
        .bind(rows::int(f.archived))
        .bind(uuid.to_string())
        .bind(now)
        .fetch_one(&mut **tx)
        .await
}

pub async fn update(tx: &mut Tx, id: i64, f: &CustomerFields) -> Result<()> {
    let sets: Vec<String> = CustomerText::ALL
        .iter()
        .enumerate()
        .map(|(i, field)| format!("{} = ${}", field.key(), i + 1))
        .collect();
    let n = CustomerText::ALL.len();
    let sql = format!(
        "UPDATE customers SET {}, blocked = ${}, archived = ${} WHERE id = ${}",
        sets.join(", "),
        n + 1,
        n + 2,
        n + 3
    );
    let mut q = sqlx::query(&sql);
    for field in CustomerText::ALL {
        q = q.bind(f.text(field).to_string());
    }
    q.bind(rows::int(f.blocked))
        .bind(rows::int(f.archived))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Whether resources name the customer: as the consumer, in its projects, or as the provider,
/// of its offerings.
pub async fn has_resources(tx: &mut Tx, id: i64) -> Result<bool> {
    let any: Option<i64> = sqlx::query_scalar(
        "SELECT r.id FROM resources r JOIN projects p ON p.id = r.project_id WHERE p.customer_id = $1 \
         UNION ALL SELECT r.id FROM resources r JOIN offerings o ON o.id = r.offering_id WHERE o.customer_id = $1 \
         LIMIT 1",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(any.is_some())
}

pub async fn delete(tx: &mut Tx, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM customers WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// `(id, name)` of a customer, for resolving hyperlinks and uuid filters.
pub async fn id_by_uuid(pool: &AnyPool, uuid: &Uuid32) -> Result<Option<(i64, String)>> {
    sqlx::query_as("SELECT id, name FROM customers WHERE uuid = $1")
        .bind(uuid.to_string())
        .fetch_optional(pool)
        .await
}

/// The id of a customer the caller may see (staff and support all; others through any role),
/// for a reference in a request body.
pub async fn visible_id(pool: &AnyPool, uuid: &Uuid32, vis: Visibility) -> Result<Option<i64>> {
    Ok(visible_by_uuid(pool, uuid, vis).await?.map(|c| c.id))
}

pub async fn by_uuid(pool: &AnyPool, uuid: &Uuid32) -> Result<Option<Customer>> {
    let row: Option<Stored> = sqlx::query_as(&format!("{SELECT} WHERE c.uuid = $1"))
        .bind(uuid.to_string())
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|Stored(c)| c))
}

/// A customer as the caller may see it (staff and support all; others through any role).
pub async fn visible_by_uuid(pool: &AnyPool, uuid: &Uuid32, vis: Visibility) -> Result<Option<Customer>> {
    let (user, now) = vis.binds();
    let row: Option<Stored> = sqlx::query_as(&format!(
        "{SELECT} WHERE c.uuid = $1 AND {}",
        sql::customer_member(vis, "c.id", "$2", "$3")
    ))
    .bind(uuid.to_string())
    .bind(user)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|Stored(c)| c))
}

fn name_filter(f: &CustomerFilter) -> NameFilter {
    NameFilter::new(f.name_exact.as_deref(), f.name.as_deref())
}

pub async fn count(pool: &AnyPool, vis: Visibility, f: &CustomerFilter) -> Result<i64> {
    let (user, now) = vis.binds();
    let (exact, pattern) = name_filter(f).binds();
    sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM customers c WHERE {} AND {}",
        sql::customer_member(vis, "c.id", "$1", "$2"),
        NameFilter::sql("c.name", 3)
    ))
    .bind(user)
    .bind(now)
    .bind(exact)
    .bind(pattern)
    .fetch_one(pool)
    .await
}

pub async fn list(
    pool: &AnyPool,
    vis: Visibility,
    f: &CustomerFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<Customer>> {
    let (user, now) = vis.binds();
    let (exact, pattern) = name_filter(f).binds();
    let rows: Vec<Stored> = sqlx::query_as(&format!(
        "{SELECT} WHERE {} AND {} ORDER BY c.name, c.id LIMIT $5 OFFSET $6",
        sql::customer_member(vis, "c.id", "$1", "$2"),
        NameFilter::sql("c.name", 3)
    ))
    .bind(user)
    .bind(now)
    .bind(exact)
    .bind(pattern)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|Stored(c)| c).collect())
}
