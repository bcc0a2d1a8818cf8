//! idbridge: an identity-provider bridge. `main.rs` is only the command line; everything a test
//! needs to run the real server in-process is here.
pub mod admin;
pub mod api_auth;
pub mod branding;
pub mod clients;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod directory;
pub mod http;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod notifications;
pub mod password;
pub mod password_check;
pub mod products;
pub mod provider;
pub mod rate;
pub mod saml_idp;
pub mod service_providers;
pub mod session;
pub mod session_urls;
pub mod signout;
pub mod state;
pub mod store;
pub mod sweep;
pub mod upstream;
pub mod vocabulary;
pub mod web;
pub mod xmlenc;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

pub use clock::Clock;
pub use config::Config;
pub use state::{AppState, StartError};

/// The whole HTTP application.
pub fn app(state: AppState) -> Router {
    http::with_layers(
        web::routes()
            .merge(demo::client::router())
            .merge(provider::router())
            .merge(products::router())
            .merge(session_urls::router())
            .merge(admin::router())
            .merge(saml_idp::router())
            .merge(notifications::schemas::router()),
        state,
    )
}

/// How often expired sessions are ended (their clients told) and other expired state deleted.
const SWEEP_INTERVAL: Duration = Duration::from_secs(600);

/// Serves the application on a bound listener until `shutdown` completes, sweeping expired state
/// and delivering notifications in the background meanwhile. The delivery worker is stopped last
/// and given a moment to finish the attempts it has in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let sweeper = tokio::spawn(sweep_periodically(state.clone()));
    let checkpointer = tokio::spawn(checkpoint_periodically(state.store.clone()));
    let refresher = tokio::spawn(refresh_metadata(state.clone()));
    let watcher = tokio::spawn(follow_changes(state.clone()));
    let (stop_delivery, delivery_stopped) = tokio::sync::watch::channel(false);
    let delivery = tokio::spawn(notifications::delivery::run(
        state.clone(),
        delivery_stopped,
    ));
    let header_timeout = state.server().header_timeout;
    http::listen::serve(listener, app(state), header_timeout, shutdown).await;
    sweeper.abort();
    checkpointer.abort();
    refresher.abort();
    watcher.abort();
    stop_delivery.send(true).ok();
    delivery.await.ok();
}

/// Makes successors of keys older than `keys.rotate_after` and retires keys nothing needs.
pub async fn rotate_keys(state: &AppState) -> Result<(), keys::KeyError> {
    let config = &state.config();
    keys::prepare(
        &state.store,
        &config.keys,
        &config.signing_keys(),
        state.clock.now(),
    )
    .await?;
    state.keys.reload().await
}

/// How often SAML metadata named by URL (IdPs', service providers') is fetched again.
const METADATA_REFRESH: Duration = Duration::from_secs(3600);
/// How often the metadata of a service provider that has none read yet is tried again.
const UNREAD_METADATA_RETRY: Duration = Duration::from_secs(60);

async fn refresh_metadata(state: AppState) {
    let mut interval = tokio::time::interval(UNREAD_METADATA_RETRY);
    interval.tick().await;
    let mut last_refresh = std::time::Instant::now();
    loop {
        interval.tick().await;
        let directory = state.directory();
        if last_refresh.elapsed() >= METADATA_REFRESH {
            last_refresh = std::time::Instant::now();
            for e in directory.refresh_metadata().await {
                tracing::warn!(error = %e, "metadata refresh failed; keeping what was read before");
            }
        } else {
            for e in directory.read_unread_service_providers().await {
                tracing::warn!(error = %e, "service provider metadata still cannot be read");
            }
        }
    }
}

/// How often each process asks the database whether what it keeps in memory was changed by
/// another: the longest a change through one process takes to hold in all.
pub const CHANGES_POLL: Duration = Duration::from_secs(2);

/// Keeps what this process holds in memory in step with the database: drops its cache of
/// verified API credentials whenever the credentials change (made or revoked through any process,
/// or replaced by a config sync), and rebuilds its directory whenever a run-time client, entity,
/// connection or product changes.
async fn follow_changes(state: AppState) {
    let mut interval = tokio::time::interval(CHANGES_POLL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first answer rebuilds the directory too (carrying every connector over), in case a
    // change came between the start's reading and the first poll.
    let (mut seen_credentials, mut seen_declarations) = (None, None);
    loop {
        interval.tick().await;
        let versions = tokio::try_join!(
            state.store.change_version(store::Kept::ApiCredentials),
            state.store.change_version(store::Kept::Declarations),
        );
        match versions {
            Ok((credentials, declarations)) => {
                // Also at the first answer, and after the database was out of reach: whatever
                // was verified before may have changed meanwhile.
                if seen_credentials != Some(credentials) {
                    state.api_auth.clear();
                    seen_credentials = Some(credentials);
                }
                if seen_declarations != Some(declarations) {
                    match state.reload_directory().await {
                        Ok(_) => seen_declarations = Some(declarations),
                        Err(e) => tracing::warn!(error = %e, "cannot rebuild the directory"),
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the change counters");
                seen_credentials = None;
                seen_declarations = None;
            }
        }
    }
}

/// How often SQLite's write-ahead log is copied into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

async fn checkpoint_periodically(store: store::Store) {
    let mut interval = tokio::time::interval(CHECKPOINT_INTERVAL);
    // After a slow checkpoint, wait a full interval rather than catch up.
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if let Err(e) = store.checkpoint().await {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

/// Sweeps and rotates keys every `SWEEP_INTERVAL`, the first time one interval after the start:
/// `AppState::prepare` has just prepared the keys, and rows that expired since the last sweep are
/// left for the next one at any time anyway.
async fn sweep_periodically(state: AppState) {
    let mut interval = tokio::time::interval(SWEEP_INTERVAL);
    // The first tick completes at once.
    interval.tick().await;
    loop {
        interval.tick().await;
        match sweep::sweep_expired(&state).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "swept expired sessions and counters"),
            Err(e) => tracing::warn!(error = %e, "sweep failed"),
        }
        if let Err(e) = rotate_keys(&state).await {
            tracing::warn!(error = %e, "key rotation failed");
        }
    }
}
