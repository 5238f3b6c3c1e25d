//! Offerings, their components and their plans. Rows are decoded here into `domain::offering`
//! records; a stored value this build cannot read fails the read (`undecodable`).

use super::rows::{flag, int, undecodable, uuid};
use super::visibility as sql;
use super::{in_list, placeholders, Result, RowLock, Tx};
use crate::authz::Visibility;
use crate::domain::offering::{Component, ComponentFields, Offering, OfferingFields, Plan, PlanFields};
use crate::domain::{BillingType, OfferingState, UnitPrice, Uuid32};
use sqlx::{AnyPool, FromRow};

fn offering_state(text: &str) -> Result<OfferingState> {
    OfferingState::parse(text).ok_or_else(|| undecodable("offerings.state", text))
}

#[derive(FromRow)]
struct OfferingRow {
    id: i64,
    uuid: String,
    customer_id: i64,
    customer_uuid: String,
    customer_name: String,
    category_uuid: String,
    category_title: String,
    name: String,
    slug: String,
    description: String,
    full_description: String,
    r#type: String,
    state: String,
    shared: i64,
    billable: i64,
    plugin_options: String,
    attributes: String,
    options: String,
    backend_id: String,
    created: i64,
}

impl TryFrom<OfferingRow> for Offering {
    type Error = sqlx::Error;

    fn try_from(r: OfferingRow) -> Result<Self> {
        Ok(Self {
            id: r.id,
            uuid: uuid("offerings.uuid", &r.uuid)?,
            customer_id: r.customer_id,
            customer_uuid: uuid("customers.uuid", &r.customer_uuid)?,
            customer_name: r.customer_name,
            category_uuid: uuid("categories.uuid", &r.category_uuid)?,
            category_title: r.category_title,
            name: r.name,
            slug: r.slug,
            description: r.description,
            full_description: r.full_description,
            r#type: r.r#type,
            state: offering_state(&r.state)?,
            shared: flag("shared", r.shared)?,
            billable: flag("billable", r.billable)?,
            plugin_options: r.plugin_options,
            attributes: r.attributes,
            options: r.options,
            backend_id: r.backend_id,
            created: r.created,
        })
    }
}

fn offerings(rows: Vec<OfferingRow>) -> Result<Vec<Offering>> {
    rows.into_iter().map(Offering::try_from).collect()
}

const SELECT: &str = "SELECT o.id, o.uuid, o.customer_id, c.uuid AS customer_uuid, \
     c.name AS customer_name, k.uuid AS category_uuid, k.title AS category_title, o.name, o.slug, \
     o.description, o.full_description, o.type, o.state, o.shared, o.billable, o.plugin_options, \
     o.attributes, o.options, o.backend_id, o.created \
     FROM offerings o JOIN customers c ON c.id = o.customer_id JOIN categories k ON k.id = o.category_id";

/// Inserts an offering in state Draft; returns its id.
pub async fn insert(
    tx: &mut Tx,
    uuid: &Uuid32,
    customer_id: i64,
    category_id: i64,
    f: &OfferingFields,
    now: i64,
) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO offerings (uuid, customer_id, category_id, name, slug, description, \
         full_description, type, state, shared, billable, plugin_options, attributes, options, \
         backend_id, created) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id",
    )
    .bind(uuid.to_string())
    .bind(customer_id)
    .bind(category_id)
    .bind(&f.name)
    .bind(&f.slug)
    .bind(&f.description)
    .bind(&f.full_description)
    .bind(&f.r#type)
    .bind(OfferingState::Draft.as_str())
    .bind(int(f.shared))
    .bind(int(f.billable))
    .bind(serde_json::Value::Object(f.plugin_options.clone()).to_string())
    .bind(serde_json::Value::Object(f.attributes.clone()).to_string())
    .bind(f.options.to_string())
    .bind(&f.backend_id)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

pub async fn set_state(tx: &mut Tx, id: i64, state: OfferingState) -> Result<()> {
    sqlx::query("UPDATE offerings SET state = $1 WHERE id = $2")
        .bind(state.as_str())
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
pub async fn state_for_update(tx: &mut Tx, uuid: &Uuid32) -> Result<Option<(i64, OfferingState)>> {
    let lock = RowLock::Update.clause(tx);
    let row: Option<(i64, String)> = sqlx::query_as(&format!("SELECT id, state FROM offerings WHERE uuid = $1 {lock}"))
        .bind(uuid.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|(id, state)| Ok((id, offering_state(&state)?))).transpose()
}

pub async fn plan_count(tx: &mut Tx, offering_id: i64) -> Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM plans WHERE offering_id = $1")
        .bind(offering_id)
        .fetch_one(&mut **tx)
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
            Catalog::Public(vis) => format!("o.state = '{}' AND {}", OfferingState::Active.as_str(), consumer(*vis)),
        }
    }

    fn binds(&self) -> (Option<i64>, i64) {
        match self {
            Catalog::Provider(vis) | Catalog::Consumer(vis) | Catalog::Public(vis) => vis.binds(),
        }
    }
}

