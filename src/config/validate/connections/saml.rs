//! `type = "saml"` connections: the IdP from its metadata file or from inline keys, and the
//! policy idbridge applies to its responses.
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use samael::metadata::{EntityDescriptor, HTTP_REDIRECT_BINDING};

use super::super::super::file::FileConnection;
use super::super::Checker;
use crate::config::{SamlConnectionDecl, SpSigning};

const DEFAULT_CLOCK_SKEW_SECONDS: i64 = 120;
const DEFAULT_MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// What the IdP is: from its metadata, or from the inline keys.
struct Idp {
    entity_id: String,
    sso_url: String,
    certificates: Vec<Vec<u8>>,
}

pub(super) fn check_saml(
    check: &mut Checker,
    path: &str,
    connection: &FileConnection,
    issuer: &str,
    base_dir: &Path,
) -> Option<SamlConnectionDecl> {
    let inline = connection.idp_entity_id.is_some()
        || connection.idp_sso_url.is_some()
        || connection.idp_certificate.is_some();
    if connection.idp_metadata_url.is_some() {
        check.problem(
            format!("{path}.idp_metadata_url"),
            "not available yet: download the metadata and give it as idp_metadata (a file)",
        );
        return None;
    }
    let idp = match (&connection.idp_metadata, inline) {
        (Some(_), true) => {
            check.problem(
                path,
                "give idp_metadata or idp_entity_id + idp_sso_url + idp_certificate, not both",
            );
            None
        }
        (Some(file), false) => from_metadata(check, path, &base_dir.join(file)),
        (None, _) => from_inline(check, path, connection),
    };
    let clock_skew = check.duration(
        &format!("{path}.clock_skew"),
        connection.clock_skew.as_deref(),
        DEFAULT_CLOCK_SKEW_SECONDS,
    );
    let max_response_bytes = connection
        .max_response_bytes
        .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES);
    if !(1024..=16 * 1024 * 1024).contains(&max_response_bytes) {
        check.problem(
            format!("{path}.max_response_bytes"),
            "must be between 1024 and 16777216",
        );
    }
    let sp_signing = sp_signing(check, path, connection);
    let attribute = |name: Option<&String>| name.cloned().filter(|n| !n.is_empty());
    let attributes = connection.attributes.as_ref();
    let idp = idp?;
    Some(SamlConnectionDecl {
        idp_entity_id: idp.entity_id,
        idp_sso_url: idp.sso_url,
        idp_certificates: idp.certificates,
        sp_entity_id: connection
            .sp_entity_id
            .clone()
            .unwrap_or_else(|| format!("{issuer}/saml/{}", connection.id)),
        allow_idp_initiated: connection.allow_idp_initiated.unwrap_or(false),
        email_attribute: attribute(attributes.and_then(|a| a.email.as_ref())),
        name_attribute: attribute(attributes.and_then(|a| a.name.as_ref())),
        clock_skew,
        max_response_bytes,
        sp_signing,
    })
}

/// `sp_private_key` and `sp_certificate`, given together: a key and the certificate of its
/// public half.
fn sp_signing(check: &mut Checker, path: &str, connection: &FileConnection) -> Option<SpSigning> {
    let (key, certificate) = match (&connection.sp_private_key, &connection.sp_certificate) {
        (None, None) => return None,
        (Some(key), Some(certificate)) => (key, certificate),
        _ => {
            check.problem(path, "give sp_private_key and sp_certificate together");
            return None;
        }
    };
    let key_path = format!("{path}.sp_private_key");
    let pem = check.secret(&key_path, key)?;
    let Ok(private) = openssl::pkey::PKey::private_key_from_pem(pem.expose().as_bytes()) else {
        check.problem(key_path, "not a PEM private key");
        return None;
    };
    let cert_path = format!("{path}.sp_certificate");
    let Some(der) = certificate_der(certificate) else {
        check.problem(cert_path, "not an X.509 certificate (PEM or base64 DER)");
        return None;
    };
    let matches = openssl::x509::X509::from_der(&der)
        .and_then(|cert| cert.public_key())
        .is_ok_and(|public| public.public_eq(&private));
    if !matches {
        check.problem(cert_path, "is not the certificate of sp_private_key");
        return None;
    }
    Some(SpSigning {
        private_key_pem: pem,
        certificate: der,
    })
}

