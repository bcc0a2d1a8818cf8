//! The strict first reading of a SAML response, made before libxml2 and libxmlsec1 see it.
//!
//! Two reasons for it. libxml2 (which samael runs in recovery mode, obeying the document's own
//! encoding declaration, with no option of ours) is lenient, so anything the two readers could
//! read differently is refused: another encoding than UTF-8, a DOCTYPE (and so any entity), a
//! comment (exclusive canonicalization leaves it out of the signature, so text could be split
//! without breaking it), a processing instruction, malformed XML, text outside the root. And
//! libxmlsec1 runs a Reference's transforms (XPath, XSLT…) before it checks the SignatureValue,
//! so a signature with a costly transform costs minutes of CPU without any key: a signature must
//! have the one shape SAML uses, checked in [`check_signature`], before any signature work.
//!
//! A Response's one assertion may be encrypted (`saml:EncryptedAssertion`): its XML Encryption
//! elements are read here under the same rules (no signature among them), and their meaning by
//! [`crate::xmlenc`] alone (libxmlsec1 never decrypts); the assertion it decrypts to is then read
//! here in its turn, in the Response, before anything else sees it.
use std::ops::Range;

use quick_xml::events::{BytesDecl, BytesRef, BytesStart, Event};
use quick_xml::name::ResolveResult;

const PROTOCOL_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion";
const DSIG_NS: &[u8] = b"http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// The SAML protocol messages idbridge reads: what their root is, and how many assertions (all
/// directly in the root) they carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Message {
    Response,
    LogoutRequest,
    LogoutResponse,
    /// What a service provider of idbridge's own IdP sends.
    AuthnRequest,
}

impl Message {
    fn root(self) -> &'static [u8] {
        match self {
            Message::Response => b"Response",
            Message::LogoutRequest => b"LogoutRequest",
            Message::LogoutResponse => b"LogoutResponse",
            Message::AuthnRequest => b"AuthnRequest",
        }
    }

    fn assertions(self) -> (usize, usize) {
        match self {
            Message::Response => (1, 1),
            Message::LogoutRequest | Message::LogoutResponse | Message::AuthnRequest => (0, 0),
        }
    }
}

/// What the strict reading of a message found.
#[derive(Debug)]
pub(crate) struct Outline<'a> {
    /// The document as libxml2 is to read it (without a UTF-8 byte-order mark).
    pub xml: &'a str,
    pub destination: Option<String>,
    pub status: Option<String>,
    /// Where in `xml` the root's own ds:Signature is, if it has one.
    pub root_signature: Option<Range<usize>>,
    /// Whether the assertion carries its own signature.
    pub assertion_signed: bool,
    /// Where in `xml` the EncryptedAssertion is, when the assertion is encrypted.
    pub encrypted: Option<Range<usize>>,
}

/// Reads `bytes` strictly as a `message`; what is wrong with them otherwise.
pub(crate) fn scan(bytes: &[u8], message: Message) -> Result<Outline<'_>, &'static str> {
    // UTF-16 and UTF-32 byte-order marks are not UTF-8 either.
    let xml = std::str::from_utf8(bytes).map_err(|_| "the response is not UTF-8")?;
    let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    // A NUL would also make libxml2 guess UTF-16 or UTF-32 from the first bytes.
    if !xml.chars().all(is_xml_char) {
        return Err("the response has a character XML does not allow");
    }
    let mut scan = Scan {
        message,
        reader: quick_xml::NsReader::from_str(xml),
        open: Vec::new(),
        signature: Vec::new(),
        roots: 0,
        assertions: (0, 0),
        outline: Outline {
            xml,
            destination: None,
            status: None,
            root_signature: None,
            assertion_signed: false,
            encrypted: None,
        },
    };
    scan.reader.config_mut().check_end_names = true;
    scan.run()?;
    Ok(scan.outline)
}

