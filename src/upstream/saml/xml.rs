//! The XML idbridge writes for a SAML IdP (our SP metadata, logout messages) and the little it
//! reads itself (the root element of verified content, the fields of a verified logout message);
//! the strict reading of every message, first, is [`super::scan`].
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

use super::POST_BINDING;

const REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
use crate::config::SpSigning;

/// What our metadata offers an IdP that encrypts assertions, preferred first: authenticated
/// AES-GCM, AES-CBC for IdPs without it, and RSA-OAEP for the content key.
const ENCRYPTION_METHODS: &[&str] = &[
    "http://www.w3.org/2009/xmlenc11#aes256-gcm",
    "http://www.w3.org/2009/xmlenc11#aes128-gcm",
    "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
    "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
    "http://www.w3.org/2009/xmlenc11#rsa-oaep",
    "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
];

/// SP metadata an IdP administrator can import: where its responses go, where its logout
/// requests go (`slo_url`, HTTP-Redirect and HTTP-POST) and its answers to ours (`logged_out_url`),
/// the certificate we sign with and those to encrypt assertions to (the current one first, and
/// during a rollover the previous one, which still decrypts).
pub(super) fn sp_metadata(
    entity_id: &str,
    acs_url: &str,
    slo_url: &str,
    logged_out_url: &str,
    signing: Option<&SpSigning>,
    encryption: &[SpSigning],
) -> String {
    let key_descriptor = |usage: &str, pair: &SpSigning, methods: &str| {
        format!(
            r#"
    <md:KeyDescriptor use="{usage}"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>{methods}</md:KeyDescriptor>"#,
            STANDARD.encode(&pair.certificate)
        )
    };
    let signed = signing.is_some();
    let mut key: String = signing
        .map(|pair| key_descriptor("signing", pair, ""))
        .unwrap_or_default();
    let methods: String = ENCRYPTION_METHODS
        .iter()
        .map(|method| format!(r#"<md:EncryptionMethod Algorithm="{method}"/>"#))
        .collect();
    for pair in encryption {
        key.push_str(&key_descriptor("encryption", pair, &methods));
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}">
  <md:SPSSODescriptor AuthnRequestsSigned="{signed}" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{key}
    <md:SingleLogoutService Binding="{REDIRECT_BINDING}" Location="{slo}" ResponseLocation="{logged_out}"/>
    <md:SingleLogoutService Binding="{POST_BINDING}" Location="{slo}" ResponseLocation="{logged_out}"/>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>
    <md:AssertionConsumerService Binding="{POST_BINDING}" Location="{acs}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#,
        entity = escape(entity_id),
        acs = escape(acs_url),
        slo = escape(slo_url),
        logged_out = escape(logged_out_url),
    )
}

const PROTOCOL_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion";

/// A LogoutRequest (SAML core 3.7.1) from `issuer` to `destination` for the session
/// `session_index` of the person `name_id` (of `name_id_format`, as the login named them).
pub(crate) struct LogoutRequest<'a> {
    pub id: &'a str,
    pub issue_instant: &'a str,
    pub destination: &'a str,
    pub issuer: &'a str,
    pub name_id: &'a str,
    pub name_id_format: Option<&'a str>,
    pub session_index: Option<&'a str>,
}

impl LogoutRequest<'_> {
    pub(crate) fn to_xml(&self) -> String {
        let format = self
            .name_id_format
            .map(|format| format!(r#" Format="{}""#, escape(format)))
            .unwrap_or_default();
        let session_index = self
            .session_index
            .map(|index| format!("<samlp:SessionIndex>{}</samlp:SessionIndex>", escape(index)))
            .unwrap_or_default();
        format!(
            r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{instant}" Destination="{destination}"><saml:Issuer>{issuer}</saml:Issuer><saml:NameID{format}>{name_id}</saml:NameID>{session_index}</samlp:LogoutRequest>"#,
            id = escape(self.id),
            instant = escape(self.issue_instant),
            destination = escape(self.destination),
            issuer = escape(self.issuer),
            name_id = escape(self.name_id),
        )
    }
}

/// A LogoutResponse (SAML core 3.7.2) from `issuer` to `destination`, answering `in_response_to`
/// with the status `status`.
pub(crate) struct LogoutResponse<'a> {
    pub id: &'a str,
    pub issue_instant: &'a str,
    pub destination: &'a str,
    pub in_response_to: &'a str,
    pub issuer: &'a str,
    pub status: &'a str,
}

