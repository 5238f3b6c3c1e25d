use super::visibility as sql;
use super::{placeholders, Result, Tx};
use crate::authz::Visibility;
use crate::domain::Uuid32;
use sqlx::{AnyPool, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct OfferingRow {
    pub id: i64,
    pub uuid: String,
    pub customer_id: i64,
    pub customer_uuid: String,
    pub customer_name: String,
    pub category_uuid: String,
    pub category_title: String,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub full_description: String,
    pub r#type: String,
    pub state: String,
    pub shared: i64,
    pub billable: i64,
    pub plugin_options: String,
    pub attributes: String,
    pub options: String,
    pub backend_id: String,
    pub created: i64,
}

const SELECT: &str = "SELECT o.id, o.uuid, o.customer_id, c.uuid AS customer_uuid, \
     c.name AS customer_name, k.uuid AS category_uuid, k.title AS category_title, o.name, o.slug, \
     o.description, o.full_description, o.type, o.state, o.shared, o.billable, o.plugin_options, \
     o.attributes, o.options, o.backend_id, o.created \
     FROM offerings o JOIN customers c ON c.id = o.customer_id JOIN categories k ON k.id = o.category_id";

#[derive(Debug, Clone, Default)]
pub struct OfferingFields {
    pub customer_id: i64,
    pub category_id: i64,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub full_description: String,
    pub r#type: String,
    pub shared: bool,
    pub billable: bool,
    pub plugin_options: String,
    pub attributes: String,
    pub options: String,
    pub backend_id: String,
}

pub async fn insert(tx: &mut Tx, uuid: &Uuid32, f: &OfferingFields, now: i64) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO offerings (uuid, customer_id, category_id, name, slug, description, \
         full_description, type, state, shared, billable, plugin_options, attributes, options, \
         backend_id, created) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'Draft', $9, $10, $11, $12, $13, $14, $15) RETURNING id",
    )
    .bind(uuid.to_string())
    .bind(f.customer_id)
    .bind(f.category_id)
    .bind(&f.name)
    .bind(&f.slug)
    .bind(&f.description)
    .bind(&f.full_description)
    .bind(&f.r#type)
    .bind(i64::from(f.shared))
    .bind(i64::from(f.billable))
    .bind(&f.plugin_options)
    .bind(&f.attributes)
    .bind(&f.options)
    .bind(&f.backend_id)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

pub async fn set_state(tx: &mut Tx, id: i64, state: &str) -> Result<()> {
    sqlx::query("UPDATE offerings SET state = $1 WHERE id = $2")
        .bind(state)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM offerings WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn has_resources(tx: &mut Tx, offering_id: i64) -> Result<bool> {
    let any: Option<i64> = sqlx::query_scalar("SELECT id FROM resources WHERE offering_id = $1 LIMIT 1")
        .bind(offering_id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(any.is_some())
}

/// `(id, state)` of an offering, locked for the rest of the write transaction.
pub async fn state_for_update(tx: &mut Tx, uuid: &Uuid32, lock: &str) -> Result<Option<(i64, String)>> {
    sqlx::query_as(&format!("SELECT id, state FROM offerings WHERE uuid = $1 {lock}"))
        .bind(uuid.to_string())
        .fetch_optional(&mut **tx)
        .await
}

pub async fn plan_count(tx: &mut Tx, offering_id: i64) -> Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM plans WHERE offering_id = $1")
        .bind(offering_id)
        .fetch_one(&mut **tx)
        .await
}

pub async fn by_uuid(pool: &AnyPool, uuid: &Uuid32) -> Result<Option<OfferingRow>> {
    sqlx::query_as(&format!("{SELECT} WHERE o.uuid = $1"))
        .bind(uuid.to_string())
        .fetch_optional(pool)
        .await
}

/// Which offerings a caller sees: the provider view (own offerings, or all for staff and
/// support); the consumer view of offerings the caller may order from, in any state (shared
/// ones, and private ones of customers where the caller holds a role); and the public
/// catalogue, the consumer view's active offerings.
#[derive(Debug, Clone, Copy)]
pub enum Catalog {
    Provider(Visibility),
    Consumer(Visibility),
    Public(Visibility),
}

impl Catalog {
    fn predicate(&self) -> String {
        // Every catalog binds the viewer at $1 and $2.
        let consumer = |vis: Visibility| {
            format!(
                "(o.shared = 1 OR {})",
                sql::customer_member(vis, "o.customer_id", "$1", "$2")
            )
        };
        match self {
            Catalog::Provider(vis) => sql::customer_role(*vis, "o.customer_id", "$1", "$2"),
            Catalog::Consumer(vis) => consumer(*vis),
            Catalog::Public(vis) => format!("o.state = 'Active' AND {}", consumer(*vis)),
        }
    }

    fn binds(&self) -> (Option<i64>, i64) {
        match self {
            Catalog::Provider(vis) | Catalog::Consumer(vis) | Catalog::Public(vis) => vis.binds(),
        }
    }
}

pub async fn visible_by_uuid(pool: &AnyPool, uuid: &Uuid32, catalog: Catalog) -> Result<Option<OfferingRow>> {
    let (user, now) = catalog.binds();
    sqlx::query_as(&format!("{SELECT} WHERE {} AND o.uuid = $3", catalog.predicate()))
        .bind(user)
        .bind(now)
        .bind(uuid.to_string())
        .fetch_optional(pool)
        .await
}

pub async fn count(pool: &AnyPool, catalog: Catalog, customer_uuid: Option<&str>) -> Result<i64> {
    let (user, now) = catalog.binds();
    sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM offerings o JOIN customers c ON c.id = o.customer_id \
         WHERE {} AND ($3 IS NULL OR c.uuid = $3)",
        catalog.predicate()
    ))
    .bind(user)
    .bind(now)
    .bind(customer_uuid)
    .fetch_one(pool)
    .await
}

