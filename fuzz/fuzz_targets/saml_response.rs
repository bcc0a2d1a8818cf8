//! The SAML ACS input: a response as the IdP's form posts it (base64 of XML), through the whole
//! check the ACS makes (`SamlConnector::verify`: strict reading — size, no DOCTYPE, one assertion —
//! the XML signature with libxmlsec1, and every condition). The IdP's key and certificate are made
//! at start (the test IdP of `tests/it/saml_idp.rs`); the target encodes the XML. Two kinds of
//! input:
//!
//! - XML as sent: it is never validly signed, so it must be refused (reading and signature);
//! - `!` then XML with a signature template, which the target signs with the IdP's key (libxmlsec1
//!   fills the first template in the document) before it is checked (`{cert}`, `{now}`, `{until}` in it become the IdP's certificate, the time and ten
//!   minutes later), so that the checks after the signature are reached: a response taken names
//!   the IdP, is for this service provider, and can be presented only until a later time.
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

fn idp() -> &'static (saml_idp::IdpKey, SamlConnector) {
    static IDP: OnceLock<(saml_idp::IdpKey, SamlConnector)> = OnceLock::new();
    IDP.get_or_init(|| {
        let key = saml_idp::IdpKey::generate();
        let connector = key.connector(ISSUER);
        (key, connector)
    })
}

fn rfc3339(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Whether `text` is the whole text of some element of `xml`, give or take white space.
fn is_element_text(xml: &str, text: &str) -> bool {
    xml.match_indices(text).any(|(at, _)| {
        xml[..at].trim_end().ends_with('>') && xml[at + text.len()..].trim_start().starts_with('<')
    })
}

fn run(data: &[u8]) {
    let (key, connector) = idp();
    let now = chrono::Utc::now().timestamp();
    let Some(template) = data.strip_prefix(b"!") else {
        let verified = connector.verify(&STANDARD.encode(data), None, now);
        assert!(
            verified.is_err(),
            "a response no key of the IdP signed was accepted"
        );
        return;
    };
    let Ok(template) = std::str::from_utf8(template) else {
        return;
    };
    // The verifier refuses these transforms before it runs them; the signer would run them.
    let lower = template.to_ascii_lowercase();
    if ["xpath", "xslt", "xpointer"]
        .iter()
        .any(|t| lower.contains(t))
    {
        return;
    }
    let xml = template
        .replace("{cert}", &key.cert_b64)
        .replace("{now}", &rfc3339(now))
        .replace("{until}", &rfc3339(now + 600));
    let Some(signed) = key.try_sign(&xml) else {
        return;
    };
    if let Ok(identity) = connector.verify(&STANDARD.encode(&signed), None, now) {
        assert!(
            identity.expires_at > now,
            "taken but already expired: {signed}"
        );
        // Names written with character references or in CDATA sections are not looked for.
        if signed.contains("&#") || signed.contains("CDATA") {
            return;
        }
        assert!(
            is_element_text(&signed, saml_idp::IDP_ENTITY),
            "taken without the IdP's name as an Issuer: {signed}"
        );
        assert!(
            is_element_text(&signed, &format!("{ISSUER}/saml/acme")),
            "taken without this service provider as its Audience: {signed}"
        );
    }
}

// The key made before the first input, so that its generation does not count against its timeout.
fuzz_target!(init: { idp(); }, |data: &[u8]| run(data));
