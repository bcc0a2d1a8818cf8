//! The periodic sweep: expired sessions, authorizations, codes, tokens and logins, failure
//! counters whose window has passed, and the outbox rows of webhooks and back-channel logouts no
//! longer configured.
use crate::password_check::{ACCOUNT_RULE, ADDRESS_RULE};
use crate::state::AppState;
use crate::store::StoreError;
use crate::vocabulary::logout::backchannel_target;

/// Deletes what has expired; how many rows went.
pub async fn sweep_expired(state: &AppState) -> Result<u64, StoreError> {
    let window = ACCOUNT_RULE.window.max(ADDRESS_RULE.window);
    let live_targets: Vec<String> = state
        .config
        .webhooks
        .iter()
        .map(|w| w.key())
        .chain(
            state
                .clients
                .all()
                .filter(|c| c.backchannel_logout.is_some())
                .map(|c| backchannel_target(&c.id)),
        )
        .collect();
    state
        .store
        .sweep(state.clock.now(), window, &live_targets)
        .await
}
