//! Storage: the one module that talks to the database (sea-orm over SQLite or PostgreSQL). Every
//! piece of state a request needs lives here, so any number of processes can share one database.
mod admin;
mod api_credentials;
mod audit;
mod batch;
mod changes;
mod consents;
mod declarations;
mod grants;
mod logout;
mod notification;
mod outbox;
mod pending;
mod product_confirmations;
mod secrets;
mod session_urls;
mod sessions;
mod signing_keys;
mod sweep;
mod sync;
pub mod tables;
mod throttle;
mod upstream;
mod user_source;
mod userinfo_cache;
mod users;

use std::sync::Arc;
use std::time::Duration;

use batch::Batcher;
use idbridge_migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, RuntimeErr,
    Statement,
};
use tables::{access_token, authorization_code};
use userinfo_cache::UserinfoCache;

pub use admin::{
    Change, MANAGED_BY_API, MANAGED_BY_CONFIG, ManagedCredential, ManagedSession, ManagedUser,
    UserChange, UserQuery,
};
pub use audit::{Actor, AuditEvent, AuditFilter, AuditRecord, Initiator};
pub use changes::Kept;
pub use declarations::{DeclarationChange, DeclarationChanged, StoredDeclaration, declarations_of};
pub use grants::{
    CodeUse, GrantHolder, GrantTokens, NewAccessToken, NewCode, NewRefreshToken, RefreshUse,
    SpentGrant, UserinfoGrant,
};
pub use notification::{Notification, NotifiedUser};
pub use outbox::{
    AttemptOutcome, Backlog, ClaimedNotification, DueNotification, OUTBOX_RETENTION,
    enqueue_notification,
};
pub use pending::PendingAuthorization;
pub use product_confirmations::ProductConfirmation;
pub use session_urls::{OpenedSessionUrl, ProfileChange, ProfileFields, SessionUrlData};
pub use sessions::{NewSession, SessionInfo};
pub use signing_keys::SigningKey;
pub use throttle::ThrottleRule;
pub use upstream::{
    KeptLogin, OneTimeId, OutgoingLogin, SentLogout, Spent, UpstreamProfile, UpstreamSession,
};
pub use user_source::UserSource;
pub use users::{PostalAddress, Profile, User};

/// Log length (pages) at which a commit checkpoints by itself: a backstop, see `pool_options`.
const WAL_BACKSTOP_PAGES: u32 = 16_384;

/// Log length (frames) at which [`Store::checkpoint`] rewinds the log; below the backstop.
const WAL_RESTART_FRAMES: i64 = 4_096;

/// Frames a rewind may still have to copy, holding up writers meanwhile (a few milliseconds'
/// worth of copying here), and how many passive checkpoints may run to get there.
const WAL_RESTART_UNCOPIED: i64 = 256;
const WAL_PASSIVE_PASSES: usize = 4;

/// How long a connection waits for another's lock before it fails with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a rewind waits for readers still on the log, holding the writer meanwhile. One that
/// does not get there in time has still copied the log; the next second tries again.
const WAL_RESTART_WAIT: Duration = Duration::from_millis(20);

/// The connections of one database pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    pub name: &'static str,
    pub size: usize,
    pub idle: usize,
}

/// Runs `transaction`, and once more if it failed on a key that a concurrent transaction wrote
/// first (a new user, a new profile): it rolled back whole, and run again it finds that row and
/// takes the path for a known one. For transactions that create a row when they find none.
async fn retried_after_conflict<T, F>(mut transaction: impl FnMut() -> F) -> Result<T, StoreError>
where
    F: Future<Output = Result<T, StoreError>>,
{
    match transaction().await {
        Err(StoreError::Db(error))
            if matches!(
                error.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            transaction().await
        }
        other => other,
    }
}

/// How [`locked`] holds the rows a query reads until the transaction ends.
#[derive(Debug, Clone, Copy)]
enum RowLock {
    /// Others may read them, and lock them shared too, but not change them (`FOR SHARE`).
    Shared,
    /// No one else may lock or change them (`FOR UPDATE`).
    Exclusive,
}

