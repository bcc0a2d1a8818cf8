//! `[[service_providers]]`: the SAML service providers idbridge is the IdP of, from their
//! metadata or from values, and what each is given.
use std::collections::HashSet;
use std::path::Path;

use samael::metadata::{HTTP_POST_BINDING, HTTP_REDIRECT_BINDING};

use super::checker::{Checker, check_unique, is_url_safe_id};
use super::urls::{check_redirect_uri, parse_upstream_url};
use crate::config::file::{FileReleasedAttribute, FileServiceProvider};
use crate::config::{
    AcsUrl, Alg, EnvLookup, LogoutService, NameIdFormat, PersonValue, Problem, ReleasedAttribute,
    ServiceProviderDecl, certificate_der,
};

const ATTRIBUTE_FORMATS: [(&str, &str); 3] = [
    ("basic", "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"),
    ("uri", "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"),
    (
        "unspecified",
        "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified",
    ),
];

/// What an SP's metadata (or the values given instead) says of it.
struct Described {
    entity_id: String,
    acs_urls: Vec<AcsUrl>,
    signing_certificates: Vec<Vec<u8>>,
    encryption_certificate: Option<Vec<u8>>,
    slo: Option<LogoutService>,
    requests_signed: bool,
}

/// `client_ids`: the OpenID Connect clients' ids, lower-cased, which an SP's may not take in any
/// case (consents are kept by that id).
pub(super) fn check_service_providers(
    check: &mut Checker,
    providers: &[FileServiceProvider],
    client_ids: &HashSet<String>,
    issuer_is_https: bool,
    base_dir: &Path,
) -> Vec<ServiceProviderDecl> {
    let mut seen = HashSet::new();
    let mut entity_ids = HashSet::new();
    let mut declared = Vec::new();
    for (i, sp) in providers.iter().enumerate() {
        let path = format!("service_providers[{i}]");
        let before = check.problems.len();
        if check_unique(check, &mut seen, format!("{path}.id"), &sp.id).is_some() {
            if !is_url_safe_id(&sp.id) {
                check.problem(
                    format!("{path}.id"),
                    "only letters, digits, '-', '_' and '.' (it is part of /saml/idp/sso/{id})",
                );
            } else if client_ids.contains(&sp.id.to_ascii_lowercase()) {
                check.problem(
                    format!("{path}.id"),
                    "a client has this id: clients and service providers share one namespace (consents are kept by it)",
                );
            }
        }
        let described = describe(check, &path, sp, base_dir);
        if let Some(described) = &described
            && !entity_ids.insert(described.entity_id.clone())
        {
            check.problem(
                format!("{path}.entity_id"),
                "another service provider has this entity ID",
            );
        }
        let name_id_format = match sp.name_id_format.as_deref().unwrap_or("email") {
            "email" => Some(NameIdFormat::Email),
            "persistent" => Some(NameIdFormat::Persistent),
            "transient" => Some(NameIdFormat::Transient),
            _ => {
                check.problem(
                    format!("{path}.name_id_format"),
                    "must be email, persistent or transient",
                );
                None
            }
        };
        let signed = match sp.sign.as_deref().unwrap_or("assertion") {
            "assertion" => Some((true, false)),
            "response" => Some((false, true)),
            "both" => Some((true, true)),
            _ => {
                check.problem(
                    format!("{path}.sign"),
                    "must be assertion, response or both",
                );
                None
            }
        };
        let signature_alg = match sp.signature_algorithm.as_deref().unwrap_or("rsa-sha256") {
            "rsa-sha256" => Some(Alg::RS256),
            "ecdsa-sha256" => Some(Alg::ES256),
            _ => {
                check.problem(
                    format!("{path}.signature_algorithm"),
                    "must be rsa-sha256 or ecdsa-sha256",
                );
                None
            }
        };
        let attributes = released_attributes(check, &path, &sp.attributes);
        let encrypt_assertions = sp.encrypt_assertions.unwrap_or(false);
        let requests_signed = sp.requests_signed == Some(true);
        // An SP described by a URL is checked the same way each time its metadata is read.
        if let Some(described) = &described
            && sp.metadata_url.is_none()
        {
            check_fit(
                check,
                &path,
                described,
                requests_signed,
                encrypt_assertions,
                issuer_is_https,
            );
        }
        if check.problems.len() != before {
            continue;
        }
        let (
            Some(described),
            Some(name_id_format),
            Some((sign_assertion, sign_response)),
            Some(signature_alg),
        ) = (described, name_id_format, signed, signature_alg)
        else {
            continue;
        };
        declared.push(ServiceProviderDecl {
            id: sp.id.clone(),
            name: sp.name.clone().unwrap_or_else(|| sp.id.clone()),
            entity_id: described.entity_id,
            metadata_url: sp.metadata_url.clone(),
            acs_urls: described.acs_urls,
            signing_certificates: described.signing_certificates,
            encryption_certificate: described.encryption_certificate,
            slo: described.slo,
            requests_signed: requests_signed || described.requests_signed,
            name_id_format,
            attributes,
            sign_assertion,
            sign_response,
            signature_alg,
            encrypt_assertions,
            allow_idp_initiated: sp.allow_idp_initiated.unwrap_or(false),
        });
    }
    declared
}

