//! The Response idbridge posts to a service provider's ACS (SAML core 3.3.3, profiles 4.1.4.2):
//! the assertion about the person, signed (and the Response, as the SP wants) with the key
//! ring's key and libxmlsec1, exclusive canonicalization and SHA-256; or a Response that only
//! carries an error status.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use samael::crypto::{Crypto, CryptoProvider};

use super::SamlIdpError;
use crate::config::{Alg, ServiceProviderDecl};
use crate::keys::LoadedKey;
use crate::upstream::saml::xml::escape;
use crate::upstream::saml::{STATUS_SUCCESS, instant, scan};

/// How long a response and its assertion may be presented: long enough for the browser's post.
const ASSERTION_TTL: i64 = 300;
/// How far behind idbridge an SP's clock may be: the assertion is valid from this long before
/// it was made.
const CLOCK_SKEW: i64 = 60;
pub(super) const RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
pub(super) const REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
pub(super) const NO_PASSIVE: &str = "urn:oasis:names:tc:SAML:2.0:status:NoPassive";
pub(super) const INVALID_NAME_ID_POLICY: &str =
    "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy";
pub(super) const REQUEST_DENIED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const UNSPECIFIED_CONTEXT: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified";

/// Where a response goes and what it answers.
pub(super) struct Addressed<'a> {
    /// idbridge's IdP entity ID.
    pub idp: String,
    pub sp: &'a ServiceProviderDecl,
    pub acs_url: &'a str,
    /// The AuthnRequest's ID; `None` for an IdP-initiated login.
    pub in_response_to: Option<&'a str>,
    pub now: i64,
}

/// What an assertion says of the person.
pub(super) struct Statement<'a> {
    pub name_id: &'a str,
    /// The idbridge session (its public `sid`), which a logout names.
    pub session_index: &'a str,
    pub auth_instant: i64,
    /// Each released attribute's values.
    pub attributes: Vec<(&'a str, &'a str, Vec<String>)>,
}

/// The Response carrying an assertion of `statement`, signed as the SP wants (the assertion,
/// the Response or both).
pub(super) fn success(
    to: &Addressed,
    statement: &Statement,
    key: &LoadedKey,
) -> Result<String, SamlIdpError> {
    let assertion_id = new_id();
    let assertion = assertion(
        to,
        statement,
        &assertion_id,
        to.sp.sign_assertion.then_some(key),
    );
    let assertion = if to.sp.sign_assertion {
        sign(&assertion, key)?
    } else {
        assertion
    };
    let assertion = match &to.sp.encryption_certificate {
        Some(certificate) if to.sp.encrypt_assertions => encrypted(&assertion, certificate)?,
        _ => assertion,
    };
    let response = response(
        to,
        STATUS_SUCCESS,
        None,
        &assertion,
        to.sp.sign_response.then_some(key),
    );
    if to.sp.sign_response {
        sign(&response, key)
    } else {
        Ok(response)
    }
}

/// A signed Response with the status `code` (under the top-level `top`), and no assertion.
pub(super) fn failure(
    to: &Addressed,
    top: &str,
    code: &str,
    key: &LoadedKey,
) -> Result<String, SamlIdpError> {
    let response = response(to, top, Some(code), "", Some(key));
    sign(&response, key)
}

fn response(
    to: &Addressed,
    top: &str,
    second: Option<&str>,
    assertion: &str,
    signed_by: Option<&LoadedKey>,
) -> String {
    let id = new_id();
    let in_response_to = in_response_to(to);
    let signature = signed_by
        .map(|key| signature_template(&id, key))
        .unwrap_or_default();
    let status = match second {
        Some(second) => format!(
            r#"<samlp:StatusCode Value="{}"><samlp:StatusCode Value="{}"/></samlp:StatusCode>"#,
            escape(top),
            escape(second)
        ),
        None => format!(r#"<samlp:StatusCode Value="{}"/>"#, escape(top)),
    };
    format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}" Destination="{acs}"{in_response_to}><saml:Issuer>{idp}</saml:Issuer>{signature}<samlp:Status>{status}</samlp:Status>{assertion}</samlp:Response>"#,
        now = instant(to.now),
        acs = escape(to.acs_url),
        idp = escape(&to.idp),
    )
}