/// `select` with its rows locked for the rest of the transaction on PostgreSQL, so that what a
/// transaction decides from them cannot cross a concurrent change. SQLite needs none: it lets
/// one writer in at a time, and idbridge's writes go through one connection.
fn locked<E: sea_orm::EntityTrait, C: ConnectionTrait>(
    select: sea_orm::Select<E>,
    db: &C,
    lock: RowLock,
) -> sea_orm::Select<E> {
    use sea_orm::QuerySelect;
    match (db.get_database_backend(), lock) {
        (DbBackend::Postgres, RowLock::Shared) => select.lock_shared(),
        (DbBackend::Postgres, RowLock::Exclusive) => select.lock_exclusive(),
        _ => select,
    }
}

/// What `PRAGMA wal_checkpoint` reports, in frames: the log's length and how much of it is
/// copied into the database file (both -1 when the checkpoint could not start because another
/// was running, or the database is not in WAL mode).
struct WalLog {
    frames: i64,
    copied: i64,
}

/// A passive checkpoint on a connection of `db`.
async fn passive_checkpoint(db: &DatabaseConnection) -> Result<WalLog, StoreError> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA wal_checkpoint(PASSIVE)",
        ))
        .await?;
    Ok(match row {
        Some(row) => WalLog {
            frames: row.try_get("", "log")?,
            copied: row.try_get("", "checkpointed")?,
        },
        None => WalLog {
            frames: -1,
            copied: -1,
        },
    })
}

/// Prepared statements each connection keeps: the batched inserts alone are up to 64
/// statements per table (one per row count), and sqlx's default of 100 made the writer
/// connection evict and parse them again under load.
const STATEMENT_CACHE: usize = 512;

/// Pool options; SQLite runs in WAL mode with a busy timeout, so several processes can share
/// one file and readers never wait for the writer.
///
/// A pooled connection is pinged before use only after it has been idle for 30 s: pinging on
/// every checkout (sqlx's default) doubles the round trips of every query, and a connection in
/// steady use has just proved it works. Idle PostgreSQL connections are the ones a server
/// restart, proxy or firewall drops.
fn pool_options(url: &str, connections: u32) -> ConnectOptions {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(connections)
        .connect_timeout(Duration::from_secs(10))
        .test_before_acquire_if_idle_for(Duration::from_secs(30))
        .sqlx_logging(false)
        .map_sqlx_postgres_opts(|opts| opts.statement_cache_capacity(STATEMENT_CACHE))
        .map_sqlx_sqlite_opts(|opts| {
            opts.statement_cache_capacity(STATEMENT_CACHE)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(BUSY_TIMEOUT)
                .foreign_keys(true)
                // The server checkpoints beside the writers (Store::checkpoint), not inside the
                // commit that happens to fill the WAL, where a checkpoint's fsync stalled every
                // queued write. This much larger automatic checkpoint is only the backstop for
                // processes that do not run that loop (CLI commands); the loop keeps the log
                // well below it.
                .pragma("wal_autocheckpoint", WAL_BACKSTOP_PAGES.to_string())
        });
    options
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("the database writer task has stopped")]
    WriterStopped,
    #[error("the user is disabled")]
    UserDisabled,
}

impl StoreError {
    /// Whether the database could not be reached or did not answer: a state that passes (a
    /// restarted server, a cut network), answered with 503 rather than as a fault of ours. The
    /// pool drops a connection that failed, so the next request connects afresh.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Db(DbErr::ConnectionAcquire(_) | DbErr::Conn(_)) => true,
            StoreError::Db(DbErr::Exec(RuntimeErr::SqlxError(e)))
            | StoreError::Db(DbErr::Query(RuntimeErr::SqlxError(e))) => sqlx_unavailable(e),
            StoreError::Db(_)
            | StoreError::Corrupt(_)
            | StoreError::WriterStopped
            | StoreError::UserDisabled => false,
        }
    }
}

