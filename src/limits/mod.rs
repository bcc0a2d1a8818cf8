//! Bounds on what requests without credentials can make idbridge store: a pending authorization
//! (`/sso/v2/authorize` sending the person to log in or consent) or an upstream login
//! (`/saml|oidc/{connection}/login`). Each waits up to 10 minutes for its person; without bounds a
//! script could fill the database with them. Two limits apply before such a row is written:
//!
//! - for the whole deployment, `server.max_pending_logins` unexpired rows. Counting them takes a
//!   scan, so each process counts at most once a second and adds what it admits meanwhile;
//! - per client address (IPv6 by /64), `server.pending_logins_per_minute` in a fixed one-minute
//!   window, counted in the database so that every process shares the count.
//!
//! The endpoints where clients authenticate are bounded in each process's memory instead
//! ([`ClientRates`]): they are the hot path, and a database write per request would double their
//! cost.
mod gauge;

use std::net::IpAddr;
use std::time::{Duration, Instant};

pub use gauge::PendingGauge;

use crate::config::ServerConfig;
use crate::http::PageError;
use crate::rate::RateLimit;
use crate::store::{Store, StoreError};
use crate::vocabulary::addresses::{address_key, counted_address};

/// The window of the per-address limit, in seconds.
const WINDOW: i64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("{key}: more than {per_minute} pending logins in a minute")]
    TooFrequent { key: String, per_minute: u32 },
    #[error("{max} pending logins are waiting, the most allowed")]
    Full { max: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<LimitError> for PageError {
    fn from(error: LimitError) -> PageError {
        match error {
            LimitError::TooFrequent { .. } => PageError::TooManyRequests,
            LimitError::Full { .. } => PageError::PendingFull,
            LimitError::Store(e) => PageError::Store(e),
        }
    }
}

const SECOND: Duration = Duration::from_secs(1);

/// The rates of the token, introspection and revocation endpoints: per client address before
/// the client is known, and per client once it has authenticated (so that no one can spend a
/// client's rate by sending its id with a wrong secret); and of the admin API, per credential
/// once it has authenticated.
#[derive(Debug)]
pub struct ClientRates {
    per_address: RateLimit<IpAddr>,
    per_client: RateLimit<String>,
    per_admin: RateLimit<String>,
}

impl ClientRates {
    pub fn new(limits: &ServerConfig) -> ClientRates {
        ClientRates {
            per_address: RateLimit::new(limits.token_requests_per_second_per_address, SECOND),
            per_client: RateLimit::new(limits.token_requests_per_second_per_client, SECOND),
            per_admin: RateLimit::new(limits.admin_requests_per_second_per_credential, SECOND),
        }
    }

    /// Counts a request from `client`; `Err` says how long until it may try again.
    pub fn admit_address(&self, client: IpAddr) -> Result<(), Duration> {
        self.per_address
            .admit(&counted_address(client), Instant::now())
    }

    /// Counts a request of the authenticated client `client_id`.
    pub fn admit_client(&self, client_id: &str) -> Result<(), Duration> {
        self.per_client.admit(client_id, Instant::now())
    }

    /// Counts an admin API request made with the API credential `username`.
    pub fn admit_admin(&self, username: &str) -> Result<(), Duration> {
        self.per_admin.admit(username, Instant::now())
    }
}

/// Admits one more pending row from `client`, or says which limit it would break. Called before
/// the row is written; a refused request writes nothing but its address's counter.
pub async fn admit_pending(
    gauge: &PendingGauge,
    store: &Store,
    limits: &ServerConfig,
    now: i64,
    client: IpAddr,
) -> Result<(), LimitError> {
    let error = if !gauge.reserve(store, now, limits.max_pending_logins).await? {
        LimitError::Full {
            max: limits.max_pending_logins,
        }
    } else {
        let key = address_key("pending", client);
        let count = store.count_event(&key, WINDOW, now).await?;
        if i64::from(count) <= i64::from(limits.pending_logins_per_minute) {
            return Ok(());
        }
        LimitError::TooFrequent {
            key,
            per_minute: limits.pending_logins_per_minute,
        }
    };
    tracing::warn!(error = %error, "pending login refused");
    Err(error)
}
