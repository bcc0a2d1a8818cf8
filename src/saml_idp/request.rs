//! A service provider's AuthnRequest (SAML core 3.4.1), over HTTP-Redirect or HTTP-POST: read
//! strictly (the same first reading as every SAML message idbridge takes), its SP found by its
//! Issuer, its signature verified with that SP's certificates (required when the SP must sign),
//! and every field a response depends on checked. Nothing is stored here; the caller spends the
//! request's ID once it is accepted.
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use samael::metadata::HTTP_POST_BINDING;

use super::SamlIdpError;
use crate::config::{AcsUrl, ServiceProviderDecl};
use crate::directory::Directory;
use crate::upstream::saml::{certificates, public_keys, redirect, scan, signed_part};

/// The largest AuthnRequest read, inflated or base64.
pub(super) const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// The longest RelayState returned. SAML bindings 3.4.3 asks senders for 80 bytes at most; SPs
/// that carry a return URL in it send more.
pub(super) const MAX_RELAY_STATE: usize = 1024;
/// How far a request's IssueInstant may be from now, in seconds.
const MAX_REQUEST_AGE: i64 = 600;
const CLOCK_SKEW: i64 = 120;
const PROTOCOL_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion";
const DSIG_NS: &[u8] = b"http://www.w3.org/2000/09/xmldsig#";
const UNSPECIFIED_NAME_ID: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";

/// How a request came.
pub(super) enum Binding<'a> {
    /// The raw query string of a GET.
    Redirect(&'a str),
    /// The `SAMLRequest` and `RelayState` fields of a POST.
    Post {
        saml_request: &'a str,
        relay_state: Option<String>,
    },
}

/// An accepted AuthnRequest: its SP, where the answer goes, and what it asks.
#[derive(Debug)]
pub(super) struct Accepted {
    pub sp: Arc<ServiceProviderDecl>,
    pub id: String,
    pub acs_url: String,
    pub relay_state: Option<String>,
    pub force_authn: bool,
    pub is_passive: bool,
    /// A NameID format the SP asked for that is not its own: it is answered with
    /// `InvalidNameIDPolicy`.
    pub unmet_name_id_format: bool,
    /// Until when its ID is remembered as spent.
    pub expires_at: i64,
}

/// The fields of an AuthnRequest idbridge reads.
#[derive(Debug, Default)]
struct Fields {
    id: String,
    version: String,
    issue_instant: Option<String>,
    destination: Option<String>,
    issuer: Option<String>,
    acs_url: Option<String>,
    acs_index: Option<String>,
    protocol_binding: Option<String>,
    force_authn: bool,
    is_passive: bool,
    name_id_format: Option<String>,
    /// It carries an XML signature.
    signed: bool,
}

/// Reads and checks an AuthnRequest sent to `sso_url`, from a service provider of `directory`.
pub(super) fn accept(
    binding: Binding,
    directory: &Directory,
    sso_url: &str,
    now: i64,
) -> Result<Accepted, SamlIdpError> {
    let unreadable = SamlIdpError::Unreadable;
    let (fields, relay_state, sp, signed) = match binding {
        Binding::Redirect(raw_query) => {
            // The SP, and so the keys to check the signature with, is named inside the message.
            let unchecked =
                redirect::received(raw_query, "SAMLRequest", &[], false, MAX_REQUEST_BYTES)
                    .map_err(unreadable)?;
            let outline =
                scan::scan(&unchecked.xml, scan::Message::AuthnRequest).map_err(unreadable)?;
            let sp = by_issuer(directory, &read_fields(outline.xml)?)?;
            let keys = public_keys(&sp.signing_certificates);
            let received = redirect::received(
                raw_query,
                "SAMLRequest",
                &keys,
                sp.requests_signed,
                MAX_REQUEST_BYTES,
            )
            .map_err(SamlIdpError::Signature)?;
            let outline =
                scan::scan(&received.xml, scan::Message::AuthnRequest).map_err(unreadable)?;
            let fields = read_fields(outline.xml)?;
            (fields, received.relay_state, sp, received.signed)
        }
        Binding::Post {
            saml_request,
            relay_state,
        } => {
            if saml_request.len() > MAX_REQUEST_BYTES {
                return Err(unreadable("the request is larger than allowed"));
            }
            let compact: String = saml_request
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            let bytes = STANDARD
                .decode(compact)
                .map_err(|_| unreadable("SAMLRequest is not base64"))?;
            let outline = scan::scan(&bytes, scan::Message::AuthnRequest).map_err(unreadable)?;
            let fields = read_fields(outline.xml)?;
            let sp = by_issuer(directory, &fields)?;
            let signed = fields.signed && !sp.signing_certificates.is_empty();
            let fields = if signed {
                let certificates = certificates(&sp.signing_certificates);
                let signed = signed_part(outline.xml, &certificates).map_err(|_| {
                    SamlIdpError::Signature("no valid signature by the SP's certificate")
                })?;
                // Only what the signature covers is read.
                read_fields(&signed)?
            } else if sp.requests_signed {
                return Err(SamlIdpError::Signature("the request is not signed"));
            } else {
                fields
            };
            (fields, relay_state.filter(|r| !r.is_empty()), sp, signed)
        }
    };
    // What was verified must be the request of the SP whose keys verified it.
    if signed && fields.issuer.as_deref() != Some(sp.entity_id.as_str()) {
        return Err(SamlIdpError::Signature(
            "the signed request names another Issuer",
        ));
    }
    // SAML bindings 3.4.5.2 and 3.5.5.2: a signed message names where it was sent.
    if signed && fields.destination.is_none() {
        return Err(unreadable("a signed request must name its Destination"));
    }
    check(fields, relay_state, sp, sso_url, now)
}