/// The SP from its metadata (a file, the document, or a URL with its entity ID: known only once
/// read) or from the values given, one of them.
fn describe(
    check: &mut Checker,
    path: &str,
    sp: &FileServiceProvider,
    base_dir: &Path,
) -> Option<Described> {
    let values = !sp.acs_urls.is_empty()
        || sp.certificate.is_some()
        || sp.encryption_certificate.is_some()
        || sp.slo_url.is_some();
    let given = [
        sp.metadata.is_some(),
        sp.metadata_xml.is_some(),
        sp.metadata_url.is_some(),
        values || (sp.entity_id.is_some() && sp.metadata_url.is_none()),
    ];
    if given.iter().filter(|given| **given).count() != 1 {
        check.problem(
            path,
            "give one of metadata, metadata_xml, metadata_url + entity_id, or entity_id + acs_urls (+ certificate, encryption_certificate)",
        );
        return None;
    }
    if let Some(file) = &sp.metadata {
        let key = format!("{path}.metadata");
        let file = base_dir.join(file);
        match std::fs::read_to_string(&file) {
            Ok(text) => from_metadata(check, &key, &text),
            Err(error) => {
                check.problem(key, format!("cannot read {}: {error}", file.display()));
                None
            }
        }
    } else if let Some(text) = &sp.metadata_xml {
        from_metadata(check, &format!("{path}.metadata_xml"), text)
    } else if let Some(url) = &sp.metadata_url {
        if let Err(message) = parse_upstream_url(url) {
            check.problem(format!("{path}.metadata_url"), message);
        }
        let Some(entity_id) = sp.entity_id.clone().filter(|id| !id.trim().is_empty()) else {
            check.problem(
                format!("{path}.entity_id"),
                "required with metadata_url: requests are matched to the SP by it before its metadata is read, and the metadata read must name it",
            );
            return None;
        };
        Some(Described {
            entity_id,
            acs_urls: Vec::new(),
            signing_certificates: Vec::new(),
            encryption_certificate: None,
            slo: None,
            requests_signed: false,
        })
    } else {
        from_values(check, path, sp)
    }
}

