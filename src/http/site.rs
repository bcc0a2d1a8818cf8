//! What the HTTP plumbing needs of the running server, asked through a trait so that the
//! plumbing need not know `AppState` (which knows every feature).
use std::time::Duration;

use ipnet::IpNet;

/// What the plumbing needs to know of the running server.
pub trait Site: Clone + Send + Sync + 'static {
    /// Whether cookies are `Secure` and `__Host-` prefixed (the issuer is https).
    fn secure_cookies(&self) -> bool;
    /// The HMAC key of CSRF tokens.
    fn csrf_key(&self) -> &[u8; 32];
    /// How long a CSRF seed cookie lasts: as long as a session.
    fn session_ttl(&self) -> i64;
    /// The proxies whose `X-Forwarded-For` is believed.
    fn trusted_proxies(&self) -> &[IpNet];
    /// The longest a request may take, its body included.
    fn request_timeout(&self) -> Duration;
    /// Where answered requests are counted.
    fn metrics(&self) -> &crate::metrics::Metrics;
}
