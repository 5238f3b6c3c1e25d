//! SQL pieces the benches seed their data with, on either backend.

use meterguard::store::{Backend, Db};

/// `(prefix, source)` of a query over i = 1..=n: a recursive CTE on SQLite, generate_series on
/// PostgreSQL.
pub fn series(backend: Backend, n: usize) -> (String, String) {
    match backend {
        Backend::Sqlite => (
            format!("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) "),
            "n".into(),
        ),
        Backend::Postgres => (String::new(), format!("generate_series(1, {n}) AS n(i)")),
    }
}

/// A deterministic 32-hex uuid: 8 hex digits of `kind`, 24 of `expr`.
pub fn uuid_sql(backend: Backend, kind: u32, expr: &str) -> String {
    match backend {
        Backend::Sqlite => format!("printf('%08x%024x', {kind}, {expr})"),
        Backend::Postgres => format!("'{kind:08x}' || lpad(to_hex({expr}), 24, '0')"),
    }
}

/// Runs the seeding statements in one transaction; on PostgreSQL then does what autovacuum would
/// have done by the time the measured work runs on a real database.
pub async fn run(db: &Db, statements: &[String]) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    for sql in statements {
        sqlx::query(sql).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    if db.backend() == Backend::Postgres {
        let mut conn = db.reader().acquire().await?;
        sqlx::query("VACUUM ANALYZE").execute(&mut *conn).await?;
    }
    Ok(())
}
