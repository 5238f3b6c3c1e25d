//! Persistence: one repository API over SQLite and PostgreSQL. Queries are written once, in the
//! SQL both dialects share, against sqlx's `Any` driver; only migrations and a few clauses differ.

mod db;
pub mod rows;

pub mod categories;
pub mod customers;
pub mod evaluation;
pub mod events;
pub mod grants;
pub mod ladder;
pub mod offering_users;
pub mod offerings;
pub mod orders;
pub mod outbox;
pub mod packed;
pub mod pending_actions;
pub mod policies;
pub mod projects;
pub mod providers;
pub mod replay;
pub mod report_log;
pub mod resource_sync;
pub mod resources;
pub mod restrictions;
pub mod roles;
pub mod site_agent;
pub mod usages;
pub mod user_usages;
pub mod users;
pub mod visibility;

pub(crate) use db::RowLock;
pub use db::{unreachable, writes_serialised, Backend, Db, Tx};

/// What every store function returns; constraint violations are classified so callers can turn
/// them into client errors.
pub type Result<T> = std::result::Result<T, sqlx::Error>;

/// `$first, $first+1, …` for an IN-list of `n` bound values. Binding (rather than inlining) the
/// values keeps one statement text per list length, so prepared statements are reused.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An IN-list's values, the last one repeated up to the next power of two: a handful of
/// statement texts serve lists of every length, and each stays prepared.
pub(crate) fn in_list<T: Clone>(values: &[T]) -> Vec<T> {
    let mut list = values.to_vec();
    if let Some(last) = values.last() {
        list.resize(values.len().next_power_of_two(), last.clone());
    }
    list
}

/// A multiple-choice filter as one bound text, `,a,b,`, which a column matches with
/// `$n LIKE '%,' || col || ',%'`: one statement text whatever the number of choices. Only for
/// values checked against a fixed vocabulary (no commas, no LIKE wildcards). `None`: no filter.
pub(crate) fn any_of(choices: &[String]) -> Option<String> {
    (!choices.is_empty()).then(|| format!(",{},", choices.join(",")))
}

/// DRF's name filters: `name_exact`, and `name`, a case-insensitive substring (upstream's
/// `icontains`), bound as two parameters: `$exact IS NULL OR col = $exact` and the LIKE pattern
/// that `sql` writes. Both sides of the LIKE are folded by the database's own LOWER (ASCII only
/// on SQLite, all of Unicode on PostgreSQL), so a name always matches its own spelling.
#[derive(Debug, Clone, Default)]
pub struct NameFilter {
    exact: Option<String>,
    pattern: Option<String>,
}

impl NameFilter {
    pub fn new(exact: Option<&str>, contains: Option<&str>) -> Self {
        let escape = |s: &str| s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        Self {
            exact: exact.filter(|s| !s.is_empty()).map(str::to_string),
            pattern: contains.filter(|s| !s.is_empty()).map(|s| format!("%{}%", escape(s))),
        }
    }

    /// The condition on `column`, its two parameters numbered from `first`.
    pub(crate) fn sql(column: &str, first: usize) -> String {
        let (exact, pattern) = (first, first + 1);
        format!("(${exact} IS NULL OR {column} = ${exact}) AND (${pattern} IS NULL OR LOWER({column}) LIKE LOWER(${pattern}) ESCAPE '\\')")
    }

    pub(crate) fn binds(&self) -> (Option<String>, Option<String>) {
        (self.exact.clone(), self.pattern.clone())
    }
}

pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}

pub fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_foreign_key_violation())
}
