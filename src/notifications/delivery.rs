//! The delivery worker: one per process, started by `lib::serve`. About once a second it claims
//! the outbox rows that are due (a conditional write, so that no two processes hold the same row)
//! and POSTs each to its target: a webhook (the notification, signed with the webhook's secret)
//! or a client's back-channel logout endpoint (a logout token, signed as its ID tokens are). A 2xx marks the row delivered; anything else (another status,
//! a timeout, a refused connection) schedules the next attempt with exponential backoff, until
//! the webhook's `max_attempts` are spent and the row is given up.
//!
//! Delivery is at least once: a process that dies during an attempt leaves its row claimed until
//! the lease runs out (the webhook's `timeout` plus [`LEASE_MARGIN`]), and then any process
//! delivers it again. Receivers drop duplicates by `meta.id`.
use std::collections::HashMap;
use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use openidconnect::reqwest;
use reqwest::header::CONTENT_TYPE;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::signature;
use crate::clients::Client;
use crate::config::WebhookDecl;
use crate::directory::Directory;
use crate::provider::logout_token::logout_token;
use crate::state::AppState;
use crate::store::{AttemptOutcome, ClaimedNotification, DueNotification, StoreError};
use crate::vocabulary::delivery::MAX_BACKOFF;
use crate::vocabulary::logout::backchannel_target;

/// How often the outbox is looked at for due rows.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// A claimed row stays held this much longer than its webhook's `timeout`, so that a slow
/// attempt still records its outcome before another process may take the row.
pub const LEASE_MARGIN: i64 = 5;
/// Attempts in flight at once in one process (and so rows claimed at most per poll).
const MAX_IN_FLIGHT: usize = 32;
/// At shutdown, attempts in flight get this long to finish; the rest are abandoned and delivered
/// again once their lease has run out.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// `last_error` is kept short.
const MAX_ERROR_LEN: usize = 200;
/// A client's back-channel logout endpoint gets as long and as many attempts as a webhook by
/// default: a client that was down for a while still hears of the sessions that ended meanwhile.
const BACKCHANNEL_TIMEOUT: u64 = 10;
const BACKCHANNEL_MAX_ATTEMPTS: u32 = 12;
const BACKCHANNEL_BACKOFF: i64 = 30;

/// Why an attempt failed. Its text is stored as `last_error`: a status code or a transport error,
/// never the URL (which may carry a token) or the receiver's body.
#[derive(Debug, thiserror::Error)]
enum AttemptError {
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("no answer within {0}s")]
    Timeout(u64),
    #[error("{0}")]
    Transport(String),
    #[error("the previous attempt was interrupted and no attempts are left")]
    Interrupted,
    #[error("the logout token could not be made: {0}")]
    LogoutToken(String),
}

/// Where rows go, with the HTTP client that sends them.
struct Target {
    kind: Kind,
    url: String,
    timeout: u64,
    max_attempts: u32,
    backoff: i64,
    http: reqwest::Client,
}

enum Kind {
    Webhook(WebhookDecl),
    /// A client registered for back-channel logout, by its id.
    Backchannel(String),
}

impl Target {
    fn webhook(webhook: &WebhookDecl) -> Result<Target, reqwest::Error> {
        Ok(Target {
            url: webhook.url.clone(),
            timeout: webhook.timeout,
            max_attempts: webhook.max_attempts,
            backoff: webhook.backoff,
            http: http_client(webhook.timeout)?,
            kind: Kind::Webhook(webhook.clone()),
        })
    }

    fn backchannel(client: &Client) -> Option<Result<Target, reqwest::Error>> {
        let logout = client.backchannel_logout.as_ref()?;
        Some(http_client(BACKCHANNEL_TIMEOUT).map(|http| Target {
            url: logout.uri.clone(),
            timeout: BACKCHANNEL_TIMEOUT,
            max_attempts: BACKCHANNEL_MAX_ATTEMPTS,
            backoff: BACKCHANNEL_BACKOFF,
            http,
            kind: Kind::Backchannel(client.id.clone()),
        }))
    }

