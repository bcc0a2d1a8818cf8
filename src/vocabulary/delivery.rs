//! The bounds of webhook delivery: the config is checked against them, and the delivery worker
//! applies them.

/// The longest wait between two attempts, in seconds; the backoff doubles up to it.
pub const MAX_BACKOFF: i64 = 3600;
/// The most attempts a webhook may be given.
pub const MAX_ATTEMPTS: u32 = 100;
/// The longest `timeout` a webhook may be given, in seconds.
pub const MAX_TIMEOUT: i64 = 60;