struct Scan<'a> {
    message: Message,
    reader: quick_xml::NsReader<&'a [u8]>,
    /// The elements the reading is inside of, outermost first.
    open: Vec<Open>,
    /// The ds:Signature being read, as far as it goes: its innermost open element last.
    signature: Vec<Node>,
    roots: usize,
    /// All assertions, encrypted or not, and those where the schema puts them (directly in the
    /// Response).
    assertions: (usize, usize),
    outline: Outline<'a>,
}

/// An open element, as far as where a signature sits depends on it.
struct Open {
    place: Place,
    /// Where it starts in the document.
    start: usize,
    /// Its `ID`.
    id: Option<String>,
    /// Whether a ds:Signature was found directly in it.
    signed: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The root: the Response (or logout message).
    Root,
    /// An assertion directly in the Response.
    Assertion,
    /// An EncryptedAssertion directly in the Response, and everything in it.
    Encrypted,
    Elsewhere,
}

impl Scan<'_> {
    fn run(&mut self) -> Result<(), &'static str> {
        let mut first = true;
        loop {
            let start = self.position();
            let (namespace, event) = self
                .reader
                .read_resolved_event()
                .map_err(|_| "the response is not well-formed XML")?;
            let namespace = match namespace {
                ResolveResult::Bound(ns) => Some(ns.as_ref().to_vec()),
                ResolveResult::Unbound => None,
                ResolveResult::Unknown(_) => return Err("the response uses an undeclared prefix"),
            };
            let end = self.position();
            let at_start = std::mem::replace(&mut first, false);
            let outside = self.open.is_empty();
            match event {
                Event::Eof => break,
                Event::Decl(decl) if at_start => check_declaration(&decl)?,
                Event::Decl(_) => return Err("the XML declaration is not at the start"),
                Event::DocType(_) => return Err("the response has a DOCTYPE"),
                Event::Comment(_) => return Err("the response has a comment"),
                Event::PI(_) => return Err("the response has a processing instruction"),
                Event::Text(text) => {
                    let blank = text
                        .iter()
                        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
                    if outside && !blank {
                        return Err("the response has text outside its root element");
                    }
                    self.text(!blank);
                }
                Event::CData(_) if outside => {
                    return Err("the response has text outside its root element");
                }
                Event::CData(_) => self.text(true),
                Event::GeneralRef(reference) => {
                    check_reference(&reference)?;
                    if outside {
                        return Err("the response has text outside its root element");
                    }
                    self.text(true);
                }
                Event::Start(element) => self.open(namespace.as_deref(), &element, start)?,
                Event::Empty(element) => {
                    self.open(namespace.as_deref(), &element, start)?;
                    self.close(end)?;
                }
                Event::End(_) => self.close(end)?,
            }
        }
        if self.roots != 1 || !self.open.is_empty() {
            return Err("the response is not one complete element");
        }
        if self.assertions != self.message.assertions() {
            return Err(match self.message {
                Message::Response => {
                    "the response must hold exactly one assertion, directly in the Response"
                }
                Message::AuthnRequest => "an AuthnRequest holds no assertion",
                _ => "a logout message holds no assertion",
            });
        }
        Ok(())
    }

    /// How far the reading is in the document.
    fn position(&self) -> usize {
        // A position within a `&str` fits a usize.
        usize::try_from(self.reader.buffer_position()).unwrap_or(usize::MAX)
    }

    fn text(&mut self, meaningful: bool) {
        if let Some(node) = self.signature.last_mut() {
            node.has_text |= meaningful;
        }
    }

    fn open(
        &mut self,
        namespace: Option<&[u8]>,
        element: &BytesStart,
        start: usize,
    ) -> Result<(), &'static str> {
        check_element(element)?;
        let local = element.local_name();
        let is = |ns: &[u8], name: &[u8]| namespace == Some(ns) && local.as_ref() == name;
        let opens_signature = self.signature.is_empty() && is(DSIG_NS, b"Signature");
        if opens_signature {
            match self.open.last_mut() {
                Some(parent)
                    if matches!(parent.place, Place::Root | Place::Assertion) && !parent.signed =>
                {
                    parent.signed = true;
                }
                _ => {
                    return Err(
                        "a signature may sit only directly in the Response or the assertion, once",
                    );
                }
            }
        }
        let in_encrypted = self
            .open
            .last()
            .is_some_and(|parent| parent.place == Place::Encrypted);
        if opens_signature || !self.signature.is_empty() {
            self.signature.push(Node::new(namespace, element));
        } else if namespace == Some(DSIG_NS) && !in_encrypted {
            // XML Encryption's KeyInfo (key names, EncryptedKeys) is ds; only xmlenc reads it.
            return Err("the response has an XML-signature element outside a signature");
        }
        let place = match self.open.last() {
            None => {
                if !is(PROTOCOL_NS, self.message.root()) {
                    return Err(match self.message {
                        Message::Response => "the document is not a SAML Response",
                        Message::LogoutRequest => "the document is not a SAML LogoutRequest",
                        Message::LogoutResponse => "the document is not a SAML LogoutResponse",
                        Message::AuthnRequest => "the document is not a SAML AuthnRequest",
                    });
                }
                self.roots += 1;
                self.outline.destination = attribute(element, b"Destination");
                Place::Root
            }
            Some(parent) if parent.place == Place::Root && is(ASSERTION_NS, b"Assertion") => {
                self.assertions.1 += 1;
                Place::Assertion
            }
            Some(parent)
                if parent.place == Place::Root && is(ASSERTION_NS, b"EncryptedAssertion") =>
            {
                self.assertions.1 += 1;
                Place::Encrypted
            }
            Some(parent) if parent.place == Place::Encrypted => Place::Encrypted,
            Some(_) => Place::Elsewhere,
        };
        // An assertion beside an encrypted one counts as two: a signed assertion must not be
        // able to stand beside the one that is used (or the other way round).
        if is(ASSERTION_NS, b"Assertion") || is(ASSERTION_NS, b"EncryptedAssertion") {
            self.assertions.0 += 1;
        }
        if is(PROTOCOL_NS, b"StatusCode") && self.outline.status.is_none() {
            self.outline.status = attribute(element, b"Value");
        }
        self.open.push(Open {
            place,
            start,
            id: attribute(element, b"ID"),
            signed: false,
        });
        Ok(())
    }

    fn close(&mut self, end: usize) -> Result<(), &'static str> {
        let Some(closed) = self.open.pop() else {
            return Ok(());
        };
        let parent = self.open.last().map(|parent| parent.place);
        if closed.place == Place::Encrypted && parent == Some(Place::Root) {
            self.outline.encrypted = Some(closed.start..end);
        }
        if let Some(node) = self.signature.pop() {
            match self.signature.last_mut() {
                Some(parent) => parent.children.push(node),
                None => {
                    let parent_id = self.open.last().and_then(|parent| parent.id.as_deref());
                    check_signature(&node, parent_id)?;
                    match parent {
                        Some(Place::Root) => self.outline.root_signature = Some(closed.start..end),
                        Some(Place::Assertion) => self.outline.assertion_signed = true,
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }
}

/// XML 1.0, in UTF-8.
fn check_declaration(decl: &BytesDecl) -> Result<(), &'static str> {
    if decl.version().ok().as_deref() != Some(b"1.0") {
        return Err("the response is not XML 1.0");
    }
    match decl.encoding() {
        None => Ok(()),
        Some(Ok(encoding)) if encoding.eq_ignore_ascii_case(b"UTF-8") => Ok(()),
        Some(_) => Err("the response declares an encoding other than UTF-8"),
    }
}

/// A character reference to a character XML allows, or one of the five predefined entities.
fn check_reference(reference: &BytesRef) -> Result<(), &'static str> {
    let allowed = match reference.resolve_char_ref() {
        Ok(Some(c)) => is_xml_char(c),
        Ok(None) => matches!(&**reference, b"lt" | b"gt" | b"amp" | b"apos" | b"quot"),
        Err(_) => false,
    };
    if allowed {
        Ok(())
    } else {
        Err("the response refers to an entity XML does not predefine")
    }
}

