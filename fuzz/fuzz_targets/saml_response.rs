//! The SAML ACS input: a response as the IdP's form posts it (base64 of XML), through the whole
//! check the ACS makes (`SamlConnector::verify`: strict reading — size, no DOCTYPE, one assertion —
//! the XML signature with libxmlsec1, and every condition). The input is the XML; the target
//! encodes it. The trusted certificate is made at start, so a fuzzed response is never validly
//! signed: what is fuzzed is everything up to and including the signature check, which must
//! refuse, never panic, and never accept.
#![no_main]

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use idbridge::upstream::SamlConnector;
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)] // the integration tests use more of the test IdP than this target does
#[path = "../../tests/it/saml_idp.rs"]
mod saml_idp;

const ISSUER: &str = "https://id.example.com";

fn connector() -> &'static SamlConnector {
    static CONNECTOR: OnceLock<SamlConnector> = OnceLock::new();
    CONNECTOR.get_or_init(|| saml_idp::IdpKey::generate().connector(ISSUER))
}

// Made before the first input, so that the key's generation does not count against its timeout.
fuzz_target!(init: { connector(); }, |data: &[u8]| {
    let response = STANDARD.encode(data);
    let now = chrono::Utc::now().timestamp();
    let verified = connector().verify(&response, None, now);
    assert!(
        verified.is_err(),
        "a response no key of the IdP signed was accepted"
    );
});
