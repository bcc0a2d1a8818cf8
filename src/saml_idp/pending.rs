//! A SAML login waiting for the person to sign in or consent: sealed (AES-256-GCM under a server
//! secret every process shares) into the URL the login returns to, so that a request, genuine or
//! not, stores nothing while the person is away; only a sealed value idbridge made opens, and
//! only for [`PENDING_TTL`].
use serde::{Deserialize, Serialize};

use crate::crypto;
use crate::http::pages;

/// How long a person has to sign in and consent.
const PENDING_TTL: i64 = 600;
/// What the sealed value is bound to: it opens as nothing else.
const SEALED_FOR: &str = "saml-idp-pending";

/// A checked request (or an IdP-initiated login) of the SP `sp`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct PendingSso {
    pub sp: String,
    /// The AuthnRequest's ID; `None` for an IdP-initiated login.
    pub request_id: Option<String>,
    /// One of the SP's registered ACS URLs.
    pub acs_url: String,
    pub relay_state: Option<String>,
    pub force_authn: bool,
    pub is_passive: bool,
    pub received_at: i64,
}

impl PendingSso {
    pub fn seal(&self, key: &[u8; 32]) -> String {
        let json = serde_json::to_string(self).expect("a pending request serializes");
        crypto::seal(key, SEALED_FOR, &json)
    }

    /// The pending request `sealed` holds, if idbridge sealed it and it has not expired.
    pub fn open(key: &[u8; 32], sealed: &str, now: i64) -> Option<PendingSso> {
        let json = crypto::open(key, SEALED_FOR, sealed)?;
        let pending: PendingSso = serde_json::from_str(&json).ok()?;
        (now < pending.received_at + PENDING_TTL).then_some(pending)
    }

    /// The local path that goes on with it.
    pub fn path(&self, key: &[u8; 32]) -> String {
        format!(
            "/saml/idp/continue?request={}",
            pages::urlencode(&self.seal(key))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unexpired_value_sealed_here_opens() {
        let key = [7; 32];
        let pending = PendingSso {
            sp: "wiki".into(),
            request_id: Some("_r1".into()),
            acs_url: "https://sp.test/acs".into(),
            relay_state: None,
            force_authn: true,
            is_passive: false,
            received_at: 1000,
        };
        let sealed = pending.seal(&key);
        let opened = PendingSso::open(&key, &sealed, 1500).unwrap();
        assert_eq!(opened.acs_url, "https://sp.test/acs");
        assert!(opened.force_authn);
        assert!(PendingSso::open(&key, &sealed, 1000 + PENDING_TTL).is_none());
        assert!(PendingSso::open(&[8; 32], &sealed, 1500).is_none());
        let tampered = format!("A{}", &sealed[1..]);
        assert!(PendingSso::open(&key, &tampered, 1500).is_none());
        let other = crypto::seal(&key, "csrf", &serde_json::to_string(&pending).unwrap());
        assert!(PendingSso::open(&key, &other, 1500).is_none());
    }
}
