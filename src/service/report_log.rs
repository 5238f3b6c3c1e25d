//! The report log's list (docs/api.md §8.4). Its entries are written by `usage`, in the
//! transaction of the reports they record.

use super::ServiceResult;
use crate::authz::{Principal, Visibility};
use crate::domain::page::{Listed, PageRequest};
use crate::domain::report_log::{LoggedReport, ReportLogFilter};
use crate::store::{self, Db};

/// The logged reports the caller may see, newest first.
pub async fn list(
    db: &Db,
    caller: &Principal,
    filter: &ReportLogFilter,
    request: PageRequest,
    now: i64,
) -> ServiceResult<Listed<LoggedReport>> {
    let vis = Visibility::of(caller, now);
    let page = request.resolve(store::report_log::count(db.reader(), vis, filter).await?)?;
    let items = store::report_log::list(db.reader(), vis, filter, page.limit(), page.offset()).await?;
    Ok(Listed { items, page })
}
