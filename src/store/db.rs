use crate::config::DatabaseSettings;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Transaction};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, OnceCell};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a connection talks to (a transaction's too, through `&mut **tx`), so that a
    /// store function picks its own dialect instead of being handed a clause.
    pub fn of(conn: &AnyConnection) -> Self {
        // What `AnyConnection::backend_name` says of SQLite.
        if conn.backend_name() == "SQLite" {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }
}

/// Whether the connection's write transactions run one at a time (SQLite's single writer), so
/// that what one reads cannot change before it ends, with no row lock taken.
pub fn writes_serialised(conn: &AnyConnection) -> bool {
    Backend::of(conn) == Backend::Sqlite
}

/// How a read inside a write transaction locks the rows it reads. SQLite takes no lock: its
/// single writer connection already serialises write transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowLock {
    /// The lock that updates of non-key columns take on PostgreSQL, which still queues lockers of
    /// the same row but lets foreign-key checks (a usage row naming its resource) pass, so reports
    /// never wait on a policy action's resource locks while it waits on theirs.
    Update,
    /// Writers of the rows wait, other share-lockers do not.
    Share,
    /// Claims queue rows, passing over those another worker is claiming right now.
    SkipLocked,
}

impl RowLock {
    fn clause_for(self, backend: Backend) -> &'static str {
        match (backend, self) {
            (Backend::Sqlite, _) => "",
            (Backend::Postgres, RowLock::Update) => "FOR NO KEY UPDATE",
            (Backend::Postgres, RowLock::Share) => "FOR SHARE",
            (Backend::Postgres, RowLock::SkipLocked) => "FOR UPDATE SKIP LOCKED",
        }
    }

    /// The clause for the connection's backend, locking the rows of every table the query reads.
    pub fn clause(self, conn: &AnyConnection) -> &'static str {
        self.clause_for(Backend::of(conn))
    }

    /// The clause narrowed to the table read as `alias`, so the rows a query joins to are not
    /// locked with it.
    pub fn of(self, conn: &AnyConnection, alias: &str) -> String {
        lock_of(self.clause(conn), alias)
    }
}

pub type Tx = Transaction<'static, Any>;

/// Connection pools. PostgreSQL has one pool. SQLite has a pool of readers and a single writer
/// connection, so write transactions queue in-process instead of failing with SQLITE_BUSY.
#[derive(Clone)]
pub struct Db {
    backend: Backend,
    read: AnyPool,
    write: AnyPool,
    /// Rung after a commit that wrote much, to checkpoint soon (SQLite).
    wal_grew: Arc<Notify>,
    /// The id of the system user, read once: a migration makes that row and nothing changes it.
    system_user: Arc<OnceCell<i64>>,
}

// FULL: a report the API acknowledged survives a crash of the machine, not only of the process.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
     PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000;";

/// meterguard's tables are read from memory, where a random page costs about what a sequential
/// one does; at PostgreSQL's default (4, for spinning disks) the generic plan of a report batch's
/// policy read scanned every limit row and hash-joined them (2.6 ms) instead of probing the index
/// per policy (0.35 ms).
const POSTGRES_SETTINGS: &str = "SET random_page_cost = 1.1";

