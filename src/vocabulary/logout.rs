//! Back-channel logout as the outbox names it: the store writes its rows, the delivery worker
//! sends them.

/// The `event_type` of an outbox row that tells a client a session ended.
pub const BACKCHANNEL_EVENT: &str = "BackchannelLogout";

const TARGET_PREFIX: &str = "backchannel:";

/// The outbox target of a client's back-channel logout; a webhook's is a hex SHA-256, so the two
/// never meet.
pub fn backchannel_target(client_id: &str) -> String {
    format!("{TARGET_PREFIX}{client_id}")
}

/// The client a back-channel logout target names.
pub fn backchannel_client(target: &str) -> Option<&str> {
    target.strip_prefix(TARGET_PREFIX)
}