/// Names and attributes as both readers read them alike: plain ASCII names, each attribute once,
/// only predefined entities in values, an `ID` that is a plain name (a Reference to
/// `#xpointer(…)` would otherwise be an XPointer expression).
fn check_element(element: &BytesStart) -> Result<(), &'static str> {
    if !is_plain_qname(element.name().as_ref()) {
        return Err("the response has an element name that is not plain ASCII");
    }
    for attribute in element.attributes() {
        let attribute =
            attribute.map_err(|_| "the response has a malformed or repeated attribute")?;
        let key = attribute.key.as_ref();
        if !is_plain_qname(key) || key == b"xml:id" || attribute.value.contains(&b'<') {
            return Err("the response has an attribute that is not accepted");
        }
        let value = attribute
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|_| "the response refers to an entity XML does not predefine")?;
        if !value.chars().all(is_xml_char) {
            return Err("the response has a character XML does not allow");
        }
        if key == b"ID" && !is_plain_name(value.as_bytes()) {
            return Err("the response has an ID that is not a plain name");
        }
    }
    Ok(())
}

/// The value of the unprefixed attribute `name`.
pub(crate) fn attribute(element: &BytesStart, name: &[u8]) -> Option<String> {
    element
        .attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .and_then(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok())
        .map(|v| v.into_owned())
}

