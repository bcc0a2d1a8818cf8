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
use idbridge::config::{
    ConnectionDecl, ConnectionProtocol, IdpDescriptor, IdpSource, SamlConnectionDecl,
};
use idbridge::upstream::SamlConnector;
use libfuzzer_sys::fuzz_target;

#[allow(dead_code)] // the integration tests use more of the test IdP than this target does
#[path = "../../tests/it/saml_idp.rs"]
mod saml_idp;

const ISSUER: &str = "https://id.example.com";

fn connector() -> &'static SamlConnector {
    static CONNECTOR: OnceLock<SamlConnector> = OnceLock::new();
    CONNECTOR.get_or_init(|| {
        let idp = saml_idp::IdpKey::generate();
        let settings = SamlConnectionDecl {
            idp: IdpSource::Declared(IdpDescriptor {
                entity_id: saml_idp::IDP_ENTITY.into(),
                sso_url: "https://idp.acme.test/sso".into(),
                slo: None,
                certificates: vec![STANDARD.decode(&idp.cert_b64).unwrap()],
            }),
            sp_entity_id: format!("{ISSUER}/saml/acme"),
            allow_idp_initiated: true,
            email_attribute: None,
            name_attribute: Some("displayName".into()),
            profile_attributes: Default::default(),
            clock_skew: 120,
            max_response_bytes: 256 * 1024,
            sp_signing: None,
        };
        let connection = ConnectionDecl {
            id: "acme".into(),
            name: "Acme".into(),
            entity: Some("e-mer-1".into()),
            entity_rules: Vec::new(),
            domains: vec!["acme.test".into()],
            protocol: ConnectionProtocol::Saml(settings.clone()),
        };
        SamlConnector::new(connection, settings, ISSUER)
    })
}

fuzz_target!(|data: &[u8]| {
    let response = STANDARD.encode(data);
    let now = chrono::Utc::now().timestamp();
    let verified = connector().verify(&response, None, now);
    assert!(
        verified.is_err(),
        "a response no key of the IdP signed was accepted"
    );
});
