//! A test SAML IdP: an RSA key and certificate made at test time, and responses signed with
//! libxmlsec1 (samael's signer), SHA-256 and exclusive canonicalization, on the assertion, the
//! response or both. Shared by the integration tests and the ACS benchmark.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use samael::crypto::{Crypto, CryptoProvider};
use samael::idp::{CertificateParams, IdentityProvider, KeyType, Rsa};

pub const IDP_ENTITY: &str = "https://idp.acme.test/metadata";
pub const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";

/// A signing key and its certificate.
pub struct IdpKey {
    pub key_der: Vec<u8>,
    pub cert_b64: String,
}

impl IdpKey {
    pub fn generate() -> IdpKey {
        let idp = IdentityProvider::generate_new(KeyType::Rsa(Rsa::Rsa2048)).unwrap();
        let cert = idp
            .create_certificate(&CertificateParams {
                common_name: "idp.acme.test",
                issuer_name: "idp.acme.test",
                days_until_expiration: 30,
            })
            .unwrap();
        IdpKey {
            key_der: idp.export_private_key_der().unwrap(),
            cert_b64: STANDARD.encode(cert.der_data()),
        }
    }

    /// A SAML connection `acme` of an idbridge at `issuer` that trusts this key (IdP-initiated
    /// logins allowed), on its own: what the ACS benchmark and the fuzz target verify with.
    #[allow(dead_code)] // the integration tests start whole servers instead
    pub fn connector(&self, issuer: &str) -> idbridge::upstream::SamlConnector {
        self.connector_with(issuer, |_| {})
    }

    /// The same, with `change` made to its settings.
    #[allow(dead_code)] // the benchmark and the fuzz target take the connection as it is
    pub fn connector_with(
        &self,
        issuer: &str,
        change: impl FnOnce(&mut idbridge::config::SamlConnectionDecl),
    ) -> idbridge::upstream::SamlConnector {
        use idbridge::config::{
            ConnectionDecl, ConnectionProtocol, IdpDescriptor, IdpSource, SamlConnectionDecl,
        };
        let mut settings = SamlConnectionDecl {
            idp: IdpSource::Declared(IdpDescriptor {
                entity_id: IDP_ENTITY.into(),
                sso_url: "https://idp.acme.test/sso".into(),
                slo: None,
                certificates: vec![STANDARD.decode(&self.cert_b64).unwrap()],
            }),
            sp_entity_id: format!("{issuer}/saml/acme"),
            allow_idp_initiated: true,
            email_attribute: None,
            name_attribute: Some("displayName".into()),
            profile_attributes: Default::default(),
            clock_skew: 120,
            max_response_bytes: 256 * 1024,
            sp_signing: None,
            sp_encryption: Vec::new(),
            require_encrypted_assertions: false,
        };
        change(&mut settings);
        let connection = ConnectionDecl {
            id: "acme".into(),
            name: "Acme".into(),
            entity: Some("e-mer-1".into()),
            entity_rules: Vec::new(),
            domains: vec!["acme.test".into()],
            enabled: true,
            protocol: ConnectionProtocol::Saml(settings.clone()),
        };
        let limits = std::sync::Arc::new(idbridge::upstream::SamlLimits::new(120));
        idbridge::upstream::SamlConnector::new(connection, settings, issuer, limits)
    }

    /// The private key as PEM (PKCS#1, as samael exports it).
    #[allow(dead_code)] // the ACS benchmark signs with the DER
    pub fn key_pem(&self) -> String {
        pem("RSA PRIVATE KEY", &STANDARD.encode(&self.key_der))
    }

    /// The certificate as PEM.
    #[allow(dead_code)] // the ACS benchmark signs with the DER
    pub fn cert_pem(&self) -> String {
        pem("CERTIFICATE", &self.cert_b64)
    }

    /// `xml` with each signature template in it filled in.
    pub fn sign(&self, xml: &str) -> String {
        self.try_sign(xml).unwrap()
    }

