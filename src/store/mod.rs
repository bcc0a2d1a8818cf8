//! Storage: the one module that talks to the database (sea-orm over SQLite or PostgreSQL). Every
//! piece of state a request needs lives here, so any number of processes can share one database.
mod grants;
mod secrets;
mod sessions;
mod signing_keys;
mod sweep;
mod sync;
pub mod tables;
mod throttle;
mod users;

use std::time::Duration;

use idbridge_migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

pub use grants::{CodeUse, RefreshUse};
pub use sessions::SessionInfo;
pub use throttle::ThrottleRule;
pub use users::{Attachment, UserProfile};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
}

/// A handle on the database; cheap to clone (it wraps a connection pool).
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
}

impl Store {
    /// Connects to `sqlite:` or `postgres://` URLs. SQLite runs in WAL mode with a busy timeout,
    /// so several processes can share one file.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        let mut options = ConnectOptions::new(url);
        options
            .max_connections(if url.starts_with("sqlite:") { 8 } else { 16 })
            .connect_timeout(Duration::from_secs(10))
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
        let db = Database::connect(options).await?;
        Ok(Store { db })
    }

    /// Applies every migration not yet applied.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None).await?;
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