/// The SP whose entity ID the request's Issuer names.
fn by_issuer(
    directory: &Directory,
    fields: &Fields,
) -> Result<Arc<ServiceProviderDecl>, SamlIdpError> {
    let issuer = fields
        .issuer
        .as_deref()
        .ok_or(SamlIdpError::Unreadable("the request names no Issuer"))?;
    super::in_force(directory.service_provider_of(issuer))
}

fn check(
    fields: Fields,
    relay_state: Option<String>,
    sp: Arc<ServiceProviderDecl>,
    sso_url: &str,
    now: i64,
) -> Result<Accepted, SamlIdpError> {
    let unreadable = SamlIdpError::Unreadable;
    if fields.version != "2.0" {
        return Err(unreadable("the request is not SAML 2.0"));
    }
    if !is_xml_id(&fields.id) {
        return Err(unreadable("the request's ID is not an xs:ID"));
    }
    if fields.destination.as_deref().is_some_and(|d| d != sso_url) {
        return Err(unreadable("the request's Destination is not this IdP"));
    }
    let issued = fields
        .issue_instant
        .as_deref()
        .and_then(|instant| chrono::DateTime::parse_from_rfc3339(instant).ok())
        .ok_or(unreadable("the request has no readable IssueInstant"))?
        .timestamp();
    if issued > now + CLOCK_SKEW || issued < now - MAX_REQUEST_AGE - CLOCK_SKEW {
        return Err(SamlIdpError::Stale);
    }
    if relay_state
        .as_ref()
        .is_some_and(|r| r.len() > MAX_RELAY_STATE)
    {
        return Err(unreadable("the RelayState is longer than allowed"));
    }
    if fields
        .protocol_binding
        .as_deref()
        .is_some_and(|binding| binding != HTTP_POST_BINDING)
    {
        return Err(unreadable(
            "only the HTTP-POST binding is offered for responses",
        ));
    }
    let acs_url = match (&fields.acs_url, &fields.acs_index) {
        (Some(_), Some(_)) => {
            return Err(unreadable(
                "the request gives both AssertionConsumerServiceURL and its index",
            ));
        }
        (Some(url), None) => sp.acs_urls.iter().find(|acs| acs.url == *url),
        (None, Some(index)) => index
            .parse::<usize>()
            .ok()
            .and_then(|index| sp.acs_urls.iter().find(|acs| acs.index == index)),
        (None, None) => sp.acs_urls.first(),
    }
    .map(|acs: &AcsUrl| acs.url.clone())
    .ok_or(SamlIdpError::UnregisteredAcs)?;
    let unmet_name_id_format = fields
        .name_id_format
        .as_deref()
        .is_some_and(|format| format != UNSPECIFIED_NAME_ID && format != sp.name_id_format.uri());
    Ok(Accepted {
        id: fields.id,
        acs_url,
        relay_state,
        force_authn: fields.force_authn,
        is_passive: fields.is_passive,
        unmet_name_id_format,
        expires_at: now + MAX_REQUEST_AGE + 2 * CLOCK_SKEW,
        sp,
    })
}

