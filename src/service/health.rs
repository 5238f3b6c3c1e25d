//! What the operations endpoints read: whether the database answers, and how many deliveries
//! wait in the outbox (docs/api.md §10).

use super::ServiceResult;
use crate::store::{self, Db};
use std::time::Duration;

/// Whether the database answers a query within `within`; otherwise why not, for the log.
pub async fn database_ready(db: &Db, within: Duration) -> Result<(), String> {
    match tokio::time::timeout(within, db.ping()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err(format!("no answer within {within:?}")),
    }
}

/// Deliveries neither done nor given up on.
pub async fn outbox_depth(db: &Db) -> ServiceResult<i64> {
    Ok(store::outbox::pending(db.reader()).await?)
}