/// Whether what describes an SP fits what is declared of it: URLs people are sent to, a
/// certificate to check its signed requests with, an RSA key to encrypt its assertions to.
fn check_fit(
    check: &mut Checker,
    path: &str,
    described: &Described,
    requests_signed: bool,
    encrypt_assertions: bool,
    issuer_is_https: bool,
) {
    for (i, acs) in described.acs_urls.iter().enumerate() {
        if let Err(message) = check_redirect_uri(&acs.url, issuer_is_https) {
            check.problem(format!("{path}.acs_urls[{i}]"), message);
        }
    }
    let slo_urls = described
        .slo
        .iter()
        .flat_map(|slo| std::iter::once(&slo.location).chain(&slo.response_location));
    for url in slo_urls {
        if let Err(message) = check_redirect_uri(url, issuer_is_https) {
            check.problem(format!("{path}.slo_url"), message);
        }
    }
    if (requests_signed || described.requests_signed) && described.signing_certificates.is_empty() {
        check.problem(
            format!("{path}.requests_signed"),
            "needs the SP's signing certificate (certificate, or a KeyDescriptor in its metadata) to verify its requests with",
        );
    }
    if encrypt_assertions {
        match described.encryption_certificate.as_deref() {
            None => check.problem(
                format!("{path}.encrypt_assertions"),
                "needs the SP's encryption certificate (encryption_certificate, or a KeyDescriptor in its metadata)",
            ),
            Some(der) => {
                let rsa = openssl::x509::X509::from_der(der)
                    .and_then(|cert| cert.public_key())
                    .is_ok_and(|key| key.rsa().is_ok());
                if !rsa {
                    check.problem(
                        format!("{path}.encrypt_assertions"),
                        "the SP's encryption certificate must hold an RSA key (assertions are encrypted to it with RSA-OAEP)",
                    );
                }
            }
        }
    }
}

impl ServiceProviderDecl {
    /// This SP (declared with `metadata_url`) as `metadata`, read from there, describes it: the
    /// metadata must name the declared entity ID and fit the rest of the declaration, as a
    /// metadata file must. `issuer_is_https`: whether the deployment runs on https.
    pub fn described_by(
        &self,
        metadata: &str,
        issuer_is_https: bool,
    ) -> Result<ServiceProviderDecl, Vec<Problem>> {
        let no_env: EnvLookup = &|_| None;
        let mut check = Checker {
            env: no_env,
            problems: Vec::new(),
        };
        let described = from_metadata(&mut check, "metadata", metadata);
        if let Some(described) = &described {
            if described.entity_id != self.entity_id {
                check.problem(
                    "metadata",
                    format!(
                        "names the entity ID {}, not the declared {}",
                        described.entity_id, self.entity_id
                    ),
                );
            }
            check_fit(
                &mut check,
                "metadata",
                described,
                self.requests_signed,
                self.encrypt_assertions,
                issuer_is_https,
            );
        }
        match described {
            Some(described) if check.problems.is_empty() => Ok(ServiceProviderDecl {
                acs_urls: described.acs_urls,
                signing_certificates: described.signing_certificates,
                encryption_certificate: described.encryption_certificate,
                slo: described.slo,
                requests_signed: self.requests_signed || described.requests_signed,
                ..self.clone()
            }),
            _ => Err(check.problems),
        }
    }
}

fn from_values(check: &mut Checker, path: &str, sp: &FileServiceProvider) -> Option<Described> {
    let entity_id = sp.entity_id.clone().filter(|id| !id.trim().is_empty());
    if entity_id.is_none() {
        check.problem(
            format!("{path}.entity_id"),
            "required for a service provider without metadata",
        );
    }
    if sp.acs_urls.is_empty() {
        check.problem(
            format!("{path}.acs_urls"),
            "at least one is required (the first is the default)",
        );
    }
    let signing_certificates = sp
        .certificate
        .as_ref()
        .map(|given| check.certificates(&format!("{path}.certificate"), given))
        .unwrap_or_default();
    let encryption_certificate = sp
        .encryption_certificate
        .as_deref()
        .and_then(|value| check.certificate(format!("{path}.encryption_certificate"), value));
    Some(Described {
        entity_id: entity_id?,
        acs_urls: sp
            .acs_urls
            .iter()
            .enumerate()
            .map(|(index, url)| AcsUrl {
                index,
                url: url.clone(),
            })
            .collect(),
        signing_certificates,
        encryption_certificate,
        slo: sp.slo_url.clone().map(|location| LogoutService {
            location,
            response_location: None,
        }),
        requests_signed: false,
    })
}