fn from_inline(check: &mut Checker, path: &str, connection: &FileConnection) -> Option<Idp> {
    let mut required = |key: &str, value: &Option<String>| {
        let value = value.clone().filter(|v| !v.trim().is_empty());
        if value.is_none() {
            check.problem(
                format!("{path}.{key}"),
                "required for a saml connection without idp_metadata",
            );
        }
        value
    };
    let entity_id = required("idp_entity_id", &connection.idp_entity_id);
    let sso_url = required("idp_sso_url", &connection.idp_sso_url);
    let sso_url = sso_url.filter(|url| {
        let ok = is_https_or_loopback(url);
        if !ok {
            check.problem(
                format!("{path}.idp_sso_url"),
                "must be an https URL (http only for localhost)",
            );
        }
        ok
    });
    let certificates: Vec<Vec<u8>> = match &connection.idp_certificate {
        None => {
            check.problem(
                format!("{path}.idp_certificate"),
                "required: responses are verified with it, never with a certificate they carry",
            );
            Vec::new()
        }
        Some(given) => given
            .values()
            .iter()
            .enumerate()
            .filter_map(|(i, value)| {
                let key = match given {
                    super::super::super::file::OneOrMany::One(_) => {
                        format!("{path}.idp_certificate")
                    }
                    super::super::super::file::OneOrMany::Many(_) => {
                        format!("{path}.idp_certificate[{i}]")
                    }
                };
                certificate_der(value).or_else(|| {
                    check.problem(key, "not an X.509 certificate (PEM or base64 DER)");
                    None
                })
            })
            .collect(),
    };
    if certificates.is_empty() {
        return None;
    }
    Some(Idp {
        entity_id: entity_id?,
        sso_url: sso_url?,
        certificates,
    })
}

fn from_metadata(check: &mut Checker, path: &str, file: &Path) -> Option<Idp> {
    let key = format!("{path}.idp_metadata");
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(error) => {
            check.problem(key, format!("cannot read {}: {error}", file.display()));
            return None;
        }
    };
    let Ok(metadata) = text.parse::<EntityDescriptor>() else {
        check.problem(key, "not SAML metadata (an EntityDescriptor)");
        return None;
    };
    let descriptors = metadata.idp_sso_descriptors.unwrap_or_default();
    let sso_url = descriptors
        .iter()
        .flat_map(|d| &d.single_sign_on_services)
        .find(|service| service.binding == HTTP_REDIRECT_BINDING)
        .map(|service| service.location.clone());
    // Keys for signing, or for no stated use (which includes signing).
    let certificates: Vec<Vec<u8>> = descriptors
        .iter()
        .flat_map(|d| &d.key_descriptors)
        .filter(|k| {
            k.key_use
                .as_deref()
                .is_none_or(|u| u.is_empty() || u == "signing")
        })
        .filter_map(|k| k.key_info.x509_data.as_ref())
        .flat_map(|x509| &x509.certificates)
        .filter_map(|cert| certificate_der(cert))
        .collect();
    let problems = [
        (metadata.entity_id.is_none(), "has no entityID"),
        (
            sso_url.is_none(),
            "has no SingleSignOnService with the HTTP-Redirect binding",
        ),
        (
            certificates.is_empty(),
            "has no signing certificate, so no response could be verified",
        ),
    ];
    let mut ok = true;
    for (failed, message) in problems {
        if failed {
            check.problem(key.clone(), message);
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    Some(Idp {
        entity_id: metadata.entity_id?,
        sso_url: sso_url?,
        certificates,
    })
}

/// DER of a certificate given as PEM or as bare base64 (as metadata carries it), if it is one.
fn certificate_der(value: &str) -> Option<Vec<u8>> {
    let body: String = value
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .flat_map(|line| line.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = STANDARD.decode(body).ok()?;
    openssl::x509::X509::from_der(&der).ok()?;
    Some(der)
}

fn is_https_or_loopback(value: &str) -> bool {
    let Ok(url) = url::Url::parse(value) else {
        return false;
    };
    match url.scheme() {
        "https" => true,
        "http" => matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")),
        _ => false,
    }
}
