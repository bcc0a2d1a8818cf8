//! Encrypted assertions from a SAML IdP: an independent IdP (pysaml2, encrypting with the xmlsec1
//! binary) and the test IdP of [`crate::saml_idp`] (encrypting with `idbridge::xmlenc`) sign in
//! through them; the attacks on them are refused and store nothing: another key, a tampered
//! ciphertext, a signed assertion beside the encrypted one, an encrypted assertion without its
//! own signature, RSA PKCS#1 v1.5 key transport, a plain assertion where encryption is required.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use idbridge::xmlenc::DataMethod;
use openssl::x509::X509;
use reqwest::StatusCode;

use crate::saml_idp::*;
use crate::support::*;
use idbridge::config::{Secret, SpSigning};

use crate::upstream_saml::{
    ACME_EMAIL, BAD, Setup, acme_spec, assert_refused, post_acs, sign_in_with, start,
};
use crate::upstream_saml_logout::{pem, pysaml2, pysaml2_folder};

crate::backend_tests!(
    an_independent_idp_signs_in_with_an_encrypted_assertion,
    every_block_cipher_signs_in,
    the_metadata_offers_both_certificates_during_a_rollover,
    an_assertion_to_the_previous_certificate_still_decrypts,
    an_assertion_encrypted_to_another_key_is_refused,
    a_tampered_ciphertext_is_refused,
    a_signed_assertion_beside_an_encrypted_one_is_refused,
    an_encrypted_assertion_without_its_own_signature_is_refused,
    pkcs1_v1_5_key_transport_is_refused,
    a_plain_assertion_is_refused_where_encryption_is_required,
    an_encrypted_assertion_is_refused_without_a_key,
);

const GCM: DataMethod = DataMethod::Aes256Gcm;

/// idbridge whose connection `acme` decrypts with `current` (and `previous`, in a rollover).
struct Encrypting {
    setup: Setup,
    current: IdpKey,
    previous: IdpKey,
}

impl Encrypting {
    async fn start(backend: Backend, rollover: bool, required: bool) -> Encrypting {
        let (current, previous) = (IdpKey::generate(), IdpKey::generate());
        let mut keys = format!(
            "sp_encryption_key = \"env:SP_ENC_KEY\"\nsp_encryption_certificate = \"{}\"\n",
            current.cert_b64
        );
        if rollover {
            keys.push_str(&format!(
                "sp_previous_encryption_key = \"env:SP_OLD_KEY\"\nsp_previous_encryption_certificate = \"{}\"\n",
                previous.cert_b64
            ));
        }
        if required {
            keys.push_str("require_encrypted_assertions = true\n");
        }
        let (current_pem, previous_pem) = (pem(&current), pem(&previous));
        let env = [
            ("SP_ENC_KEY", current_pem.as_str()),
            ("SP_OLD_KEY", &previous_pem),
        ];
        let setup = Setup::start_configured(backend, &keys, "", &env).await;
        Encrypting {
            setup,
            current,
            previous,
        }
    }

    /// The response of `spec` with its assertion (signed as `spec` says) encrypted with `method`
    /// to the current certificate.
    fn response(&self, spec: &Spec, method: DataMethod) -> String {
        let assertion = self.setup.idp.assertion(spec);
        let encrypted = encrypted_assertion(&assertion, &self.current.cert_b64, method);
        self.setup.idp.response_xml(spec, &encrypted)
    }
}

/// `assertion` encrypted with `method` to the certificate `recipient` (base64 DER), as an
/// EncryptedAssertion.
fn encrypted_assertion(assertion: &str, recipient: &str, method: DataMethod) -> String {
    let public = certificate(recipient).public_key().unwrap();
    let data = idbridge::xmlenc::encrypt(assertion.as_bytes(), &public, method).unwrap();
    format!("<saml:EncryptedAssertion>{data}</saml:EncryptedAssertion>")
}

fn certificate(b64: &str) -> X509 {
    X509::from_der(&STANDARD.decode(b64).unwrap()).unwrap()
}