/// An SP's metadata: its entityID, its HTTP-POST AssertionConsumerServices (the one marked
/// `isDefault`, else the lowest index, first), its certificates by use, AuthnRequestsSigned.
fn from_metadata(check: &mut Checker, key: &str, text: &str) -> Option<Described> {
    use samael::metadata::EntityDescriptor;
    let Ok(metadata) = text.parse::<EntityDescriptor>() else {
        check.problem(key, "not SAML metadata (an EntityDescriptor)");
        return None;
    };
    let descriptors = metadata.sp_sso_descriptors.unwrap_or_default();
    let mut services: Vec<_> = descriptors
        .iter()
        .flat_map(|d| &d.assertion_consumer_services)
        .filter(|service| service.binding == HTTP_POST_BINDING)
        .collect();
    services.sort_by_key(|service| (service.is_default != Some(true), service.index));
    let certificates = |wanted: &str| -> Vec<Vec<u8>> {
        descriptors
            .iter()
            .flat_map(|d| d.key_descriptors.iter().flatten())
            .filter(|k| {
                k.key_use
                    .as_deref()
                    .is_none_or(|u| u.is_empty() || u == wanted)
            })
            .filter_map(|k| k.key_info.x509_data.as_ref())
            .flat_map(|x509| &x509.certificates)
            .filter_map(|cert| certificate_der(cert))
            .collect()
    };
    let Some(entity_id) = metadata.entity_id else {
        check.problem(key, "has no entityID");
        return None;
    };
    if services.is_empty() {
        check.problem(
            key,
            "has no AssertionConsumerService with the HTTP-POST binding",
        );
        return None;
    }
    let requests_signed = descriptors
        .iter()
        .any(|d| d.authn_requests_signed == Some(true));
    let signing_certificates = certificates("signing");
    Some(Described {
        entity_id,
        acs_urls: services
            .iter()
            .map(|service| AcsUrl {
                index: service.index,
                url: service.location.clone(),
            })
            .collect(),
        signing_certificates,
        encryption_certificate: certificates("encryption").into_iter().next(),
        slo: descriptors
            .iter()
            .flat_map(|d| d.single_logout_services.iter().flatten())
            .find(|service| service.binding == HTTP_REDIRECT_BINDING)
            .map(|service| LogoutService {
                location: service.location.clone(),
                response_location: service.response_location.clone(),
            }),
        requests_signed,
    })
}

fn released_attributes(
    check: &mut Checker,
    path: &str,
    attributes: &[FileReleasedAttribute],
) -> Vec<ReleasedAttribute> {
    let mut names = HashSet::new();
    attributes
        .iter()
        .enumerate()
        .filter_map(|(i, attribute)| {
            let path = format!("{path}.attributes[{i}]");
            if attribute.name.trim().is_empty() {
                check.problem(format!("{path}.name"), "must not be empty");
            } else if !names.insert(attribute.name.as_str()) {
                check.problem(format!("{path}.name"), "released twice");
            }
            let value = PersonValue::ALL
                .iter()
                .find(|(name, _)| *name == attribute.value)
                .map(|(_, value)| *value);
            if value.is_none() {
                let known: Vec<&str> = PersonValue::ALL.iter().map(|(name, _)| *name).collect();
                check.problem(
                    format!("{path}.value"),
                    format!("must be one of {}", known.join(", ")),
                );
            }
            let name_format = ATTRIBUTE_FORMATS
                .iter()
                .find(|(name, _)| *name == attribute.format.as_deref().unwrap_or("basic"))
                .map(|(_, uri)| *uri);
            if name_format.is_none() {
                check.problem(
                    format!("{path}.format"),
                    "must be basic, uri or unspecified",
                );
            }
            Some(ReleasedAttribute {
                name: attribute.name.clone(),
                name_format: name_format?,
                value: value?,
            })
        })
        .collect()
}
