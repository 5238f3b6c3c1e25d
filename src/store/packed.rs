//! Reads of many small rows. sqlx hands each row over from SQLite's thread through a channel and
//! copies its every value: a few microseconds a row, which was most of a sweep's time (its 490,000
//! rows took 1.7-2.3 s, 0.2-0.3 s packed) and much of a report batch's. On SQLite such a read
//! comes back packed, its rows in one JSON text; PostgreSQL sends its rows as they are, since
//! building the JSON costs it more (about 1 s for the sweep's rows against 0.4 s).

use super::Result;
use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, FromRow};

/// What `AnyConnection::backend_name` says of SQLite.
const SQLITE: &str = "SQLite";

/// A SELECT in parts, so that it can be sent packed or as it is.
pub struct Select<'a> {
    /// Each `expr AS name`, or a bare column: the names of `T`'s fields, in their order.
    columns: &'a [&'a str],
    /// `FROM … WHERE …`, its placeholders $1… taking the binds in order.
    from: &'a str,
    /// The ORDER BY list, or empty for any order.
    order: &'a str,
    /// A row-locking clause (empty on SQLite, which needs none).
    lock: &'a str,
}

impl<'a> Select<'a> {
    /// The rows in any order, unlocked.
    pub fn new(columns: &'a [&'a str], from: &'a str) -> Self {
        Self {
            columns,
            from,
            order: "",
            lock: "",
        }
    }

    pub fn order_by(self, order: &'a str) -> Self {
        Self { order, ..self }
    }

    pub fn lock(self, lock: &'a str) -> Self {
        Self { lock, ..self }
    }

    pub async fn fetch_all<T>(&self, conn: &mut AnyConnection, binds: &[i64]) -> Result<Vec<T>>
    where
        T: DeserializeOwned + for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        let order = if self.order.is_empty() {
            String::new()
        } else {
            format!(" ORDER BY {}", self.order)
        };
        if conn.backend_name() == SQLITE {
            let exprs: Vec<&str> = self
                .columns
                .iter()
                .map(|c| c.split_once(" AS ").map_or(*c, |(expr, _)| expr))
                .collect();
            let sql = format!(
                "SELECT COALESCE(json_group_array(json_array({}){order}), '[]') {}",
                exprs.join(", "),
                self.from
            );
            let mut query = sqlx::query_scalar::<_, String>(&sql);
            for value in binds {
                query = query.bind(*value);
            }
            let json = query.fetch_one(&mut *conn).await?;
            return serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(Box::new(e)));
        }
        let sql = format!("SELECT {} {}{order} {}", self.columns.join(", "), self.from, self.lock);
        let mut query = sqlx::query_as::<_, T>(&sql);
        for value in binds {
            query = query.bind(*value);
        }
        query.fetch_all(&mut *conn).await
    }
}
