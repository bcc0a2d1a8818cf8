//! `type = "saml"` connections: the IdP from its metadata file or from inline keys, and the
//! policy idbridge applies to its responses.
use std::path::Path;

use openssl::pkey::PKey;
use serde::Deserialize;

use super::super::super::file::{FileClaimMap, FileConnection, OneOrMany};
use super::super::checker::Checker;
use super::parse_upstream_url;
use crate::config::{
    IdpDescriptor, IdpSource, LogoutService, MAX_SAML_RESPONSE_BYTES, ProfileNames,
    SamlConnectionDecl, SpSigning,
};

const DEFAULT_CLOCK_SKEW_SECONDS: i64 = 120;
const DEFAULT_MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// The smallest RSA key assertions may be encrypted to.
const MIN_ENCRYPTION_KEY_BITS: u32 = 2048;

/// The keys of a `saml` connection besides those every connection has.
#[derive(Debug, Deserialize)]
pub(super) struct FileSamlConnection {
    idp_metadata: Option<String>,
    /// The IdP's metadata document itself, for declarations made through the admin API.
    idp_metadata_xml: Option<String>,
    idp_metadata_url: Option<String>,
    idp_entity_id: Option<String>,
    idp_sso_url: Option<String>,
    idp_slo_url: Option<String>,
    idp_certificate: Option<OneOrMany>,
    sp_entity_id: Option<String>,
    allow_idp_initiated: Option<bool>,
    attributes: Option<FileClaimMap>,
    clock_skew: Option<String>,
    max_response_bytes: Option<usize>,
    sp_private_key: Option<String>,
    sp_certificate: Option<String>,
    sp_encryption_key: Option<String>,
    sp_encryption_certificate: Option<String>,
    sp_previous_encryption_key: Option<String>,
    sp_previous_encryption_certificate: Option<String>,
    require_encrypted_assertions: Option<bool>,
}

pub(super) fn check(
    check: &mut Checker,
    path: &str,
    connection: &FileConnection,
    settings: FileSamlConnection,
    issuer: &str,
    base_dir: &Path,
) -> Option<SamlConnectionDecl> {
    let inline = settings.idp_entity_id.is_some()
        || settings.idp_sso_url.is_some()
        || settings.idp_slo_url.is_some()
        || settings.idp_certificate.is_some();
    let sources = [
        settings.idp_metadata.is_some(),
        settings.idp_metadata_xml.is_some(),
        settings.idp_metadata_url.is_some(),
        inline,
    ];
    let idp = if sources.iter().filter(|given| **given).count() > 1 {
        check.problem(
            path,
            "give one of idp_metadata, idp_metadata_xml, idp_metadata_url, or idp_entity_id + idp_sso_url + idp_certificate",
        );
        None
    } else if let Some(url) = &settings.idp_metadata_url {
        match parse_upstream_url(url) {
            Ok(_) => Some(IdpSource::MetadataUrl(url.clone())),
            Err(message) => {
                check.problem(format!("{path}.idp_metadata_url"), message);
                None
            }
        }
    } else if let Some(file) = &settings.idp_metadata {
        let key = format!("{path}.idp_metadata");
        let file = base_dir.join(file);
        match std::fs::read_to_string(&file) {
            Ok(text) => from_metadata(check, &key, &text).map(IdpSource::Declared),
            Err(error) => {
                check.problem(key, format!("cannot read {}: {error}", file.display()));
                None
            }
        }
    } else if let Some(text) = &settings.idp_metadata_xml {
        from_metadata(check, &format!("{path}.idp_metadata_xml"), text).map(IdpSource::Declared)
    } else {
        from_inline(check, path, &settings).map(IdpSource::Declared)
    };
    let clock_skew = check.duration(
        &format!("{path}.clock_skew"),
        settings.clock_skew.as_deref(),
        DEFAULT_CLOCK_SKEW_SECONDS,
    );
    let max_response_bytes = settings
        .max_response_bytes
        .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES);
    if !(1024..=MAX_SAML_RESPONSE_BYTES).contains(&max_response_bytes) {
        check.problem(
            format!("{path}.max_response_bytes"),
            format!("must be between 1024 and {MAX_SAML_RESPONSE_BYTES} (the most the ACS reads)"),
        );
    }
    let sp_signing = key_pair(
        check,
        path,
        ("sp_private_key", &settings.sp_private_key),
        ("sp_certificate", &settings.sp_certificate),
    );
    let sp_encryption = sp_encryption(check, path, &settings);
    let require_encrypted_assertions = settings.require_encrypted_assertions.unwrap_or(false);
    if require_encrypted_assertions && settings.sp_encryption_key.is_none() {
        check.problem(
            format!("{path}.require_encrypted_assertions"),
            "needs sp_encryption_key and sp_encryption_certificate (the key assertions are encrypted to)",
        );
    }
    let attributes = settings.attributes.unwrap_or_default();
    let idp = idp?;
    Some(SamlConnectionDecl {
        idp,
        sp_entity_id: settings
            .sp_entity_id
            .unwrap_or_else(|| format!("{issuer}/saml/{}", connection.id)),
        allow_idp_initiated: settings.allow_idp_initiated.unwrap_or(false),
        email_attribute: attributes.email.filter(|name| !name.is_empty()),
        name_attribute: attributes.name.filter(|name| !name.is_empty()),
        profile_attributes: ProfileNames {
            given_name: attributes.given_name.filter(|name| !name.is_empty()),
            family_name: attributes.family_name.filter(|name| !name.is_empty()),
            locale: attributes.locale.filter(|name| !name.is_empty()),
        },
        clock_skew,
        max_response_bytes,
        sp_signing,
        sp_encryption,
        require_encrypted_assertions,
    })
}