/// Whether `id` is an `xs:ID` (an NCName) of a sane length.
fn is_xml_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && id.len() <= 256
}

/// The fields of an AuthnRequest that the strict reading has accepted: so its root is an
/// `AuthnRequest` and its Issuer holds only text and the predefined references.
fn read_fields(xml: &str) -> Result<Fields, SamlIdpError> {
    let malformed = || SamlIdpError::Unreadable("the request is not well-formed XML");
    let mut reader = quick_xml::NsReader::from_str(xml);
    let mut fields = Fields::default();
    let mut depth = 0usize;
    let mut in_issuer = false;
    loop {
        let (namespace, event) = reader.read_resolved_event().map_err(|_| malformed())?;
        let is = |ns: &[u8], name: &[u8], element: &quick_xml::events::BytesStart| {
            matches!(namespace, ResolveResult::Bound(bound) if bound.as_ref() == ns)
                && element.local_name().as_ref() == name
        };
        match event {
            Event::Start(ref element) | Event::Empty(ref element) => {
                let empty = matches!(event, Event::Empty(_));
                if depth == 0 {
                    let attribute = |name: &[u8]| scan::attribute(element, name);
                    fields.id = attribute(b"ID").unwrap_or_default();
                    fields.version = attribute(b"Version").unwrap_or_default();
                    fields.issue_instant = attribute(b"IssueInstant");
                    fields.destination = attribute(b"Destination");
                    fields.acs_url = attribute(b"AssertionConsumerServiceURL");
                    fields.acs_index = attribute(b"AssertionConsumerServiceIndex");
                    fields.protocol_binding = attribute(b"ProtocolBinding");
                    fields.force_authn = is_true(attribute(b"ForceAuthn"));
                    fields.is_passive = is_true(attribute(b"IsPassive"));
                } else if depth == 1 {
                    if is(ASSERTION_NS, b"Issuer", element) {
                        in_issuer = !empty;
                        fields.issuer.get_or_insert_default();
                    } else if is(PROTOCOL_NS, b"NameIDPolicy", element) {
                        fields.name_id_format = scan::attribute(element, b"Format");
                    } else if is(DSIG_NS, b"Signature", element) {
                        fields.signed = true;
                    }
                }
                if !empty {
                    depth += 1;
                }
            }
            Event::Text(text) if in_issuer => {
                let text = text.decode().map_err(|_| malformed())?;
                if let Some(issuer) = fields.issuer.as_mut() {
                    issuer.push_str(text.trim());
                }
            }
            // The strict reading let through only the predefined entities and character
            // references; an entity ID with a query string has `&amp;`.
            Event::GeneralRef(reference) if in_issuer => {
                let name = reference.decode().map_err(|_| malformed())?;
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => quick_xml::escape::resolve_predefined_entity(&name)
                        .ok_or(SamlIdpError::Unreadable(
                            "the Issuer has an entity reference",
                        ))?
                        .to_string(),
                };
                if let Some(issuer) = fields.issuer.as_mut() {
                    issuer.push_str(&resolved);
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                in_issuer = false;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(fields)
}

fn is_true(value: Option<String>) -> bool {
    matches!(value.as_deref(), Some("true" | "1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fields_of_a_request_are_read_and_ids_checked() {
        let xml = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0" IssueInstant="2026-12-04T10:00:00Z" ForceAuthn="true" AssertionConsumerServiceURL="https://sp.test/acs"><saml:Issuer> https://sp.test/metadata?a=1&amp;b=&#50; </saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"/></samlp:AuthnRequest>"#;
        let fields = read_fields(xml).unwrap();
        assert_eq!(fields.id, "_a1");
        assert_eq!(
            fields.issuer.as_deref(),
            Some("https://sp.test/metadata?a=1&b=2")
        );
        assert_eq!(fields.acs_url.as_deref(), Some("https://sp.test/acs"));
        assert!(fields.force_authn && !fields.is_passive && !fields.signed);
        assert_eq!(
            fields.name_id_format.as_deref(),
            Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")
        );
        assert!(is_xml_id("_a-1.b") && is_xml_id("id1"));
        for bad in ["", "1abc", "a b", "a<b", &"a".repeat(257)] {
            assert!(!is_xml_id(bad), "{bad}");
        }
    }
}