/// sqlx pings a connection when it goes back to the pool, and by default again when it is taken
/// out: a round trip to PostgreSQL, or a hop to SQLite's worker thread, before every query and
/// every transaction. A connection taken out soon after its release ping needs no second one; one
/// that sat idle longer may have lost its server (a restart) and is pinged first. An SQLite
/// connection is in-process and never loses its server, so it is never pinged on the way out.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// How often the background checkpoint runs when no big write rang for it.
const CHECKPOINT_AT_LEAST_EVERY: Duration = Duration::from_secs(1);

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        let (url, max_connections) = (settings.database_url.as_str(), settings.max_connections);
        let acquire_timeout = Duration::from_secs(settings.acquire_timeout_seconds);
        sqlx::any::install_default_drivers();
        if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = AnyPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(acquire_timeout)
                .test_before_acquire(false)
                .after_connect(|conn, _| Box::pin(async move { conn.execute(POSTGRES_SETTINGS).await.map(|_| ()) }))
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for >= PING_AFTER_IDLE {
                            conn.ping().await?;
                        }
                        Ok(true)
                    })
                })
                .connect(url)
                .await?;
            return Ok(Self {
                backend: Backend::Postgres,
                read: pool.clone(),
                write: pool,
                wal_grew: Arc::default(),
                system_user: Arc::default(),
            });
        }
        if !url.starts_with("sqlite:") {
            anyhow::bail!("DATABASE_URL must start with sqlite: or postgres:");
        }
        let url = if url.contains('?') {
            url.to_string()
        } else {
            format!("{url}?mode=rwc")
        };
        let write = AnyPoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .after_connect(|conn, _| Box::pin(async move { conn.execute(SQLITE_PRAGMAS).await.map(|_| ()) }))
            .connect(&url)
            .await?;
        let read = AnyPoolOptions::new()
            .max_connections(max_connections)
            .test_before_acquire(false)
            .after_connect(|conn, _| Box::pin(async move { conn.execute(SQLITE_PRAGMAS).await.map(|_| ()) }))
            .connect(&url)
            .await?;
        Ok(Self {
            backend: Backend::Sqlite,
            read,
            write,
            wal_grew: Arc::default(),
            system_user: Arc::default(),
        })
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATOR.run(&self.write).await?,
            Backend::Postgres => POSTGRES_MIGRATOR.run(&self.write).await?,
        }
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// For reads outside a transaction.
    pub fn reader(&self) -> &AnyPool {
        &self.read
    }

    pub async fn begin(&self) -> sqlx::Result<Tx> {
        self.write.begin().await
    }

    /// A transaction for a batch of usage reports. On PostgreSQL its statements run on generic
    /// plans: they find rows by key, and planning each execution afresh (custom plans, which
    /// PostgreSQL kept choosing) found the same plans for 0.6 ms of a batch's CPU. Paired runs
    /// gave 7-15% more reports/s with generic plans. The setting travels with BEGIN, in one
    /// round trip.
    pub async fn begin_batch(&self) -> sqlx::Result<Tx> {
        match self.backend {
            Backend::Sqlite => self.write.begin().await,
            Backend::Postgres => {
                self.write
                    .begin_with("BEGIN; SET LOCAL plan_cache_mode = force_generic_plan")
                    .await
            }
        }
    }

    /// The built-in user that policy actions are attributed to.
    pub async fn system_user_id(&self, tx: &mut Tx) -> sqlx::Result<i64> {
        self.system_user
            .get_or_try_init(|| super::users::system_user_id(tx))
            .await
            .copied()
    }

    /// After committing a transaction that wrote many pages (a batch of usage reports or policy
    /// creates): the SQLite checkpoint below runs soon. Nobody listens on PostgreSQL.
    pub fn checkpoint_soon(&self) {
        self.wal_grew.notify_one();
    }

    /// Until `stop` resolves, copies committed WAL pages back into the SQLite database file off
    /// the writer's path, with a PASSIVE checkpoint on a reader connection: it waits for no one,
    /// and the writer goes on meanwhile. Without it, the writer's own checkpoint (every 1,000
    /// WAL pages, on commit) copies them all while every report queued behind it waits: usage
    /// reports had a p99 of 34 ms instead of 12-13. With it, little is left for that one to
    /// copy. Nothing to do on PostgreSQL.
    pub async fn keep_wal_short(self, stop: impl Future<Output = ()>) {
        if self.backend != Backend::Sqlite {
            return;
        }
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = self.wal_grew.notified() => {}
                () = tokio::time::sleep(CHECKPOINT_AT_LEAST_EVERY) => {}
                () = &mut stop => return,
            }
            if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_all(&self.read)
                .await
            {
                tracing::warn!(error = %err, "WAL checkpoint failed");
            }
        }
    }

    pub async fn ping(&self) -> sqlx::Result<()> {
        let _: AnyRow = sqlx::query("SELECT 1").fetch_one(&self.read).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

/// Whether an error means the database cannot be reached now (an outage, a restart, every
/// connection busy past the acquire timeout, the pool closing at shutdown), so the same request
/// may succeed later, rather than a fault in the request or in meterguard.
pub fn unreachable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        // PostgreSQL's connection exceptions (class 08), its shutdown and start-up (57P01-57P03),
        // and too many connections (53300).
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "53300")),
        _ => false,
    }
}

/// `lock` (a `RowLock` clause) narrowed to the table read as `alias`, so the rows a query
/// joins to are not locked with it; empty where there is no lock clause (SQLite).
pub(super) fn lock_of(lock: &str, alias: &str) -> String {
    if lock.is_empty() {
        String::new()
    } else {
        format!("{lock} OF {alias}")
    }
}