pub async fn list(
    pool: &AnyPool,
    catalog: Catalog,
    customer_uuid: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<OfferingRow>> {
    let (user, now) = catalog.binds();
    sqlx::query_as(&format!(
        "{SELECT} WHERE {} AND ($3 IS NULL OR c.uuid = $3) ORDER BY o.created DESC, o.id DESC \
         LIMIT $4 OFFSET $5",
        catalog.predicate()
    ))
    .bind(user)
    .bind(now)
    .bind(customer_uuid)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, FromRow)]
pub struct ComponentRow {
    pub id: i64,
    pub uuid: String,
    pub offering_id: i64,
    pub r#type: String,
    pub name: String,
    pub description: String,
    pub billing_type: String,
    pub measured_unit: String,
    pub limit_period: Option<String>,
    pub limit_amount: Option<i64>,
    pub article_code: String,
    pub max_value: Option<i64>,
    pub min_value: Option<i64>,
    pub max_available_limit: Option<i64>,
    pub is_boolean: i64,
    pub default_limit: Option<i64>,
}

const COMPONENT_COLUMNS: &str = "id, uuid, offering_id, type, name, description, billing_type, \
     measured_unit, limit_period, limit_amount, article_code, max_value, min_value, \
     max_available_limit, is_boolean, default_limit";

/// A component as a provider defines it.
#[derive(Debug, Clone, Default)]
pub struct ComponentFields {
    pub r#type: String,
    pub name: String,
    pub description: String,
    pub billing_type: String,
    pub measured_unit: String,
    pub limit_period: Option<String>,
    pub limit_amount: Option<i64>,
    pub article_code: String,
    pub max_value: Option<i64>,
    pub min_value: Option<i64>,
    pub max_available_limit: Option<i64>,
    pub is_boolean: bool,
    pub default_limit: Option<i64>,
}

impl From<ComponentRow> for ComponentFields {
    fn from(r: ComponentRow) -> Self {
        Self {
            r#type: r.r#type,
            name: r.name,
            description: r.description,
            billing_type: r.billing_type,
            measured_unit: r.measured_unit,
            limit_period: r.limit_period,
            limit_amount: r.limit_amount,
            article_code: r.article_code,
            max_value: r.max_value,
            min_value: r.min_value,
            max_available_limit: r.max_available_limit,
            is_boolean: r.is_boolean != 0,
            default_limit: r.default_limit,
        }
    }
}

