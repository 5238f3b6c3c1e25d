use super::visibility as sql;
use super::{NameFilter, Result, Tx};
use crate::authz::Visibility;
use crate::domain::Uuid32;
use sqlx::{AnyPool, FromRow};

/// The editable text fields of a customer, in column order.
pub const TEXT_FIELDS: [&str; 18] = [
    "name",
    "slug",
    "native_name",
    "abbreviation",
    "description",
    "contact_details",
    "email",
    "phone_number",
    "registration_code",
    "agreement_number",
    "backend_id",
    "domain",
    "homepage",
    "address",
    "postal",
    "country",
    "vat_code",
    "access_subnets",
];

#[derive(Debug, Clone, FromRow)]
pub struct CustomerRow {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub slug: String,
    pub native_name: String,
    pub abbreviation: String,
    pub description: String,
    pub contact_details: String,
    pub email: String,
    pub phone_number: String,
    pub registration_code: String,
    pub agreement_number: String,
    pub backend_id: String,
    pub domain: String,
    pub homepage: String,
    pub address: String,
    pub postal: String,
    pub country: String,
    pub vat_code: String,
    pub access_subnets: String,
    pub blocked: i64,
    pub archived: i64,
    pub created: i64,
    pub projects_count: i64,
    pub users_count: i64,
    pub service_provider_uuid: Option<String>,
}

impl CustomerRow {
    pub fn text(&self, field: &str) -> &str {
        match field {
            "name" => &self.name,
            "slug" => &self.slug,
            "native_name" => &self.native_name,
            "abbreviation" => &self.abbreviation,
            "description" => &self.description,
            "contact_details" => &self.contact_details,
            "email" => &self.email,
            "phone_number" => &self.phone_number,
            "registration_code" => &self.registration_code,
            "agreement_number" => &self.agreement_number,
            "backend_id" => &self.backend_id,
            "domain" => &self.domain,
            "homepage" => &self.homepage,
            "address" => &self.address,
            "postal" => &self.postal,
            "country" => &self.country,
            "vat_code" => &self.vat_code,
            "access_subnets" => &self.access_subnets,
            _ => "",
        }
    }
}

const SELECT: &str = "SELECT c.id, c.uuid, c.name, c.slug, c.native_name, c.abbreviation, \
     c.description, c.contact_details, c.email, c.phone_number, c.registration_code, \
     c.agreement_number, c.backend_id, c.domain, c.homepage, c.address, c.postal, c.country, \
     c.vat_code, c.access_subnets, c.blocked, c.archived, c.created, \
     (SELECT COUNT(*) FROM projects p WHERE p.customer_id = c.id AND p.is_removed = 0) AS projects_count, \
     (SELECT COUNT(DISTINCT r.user_id) FROM user_roles r WHERE r.scope_type = 'customer' \
      AND r.scope_id = c.id AND r.is_active = 1) AS users_count, \
     (SELECT sp.uuid FROM service_providers sp WHERE sp.customer_id = c.id) AS service_provider_uuid \
     FROM customers c";

/// A customer's scalar fields as a client sets them.
#[derive(Debug, Clone, Default)]
pub struct CustomerFields {
    pub text: Vec<(String, String)>,
    pub blocked: bool,
    pub archived: bool,
}

impl CustomerFields {
    pub fn from_row(row: &CustomerRow) -> Self {
        Self {
            text: TEXT_FIELDS
                .iter()
                .map(|f| (f.to_string(), row.text(f).to_string()))
                .collect(),
            blocked: row.blocked != 0,
            archived: row.archived != 0,
        }
    }

    /// Every text field empty, flags off.
    pub fn empty() -> Self {
        Self {
            text: TEXT_FIELDS.iter().map(|f| (f.to_string(), String::new())).collect(),
            ..Default::default()
        }
    }

    pub fn set(&mut self, field: &str, value: String) {
        if let Some(entry) = self.text.iter_mut().find(|(f, _)| f == field) {
            entry.1 = value;
        }
    }

