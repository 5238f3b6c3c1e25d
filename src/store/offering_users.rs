//! Offering users (a user's account on an offering), decoded here into
//! `domain::offering_user` records. Visible to the offering's provider, to the user itself, and
//! to staff and support.

use super::rows::{decoded, uuid};
use super::visibility as sql;
use super::{any_of, Result, Tx};
use crate::authz::Visibility;
use crate::domain::offering_user::{OfferingUser, OfferingUserFilter, OfferingUserState};
use crate::domain::Uuid32;
use sqlx::{AnyPool, FromRow};

#[derive(FromRow)]
struct OfferingUserRow {
    id: i64,
    uuid: String,
    offering_uuid: String,
    offering_name: String,
    provider_customer_id: i64,
    customer_uuid: String,
    customer_name: String,
    user_uuid: String,
    user_username: String,
    first_name: String,
    last_name: String,
    email: String,
    username: Option<String>,
    state: String,
    created: i64,
    modified: i64,
}

impl TryFrom<OfferingUserRow> for OfferingUser {
    type Error = sqlx::Error;

    fn try_from(r: OfferingUserRow) -> Result<Self> {
        Ok(Self {
            id: r.id,
            uuid: uuid("offering_users.uuid", &r.uuid)?,
            offering_uuid: uuid("offerings.uuid", &r.offering_uuid)?,
            offering_name: r.offering_name,
            provider_customer_id: r.provider_customer_id,
            customer_uuid: uuid("customers.uuid", &r.customer_uuid)?,
            customer_name: r.customer_name,
            user_uuid: uuid("users.uuid", &r.user_uuid)?,
            user_username: r.user_username,
            user_full_name: format!("{} {}", r.first_name, r.last_name).trim().to_string(),
            user_email: r.email,
            username: r.username,
            state: decoded("offering_users.state", &r.state, OfferingUserState::parse)?,
            created: r.created,
            modified: r.modified,
        })
    }
}

const SELECT: &str = "SELECT ou.id, ou.uuid, o.uuid AS offering_uuid, o.name AS offering_name, \
     o.customer_id AS provider_customer_id, c.uuid AS customer_uuid, c.name AS customer_name, \
     u.uuid AS user_uuid, u.username AS user_username, u.first_name, u.last_name, u.email, \
     ou.username, ou.state, ou.created, ou.modified \
     FROM offering_users ou JOIN offerings o ON o.id = ou.offering_id \
     JOIN customers c ON c.id = o.customer_id JOIN users u ON u.id = ou.user_id";

const FROM: &str = "FROM offering_users ou JOIN offerings o ON o.id = ou.offering_id \
     JOIN users u ON u.id = ou.user_id";

fn visible(vis: Visibility, u: &str, n: &str) -> String {
    match vis {
        Visibility::All => "TRUE".into(),
        Visibility::Roles { .. } => format!(
            "(ou.user_id = {u} OR {})",
            sql::customer_role(vis, "o.customer_id", u, n)
        ),
    }
}

const FILTER: &str = "($3 IS NULL OR $3 LIKE '%,' || o.uuid || ',%') AND ($4 IS NULL OR u.uuid = $4) \
     AND ($5 IS NULL OR ou.username = $5) AND ($6 = 0)";

macro_rules! bind_filter {
    ($q:expr, $vis:expr, $f:expr) => {{
        let (user, now) = $vis.binds();
        $q.bind(user)
            .bind(now)
            .bind(any_of(&$f.offering_uuids))
            .bind($f.user_uuid.clone())
            .bind($f.username.clone())
            .bind(i64::from($f.is_restricted == Some(true)))
    }};
}

pub async fn count(pool: &AnyPool, vis: Visibility, f: &OfferingUserFilter) -> Result<i64> {
    let sql = format!("SELECT COUNT(*) {FROM} WHERE {} AND {FILTER}", visible(vis, "$1", "$2"));
    bind_filter!(sqlx::query_scalar(&sql), vis, f).fetch_one(pool).await
}

pub async fn list(
    pool: &AnyPool,
    vis: Visibility,
    f: &OfferingUserFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<OfferingUser>> {
    let sql = format!(
        "{SELECT} WHERE {} AND {FILTER} ORDER BY ou.created DESC, ou.id DESC LIMIT $7 OFFSET $8",
        visible(vis, "$1", "$2")
    );
    bind_filter!(sqlx::query_as::<_, OfferingUserRow>(&sql), vis, f)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(OfferingUser::try_from)
        .collect()
}

pub async fn visible_by_uuid(pool: &AnyPool, uuid: &Uuid32, vis: Visibility) -> Result<Option<OfferingUser>> {
    let (user, now) = vis.binds();
    sqlx::query_as::<_, OfferingUserRow>(&format!("{SELECT} WHERE ou.uuid = $3 AND {}", visible(vis, "$1", "$2")))
        .bind(user)
        .bind(now)
        .bind(uuid.to_string())
        .fetch_optional(pool)
        .await?
        .map(OfferingUser::try_from)
        .transpose()
}

pub async fn insert(
    tx: &mut Tx,
    uuid: &Uuid32,
    offering_id: i64,
    user_id: i64,
    username: Option<&str>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO offering_users (uuid, offering_id, user_id, username, state, created, modified) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(uuid.to_string())
    .bind(offering_id)
    .bind(user_id)
    .bind(username)
    .bind(OfferingUserState::of_username(username).as_str())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The offering user of the offering with this username on it.
pub async fn id_by_username(tx: &mut Tx, offering_id: i64, username: &str) -> Result<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM offering_users WHERE offering_id = $1 AND username = $2 ORDER BY id LIMIT 1")
        .bind(offering_id)
        .bind(username)
        .fetch_optional(&mut **tx)
        .await
}

/// The offering user of the offering with this uuid.
pub async fn id_in_offering(tx: &mut Tx, offering_id: i64, uuid: &Uuid32) -> Result<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM offering_users WHERE offering_id = $1 AND uuid = $2")
        .bind(offering_id)
        .bind(uuid.to_string())
        .fetch_optional(&mut **tx)
        .await
}
