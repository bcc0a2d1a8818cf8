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
use quick_xml::events::{BytesDecl, BytesRef, BytesStart, Event};
use quick_xml::name::ResolveResult;

const PROTOCOL_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &[u8] = b"urn:oasis:names:tc:SAML:2.0:assertion";
const DSIG_NS: &[u8] = b"http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// What the strict reading of a response found.
#[derive(Debug)]
pub(super) struct Outline<'a> {
    /// The document as libxml2 is to read it (without a UTF-8 byte-order mark).
    pub xml: &'a str,
    pub destination: Option<String>,
    pub status: Option<String>,
}

/// Reads `bytes` strictly; what is wrong with them otherwise.
pub(super) fn scan(bytes: &[u8]) -> Result<Outline<'_>, &'static str> {
    // UTF-16 and UTF-32 byte-order marks are not UTF-8 either.
    let xml = std::str::from_utf8(bytes).map_err(|_| "the response is not UTF-8")?;
    let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    // A NUL would also make libxml2 guess UTF-16 or UTF-32 from the first bytes.
    if !xml.chars().all(is_xml_char) {
        return Err("the response has a character XML does not allow");
    }
    let mut scan = Scan {
        reader: quick_xml::NsReader::from_str(xml),
        open: Vec::new(),
        signature: Vec::new(),
        roots: 0,
        assertions: (0, 0),
        outline: Outline {
            xml,
            destination: None,
            status: None,
        },
    };
    scan.reader.config_mut().check_end_names = true;
    scan.run()?;
    Ok(scan.outline)
}

struct Scan<'a> {
    reader: quick_xml::NsReader<&'a [u8]>,
    /// The elements the reading is inside of, outermost first.
    open: Vec<Open>,
    /// The ds:Signature being read, as far as it goes: its innermost open element last.
    signature: Vec<Node>,
    roots: usize,
    /// All assertions, and those where the schema puts them (directly in the Response).
    assertions: (usize, usize),
    outline: Outline<'a>,
}

/// An open element, as far as where a signature sits depends on it.
struct Open {
    place: Place,
    /// Its `ID`.
    id: Option<String>,
    /// Whether a ds:Signature was found directly in it.
    signed: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The root.
    Response,
    /// An assertion directly in the Response.
    Assertion,
    Elsewhere,
}