/// Our keys that decrypt assertions: `sp_encryption_key` with its certificate, then, during a
/// rollover, `sp_previous_encryption_key` with its own. RSA, since the IdP sends the content key
/// with RSA-OAEP.
fn sp_encryption(check: &mut Checker, path: &str, settings: &FileSamlConnection) -> Vec<SpSigning> {
    let current = key_pair(
        check,
        path,
        ("sp_encryption_key", &settings.sp_encryption_key),
        (
            "sp_encryption_certificate",
            &settings.sp_encryption_certificate,
        ),
    );
    let previous = key_pair(
        check,
        path,
        (
            "sp_previous_encryption_key",
            &settings.sp_previous_encryption_key,
        ),
        (
            "sp_previous_encryption_certificate",
            &settings.sp_previous_encryption_certificate,
        ),
    );
    if settings.sp_previous_encryption_key.is_some() && settings.sp_encryption_key.is_none() {
        check.problem(
            format!("{path}.sp_previous_encryption_key"),
            "only beside sp_encryption_key: it is the key being replaced",
        );
    }
    let pairs = [
        ("sp_encryption_key", current),
        ("sp_previous_encryption_key", previous),
    ];
    pairs
        .into_iter()
        .filter_map(|(key, pair)| {
            let pair = pair?;
            let rsa = PKey::private_key_from_pem(pair.private_key_pem.expose().as_bytes())
                .ok()
                .and_then(|private| private.rsa().ok());
            if rsa.is_none_or(|rsa| rsa.size() * 8 < MIN_ENCRYPTION_KEY_BITS) {
                check.problem(
                    format!("{path}.{key}"),
                    "must be an RSA key of 2048 bits or more (the IdP encrypts to it with RSA-OAEP)",
                );
                return None;
            }
            Some(pair)
        })
        .collect()
}

/// A key and the certificate of its public half, given together as the keys `key` and
/// `certificate` (each with its value); none when neither is given.
fn key_pair(
    check: &mut Checker,
    path: &str,
    (key_name, key): (&str, &Option<String>),
    (certificate_name, certificate): (&str, &Option<String>),
) -> Option<SpSigning> {
    let (key, certificate) = match (key, certificate) {
        (None, None) => return None,
        (Some(key), Some(certificate)) => (key, certificate),
        _ => {
            check.problem(
                path,
                format!("give {key_name} and {certificate_name} together"),
            );
            return None;
        }
    };
    let key_path = format!("{path}.{key_name}");
    let pem = check.secret(&key_path, key)?;
    let Ok(private) = PKey::private_key_from_pem(pem.expose().as_bytes()) else {
        check.problem(key_path, "not a PEM private key");
        return None;
    };
    let cert_path = format!("{path}.{certificate_name}");
    let der = check.certificate(cert_path.clone(), certificate)?;
    let matches = openssl::x509::X509::from_der(&der)
        .and_then(|cert| cert.public_key())
        .is_ok_and(|public| public.public_eq(&private));
    if !matches {
        check.problem(cert_path, format!("is not the certificate of {key_name}"));
        return None;
    }
    Some(SpSigning {
        private_key_pem: pem,
        certificate: der,
    })
}

fn from_inline(
    check: &mut Checker,
    path: &str,
    settings: &FileSamlConnection,
) -> Option<IdpDescriptor> {
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
    let entity_id = required("idp_entity_id", &settings.idp_entity_id);
    let sso_url = required("idp_sso_url", &settings.idp_sso_url);
    let mut upstream_url = |key: &str, url: &String| match parse_upstream_url(url) {
        Ok(_) => true,
        Err(message) => {
            check.problem(format!("{path}.{key}"), message);
            false
        }
    };
    let sso_url = sso_url.filter(|url| upstream_url("idp_sso_url", url));
    let slo_url = settings
        .idp_slo_url
        .clone()
        .filter(|url| upstream_url("idp_slo_url", url));
    let certificates: Vec<Vec<u8>> = match &settings.idp_certificate {
        None => {
            check.problem(
                format!("{path}.idp_certificate"),
                "required: responses are verified with it, never with a certificate they carry",
            );
            Vec::new()
        }
        Some(given) => check.certificates(&format!("{path}.idp_certificate"), given),
    };
    if certificates.is_empty() {
        return None;
    }
    Some(IdpDescriptor {
        entity_id: entity_id?,
        sso_url: sso_url?,
        slo: slo_url.map(|location| LogoutService {
            location,
            response_location: None,
        }),
        certificates,
    })
}

fn from_metadata(check: &mut Checker, key: &str, text: &str) -> Option<IdpDescriptor> {
    match IdpDescriptor::from_metadata(text) {
        Ok(idp) => Some(idp),
        Err(lacks) => {
            for message in lacks {
                check.problem(key, message);
            }
            None
        }
    }
}