impl LogoutResponse<'_> {
    pub(crate) fn to_xml(&self) -> String {
        format!(
            r#"<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{instant}" Destination="{destination}" InResponseTo="{in_response_to}"><saml:Issuer>{issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status></samlp:LogoutResponse>"#,
            id = escape(self.id),
            instant = escape(self.issue_instant),
            destination = escape(self.destination),
            in_response_to = escape(self.in_response_to),
            issuer = escape(self.issuer),
            status = escape(self.status),
        )
    }
}

/// What idbridge reads of a logout message (request or response) once its signature has been
/// verified; each part as the message has it, if it has it.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct LogoutFields {
    pub id: Option<String>,
    pub issue_instant: Option<String>,
    pub not_on_or_after: Option<String>,
    pub destination: Option<String>,
    pub in_response_to: Option<String>,
    pub issuer: Option<String>,
    pub name_id: Option<String>,
    pub session_indexes: Vec<String>,
    /// The top-level StatusCode's value.
    pub status: Option<String>,
}

/// The fields of a logout message `xml`, which [`super::scan`] has read strictly before.
pub(crate) fn logout_fields(xml: &str) -> Result<LogoutFields, &'static str> {
    let malformed = "the logout message cannot be read";
    let mut reader = quick_xml::NsReader::from_str(xml);
    let mut fields = LogoutFields::default();
    // How many elements the reading is inside of.
    let mut depth = 0usize;
    loop {
        let (namespace, event) = reader.read_resolved_event().map_err(|_| malformed)?;
        let ns = match namespace {
            ResolveResult::Bound(ns) => Some(ns.as_ref().to_vec()),
            _ => None,
        };
        let (element, empty) = match event {
            Event::Start(element) => (element, false),
            Event::Empty(element) => (element, true),
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let local = element.local_name().as_ref().to_vec();
        let is = |wanted_ns: &[u8], name: &[u8]| ns.as_deref() == Some(wanted_ns) && local == name;
        if depth == 0 {
            fields.id = attribute(&element, b"ID");
            fields.issue_instant = attribute(&element, b"IssueInstant");
            fields.not_on_or_after = attribute(&element, b"NotOnOrAfter");
            fields.destination = attribute(&element, b"Destination");
            fields.in_response_to = attribute(&element, b"InResponseTo");
        } else if depth == 2 && is(PROTOCOL_NS, b"StatusCode") && fields.status.is_none() {
            fields.status = attribute(&element, b"Value");
        }
        let text_field = match depth {
            1 if is(ASSERTION_NS, b"Issuer") => Some(&mut fields.issuer),
            1 if is(ASSERTION_NS, b"NameID") => Some(&mut fields.name_id),
            _ => None,
        };
        let session_index = depth == 1 && is(PROTOCOL_NS, b"SessionIndex");
        if empty {
            continue;
        }
        if text_field.is_none() && !session_index {
            depth += 1;
            continue;
        }
        // The element's text, read up to its end.
        let raw = reader.read_text(element.name()).map_err(|_| malformed)?;
        let raw = raw.decode().map_err(|_| malformed)?;
        let text = quick_xml::escape::unescape(&raw)
            .map_err(|_| malformed)?
            .trim()
            .to_string();
        if text.is_empty() {
            continue;
        }
        match text_field {
            Some(field) => *field = Some(text),
            None => fields.session_indexes.push(text),
        }
    }
    Ok(fields)
}

/// The Format of the Subject's NameID in verified content `xml` (samael's schema does not read
/// it), if it has one.
pub(super) fn subject_name_id_format(xml: &str) -> Option<String> {
    let mut reader = quick_xml::NsReader::from_str(xml);
    let mut parents: Vec<Vec<u8>> = Vec::new();
    loop {
        let (namespace, event) = reader.read_resolved_event().ok()?;
        let in_assertion_ns =
            matches!(namespace, ResolveResult::Bound(ns) if ns.as_ref() == ASSERTION_NS);
        match event {
            Event::Start(element) | Event::Empty(element)
                if in_assertion_ns
                    && element.local_name().as_ref() == b"NameID"
                    && parents.last().is_some_and(|parent| parent == b"Subject") =>
            {
                return attribute(&element, b"Format").filter(|format| !format.is_empty());
            }
            Event::Start(element) => parents.push(element.local_name().as_ref().to_vec()),
            Event::End(_) => {
                parents.pop();
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// The value of the unprefixed attribute `name`, trimmed.
fn attribute(element: &quick_xml::events::BytesStart, name: &[u8]) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .and_then(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok())
        .map(|v| v.trim().to_string())
}

/// The local name of the document's root element.
pub(super) fn root_element(xml: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event().ok()? {
            Event::Start(element) | Event::Empty(element) => {
                return Some(String::from_utf8_lossy(element.local_name().as_ref()).into_owned());
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

pub(crate) fn escape(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
