//! Reading the audit trail (docs/actions.md §6).

use super::ServiceResult;
use crate::authz::{Principal, Visibility};
use crate::domain::event::{Event, EventFilter};
use crate::domain::page::{Listed, PageRequest};
use crate::store::{self, Db};

/// A page of the events the caller may see that `filter` selects, newest first.
pub async fn list(
    db: &Db,
    caller: &Principal,
    filter: &EventFilter,
    request: PageRequest,
    now: i64,
) -> ServiceResult<Listed<Event>> {
    let vis = Visibility::of(caller, now);
    let pool = db.reader();
    let page = request.resolve(store::events::count(pool, vis, filter).await?)?;
    let items = store::events::list(pool, vis, filter, page.limit(), page.offset()).await?;
    Ok(Listed { items, page })
}
