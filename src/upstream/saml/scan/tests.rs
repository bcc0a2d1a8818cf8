//! The strict reading's refusals, one shape of hostile or ambiguous document at a time.
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
        let outline = scan(xml.as_bytes(), Message::Response).unwrap();
        assert_eq!(outline.destination.as_deref(), Some("https://sp/acs"));
        assert_eq!(outline.status.as_deref(), Some("ok"));
        let with_bom = format!("\u{feff}{xml}");
        assert!(scan(with_bom.as_bytes(), Message::Response).is_ok());
    }
}

#[test]
fn other_encodings_are_refused() {
    let xml = response("", &usual("a1"));
    for declared in ["UTF-7", "UTF-16", "ISO-8859-1", "utf8"] {
        let other = xml.replacen("utf-8", declared, 1);
        assert_eq!(
            scan(other.as_bytes(), Message::Response).unwrap_err(),
            "the response declares an encoding other than UTF-8",
            "{declared}"
        );
    }
    let utf16: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain(xml.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    assert_eq!(
        scan(&utf16, Message::Response).unwrap_err(),
        "the response is not UTF-8"
    );
    // Without a byte-order mark, libxml2 would guess UTF-16 from "<\0?\0".
    let nul = xml.replacen("<?xml", "<\0?\0xml", 1);
    assert!(scan(nul.as_bytes(), Message::Response).is_err());
    assert!(scan(b"<samlp:Response \xff/>", Message::Response).is_err());
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
        assert_eq!(
            scan(changed.as_bytes(), Message::Response).unwrap_err(),
            refused,
            "{changed}"
        );
    }
}

#[test]
fn signatures_of_another_shape_are_refused() {
    let costly = format!(
        r#"<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><ds:XPath>count(//*) > 1</ds:XPath></ds:Transform><ds:Transform Algorithm="{ENVELOPED}"/><ds:Transform Algorithm="{EXC_C14N}"/>"#
    );
    let transforms =
        format!(r#"<ds:Transform Algorithm="{ENVELOPED}"/><ds:Transform Algorithm="{EXC_C14N}"/>"#);
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
        (
            String::new(),
            signature("a1", EXC_C14N, &costly),
            transforms_only,
        ),
        (
            String::new(),
            signature("a1", EXC_C14N, &only_c14n),
            transforms_only,
        ),
        (
            String::new(),
            signature("a1", inclusive, &transforms),
            exclusive,
        ),
        (
            String::new(),
            signature("a1", &with_comments, &transforms),
            exclusive,
        ),
        (
            String::new(),
            signature(
                "a1",
                EXC_C14N,
                &transforms.replacen(EXC_C14N, &with_comments, 1),
            ),
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
        (
            String::new(),
            format!("{}{}", usual("a1"), usual("a1")),
            place,
        ),
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
        assert_eq!(
            scan(xml.as_bytes(), Message::Response).unwrap_err(),
            refused,
            "{xml}"
        );
    }
    let elsewhere = response("", "").replacen(
        "<saml:Subject>",
        &format!("<saml:Subject>{}", usual("a1")),
        1,
    );
    assert_eq!(
        scan(elsewhere.as_bytes(), Message::Response).unwrap_err(),
        place
    );
    let stray = response("", "").replacen(
        "<samlp:Status>",
        &format!("<samlp:Status><ds:KeyInfo {SIGNATURE_NS}/>"),
        1,
    );
    assert_eq!(
        scan(stray.as_bytes(), Message::Response).unwrap_err(),
        "the response has an XML-signature element outside a signature"
    );
}

/// An EncryptedAssertion of the usual shape (the ciphertext is not looked at here).
const ENCRYPTED: &str = r#"<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/><ds:KeyInfo><ds:KeyName>k</ds:KeyName><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"><ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/></xenc:EncryptionMethod><xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>AAAA</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>"#;

/// `response` with its assertion replaced by `by`.
fn instead_of_the_assertion(xml: &str, by: &str) -> String {
    let start = xml.find("<saml:Assertion").unwrap();
    let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    format!("{}{by}{}", &xml[..start], &xml[end..])
}

#[test]
fn an_encrypted_assertion_is_found_and_located() {
    for in_response in [String::new(), usual("r1")] {
        let xml = instead_of_the_assertion(&response(&in_response, ""), ENCRYPTED);
        let outline = scan(xml.as_bytes(), Message::Response).unwrap();
        assert_eq!(&xml[outline.encrypted.clone().unwrap()], ENCRYPTED);
        assert!(!outline.assertion_signed);
        match outline.root_signature {
            Some(at) => assert_eq!(xml[at].to_string(), in_response),
            None => assert!(in_response.is_empty()),
        }
    }
    let plain = response("", &usual("a1"));
    let outline = scan(plain.as_bytes(), Message::Response).unwrap();
    assert!(outline.assertion_signed && outline.encrypted.is_none());
}

#[test]
fn encrypted_assertions_of_other_shapes_are_refused() {
    let one = "the response must hold exactly one assertion, directly in the Response";
    let place = "a signature may sit only directly in the Response or the assertion, once";
    let plain = response("", &usual("a1"));
    let assertion_start = plain.find("<saml:Assertion").unwrap();
    for (xml, refused) in [
        // Beside a plain assertion, before or after it.
        (
            format!(
                "{}{ENCRYPTED}{}",
                &plain[..assertion_start],
                &plain[assertion_start..]
            ),
            one,
        ),
        (
            plain.replacen(
                "</samlp:Response>",
                &format!("{ENCRYPTED}</samlp:Response>"),
                1,
            ),
            one,
        ),
        // Two, or one out of its place.
        (
            instead_of_the_assertion(&plain, &format!("{ENCRYPTED}{ENCRYPTED}")),
            one,
        ),
        (
            instead_of_the_assertion(
                &plain,
                &format!("<samlp:Extensions>{ENCRYPTED}</samlp:Extensions>"),
            ),
            // Its KeyInfo is then read as a stray XML-signature element.
            "the response has an XML-signature element outside a signature",
        ),
        // A plain assertion hidden inside it.
        (
            instead_of_the_assertion(
                &plain,
                &ENCRYPTED.replacen(
                    "</saml:EncryptedAssertion>",
                    r#"<saml:Assertion ID="a2"/></saml:EncryptedAssertion>"#,
                    1,
                ),
            ),
            one,
        ),
        // A signature inside it, which libxmlsec1 would find.
        (
            instead_of_the_assertion(
                &plain,
                &ENCRYPTED.replacen(
                    "</saml:EncryptedAssertion>",
                    &format!("{}</saml:EncryptedAssertion>", usual("a1")),
                    1,
                ),
            ),
            place,
        ),
    ] {
        assert_eq!(
            scan(xml.as_bytes(), Message::Response).unwrap_err(),
            refused,
            "{xml}"
        );
    }
}
