//! Storage: the one module that talks to the database (sea-orm over SQLite or PostgreSQL). Every
//! piece of state a request needs lives here, so any number of processes can share one database.
mod api_credentials;
mod batch;
mod grants;
mod outbox;
mod secrets;
mod session_urls;
mod sessions;
mod signing_keys;
mod sweep;
mod sync;
pub mod tables;
mod throttle;
mod upstream;
mod userinfo_cache;
mod users;

use std::sync::Arc;
use std::time::Duration;

use batch::Batcher;
use idbridge_migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};
use tables::{access_token, authorization_code, refresh_token};
use userinfo_cache::UserinfoCache;

pub use grants::{CodeUse, RefreshUse, SpentGrant, UserinfoGrant};
pub use outbox::{AttemptOutcome, DueNotification, OUTBOX_RETENTION, enqueue_notification};
pub use session_urls::{OpenedSessionUrl, ProfileChange, ProfileFields, SessionUrlData};
pub use sessions::{NewSession, SessionInfo};
pub use throttle::ThrottleRule;
pub use upstream::UpstreamProfile;
pub use users::{Attachment, UserProfile};

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
        .map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                // Checkpoints run beside the writers (Store::checkpoint), not inside the commit
                // that happens to fill the WAL, where they stalled every write for the length
                // of a checkpoint's fsync.
                .pragma("wal_autocheckpoint", "0")
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
    /// Off unless [`Store::with_userinfo_cache`] turns it on.
    userinfo: Arc<UserinfoCache>,
    codes: Batcher<authorization_code::ActiveModel>,
    access_tokens: Batcher<access_token::ActiveModel>,
    refresh_tokens: Batcher<refresh_token::ActiveModel>,
}

impl Store {
    /// Connects to `sqlite:` or `postgres://` URLs.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let sqlite = url.starts_with("sqlite:");
        let db = Database::connect(pool_options(url, if sqlite { 8 } else { 16 })).await?;
        let writer = if sqlite {
            Database::connect(pool_options(url, 1)).await?
        } else {
            db.clone()
        };
        Ok(Store {
            codes: Batcher::start(writer.clone()),
            access_tokens: Batcher::start(writer.clone()),
            refresh_tokens: Batcher::start(writer.clone()),
            db,
            writer,
            userinfo: Arc::new(UserinfoCache::new(Duration::ZERO)),
        })
    }

    /// Lets this process answer userinfo for a token from memory for up to `ttl` after reading
    /// it (see the `userinfo_cache` module for what that allows).
    pub fn with_userinfo_cache(mut self, ttl: Duration) -> Store {
        self.userinfo = Arc::new(UserinfoCache::new(ttl));
        self
    }

    /// Applies every migration not yet applied.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.writer, None).await?;
        Ok(())
    }

    /// Copies what SQLite's write-ahead log holds into the database file, without waiting for
    /// or holding up writers (a passive checkpoint, on a reading connection). The server calls it
    /// every second; automatic checkpoints are off. Nothing to do on PostgreSQL.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        if self.db.get_database_backend() == DbBackend::Sqlite {
            self.db
                .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
                .await?;
        }
        Ok(())
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        Ok(self.db.ping().await?)
    }

    /// The underlying connection, for tests that inspect stored rows.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}