    fn lease(&self) -> i64 {
        self.timeout as i64 + LEASE_MARGIN
    }
}

// No redirects: a row goes to the configured URL or nowhere.
fn http_client(timeout: u64) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::ClientBuilder::new()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(timeout))
        .user_agent(concat!("idbridge/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The wait after failed attempt number `attempt` (1 for the first): `base × 2^(attempt-1)`,
/// at most [`MAX_BACKOFF`].
pub fn backoff_delay(base: i64, attempt: i32) -> i64 {
    let doublings = u32::try_from(attempt.saturating_sub(1)).unwrap_or(0);
    2i64.checked_pow(doublings)
        .map_or(MAX_BACKOFF, |factor| base.saturating_mul(factor))
        .min(MAX_BACKOFF)
}

/// Delivers due notifications until `shutdown` says `true` (or its sender is gone). The
/// back-channel logout targets follow the directory: a client made, changed or deleted at run
/// time is heard (or no longer) from the next poll.
pub async fn run(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let mut webhooks = HashMap::new();
    for webhook in &state.file_config.webhooks {
        match Target::webhook(webhook) {
            Ok(target) => {
                webhooks.insert(webhook.key(), Arc::new(target));
            }
            Err(e) => tracing::error!(error = %e, "cannot make the HTTP client of a webhook"),
        }
    }
    let mut directory = state.directory();
    let mut targets = with_backchannels(&webhooks, &directory);
    let mut keys: Vec<String> = targets.keys().cloned().collect();
    let mut in_flight = JoinSet::new();
    let mut poll = tokio::time::interval(POLL_INTERVAL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = poll.tick() => {}
            _ = shutdown.wait_for(|stop| *stop) => break,
        }
        while in_flight.try_join_next().is_some() {}
        let now_in_force = state.directory();
        if !Arc::ptr_eq(&now_in_force, &directory) {
            directory = now_in_force;
            targets = with_backchannels(&webhooks, &directory);
            keys = targets.keys().cloned().collect();
        }
        let room = MAX_IN_FLIGHT - in_flight.len();
        if room == 0 || keys.is_empty() {
            continue;
        }
        match claim_due(&state, &targets, &keys, room).await {
            Ok(claimed) => {
                for (target, row) in claimed {
                    in_flight.spawn(attempt(state.clone(), target, row));
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the outbox"),
        }
    }
    let finished = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while in_flight.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        tracing::info!(
            abandoned = in_flight.len(),
            "stopping with notifications in flight; they are sent again once their lease runs out"
        );
    }
}

/// The webhooks' targets, and the back-channel logout target of every client in `directory`
/// that registered one.
fn with_backchannels(
    webhooks: &HashMap<String, Arc<Target>>,
    directory: &Directory,
) -> HashMap<String, Arc<Target>> {
    let mut targets = webhooks.clone();
    for client in directory.clients.all() {
        match Target::backchannel(client) {
            Some(Ok(target)) => {
                targets.insert(backchannel_target(&client.id), Arc::new(target));
            }
            Some(Err(e)) => {
                tracing::error!(client = %client.id, error = %e, "cannot make the HTTP client of a back-channel logout")
            }
            None => {}
        }
    }
    targets
}

/// Claims up to `room` due rows of the configured targets.
async fn claim_due(
    state: &AppState,
    targets: &HashMap<String, Arc<Target>>,
    keys: &[String],
    room: usize,
) -> Result<Vec<(Arc<Target>, ClaimedNotification)>, StoreError> {
    let now = state.clock.now();
    let due: Vec<DueNotification> = state
        .store
        .due_notifications(keys, now, room as u64)
        .await?;
    let mut claimed = Vec::new();
    for row in due {
        let Some(target) = targets.get(&row.webhook) else {
            continue;
        };
        // Read anew for each claim: the lease must run from the moment the row is taken.
        if let Some(model) = state
            .store
            .claim_notification(&row, state.clock.now(), target.lease())
            .await?
        {
            claimed.push((Arc::clone(target), model));
        }
    }
    Ok(claimed)
}

/// One attempt at a claimed row, and its outcome recorded.
async fn attempt(state: AppState, target: Arc<Target>, row: ClaimedNotification) {
    // A row's last allowed attempt, cut short (its process stopped or died), may never have been
    // sent: the row gets one attempt more. Cut short again, it is closed unsent.
    let result = if row.attempts as u32 > target.max_attempts + 1 {
        Err(AttemptError::Interrupted)
    } else {
        send(&state, &target, &row).await
    };
    let now = state.clock.now();
    let outcome = match result {
        Ok(()) => AttemptOutcome::Delivered,
        Err(e) if row.attempts as u32 >= target.max_attempts => {
            tracing::warn!(
                notification = %row.id,
                event = %row.event_type,
                attempts = row.attempts,
                error = %e,
                "giving up a notification"
            );
            AttemptOutcome::GiveUp {
                error: e.to_string(),
            }
        }
        Err(e) => {
            tracing::info!(
                notification = %row.id,
                attempt = row.attempts,
                error = %e,
                "notification attempt failed"
            );
            AttemptOutcome::Retry {
                at: now + backoff_delay(target.backoff, row.attempts),
                error: e.to_string(),
            }
        }
    };
    state.metrics.delivery(match outcome {
        AttemptOutcome::Delivered => "delivered",
        AttemptOutcome::GiveUp { .. } => "given_up",
        AttemptOutcome::Retry { .. } => "failed",
    });
    if let Err(e) = state
        .store
        .finish_attempt(&row.id, row.attempts, &outcome, now)
        .await
    {
        // The row stays claimed until its lease runs out, then it is tried again.
        tracing::warn!(notification = %row.id, error = %e, "cannot record a notification attempt");
    }
}

/// POSTs the row to its target: a webhook's stored body, signed with its secret, or a client's
/// logout token.
async fn send(
    state: &AppState,
    target: &Target,
    row: &ClaimedNotification,
) -> Result<(), AttemptError> {
    let request = match &target.kind {
        Kind::Webhook(webhook) => {
            let timestamp = state.clock.now();
            let secret = webhook.secret.expose().as_bytes();
            target
                .http
                .post(&target.url)
                .header(CONTENT_TYPE, "application/json")
                .header("X-Idbridge-Timestamp", timestamp.to_string())
                .header(
                    "X-Idbridge-Signature",
                    signature::sign(secret, timestamp, &row.body),
                )
                .header("X-Idbridge-Delivery", &row.id)
                .body(row.body.clone())
        }
        Kind::Backchannel(client_id) => {
            let ended: EndedSession = serde_json::from_str(&row.body)
                .map_err(|e| AttemptError::LogoutToken(e.to_string()))?;
            let token = logout_token(state, client_id, &ended.sub, &ended.sid, &row.id)
                .await
                .map_err(|e| AttemptError::LogoutToken(e.to_string()))?;
            target
                .http
                .post(&target.url)
                .form(&[("logout_token", token)])
        }
    };
    let response = request
        .send()
        .await
        .map_err(|e| transport_error(e, target.timeout))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(AttemptError::Status(status.as_u16()))
    }
}

/// What a back-channel logout row holds: whose session ended.
#[derive(serde::Deserialize)]
struct EndedSession {
    sub: String,
    sid: String,
}

/// What went wrong, from reqwest's error and its causes, without the URL.
fn transport_error(error: reqwest::Error, timeout: u64) -> AttemptError {
    if error.is_timeout() {
        return AttemptError::Timeout(timeout);
    }
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    AttemptError::Transport(text.chars().take(MAX_ERROR_LEN).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff_delay(30, 1), 30);
        assert_eq!(backoff_delay(30, 2), 60);
        assert_eq!(backoff_delay(30, 3), 120);
        assert_eq!(backoff_delay(30, 8), 3600, "30 × 128 is capped at an hour");
        assert_eq!(backoff_delay(1, 100), MAX_BACKOFF, "no overflow");
        assert_eq!(backoff_delay(3600, 1), 3600);
    }
}