fn assertion(
    to: &Addressed,
    statement: &Statement,
    id: &str,
    signed_by: Option<&LoadedKey>,
) -> String {
    let signature = signed_by
        .map(|key| signature_template(id, key))
        .unwrap_or_default();
    let until = instant(to.now + ASSERTION_TTL);
    let attributes: String = statement
        .attributes
        .iter()
        .filter(|(_, _, values)| !values.is_empty())
        .map(|(name, format, values)| {
            let values: String = values
                .iter()
                .map(|value| {
                    // Untyped: an `xsi:type="xs:string"` would name a prefix that exclusive
                    // canonicalization leaves out of what is signed.
                    format!("<saml:AttributeValue>{}</saml:AttributeValue>", text(value))
                })
                .collect();
            format!(
                r#"<saml:Attribute Name="{}" NameFormat="{}">{values}</saml:Attribute>"#,
                escape(name),
                escape(format)
            )
        })
        .collect();
    let attributes = if attributes.is_empty() {
        attributes
    } else {
        format!("<saml:AttributeStatement>{attributes}</saml:AttributeStatement>")
    };
    format!(
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}"><saml:Issuer>{idp}</saml:Issuer>{signature}<saml:Subject><saml:NameID Format="{format}">{name_id}</saml:NameID><saml:SubjectConfirmation Method="{BEARER}"><saml:SubjectConfirmationData{in_response_to} NotOnOrAfter="{until}" Recipient="{acs}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{not_before}" NotOnOrAfter="{until}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{auth}" SessionIndex="{session}"><saml:AuthnContext><saml:AuthnContextClassRef>{UNSPECIFIED_CONTEXT}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>{attributes}</saml:Assertion>"#,
        now = instant(to.now),
        not_before = instant(to.now - CLOCK_SKEW),
        idp = escape(&to.idp),
        format = to.sp.name_id_format.uri(),
        name_id = text(statement.name_id),
        in_response_to = in_response_to(to),
        acs = escape(to.acs_url),
        audience = escape(&to.sp.entity_id),
        auth = instant(statement.auth_instant),
        session = escape(statement.session_index),
    )
}

/// A person's value as element text: escaped, without the characters XML does not allow (an
/// upstream claim may hold them; libxml2 would drop or cut at them after it was built).
fn text(value: &str) -> String {
    let allowed: String = value.chars().filter(|c| scan::is_xml_char(*c)).collect();
    escape(&allowed)
}

fn in_response_to(to: &Addressed) -> String {
    to.in_response_to
        .map(|id| format!(r#" InResponseTo="{}""#, escape(id)))
        .unwrap_or_default()
}

/// The `ds:Signature` that libxmlsec1 fills in for the element `id`: enveloped, exclusive
/// canonicalization, SHA-256, with the key's certificate.
fn signature_template(id: &str, key: &LoadedKey) -> String {
    let method = match key.alg {
        Alg::ES256 => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
        _ => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    };
    let certificate = key
        .xml_signing
        .as_ref()
        .map(|xml| STANDARD.encode(&xml.certificate))
        .unwrap_or_default();
    format!(
        r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{method}"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"##
    )
}

/// `xml` with its first signature template filled in, without the XML declaration libxml2 adds
/// (the result is spliced into a larger document, or posted as it is).
fn sign(xml: &str, key: &LoadedKey) -> Result<String, SamlIdpError> {
    let der = key
        .xml_signing
        .as_ref()
        .map(|xml| xml.key_der())
        .ok_or(SamlIdpError::Signing(
            "the key has no certificate yet".into(),
        ))?;
    let signed = Crypto::sign_xml(xml, der).map_err(|e| SamlIdpError::Signing(e.to_string()))?;
    let body = match signed.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(rest, |(_, body)| body),
        None => &signed,
    };
    Ok(body.trim().to_string())
}

/// The signed assertion encrypted to the SP's certificate (AES-256-GCM, RSA-OAEP).
fn encrypted(assertion: &str, certificate: &[u8]) -> Result<String, SamlIdpError> {
    let recipient = openssl::x509::X509::from_der(certificate)
        .and_then(|cert| cert.public_key())
        .map_err(|e| SamlIdpError::Signing(format!("the SP's encryption certificate: {e}")))?;
    let data = crate::xmlenc::encrypt(
        assertion.as_bytes(),
        &recipient,
        crate::xmlenc::DataMethod::Aes256Gcm,
    )
    .map_err(|e| SamlIdpError::Signing(e.to_string()))?;
    Ok(format!(
        r#"<saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">{data}</saml:EncryptedAssertion>"#
    ))
}

/// A new message or assertion ID: an `xs:ID`, so not starting with a digit.
fn new_id() -> String {
    format!("_{}", crate::crypto::random_token())
}
