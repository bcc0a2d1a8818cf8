//! The periodic sweep: expired sessions (ended, their clients told), authorizations, codes, tokens
//! and logins, failure counters whose window has passed, the outbox rows of webhooks and
//! back-channel logouts no longer configured, and audit events past their retention.
use crate::password_check::{ACCOUNT_RULE, ADDRESS_RULE};
use crate::state::AppState;
use crate::store::StoreError;
use crate::vocabulary::logout::backchannel_target;

/// Ends expired sessions and deletes what else has expired; how many rows went.
pub async fn sweep_expired(state: &AppState) -> Result<u64, StoreError> {
    let now = state.clock.now();
    let mut ended = 0;
    loop {
        let batch = state
            .store
            .end_expired_sessions(&state.config(), now)
            .await?;
        ended += batch as u64;
        if batch == 0 {
            break;
        }
    }
    let window = ACCOUNT_RULE.window.max(ADDRESS_RULE.window);
    let directory = state.directory();
    let live_targets: Vec<String> = directory
        .config
        .webhooks
        .iter()
        .map(|w| w.key())
        .chain(
            directory
                .clients
                .all()
                .filter(|c| c.backchannel_logout.is_some())
                .map(|c| backchannel_target(&c.id)),
        )
        .collect();
    let removed = state.store.sweep(now, window, &live_targets).await?;
    let forgotten = state
        .store
        .forget_audit_before(now - state.server().audit_retention)
        .await?;
    Ok(ended + removed + forgotten)
}