    /// The customer's fields read inside the writing transaction, its row locked with `lock`.
    pub async fn for_update(tx: &mut Tx, id: i64, lock: &str) -> Result<Option<Self>> {
        let lock = super::lock_of(lock, "c");
        let row: Option<CustomerRow> = sqlx::query_as(&format!("{SELECT} WHERE c.id = $1 {lock}"))
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?;
        Ok(row.as_ref().map(Self::from_row))
    }

    fn get(&self, field: &str) -> &str {
        self.text
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// The fields a request names, laid over the row it changes.
#[derive(Debug, Clone, Default)]
pub struct CustomerPatch {
    text: Vec<(String, String)>,
    pub blocked: Option<bool>,
    pub archived: Option<bool>,
}

impl CustomerPatch {
    pub fn set(&mut self, field: &str, value: String) {
        self.text.push((field.to_string(), value));
    }

    pub fn apply(&self, f: &mut CustomerFields) {
        for (field, value) in &self.text {
            f.set(field, value.clone());
        }
        f.blocked = self.blocked.unwrap_or(f.blocked);
        f.archived = self.archived.unwrap_or(f.archived);
    }
}

pub async fn insert(tx: &mut Tx, uuid: &Uuid32, f: &CustomerFields, now: i64) -> Result<i64> {
    let columns = TEXT_FIELDS.join(", ");
    let params: Vec<String> = (1..=TEXT_FIELDS.len() + 4).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO customers ({columns}, blocked, archived, uuid, created) VALUES ({}) RETURNING id",
        params.join(", ")
    );
    let mut q = sqlx::query_scalar(&sql);
    for field in TEXT_FIELDS {
        q = q.bind(f.get(field).to_string());
    }
    q.bind(i64::from(f.blocked))
        .bind(i64::from(f.archived))
        .bind(uuid.to_string())
        .bind(now)
        .fetch_one(&mut **tx)
        .await
}

pub async fn update(tx: &mut Tx, id: i64, f: &CustomerFields) -> Result<()> {
    let sets: Vec<String> = TEXT_FIELDS
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ${}", i + 1))
        .collect();
    let n = TEXT_FIELDS.len();
    let sql = format!(
        "UPDATE customers SET {}, blocked = ${}, archived = ${} WHERE id = ${}",
        sets.join(", "),
        n + 1,
        n + 2,
        n + 3
    );
    let mut q = sqlx::query(&sql);
    for field in TEXT_FIELDS {
        q = q.bind(f.get(field).to_string());
    }
    q.bind(i64::from(f.blocked))
        .bind(i64::from(f.archived))
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

pub async fn by_uuid(pool: &AnyPool, uuid: &Uuid32) -> Result<Option<CustomerRow>> {
    sqlx::query_as(&format!("{SELECT} WHERE c.uuid = $1"))
        .bind(uuid.to_string())
        .fetch_optional(pool)
        .await
}

/// A customer as the caller may see it (staff and support all; others through any role).
pub async fn visible_by_uuid(pool: &AnyPool, uuid: &Uuid32, vis: Visibility) -> Result<Option<CustomerRow>> {
    let (user, now) = vis.binds();
    sqlx::query_as(&format!(
        "{SELECT} WHERE c.uuid = $1 AND {}",
        sql::customer_member(vis, "c.id", "$2", "$3")
    ))
    .bind(uuid.to_string())
    .bind(user)
    .bind(now)
    .fetch_optional(pool)
    .await
}

pub async fn count(pool: &AnyPool, vis: Visibility, name: &NameFilter) -> Result<i64> {
    let (user, now) = vis.binds();
    let (exact, pattern) = name.binds();
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
    name: &NameFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<CustomerRow>> {
    let (user, now) = vis.binds();
    let (exact, pattern) = name.binds();
    sqlx::query_as(&format!(
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
    .await
}