/// One element of a signature, as far as its shape is checked.
#[derive(Debug)]
struct Node {
    namespace: Option<Vec<u8>>,
    name: String,
    algorithm: Option<String>,
    uri: Option<String>,
    /// Whether it has text other than whitespace.
    has_text: bool,
    children: Vec<Node>,
}

impl Node {
    fn new(namespace: Option<&[u8]>, element: &BytesStart) -> Node {
        Node {
            namespace: namespace.map(<[u8]>::to_vec),
            name: String::from_utf8_lossy(element.local_name().as_ref()).into_owned(),
            algorithm: attribute(element, b"Algorithm"),
            uri: attribute(element, b"URI"),
            has_text: false,
            children: Vec::new(),
        }
    }

    fn is(&self, namespace: &[u8], name: &str) -> bool {
        self.namespace.as_deref() == Some(namespace) && self.name == name
    }

    /// The ds element `name`, with no text beside children.
    fn expect(&self, name: &str) -> Result<&Node, &'static str> {
        let mixed = self.has_text && !self.children.is_empty();
        if self.is(DSIG_NS, name) && !mixed {
            Ok(self)
        } else {
            Err("the signature is not of the shape SAML uses")
        }
    }

    /// The ds element `name` with `algorithm` and nothing in it.
    fn expect_empty(&self, name: &str, algorithm: Option<&str>) -> Result<(), &'static str> {
        self.expect(name)?;
        let algorithm_ok = algorithm.is_none_or(|a| self.algorithm.as_deref() == Some(a));
        if algorithm_ok && !self.has_text && self.children.is_empty() {
            Ok(())
        } else {
            Err("the signature is not of the shape SAML uses")
        }
    }
}