pub async fn visible_by_uuid(pool: &AnyPool, uuid: &Uuid32, catalog: Catalog) -> Result<Option<Offering>> {
    let (user, now) = catalog.binds();
    let row: Option<OfferingRow> = sqlx::query_as(&format!("{SELECT} WHERE {} AND o.uuid = $3", catalog.predicate()))
        .bind(user)
        .bind(now)
        .bind(uuid.to_string())
        .fetch_optional(pool)
        .await?;
    row.map(Offering::try_from).transpose()
}

/// `customer_uuid`: only the offerings of that customer (32 hex characters).
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

/// Newest first.
pub async fn list(
    pool: &AnyPool,
    catalog: Catalog,
    customer_uuid: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Offering>> {
    let (user, now) = catalog.binds();
    let rows = sqlx::query_as(&format!(
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
    .await?;
    offerings(rows)
}

#[derive(FromRow)]
struct ComponentRow {
    id: i64,
    uuid: String,
    offering_id: i64,
    r#type: String,
    name: String,
    description: String,
    billing_type: String,
    measured_unit: String,
    limit_period: Option<String>,
    limit_amount: Option<i64>,
    article_code: String,
    max_value: Option<i64>,
    min_value: Option<i64>,
    max_available_limit: Option<i64>,
    is_boolean: i64,
    default_limit: Option<i64>,
}

impl TryFrom<ComponentRow> for Component {
    type Error = sqlx::Error;

    fn try_from(r: ComponentRow) -> Result<Self> {
        let billing_type = BillingType::parse(&r.billing_type)
            .ok_or_else(|| undecodable("offering_components.billing_type", &r.billing_type))?;
        Ok(Self {
            id: r.id,
            uuid: uuid("offering_components.uuid", &r.uuid)?,
            offering_id: r.offering_id,
            fields: ComponentFields {
                r#type: r.r#type,
                name: r.name,
                description: r.description,
                billing_type,
                measured_unit: r.measured_unit,
                limit_period: r.limit_period,
                limit_amount: r.limit_amount,
                article_code: r.article_code,
                max_value: r.max_value,
                min_value: r.min_value,
                max_available_limit: r.max_available_limit,
                is_boolean: flag("is_boolean", r.is_boolean)?,
                default_limit: r.default_limit,
            },
        })
    }
}

const COMPONENT_COLUMNS: &str = "id, uuid, offering_id, type, name, description, billing_type, \
     measured_unit, limit_period, limit_amount, article_code, max_value, min_value, \
     max_available_limit, is_boolean, default_limit";

pub async fn insert_component(
    tx: &mut Tx,
    offering_id: i64,
    uuid: &Uuid32,
    f: &ComponentFields,
    now: i64,
) -> Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO offering_components (uuid, offering_id, type, name, description, billing_type, \
         measured_unit, limit_period, limit_amount, article_code, max_value, min_value, \
         max_available_limit, is_boolean, default_limit, created) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id",
    )
    .bind(uuid.to_string())
    .bind(offering_id)
    .bind(&f.r#type)
    .bind(&f.name)
    .bind(&f.description)
    .bind(f.billing_type.as_str())
    .bind(&f.measured_unit)
    .bind(f.limit_period.clone())
    .bind(f.limit_amount)
    .bind(&f.article_code)
    .bind(f.max_value)
    .bind(f.min_value)
    .bind(f.max_available_limit)
    .bind(int(f.is_boolean))
    .bind(f.default_limit)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
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
    .bind(f.billing_type.as_str())
    .bind(&f.measured_unit)
    .bind(f.limit_period.clone())
    .bind(f.limit_amount)
    .bind(&f.article_code)
    .bind(f.max_value)
    .bind(f.min_value)
    .bind(f.max_available_limit)
    .bind(int(f.is_boolean))
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

/// The components among `uuids` that exist, in no particular order.
pub async fn components_by_uuids(tx: &mut Tx, uuids: &[Uuid32]) -> Result<Vec<Component>> {
    if uuids.is_empty() {
        return Ok(vec![]);
    }
    let uuids = in_list(uuids);
    let sql = format!(
        "SELECT {COMPONENT_COLUMNS} FROM offering_components WHERE uuid IN ({})",
        placeholders(1, uuids.len())
    );
    let mut q = sqlx::query_as::<_, ComponentRow>(&sql);
    for uuid in &uuids {
        q = q.bind(uuid.to_string());
    }
    q.fetch_all(&mut **tx)
        .await?
        .into_iter()
        .map(Component::try_from)
        .collect()
}

/// A component of the given offering, by its uuid.
pub async fn component_in_offering(tx: &mut Tx, offering_id: i64, uuid: &Uuid32) -> Result<Option<Component>> {
    let row: Option<ComponentRow> = sqlx::query_as(&format!(
        "SELECT {COMPONENT_COLUMNS} FROM offering_components WHERE offering_id = $1 AND uuid = $2"
    ))
    .bind(offering_id)
    .bind(uuid.to_string())
    .fetch_optional(&mut **tx)
    .await?;
    row.map(Component::try_from).transpose()
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
pub async fn components_of(pool: &AnyPool, offering_ids: &[i64]) -> Result<Vec<Component>> {
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
    let rows: Vec<ComponentRow> = q.fetch_all(pool).await?;
    rows.into_iter().map(Component::try_from).collect()
}

#[derive(FromRow)]
struct PlanRow {
    id: i64,
    uuid: String,
    offering_id: i64,
    name: String,
    description: String,
    article_code: String,
    unit: String,
    unit_price: String,
    max_amount: Option<i64>,
    archived: i64,
    prices: String,
    quotas: String,
    offering_uuid: String,
}

impl TryFrom<PlanRow> for Plan {
    type Error = sqlx::Error;

    fn try_from(r: PlanRow) -> Result<Self> {
        let unit_price = UnitPrice::parse(&r.unit_price).map_err(|_| undecodable("plans.unit_price", &r.unit_price))?;
        Ok(Self {
            id: r.id,
            uuid: uuid("plans.uuid", &r.uuid)?,
            offering_id: r.offering_id,
            offering_uuid: uuid("offerings.uuid", &r.offering_uuid)?,
            name: r.name,
            description: r.description,
            article_code: r.article_code,
            unit: r.unit,
            unit_price,
            max_amount: r.max_amount,
            archived: flag("archived", r.archived)?,
            prices: r.prices,
            quotas: r.quotas,
        })
    }
}

fn plans(rows: Vec<PlanRow>) -> Result<Vec<Plan>> {
    rows.into_iter().map(Plan::try_from).collect()
}

const PLAN_SELECT: &str = "SELECT p.id, p.uuid, p.offering_id, p.name, p.description, \
     p.article_code, p.unit, p.unit_price, p.max_amount, p.archived, p.prices, p.quotas, \
     o.uuid AS offering_uuid FROM plans p JOIN offerings o ON o.id = p.offering_id";

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
    .bind(f.unit_price.to_string())
    .bind(f.max_amount)
    .bind(int(f.archived))
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The plans of several offerings at once, in creation order.
pub async fn plans_of(pool: &AnyPool, offering_ids: &[i64]) -> Result<Vec<Plan>> {
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
    plans(q.fetch_all(pool).await?)
}

/// A plan whose offering the catalog shows.
pub async fn visible_plan(pool: &AnyPool, uuid: &Uuid32, catalog: Catalog) -> Result<Option<Plan>> {
    let (user, now) = catalog.binds();
    let row: Option<PlanRow> = sqlx::query_as(&format!("{PLAN_SELECT} WHERE {} AND p.uuid = $3", catalog.predicate()))
        .bind(user)
        .bind(now)
        .bind(uuid.to_string())
        .fetch_optional(pool)
        .await?;
    row.map(Plan::try_from).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_this_build_cannot_read_fails_the_row() {
        assert!(matches!(offering_state("Retired"), Err(sqlx::Error::Decode(_))));
        assert!(matches!(uuid("offerings.uuid", "x"), Err(sqlx::Error::Decode(_))));
        assert_eq!(offering_state("Active").unwrap(), OfferingState::Active);
    }
}
