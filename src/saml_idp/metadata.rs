//! `GET /saml/idp/metadata`: what a service provider's administrator imports. The signing
//! certificates are those of every SAML key of the ring not retired, the one signing now first:
//! during a rollover the successor is listed `keys.saml_publish_before` (30 days) before it
//! signs. The metadata asks to be read again every half hour (`cacheDuration`), which also
//! brings an SP changes of the IdP's endpoints soon.
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use samael::metadata::{HTTP_POST_BINDING, HTTP_REDIRECT_BINDING};

use crate::config::{Alg, NameIdFormat};
use crate::http::PageError;
use crate::state::AppState;
use crate::upstream::saml::xml::escape;

pub(super) async fn serve(State(state): State<AppState>) -> Result<Response, PageError> {
    let config = state.config();
    // The keys of an algorithm are made once something signs with it: until a service
    // provider is declared there is no certificate to give.
    if config.service_providers.is_empty() {
        return Err(PageError::NotFound);
    }
    let mut algs: Vec<Alg> = Vec::new();
    for sp in &config.service_providers {
        if !algs.contains(&sp.signature_alg) {
            algs.push(sp.signature_alg);
        }
    }
    let now = state.clock.now();
    let mut keys = String::new();
    for alg in algs {
        let certificates = state
            .keys
            .certificates(alg, now)
            .await
            .map_err(|e| PageError::Internal(format!("the signing certificates: {e}")))?;
        for certificate in certificates {
            keys.push_str(&format!(
                r#"
    <md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
                STANDARD.encode(certificate)
            ));
        }
    }
    let formats: String = NameIdFormat::ALL
        .iter()
        .map(|format| format!("\n    <md:NameIDFormat>{}</md:NameIDFormat>", format.uri()))
        .collect();
    let body = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}" cacheDuration="PT30M">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}{formats}
    <md:SingleLogoutService Binding="{HTTP_REDIRECT_BINDING}" Location="{slo}"/>
    <md:SingleSignOnService Binding="{HTTP_REDIRECT_BINDING}" Location="{sso}"/>
    <md:SingleSignOnService Binding="{HTTP_POST_BINDING}" Location="{sso}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"#,
        entity = escape(&super::idp_entity_id(&state)),
        sso = escape(&super::sso_url(&state)),
        slo = escape(&format!("{}/saml/idp/slo", state.server().issuer)),
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/samlmetadata+xml"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response())
}