impl Scan<'_> {
    fn run(&mut self) -> Result<(), &'static str> {
        let mut first = true;
        loop {
            let (namespace, event) = self
                .reader
                .read_resolved_event()
                .map_err(|_| "the response is not well-formed XML")?;
            let namespace = match namespace {
                ResolveResult::Bound(ns) => Some(ns.as_ref().to_vec()),
                ResolveResult::Unbound => None,
                ResolveResult::Unknown(_) => return Err("the response uses an undeclared prefix"),
            };
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
                Event::Start(element) => self.open(namespace.as_deref(), &element)?,
                Event::Empty(element) => {
                    self.open(namespace.as_deref(), &element)?;
                    self.close()?;
                }
                Event::End(_) => self.close()?,
            }
        }
        if self.roots != 1 || !self.open.is_empty() {
            return Err("the response is not one complete element");
        }
        if self.assertions != (1, 1) {
            return Err("the response must hold exactly one assertion, directly in the Response");
        }
        Ok(())
    }

    fn text(&mut self, meaningful: bool) {
        if let Some(node) = self.signature.last_mut() {
            node.has_text |= meaningful;
        }
    }

    fn open(&mut self, namespace: Option<&[u8]>, element: &BytesStart) -> Result<(), &'static str> {
        check_element(element)?;
        let local = element.local_name();
        let is = |ns: &[u8], name: &[u8]| namespace == Some(ns) && local.as_ref() == name;
        let opens_signature = self.signature.is_empty() && is(DSIG_NS, b"Signature");
        if opens_signature {
            match self.open.last_mut() {
                Some(parent) if parent.place != Place::Elsewhere && !parent.signed => {
                    parent.signed = true;
                }
                _ => {
                    return Err(
                        "a signature may sit only directly in the Response or the assertion, once",
                    );
                }
            }
        }
        if opens_signature || !self.signature.is_empty() {
            self.signature.push(Node::new(namespace, element));
        } else if namespace == Some(DSIG_NS) {
            return Err("the response has an XML-signature element outside a signature");
        }
        let place = match self.open.last() {
            None => {
                if !is(PROTOCOL_NS, b"Response") {
                    return Err("the document is not a SAML Response");
                }
                self.roots += 1;
                self.outline.destination = attribute(element, b"Destination");
                Place::Response
            }
            Some(parent) if parent.place == Place::Response && is(ASSERTION_NS, b"Assertion") => {
                self.assertions.1 += 1;
                Place::Assertion
            }
            Some(_) => Place::Elsewhere,
        };
        if is(ASSERTION_NS, b"Assertion") {
            self.assertions.0 += 1;
        }
        if is(ASSERTION_NS, b"EncryptedAssertion") {
            return Err("encrypted assertions are not accepted");
        }
        if is(PROTOCOL_NS, b"StatusCode") && self.outline.status.is_none() {
            self.outline.status = attribute(element, b"Value");
        }
        self.open.push(Open {
            place,
            id: attribute(element, b"ID"),
            signed: false,
        });
        Ok(())
    }

    fn close(&mut self) -> Result<(), &'static str> {
        self.open.pop();
        if let Some(node) = self.signature.pop() {
            match self.signature.last_mut() {
                Some(parent) => parent.children.push(node),
                None => {
                    let parent_id = self.open.last().and_then(|parent| parent.id.as_deref());
                    check_signature(&node, parent_id)?;
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
fn attribute(element: &BytesStart, name: &[u8]) -> Option<String> {
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
fn is_xml_char(c: char) -> bool {
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
mod tests {
    use super::*;

    const SIGNATURE_NS: &str = r#"xmlns:ds="http://www.w3.org/2000/09/xmldsig#""#;

    /// A signature of the usual shape over `#{id}`, with `transforms`.
    fn signature(id: &str, c14n: &str, transforms: &str) -> String {
        format!(
            r##"<ds:Signature {SIGNATURE_NS}><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{c14n}"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#{id}"><ds:Transforms>{transforms}</ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>AAAA</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"##
        )
    }

    fn usual(id: &str) -> String {
        signature(
            id,
            EXC_C14N,
            &format!(
                r#"<ds:Transform Algorithm="{ENVELOPED}"/><ds:Transform Algorithm="{EXC_C14N}"><ec:InclusiveNamespaces xmlns:ec="{EXC_C14N}" PrefixList="xs"/></ds:Transform>"#
            ),
        )
    }

    /// A response with `in_response` after its Issuer and `in_assertion` after the assertion's.
    fn response(in_response: &str, in_assertion: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="r1" Destination="https://sp/acs"><saml:Issuer>idp</saml:Issuer>{in_response}<samlp:Status><samlp:StatusCode Value="ok"/></samlp:Status><saml:Assertion ID="a1"><saml:Issuer>idp</saml:Issuer>{in_assertion}<saml:Subject>&lt;&#x41;</saml:Subject></saml:Assertion></samlp:Response>
"#
        )
    }

    #[test]
    fn the_usual_shapes_pass() {
        for (in_response, in_assertion) in [
            (String::new(), usual("a1")),
            (usual("r1"), String::new()),
            (usual("r1"), usual("a1")),
        ] {
            let xml = response(&in_response, &in_assertion);
            let outline = scan(xml.as_bytes()).unwrap();
            assert_eq!(outline.destination.as_deref(), Some("https://sp/acs"));
            assert_eq!(outline.status.as_deref(), Some("ok"));
            let with_bom = format!("\u{feff}{xml}");
            assert!(scan(with_bom.as_bytes()).is_ok());
        }
    }

    #[test]
    fn other_encodings_are_refused() {
        let xml = response("", &usual("a1"));
        for declared in ["UTF-7", "UTF-16", "ISO-8859-1", "utf8"] {
            let other = xml.replacen("utf-8", declared, 1);
            assert_eq!(
                scan(other.as_bytes()).unwrap_err(),
                "the response declares an encoding other than UTF-8",
                "{declared}"
            );
        }
        let utf16: Vec<u8> = [0xff, 0xfe]
            .into_iter()
            .chain(xml.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(scan(&utf16).unwrap_err(), "the response is not UTF-8");
        // Without a byte-order mark, libxml2 would guess UTF-16 from "<\0?\0".
        let nul = xml.replacen("<?xml", "<\0?\0xml", 1);
        assert!(scan(nul.as_bytes()).is_err());
        assert!(scan(b"<samlp:Response \xff/>").is_err());
    }

    #[test]
    fn what_libxml2_could_read_otherwise_is_refused() {
        let xml = response("", &usual("a1"));
        let root = xml.find("<samlp:Response").unwrap();
        let outside = "the response has text outside its root element";
        let entity = "the response refers to an entity XML does not predefine";
        let attribute = "the response has an attribute that is not accepted";
        let second_root = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>"#;
        for (changed, refused) in [
            (format!("+ADw-!DOCTYPE x+AD4-{}", &xml[root..]), outside),
            (format!("{xml}trailing"), outside),
            (format!("{xml}<![CDATA[x]]>"), outside),
            (
                format!("{xml}{second_root}"),
                "the response is not one complete element",
            ),
            (xml.replacen("&lt;", "&x;", 1), entity),
            (xml.replacen("r1\"", "r1&x;\"", 1), entity),
            (xml.replacen("&#x41;", "&#x1;", 1), entity),
            (
                xml.replacen("ID=\"r1\"", "ID=\"r1\" ID=\"r2\"", 1),
                "the response has a malformed or repeated attribute",
            ),
            (
                xml.replacen("ID=\"a1\"", "ID=\"a1\" xml:id=\"r1\"", 1),
                attribute,
            ),
            (
                xml.replacen("Destination=", "x=\"<\" Destination=", 1),
                attribute,
            ),
            (
                xml.replacen("ID=\"a1\"", "ID=\"xpointer(/)\"", 1),
                "the response has an ID that is not a plain name",
            ),
            (
                xml.replacen("<saml:Subject>", "<x:Subject>", 1),
                "the response uses an undeclared prefix",
            ),
            (format!(" {xml}"), "the XML declaration is not at the start"),
            (
                xml.replacen("</samlp:Response>", "", 1),
                "the response is not one complete element",
            ),
            (xml.replacen("1.0", "1.1", 1), "the response is not XML 1.0"),
            (
                xml.replacen("<saml:Subject>", "<saml:Subject><!-- x -->", 1),
                "the response has a comment",
            ),
        ] {
            assert_eq!(scan(changed.as_bytes()).unwrap_err(), refused, "{changed}");
        }
    }

    #[test]
    fn signatures_of_another_shape_are_refused() {
        let costly = format!(
            r#"<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><ds:XPath>count(//*) > 1</ds:XPath></ds:Transform><ds:Transform Algorithm="{ENVELOPED}"/><ds:Transform Algorithm="{EXC_C14N}"/>"#
        );
        let transforms = format!(
            r#"<ds:Transform Algorithm="{ENVELOPED}"/><ds:Transform Algorithm="{EXC_C14N}"/>"#
        );
        let only_c14n = format!(r#"<ds:Transform Algorithm="{EXC_C14N}"/>"#);
        let second_reference = usual("a1").replacen(
            "</ds:Reference>",
            r##"</ds:Reference><ds:Reference URI="#a1"/>"##,
            1,
        );
        let shape = "the signature is not of the shape SAML uses";
        let transforms_only =
            "a signature may have only the enveloped-signature and exclusive c14n transforms";
        let exclusive = "a signature may use exclusive canonicalization (without comments) only";
        let reference = "a signature's Reference must be to the element the signature is in";
        let place = "a signature may sit only directly in the Response or the assertion, once";
        let inclusive = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
        let with_comments = format!("{EXC_C14N}WithComments");
        for (in_response, in_assertion, refused) in [
            (String::new(), signature("a1", EXC_C14N, &costly), transforms_only),
            (String::new(), signature("a1", EXC_C14N, &only_c14n), transforms_only),
            (String::new(), signature("a1", inclusive, &transforms), exclusive),
            (String::new(), signature("a1", &with_comments, &transforms), exclusive),
            (
                String::new(),
                signature("a1", EXC_C14N, &transforms.replacen(EXC_C14N, &with_comments, 1)),
                exclusive,
            ),
            (
                String::new(),
                second_reference,
                "a signature must have exactly one Reference",
            ),
            (usual("a1"), String::new(), reference),
            (String::new(), usual("r1"), reference),
            (String::new(), usual(""), reference),
            (String::new(), format!("{}{}", usual("a1"), usual("a1")), place),
            (
                String::new(),
                usual("a1").replacen(
                    "<ds:X509Data>",
                    r#"<ds:RetrievalMethod URI="http://x/"/><ds:X509Data>"#,
                    1,
                ),
                "a signature's KeyInfo may carry only X.509 data, a key name or an RSA key",
            ),
            (
                String::new(),
                usual("a1").replacen("</ds:Signature>", "<ds:Object/></ds:Signature>", 1),
                shape,
            ),
            (
                String::new(),
                usual("a1").replacen(
                    r#"rsa-sha256"/>"#,
                    r#"rsa-sha256"><ds:HMACOutputLength>8</ds:HMACOutputLength></ds:SignatureMethod>"#,
                    1,
                ),
                shape,
            ),
        ] {
            let xml = response(&in_response, &in_assertion);
            assert_eq!(scan(xml.as_bytes()).unwrap_err(), refused, "{xml}");
        }
        let elsewhere = response("", "").replacen(
            "<saml:Subject>",
            &format!("<saml:Subject>{}", usual("a1")),
            1,
        );
        assert_eq!(scan(elsewhere.as_bytes()).unwrap_err(), place);
        let stray = response("", "").replacen(
            "<samlp:Status>",
            &format!("<samlp:Status><ds:KeyInfo {SIGNATURE_NS}/>"),
            1,
        );
        assert_eq!(
            scan(stray.as_bytes()).unwrap_err(),
            "the response has an XML-signature element outside a signature"
        );
    }
}