/// pysaml2 answers idbridge's AuthnRequest with an assertion it signs and then has xmlsec1
/// encrypt, with AES-GCM and with AES-CBC, to the certificate idbridge's metadata publishes:
/// both sign Alice in.
async fn an_independent_idp_signs_in_with_an_encrypted_assertion(backend: Backend) {
    let encrypting = Encrypting::start(backend, false, true).await;
    let setup = &encrypting.setup;
    let browser = setup.server.client();
    let folder = pysaml2_folder(&setup.server, &browser, &setup.idp).await;
    for method in [
        "http://www.w3.org/2009/xmlenc11#aes256-gcm",
        "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
    ] {
        let outstanding = start(setup, &browser).await;
        let answer: serde_json::Value = serde_json::from_str(&pysaml2(
            folder.path(),
            &["login", outstanding.url.as_str(), ACME_EMAIL, method],
        ))
        .unwrap();
        assert_eq!(answer["acs"], setup.acs("acme"));
        let saml_response = answer["SAMLResponse"].as_str().unwrap();
        let xml = String::from_utf8(STANDARD.decode(saml_response).unwrap()).unwrap();
        assert!(
            xml.contains("EncryptedAssertion") && xml.contains(method),
            "{xml}"
        );
        let acs = post_acs(
            &browser,
            &setup.acs("acme"),
            saml_response,
            answer["RelayState"].as_str(),
        )
        .await;
        assert_eq!(acs.status(), StatusCode::SEE_OTHER, "{method}");
        let resumed = browser
            .get(setup.server.url(&location(&acs).unwrap()))
            .send()
            .await
            .unwrap();
        assert_eq!(location(&resumed).as_deref(), Some("/account"), "{method}");
    }
    assert_eq!(setup.server.count("upstream_identities").await, 1);
}