/// Whether a driver error says the database is out of reach: the connection broke or could not
/// be had, or PostgreSQL refused or ended it (SQLSTATE class 08, connection exception; 53300,
/// too many connections; 57P01 to 57P03, shutting down or starting up).
fn sqlx_unavailable(error: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    match error {
        Error::Io(_)
        | Error::Tls(_)
        | Error::PoolTimedOut
        | Error::PoolClosed
        | Error::WorkerCrashed => true,
        Error::Database(e) => e.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "53300" | "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

/// A handle on the database; cheap to clone (it wraps connection pools).
#[derive(Clone, Debug)]
pub struct Store {
    /// Reads, and on PostgreSQL writes too.
    db: DatabaseConnection,
    /// Writes. On SQLite this is a pool of one connection: SQLite lets one writer in at a time,
    /// and writers queued here wait their turn in order, where several pooled writers would
    /// sleep-poll on the database lock and stretch the tail latency.
    writer: DatabaseConnection,
    /// Off unless [`Store::connect_with_userinfo_cache`] turns it on.
    userinfo: Arc<UserinfoCache>,
    codes: Batcher<authorization_code::ActiveModel>,
    code_spends: Batcher<batch::CodeSpend, Option<authorization_code::Model>>,
    access_tokens: Batcher<access_token::ActiveModel>,
    grant_tokens: Batcher<GrantTokens, Option<GrantHolder>>,
}

impl Store {
    /// Connects to `sqlite:` or `postgres://` URLs.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_with_userinfo_cache(url, Duration::ZERO).await
    }

    /// Connects, and lets this process answer userinfo for a token from memory for up to
    /// `userinfo_ttl` after reading it (see the `userinfo_cache` module for what that allows).
    /// Every clone shares that one cache, so a revocation through any of them clears it.
    pub async fn connect_with_userinfo_cache(
        url: &str,
        userinfo_ttl: Duration,
    ) -> Result<Store, StoreError> {
        let sqlite = url.starts_with("sqlite:");
        let db = Database::connect(pool_options(url, if sqlite { 8 } else { 16 })).await?;
        let writer = if sqlite {
            Database::connect(pool_options(url, 1)).await?
        } else {
            db.clone()
        };
        Ok(Store {
            codes: batch::inserts(writer.clone()),
            code_spends: batch::code_spends(writer.clone()),
            access_tokens: batch::inserts(writer.clone()),
            grant_tokens: batch::grant_tokens(writer.clone()),
            db,
            writer,
            userinfo: Arc::new(UserinfoCache::new(userinfo_ttl)),
        })
    }

    /// Applies every migration not yet applied.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.writer, None).await?;
        Ok(())
    }

    /// Copies what SQLite's write-ahead log holds into the database file, and rewinds the log
    /// once it is long, holding up writers as briefly as possible. The server calls this every
    /// second. Nothing to do on PostgreSQL.
    ///
    /// A passive checkpoint, on a reading connection, copies the log without holding up anyone,
    /// but never rewinds it: writers append while it copies, so under steady writes the log is
    /// never found fully copied and would grow without end. Rewinding needs a moment with no
    /// writer, so it runs on the one writer connection (a restarting checkpoint); everything
    /// that checkpoint still has to copy (and sync) holds up every write. So the passive
    /// checkpoint is repeated (at most four times) while writers keep appending much, each pass
    /// copying what came in during the one before, until what is left is small; and the rewind
    /// waits for readers for [`WAL_RESTART_WAIT`] at most.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        if self.db.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        let mut log = passive_checkpoint(&self.db).await?;
        for _ in 1..WAL_PASSIVE_PASSES {
            if log.frames <= WAL_RESTART_FRAMES {
                break;
            }
            let before = log.frames;
            log = passive_checkpoint(&self.db).await?;
            // Left for the rewind: what this pass could not copy (readers on older snapshots),
            // and what came in while it ran, less than what came in during the pass before.
            if (log.frames - log.copied) + (log.frames - before) <= WAL_RESTART_UNCOPIED {
                break;
            }
        }
        if log.frames > WAL_RESTART_FRAMES {
            self.rewind_log().await?;
        }
        Ok(())
    }

    /// A restarting checkpoint on the writer connection, waiting at most [`WAL_RESTART_WAIT`]
    /// for readers instead of the usual [`BUSY_TIMEOUT`]. The writer pool has one connection,
    /// so the three statements run on it, and no write runs between them.
    async fn rewind_log(&self) -> Result<(), StoreError> {
        let restore = format!("PRAGMA busy_timeout = {}", BUSY_TIMEOUT.as_millis());
        let rewind = format!(
            "PRAGMA busy_timeout = {}; PRAGMA wal_checkpoint(RESTART); {restore}",
            WAL_RESTART_WAIT.as_millis()
        );
        let rewound = self.writer.execute_unprepared(&rewind).await;
        if rewound.is_err() {
            self.writer.execute_unprepared(&restore).await?;
        }
        rewound?;
        Ok(())
    }

    /// Whether the database answers and the batched writers run (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let writing = self.codes.is_running()
            && self.code_spends.is_running()
            && self.access_tokens.is_running()
            && self.grant_tokens.is_running();
        if !writing {
            return Err(StoreError::WriterStopped);
        }
        Ok(self.db.ping().await?)
    }

    /// The connections of this process's pools: the readers (on PostgreSQL, every statement's)
    /// and, on SQLite, the one writer.
    pub fn pool_use(&self) -> Vec<PoolUse> {
        let pools: &[(&'static str, &DatabaseConnection)] = match self.db.get_database_backend() {
            DbBackend::Sqlite => &[("reader", &self.db), ("writer", &self.writer)],
            _ => &[("main", &self.db)],
        };
        pools
            .iter()
            .map(|&(name, db)| {
                let (size, idle) = match db.get_database_backend() {
                    DbBackend::Sqlite => {
                        let pool = db.get_sqlite_connection_pool();
                        (pool.size(), pool.num_idle())
                    }
                    _ => {
                        let pool = db.get_postgres_connection_pool();
                        (pool.size(), pool.num_idle())
                    }
                };
                PoolUse {
                    name,
                    size: size as usize,
                    idle: idle.min(size as usize),
                }
            })
            .collect()
    }

    /// Writes queued for the batched writers and not yet taken into a batch.
    pub fn writer_queue(&self) -> usize {
        self.codes.queued()
            + self.code_spends.queued()
            + self.access_tokens.queued()
            + self.grant_tokens.queued()
    }

    /// The underlying connection, for tests that inspect stored rows.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sea_orm::sqlx;
    use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};

    use super::StoreError;

    fn exec(error: sqlx::Error) -> StoreError {
        StoreError::Db(DbErr::Exec(RuntimeErr::SqlxError(Arc::new(error))))
    }

    /// A database out of reach is told from a refused or broken write.
    #[test]
    fn a_lost_database_is_unavailable_and_nothing_else_is() {
        let reset = || std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        for unavailable in [
            StoreError::Db(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)),
            StoreError::Db(DbErr::Conn(RuntimeErr::SqlxError(Arc::new(
                sqlx::Error::Io(reset()),
            )))),
            exec(sqlx::Error::Io(reset())),
            exec(sqlx::Error::PoolTimedOut),
        ] {
            assert!(unavailable.is_unavailable(), "{unavailable}");
        }
        for fault in [
            exec(sqlx::Error::RowNotFound),
            exec(sqlx::Error::Protocol("garbled".into())),
            StoreError::Db(DbErr::Custom("refused by the test".into())),
            StoreError::Corrupt("bad row".into()),
            StoreError::WriterStopped,
        ] {
            assert!(!fault.is_unavailable(), "{fault}");
        }
    }
}