pub async fn insert_component(
    tx: &mut Tx,
    offering_id: i64,
    uuid: &Uuid32,
    f: &ComponentFields,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO offering_components (uuid, offering_id, type, name, description, billing_type, \
         measured_unit, limit_period, limit_amount, article_code, max_value, min_value, \
         max_available_limit, is_boolean, default_limit, created) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(uuid.to_string())
    .bind(offering_id)
    .bind(&f.r#type)
    .bind(&f.name)
    .bind(&f.description)
    .bind(&f.billing_type)
    .bind(&f.measured_unit)
    .bind(f.limit_period.clone())
    .bind(f.limit_amount)
    .bind(&f.article_code)
    .bind(f.max_value)
    .bind(f.min_value)
    .bind(f.max_available_limit)
    .bind(i64::from(f.is_boolean))
    .bind(f.default_limit)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn update_component(tx: &mut Tx, id: i64, f: &ComponentFields) -> Result<()> {
    sqlx::query(
        "UPDATE offering_components SET type = $1, name = $2, description = $3, billing_type = $4, \
         measured_unit = $5, limit_period = $6, limit_amount = $7, article_code = $8, \
         max_value = $9, min_value = $10, max_available_limit = $11, is_boolean = $12, \
         default_limit = $13 WHERE id = $14",
    )
    .bind(&f.r#type)
    .bind(&f.name)
    .bind(&f.description)
    .bind(&f.billing_type)
    .bind(&f.measured_unit)
    .bind(f.limit_period.clone())
    .bind(f.limit_amount)
    .bind(&f.article_code)
    .bind(f.max_value)
    .bind(f.min_value)
    .bind(f.max_available_limit)
    .bind(i64::from(f.is_boolean))
    .bind(f.default_limit)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn delete_component(tx: &mut Tx, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM offering_components WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn component_by_uuid(tx: &mut Tx, uuid: &Uuid32) -> Result<Option<ComponentRow>> {
    sqlx::query_as(&format!(
        "SELECT {COMPONENT_COLUMNS} FROM offering_components WHERE uuid = $1"
    ))
    .bind(uuid.to_string())
    .fetch_optional(&mut **tx)
    .await
}

/// A component of the given offering, by its uuid.
pub async fn component_in_offering(tx: &mut Tx, offering_id: i64, uuid: &Uuid32) -> Result<Option<ComponentRow>> {
    sqlx::query_as(&format!(
        "SELECT {COMPONENT_COLUMNS} FROM offering_components WHERE offering_id = $1 AND uuid = $2"
    ))
    .bind(offering_id)
    .bind(uuid.to_string())
    .fetch_optional(&mut **tx)
    .await
}

/// Whether another component of the offering (not `except_id`) already has this type.
pub async fn component_type_taken(
    tx: &mut Tx,
    offering_id: i64,
    component_type: &str,
    except_id: Option<i64>,
) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM offering_components WHERE offering_id = $1 AND type = $2 \
         AND ($3 IS NULL OR id <> $3)",
    )
    .bind(offering_id)
    .bind(component_type)
    .bind(except_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(n > 0)
}

/// The components of several offerings at once, in creation order.
pub async fn components_of<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    ex: E,
    offering_ids: &[i64],
) -> Result<Vec<ComponentRow>> {
    if offering_ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT {COMPONENT_COLUMNS} FROM offering_components WHERE offering_id IN ({}) ORDER BY id",
        placeholders(1, offering_ids.len())
    );
    let mut q = sqlx::query_as(&sql);
    for id in offering_ids {
        q = q.bind(*id);
    }
    q.fetch_all(ex).await
}

#[derive(Debug, Clone, FromRow)]
pub struct PlanRow {
    pub id: i64,
    pub uuid: String,
    pub offering_id: i64,
    pub name: String,
    pub description: String,
    pub article_code: String,
    pub unit: String,
    pub unit_price: String,
    pub max_amount: Option<i64>,
    pub archived: i64,
    pub prices: String,
    pub quotas: String,
    pub offering_uuid: String,
}

const PLAN_SELECT: &str = "SELECT p.id, p.uuid, p.offering_id, p.name, p.description, \
     p.article_code, p.unit, p.unit_price, p.max_amount, p.archived, p.prices, p.quotas, \
     o.uuid AS offering_uuid FROM plans p JOIN offerings o ON o.id = p.offering_id";

#[derive(Debug, Clone, Default)]
pub struct PlanFields {
    pub name: String,
    pub description: String,
    pub article_code: String,
    pub unit: String,
    pub unit_price: String,
    pub max_amount: Option<i64>,
    pub archived: bool,
}

pub async fn insert_plan(tx: &mut Tx, offering_id: i64, uuid: &Uuid32, f: &PlanFields, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO plans (uuid, offering_id, name, description, article_code, unit, unit_price, \
         max_amount, archived, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(uuid.to_string())
    .bind(offering_id)
    .bind(&f.name)
    .bind(&f.description)
    .bind(&f.article_code)
    .bind(&f.unit)
    .bind(&f.unit_price)
    .bind(f.max_amount)
    .bind(i64::from(f.archived))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn plans_of(pool: &AnyPool, offering_ids: &[i64]) -> Result<Vec<PlanRow>> {
    if offering_ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "{PLAN_SELECT} WHERE p.offering_id IN ({}) ORDER BY p.id",
        placeholders(1, offering_ids.len())
    );
    let mut q = sqlx::query_as(&sql);
    for id in offering_ids {
        q = q.bind(*id);
    }
    q.fetch_all(pool).await
}

/// A plan whose offering the catalog shows.
pub async fn visible_plan(pool: &AnyPool, uuid: &Uuid32, catalog: Catalog) -> Result<Option<PlanRow>> {
    let (user, now) = catalog.binds();
    sqlx::query_as(&format!("{PLAN_SELECT} WHERE {} AND p.uuid = $3", catalog.predicate()))
        .bind(user)
        .bind(now)
        .bind(uuid.to_string())
        .fetch_optional(pool)
        .await
}