/// The one shape of signature SAML needs (SAML core 5.4): over its parent element by ID, with
/// the enveloped-signature transform and exclusive canonicalization only.
fn check_signature(signature: &Node, parent_id: Option<&str>) -> Result<(), &'static str> {
    let [signed_info, value, key_info @ ..] = signature.expect("Signature")?.children.as_slice()
    else {
        return Err("the signature is not of the shape SAML uses");
    };
    value.expect("SignatureValue")?;
    if !value.children.is_empty() {
        return Err("the signature is not of the shape SAML uses");
    }
    match key_info {
        [] => {}
        [key_info] => check_key_info(key_info.expect("KeyInfo")?)?,
        _ => return Err("the signature is not of the shape SAML uses"),
    }
    let [c14n, method, references @ ..] = signed_info.expect("SignedInfo")?.children.as_slice()
    else {
        return Err("the signature is not of the shape SAML uses");
    };
    check_exclusive_c14n(c14n, "CanonicalizationMethod")?;
    method.expect_empty("SignatureMethod", None)?;
    let [reference] = references else {
        return Err("a signature must have exactly one Reference");
    };
    let points_at_parent = parent_id
        .zip(reference.expect("Reference")?.uri.as_deref())
        .is_some_and(|(id, uri)| uri.strip_prefix('#') == Some(id));
    if !points_at_parent {
        return Err("a signature's Reference must be to the element the signature is in");
    }
    let [transforms, digest_method, digest_value] = reference.children.as_slice() else {
        return Err("the signature is not of the shape SAML uses");
    };
    let [enveloped, exclusive] = transforms.expect("Transforms")?.children.as_slice() else {
        return Err(
            "a signature may have only the enveloped-signature and exclusive c14n transforms",
        );
    };
    enveloped.expect_empty("Transform", Some(ENVELOPED))?;
    check_exclusive_c14n(exclusive, "Transform")?;
    digest_method.expect_empty("DigestMethod", None)?;
    digest_value.expect("DigestValue")?;
    if !digest_value.children.is_empty() {
        return Err("the signature is not of the shape SAML uses");
    }
    Ok(())
}

/// The ds element `name` naming exclusive canonicalization without comments, with at most an
/// InclusiveNamespaces in it.
fn check_exclusive_c14n(node: &Node, name: &str) -> Result<(), &'static str> {
    let refused = Err("a signature may use exclusive canonicalization (without comments) only");
    if node.expect(name)?.algorithm.as_deref() != Some(EXC_C14N) || node.has_text {
        return refused;
    }
    match node.children.as_slice() {
        [] => Ok(()),
        [inclusive]
            if inclusive.is(EXC_C14N.as_bytes(), "InclusiveNamespaces")
                && inclusive.children.is_empty()
                && !inclusive.has_text =>
        {
            Ok(())
        }
        _ => refused,
    }
}

/// KeyInfo may name the key by certificate, name or RSA value (it is not used: only the
/// configured certificates verify), but nothing that makes libxmlsec1 fetch or transform
/// (RetrievalMethod, EncryptedKey, …).
fn check_key_info(node: &Node) -> Result<(), &'static str> {
    let allowed: &[&str] = match node.name.as_str() {
        "KeyInfo" => &["X509Data", "KeyName", "KeyValue"],
        "X509Data" => &[
            "X509Certificate",
            "X509SubjectName",
            "X509IssuerSerial",
            "X509SKI",
        ],
        "X509IssuerSerial" => &["X509IssuerName", "X509SerialNumber"],
        "KeyValue" => &["RSAKeyValue"],
        "RSAKeyValue" => &["Modulus", "Exponent"],
        _ => &[],
    };
    for child in &node.children {
        if !allowed.iter().any(|name| child.is(DSIG_NS, name)) {
            return Err(
                "a signature's KeyInfo may carry only X.509 data, a key name or an RSA key",
            );
        }
        check_key_info(child.expect(&child.name)?)?;
    }
    Ok(())
}

/// The characters XML 1.0 allows in a document.
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// An ASCII NCName: what IdPs use for element names and IDs.
fn is_plain_name(name: &[u8]) -> bool {
    match name {
        [first, rest @ ..] => {
            (first.is_ascii_alphabetic() || *first == b'_')
                && rest
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        }
        [] => false,
    }
}

/// An ASCII QName: a plain name, prefixed or not.
fn is_plain_qname(name: &[u8]) -> bool {
    match name.iter().position(|b| *b == b':') {
        Some(colon) => is_plain_name(&name[..colon]) && is_plain_name(&name[colon + 1..]),
        None => is_plain_name(name),
    }
}

#[cfg(test)]
mod tests;