    /// `xml` with each signature template in it filled in, if libxmlsec1 can read and sign it.
    pub fn try_sign(&self, xml: &str) -> Option<String> {
        let signed = Crypto::sign_xml(xml, &self.key_der).ok()?;
        Some(strip_declaration(&signed))
    }
}

/// `base64` in a PEM block of `label`, 64 characters a line.
#[allow(dead_code)] // the ACS benchmark signs with the DER
fn pem(label: &str, base64: &str) -> String {
    let lines: Vec<&str> = base64
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn strip_declaration(xml: &str) -> String {
    match xml.trim_start().strip_prefix("<?xml") {
        Some(rest) => rest[rest.find("?>").unwrap() + 2..]
            .trim_start()
            .to_string(),
        None => xml.to_string(),
    }
}

/// Which elements the IdP signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signed {
    Assertion,
    Response,
    Both,
    Nothing,
}

/// A response, valid unless a test changes something.
#[derive(Debug, Clone)]
pub struct Spec {
    pub in_response_to: Option<String>,
    pub name_id: String,
    pub display_name: String,
    pub issuer: String,
    pub audience: String,
    pub recipient: String,
    pub destination: String,
    pub status: String,
    /// Seconds from now.
    pub not_before: i64,
    pub not_on_or_after: i64,
    pub signed: Signed,
}

fn rfc3339(offset: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(offset))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// The signature an IdP puts in the element with ID `id`, to be filled in by [`IdpKey::sign`].
pub fn signature_template(id: &str, cert: &str) -> String {
    format!(
        r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"##
    )
}

fn random_id(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &idbridge::crypto::random_token()[..20].replace(['-', '_'], "x")
    )
}

impl IdpKey {
    /// The assertion of `spec`, signed when asked.
    pub fn assertion(&self, spec: &Spec) -> String {
        let id = random_id("a");
        let in_response_to = spec
            .in_response_to
            .as_ref()
            .map(|id| format!(r#" InResponseTo="{id}""#))
            .unwrap_or_default();
        let signed = matches!(spec.signed, Signed::Assertion | Signed::Both);
        let signature = if signed {
            signature_template(&id, &self.cert_b64)
        } else {
            String::new()
        };
        let xml = format!(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}"><saml:Issuer>{issuer}</saml:Issuer>{signature}<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name_id}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData{in_response_to} NotOnOrAfter="{until}" Recipient="{recipient}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{not_before}" NotOnOrAfter="{until}"><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{now}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="displayName"><saml:AttributeValue>{display}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>"#,
            now = rfc3339(0),
            issuer = spec.issuer,
            name_id = spec.name_id,
            until = rfc3339(spec.not_on_or_after),
            not_before = rfc3339(spec.not_before),
            recipient = spec.recipient,
            audience = spec.audience,
            display = spec.display_name,
        );
        if signed { self.sign(&xml) } else { xml }
    }

    /// The response of `spec` around `assertion`, as XML.
    pub fn response_xml(&self, spec: &Spec, assertion: &str) -> String {
        let id = random_id("r");
        let in_response_to = spec
            .in_response_to
            .as_ref()
            .map(|id| format!(r#" InResponseTo="{id}""#))
            .unwrap_or_default();
        let signed = matches!(spec.signed, Signed::Response | Signed::Both);
        let signature = if signed {
            signature_template(&id, &self.cert_b64)
        } else {
            String::new()
        };
        let xml = format!(
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}" Destination="{destination}"{in_response_to}><saml:Issuer>{issuer}</saml:Issuer>{signature}<samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status>{assertion}</samlp:Response>"#,
            now = rfc3339(0),
            destination = spec.destination,
            issuer = spec.issuer,
            status = spec.status,
        );
        if signed { self.sign(&xml) } else { xml }
    }

    pub fn response(&self, spec: &Spec) -> String {
        self.response_xml(spec, &self.assertion(spec))
    }
}

pub fn encode(xml: &str) -> String {
    STANDARD.encode(xml)
}
