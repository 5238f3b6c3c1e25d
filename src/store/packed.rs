//! Reads of many small rows. sqlx hands each row over from SQLite's thread through a channel and
//! copies its every value: a few microseconds a row, which was most of a sweep's time (its 490,000
//! rows took 1.7-2.3 s, 0.2-0.3 s packed) and much of a report batch's. On SQLite such a read
//! comes back packed, its rows in one JSON text; PostgreSQL sends its rows as they are, since
//! building the JSON costs it more (about 1 s for the sweep's rows against 0.4 s).

use super::{Backend, Result};
use serde::de::DeserializeOwned;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::Arguments;
use sqlx::{AnyConnection, FromRow};

/// A value bound to a placeholder.
#[derive(Debug, Clone, Copy)]
pub enum Bind<'a> {
    Int(Option<i64>),
    Text(&'a str),
}

/// No values, for a statement without placeholders.
pub const NO_BINDS: &[Bind<'static>] = &[];

impl From<i64> for Bind<'_> {
    fn from(value: i64) -> Self {
        Bind::Int(Some(value))
    }
}

/// A SELECT in parts, so that it can be sent packed or as it is.
pub struct Select<'a> {
    /// Each `expr AS name` (the last ` AS ` names it), or a bare column: the names of `T`'s fields,
    /// in their order.
    columns: &'a [&'a str],
    /// `FROM … WHERE …`, its placeholders $1… taking the binds in order.
    from: &'a str,
    /// The ORDER BY list, or empty for any order.
    order: &'a str,
    /// Whether the statement stays in the connection's cache of prepared statements.
    persistent: bool,
}

impl<'a> Select<'a> {
    /// The rows in any order.
    pub fn new(columns: &'a [&'a str], from: &'a str) -> Self {
        Self {
            columns,
            from,
            order: "",
            persistent: true,
        }
    }

    pub fn order_by(self, order: &'a str) -> Self {
        Self { order, ..self }
    }

    /// For statements that vary with their arguments, which would only churn the cache.
    pub fn persistent(self, persistent: bool) -> Self {
        Self { persistent, ..self }
    }

    pub async fn fetch_all<'b, T, B>(&self, conn: &mut AnyConnection, binds: &[B]) -> Result<Vec<T>>
    where
        T: DeserializeOwned + for<'r> FromRow<'r, AnyRow> + Send + Unpin,
        B: Copy + Into<Bind<'b>>,
    {
        let order = if self.order.is_empty() {
            String::new()
        } else {
            format!(" ORDER BY {}", self.order)
        };
        if Backend::of(conn) == Backend::Sqlite {
            let exprs: Vec<&str> = self
                .columns
                .iter()
                .map(|c| c.rsplit_once(" AS ").map_or(*c, |(expr, _)| expr))
                .collect();
            let sql = format!(
                "SELECT COALESCE(json_group_array(json_array({}){order}), '[]') {}",
                exprs.join(", "),
                self.from
            );
            let json: String = sqlx::query_scalar_with(&sql, arguments(binds)?)
                .persistent(self.persistent)
                .fetch_one(&mut *conn)
                .await?;
            return serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(Box::new(e)));
        }
        let sql = format!("SELECT {} {}{order}", self.columns.join(", "), self.from);
        sqlx::query_as_with(&sql, arguments(binds)?)
            .persistent(self.persistent)
            .fetch_all(&mut *conn)
            .await
    }
}

fn arguments<'q, B: Copy + Into<Bind<'q>>>(binds: &[B]) -> Result<AnyArguments<'q>> {
    let mut arguments = AnyArguments::default();
    for value in binds {
        let added = match (*value).into() {
            Bind::Int(v) => arguments.add(v),
            Bind::Text(v) => arguments.add(v),
        };
        added.map_err(sqlx::Error::Encode)?;
    }
    Ok(arguments)
}