/// The test IdP encrypts with each block cipher, the assertion signed alone or with the
/// Response.
async fn every_block_cipher_signs_in(backend: Backend) {
    let encrypting = Encrypting::start(backend, false, false).await;
    for method in [
        DataMethod::Aes128Gcm,
        DataMethod::Aes256Gcm,
        DataMethod::Aes128Cbc,
        DataMethod::Aes256Cbc,
    ] {
        for signed in [Signed::Assertion, Signed::Both] {
            let status = sign_in_with(&encrypting.setup, |spec| {
                let mut spec = spec.clone();
                spec.signed = signed;
                encrypting.response(&spec, method)
            })
            .await;
            assert_eq!(status, StatusCode::SEE_OTHER, "{method:?}, {signed:?}");
        }
    }
    // Without require_encrypted_assertions, a plain assertion is taken too.
    let status = sign_in_with(&encrypting.setup, |spec| {
        encrypting.setup.idp.response(spec)
    })
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

async fn the_metadata_offers_both_certificates_during_a_rollover(backend: Backend) {
    let encrypting = Encrypting::start(backend, true, false).await;
    let server = &encrypting.setup.server;
    let metadata = page_text(&server.client(), server.url("/saml/acme/metadata")).await;
    let descriptors: Vec<&str> = metadata
        .split(r#"<md:KeyDescriptor use="encryption">"#)
        .skip(1)
        .collect();
    assert_eq!(descriptors.len(), 2, "{metadata}");
    assert!(
        descriptors[0].contains(&encrypting.current.cert_b64),
        "current first"
    );
    assert!(descriptors[1].contains(&encrypting.previous.cert_b64));
    for descriptor in descriptors {
        assert!(descriptor.contains(
            r#"<md:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/>"#
        ));
        assert!(!descriptor.contains("rsa-1_5"));
    }
}

async fn an_assertion_to_the_previous_certificate_still_decrypts(backend: Backend) {
    let encrypting = Encrypting::start(backend, true, true).await;
    let idp = &encrypting.setup.idp;
    let status = sign_in_with(&encrypting.setup, |spec| {
        let encrypted =
            encrypted_assertion(&idp.assertion(spec), &encrypting.previous.cert_b64, GCM);
        idp.response_xml(spec, &encrypted)
    })
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

async fn an_assertion_encrypted_to_another_key_is_refused(backend: Backend) {
    let encrypting = Encrypting::start(backend, false, false).await;
    let stranger = IdpKey::generate();
    assert_refused(&encrypting.setup, "another key", BAD, |spec| {
        encode(&to_another_key(&encrypting.setup.idp, spec, &stranger))
    })
    .await;
}

async fn a_tampered_ciphertext_is_refused(backend: Backend) {
    let encrypting = Encrypting::start(backend, false, false).await;
    assert_refused(&encrypting.setup, "tampered tag", BAD, |spec| {
        encode(&tampered_tag(&encrypting.response(spec, GCM)))
    })
    .await;
}

async fn a_signed_assertion_beside_an_encrypted_one_is_refused(backend: Backend) {
    let encrypting = Encrypting::start(backend, false, false).await;
    for signed in [Signed::Assertion, Signed::Both] {
        for encrypted_first in [true, false] {
            assert_refused(&encrypting.setup, "beside", BAD, |spec| {
                let mut spec = spec.clone();
                spec.signed = signed;
                encode(&beside(
                    &encrypting.setup.idp,
                    &encrypting.current,
                    &spec,
                    encrypted_first,
                ))
            })
            .await;
        }
    }
}

async fn an_encrypted_assertion_without_its_own_signature_is_refused(backend: Backend) {
    let encrypting = Encrypting::start(backend, false, false).await;
    for signed in [Signed::Response, Signed::Nothing] {
        for method in [GCM, DataMethod::Aes128Cbc] {
            assert_refused(&encrypting.setup, "unsigned inside", BAD, |spec| {
                let mut spec = spec.clone();
                spec.signed = signed;
                encode(&encrypting.response(&spec, method))
            })
            .await;
        }
    }
}

async fn pkcs1_v1_5_key_transport_is_refused(backend: Backend) {
    let encrypting = Encrypting::start(backend, false, false).await;
    assert_refused(&encrypting.setup, "rsa-1_5", BAD, |spec| {
        encode(&pkcs1_v1_5(
            &encrypting.setup.idp,
            &encrypting.current,
            spec,
        ))
    })
    .await;
}

/// The response of `spec` with its assertion encrypted to `stranger`'s certificate.
fn to_another_key(idp: &IdpKey, spec: &Spec, stranger: &IdpKey) -> String {
    let encrypted = encrypted_assertion(&idp.assertion(spec), &stranger.cert_b64, GCM);
    idp.response_xml(spec, &encrypted)
}

/// `xml` with one bit of the GCM tag (the last bytes of the data's CipherValue) changed.
fn tampered_tag(xml: &str) -> String {
    let start = xml.rfind("<xenc:CipherValue>").unwrap() + "<xenc:CipherValue>".len();
    let end = start + xml[start..].find('<').unwrap();
    let mut data = STANDARD.decode(&xml[start..end]).unwrap();
    *data.last_mut().unwrap() ^= 1;
    format!("{}{}{}", &xml[..start], STANDARD.encode(data), &xml[end..])
}

/// The wrapping attack: an encrypted assertion for Mallory (anyone can encrypt to our
/// certificate) beside Alice's signed plain one (signed as `spec` says), either way round.
fn beside(idp: &IdpKey, recipient: &IdpKey, spec: &Spec, encrypted_first: bool) -> String {
    let signed = idp.assertion(spec);
    let mut forged = spec.clone();
    forged.name_id = "mallory@acme.test".into();
    forged.signed = Signed::Nothing;
    let forged = idp.assertion(&forged);
    let encrypted = encrypted_assertion(&forged, &recipient.cert_b64, GCM);
    let both = if encrypted_first {
        format!("{encrypted}{signed}")
    } else {
        format!("{signed}{encrypted}")
    };
    idp.response_xml(spec, &both)
}

/// The response of `spec` with its assertion encrypted validly, but its content key sent by RSA
/// PKCS#1 v1.5, whose padding errors are an oracle (Bleichenbacher).
fn pkcs1_v1_5(idp: &IdpKey, recipient: &IdpKey, spec: &Spec) -> String {
    let key = [9u8; 32];
    let iv = [1u8; 12];
    let mut tag = [0u8; 16];
    let mut data = iv.to_vec();
    data.extend(
        openssl::symm::encrypt_aead(
            openssl::symm::Cipher::aes_256_gcm(),
            &key,
            Some(&iv),
            &[],
            idp.assertion(spec).as_bytes(),
            &mut tag,
        )
        .unwrap(),
    );
    data.extend(tag);
    let rsa = certificate(&recipient.cert_b64)
        .public_key()
        .unwrap()
        .rsa()
        .unwrap();
    let mut wrapped = vec![0; rsa.size() as usize];
    let length = rsa
        .public_encrypt(&key, &mut wrapped, openssl::rsa::Padding::PKCS1)
        .unwrap();
    wrapped.truncate(length);
    let encrypted = format!(
        r#"<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="http://www.w3.org/2009/xmlenc11#aes256-gcm"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-1_5"/><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml:EncryptedAssertion>"#,
        STANDARD.encode(wrapped),
        STANDARD.encode(data)
    );
    idp.response_xml(spec, &encrypted)
}

async fn a_plain_assertion_is_refused_where_encryption_is_required(backend: Backend) {
    let encrypting = Encrypting::start(backend, false, true).await;
    let idp = &encrypting.setup.idp;
    for signed in [Signed::Assertion, Signed::Both] {
        assert_refused(&encrypting.setup, "plain", BAD, |spec| {
            let mut spec = spec.clone();
            spec.signed = signed;
            encode(&idp.response(&spec))
        })
        .await;
    }
    // The same login encrypted is taken: the refusals above were for the plainness alone.
    let status = sign_in_with(&encrypting.setup, |spec| encrypting.response(spec, GCM)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

async fn an_encrypted_assertion_is_refused_without_a_key(backend: Backend) {
    let setup = Setup::start(backend).await;
    let sp = IdpKey::generate();
    assert_refused(&setup, "no key", BAD, |spec| {
        let encrypted = encrypted_assertion(&setup.idp.assertion(spec), &sp.cert_b64, GCM);
        encode(&setup.idp.response_xml(spec, &encrypted))
    })
    .await;
}

/// Each problem of the encryption keys is named by its key.
#[test]
fn encryption_keys_are_checked_when_the_config_is_read() {
    let (key, other) = (IdpKey::generate(), IdpKey::generate());
    let ec = openssl::pkey::PKey::from_ec_key(
        openssl::ec::EcKey::generate(
            &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let ec_pem = String::from_utf8(ec.private_key_to_pem_pkcs8().unwrap()).unwrap();
    let ec_cert = {
        let mut builder = openssl::x509::X509Builder::new().unwrap();
        builder.set_pubkey(&ec).unwrap();
        builder
            .set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        builder
            .set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
            .unwrap();
        builder
            .sign(&ec, openssl::hash::MessageDigest::sha256())
            .unwrap();
        STANDARD.encode(builder.build().to_der().unwrap())
    };
    let check = |keys: &str, env_key: &str| {
        let config = format!(
            r#"{BASE_CONFIG}
[[connections]]
id = "acme"
type = "saml"
entity = "e-mer-1"
idp_entity_id = "{IDP_ENTITY}"
idp_sso_url = "https://idp.acme.test/sso"
idp_certificate = "{}"
{keys}
"#,
            key.cert_b64
        );
        let env_key = env_key.to_string();
        idbridge::Config::from_toml(&with_test_kek(&config), &|name| match name {
            "SP_ENC_KEY" => Some(env_key.clone()),
            "SHOP_SECRET" => Some(SHOP_SECRET.to_string()),
            TEST_KEK_VAR => Some(TEST_KEK.to_string()),
            _ => None,
        })
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
    };
    let pair = |cert: &str| {
        format!("sp_encryption_key = \"env:SP_ENC_KEY\"\nsp_encryption_certificate = \"{cert}\"")
    };
    let key_pem = pem(&key);
    assert_eq!(check(&pair(&key.cert_b64), &key_pem), "");
    for (keys, env_key, problem) in [
        (
            "require_encrypted_assertions = true".to_string(),
            key_pem.as_str(),
            "connections[0].require_encrypted_assertions: needs sp_encryption_key",
        ),
        (
            pair(&other.cert_b64),
            &key_pem,
            "connections[0].sp_encryption_certificate: is not the certificate of sp_encryption_key",
        ),
        (
            "sp_encryption_key = \"env:SP_ENC_KEY\"".to_string(),
            &key_pem,
            "connections[0]: give sp_encryption_key and sp_encryption_certificate together",
        ),
        (
            format!(
                "sp_previous_encryption_key = \"env:SP_ENC_KEY\"\nsp_previous_encryption_certificate = \"{}\"",
                key.cert_b64
            ),
            &key_pem,
            "connections[0].sp_previous_encryption_key: only beside sp_encryption_key",
        ),
        (
            pair(&ec_cert),
            &ec_pem,
            "connections[0].sp_encryption_key: must be an RSA key of 2048 bits or more",
        ),
    ] {
        let refused = check(&keys, env_key);
        assert!(refused.contains(problem), "{keys}: {refused}");
    }
}

/// Each refusal above is for its own reason (the ACS shows none of them: its page says only
/// that the answer could not be verified).
#[test]
fn each_refusal_names_its_reason() {
    let issuer = "https://id.example.test";
    let (idp, current) = (IdpKey::generate(), IdpKey::generate());
    let decrypting = |required: bool| {
        idp.connector_with(issuer, |settings| {
            settings.sp_encryption = vec![SpSigning {
                private_key_pem: Secret::new(pem(&current)),
                certificate: STANDARD.decode(&current.cert_b64).unwrap(),
            }];
            settings.require_encrypted_assertions = required;
        })
    };
    let (taking, requiring) = (decrypting(false), decrypting(true));
    let now = chrono::Utc::now().timestamp();
    let spec = acme_spec(issuer, None);
    let encrypted = |spec: &Spec| {
        idp.response_xml(
            spec,
            &encrypted_assertion(&idp.assertion(spec), &current.cert_b64, GCM),
        )
    };
    let identity = requiring
        .verify(&encode(&encrypted(&spec)), None, now)
        .unwrap();
    assert_eq!(identity.name_id, ACME_EMAIL);
    let mut unsigned = spec.clone();
    unsigned.signed = Signed::Response;
    for (connector, xml, reason) in [
        (
            &taking,
            to_another_key(&idp, &spec, &IdpKey::generate()),
            "none of our keys decrypts any of its EncryptedKeys",
        ),
        (
            &taking,
            tampered_tag(&encrypted(&spec)),
            "the ciphertext does not decrypt",
        ),
        (
            &taking,
            beside(&idp, &current, &spec, true),
            "the response must hold exactly one assertion",
        ),
        (
            &taking,
            encrypted(&unsigned),
            "the decrypted assertion is not signed",
        ),
        (
            &taking,
            pkcs1_v1_5(&idp, &current, &spec),
            "the algorithm http://www.w3.org/2001/04/xmlenc#rsa-1_5 is not accepted",
        ),
        (
            &requiring,
            idp.response(&spec),
            "this connection requires it",
        ),
        (
            &idp.connector(issuer),
            encrypted(&spec),
            "this connection has no key to decrypt it",
        ),
    ] {
        let refused = connector
            .verify(&encode(&xml), None, now)
            .unwrap_err()
            .to_string();
        assert!(refused.contains(reason), "{reason}: {refused}");
    }
}

/// An IdP may encrypt an assertion that relies on a prefix declared on the EncryptedAssertion
/// alone (XML Encryption decrypts in the EncryptedData's context): it still verifies.
#[test]
fn a_prefix_declared_on_the_encrypted_assertion_reaches_the_assertion() {
    let issuer = "https://id.example.test";
    let (idp, current) = (IdpKey::generate(), IdpKey::generate());
    let connector = idp.connector_with(issuer, |settings| {
        settings.sp_encryption = vec![SpSigning {
            private_key_pem: Secret::new(pem(&current)),
            certificate: STANDARD.decode(&current.cert_b64).unwrap(),
        }];
    });
    let mut spec = acme_spec(issuer, None);
    spec.signed = Signed::Nothing;
    let plain = idp.assertion(&spec);
    let id_at = plain.find(" ID=\"").unwrap() + 5;
    let id = &plain[id_at..id_at + plain[id_at..].find('"').unwrap()];
    // Signed with the prefix s2, then its declaration taken off the assertion: its exclusive
    // canonical form, and so its signature, does not depend on where the prefix is declared.
    let signed = idp.sign(
        &plain
            .replacen(
                "</saml:Issuer>",
                &format!("</saml:Issuer>{}", signature_template(id, &idp.cert_b64)),
                1,
            )
            .replace("saml:", "s2:")
            .replace("xmlns:saml=", "xmlns:s2="),
    );
    let declaration = r#" xmlns:s2="urn:oasis:names:tc:SAML:2.0:assertion""#;
    let bare = signed.replacen(declaration, "", 1);
    assert!(!bare.contains("xmlns:s2"));
    let public = certificate(&current.cert_b64).public_key().unwrap();
    let data = idbridge::xmlenc::encrypt(bare.as_bytes(), &public, GCM).unwrap();
    let encrypted = format!("<s2:EncryptedAssertion{declaration}>{data}</s2:EncryptedAssertion>");
    let now = chrono::Utc::now().timestamp();
    let identity = connector
        .verify(&encode(&idp.response_xml(&spec, &encrypted)), None, now)
        .unwrap();
    assert_eq!(identity.name_id, ACME_EMAIL);
}
