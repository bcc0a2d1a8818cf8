//! Making a key pair for an algorithm: RSA 2048 for RS256, P-256 for ES256, Ed25519 for EdDSA;
//! the private key as PKCS#8 PEM, the public key as a JWK.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand_core::OsRng;
use rsa::pkcs8::LineEnding;
use serde_json::json;

use super::KeyError;
use crate::config::Alg;

/// A freshly made key pair: private key as PKCS#8 PEM, public key as a JWK.
pub(super) struct NewKey {
    pub(super) private_pem: String,
    pub(super) public_jwk: serde_json::Value,
}

pub(super) fn generate(alg: Alg) -> Result<NewKey, KeyError> {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use rsa::traits::PublicKeyParts;

    let failed = |e: &dyn std::fmt::Display| KeyError::Generate(e.to_string());
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    match alg {
        Alg::RS256 => {
            let key = rsa::RsaPrivateKey::new(&mut OsRng, 2048).map_err(|e| failed(&e))?;
            Ok(NewKey {
                private_pem: key
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|e| failed(&e))?
                    .to_string(),
                public_jwk: json!({"kty": "RSA", "n": b64(&key.n().to_bytes_be()), "e": b64(&key.e().to_bytes_be())}),
            })
        }
        Alg::ES256 => {
            let key = p256::SecretKey::random(&mut OsRng);
            let point = key.public_key().to_encoded_point(false);
            let (x, y) = (
                point.x().expect("uncompressed"),
                point.y().expect("uncompressed"),
            );
            Ok(NewKey {
                private_pem: key
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|e| failed(&e))?
                    .to_string(),
                public_jwk: json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)}),
            })
        }
        Alg::EdDSA => {
            let key = ed25519_dalek::SigningKey::generate(&mut OsRng);
            Ok(NewKey {
                private_pem: key
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|e| failed(&e))?
                    .to_string(),
                public_jwk: json!({"kty": "OKP", "crv": "Ed25519", "x": b64(key.verifying_key().as_bytes())}),
            })
        }
        Alg::HS256 => Err(KeyError::Generate(
            "HS256 uses client secrets, not key pairs".into(),
        )),
    }
}

/// How long a signing key's certificate says it is valid. SAML peers trust the certificate they
/// were given, not a chain, and many do not check its dates; rotation replaces the key long
/// before this.
const CERTIFICATE_DAYS: u32 = 20 * 365;

/// A self-signed X.509 certificate (DER) of an RSA or P-256 key, made at `created_at`, for SAML
/// metadata; `None` for algorithms XML signatures do not use here (EdDSA).
pub(super) fn certificate(
    alg: Alg,
    kid: &str,
    private_pem: &str,
    created_at: i64,
) -> Result<Option<Vec<u8>>, KeyError> {
    use openssl::asn1::{Asn1Integer, Asn1Time};
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::x509::{X509Builder, X509NameBuilder};

    if !matches!(alg, Alg::RS256 | Alg::ES256) {
        return Ok(None);
    }
    let failed = |e: openssl::error::ErrorStack| KeyError::Generate(e.to_string());
    let key = PKey::private_key_from_pem(private_pem.as_bytes()).map_err(failed)?;
    let mut name = X509NameBuilder::new().map_err(failed)?;
    name.append_entry_by_text("CN", &format!("idbridge {kid}"))
        .map_err(failed)?;
    let name = name.build();
    let mut builder = X509Builder::new().map_err(failed)?;
    builder.set_version(2).map_err(failed)?;
    let serial = BigNum::from_slice(&crate::crypto::random_bytes()[..16]).map_err(failed)?;
    let serial = Asn1Integer::from_bn(&serial).map_err(failed)?;
    builder.set_serial_number(&serial).map_err(failed)?;
    builder.set_subject_name(&name).map_err(failed)?;
    builder.set_issuer_name(&name).map_err(failed)?;
    builder.set_pubkey(&key).map_err(failed)?;
    let not_before = Asn1Time::from_unix(created_at - 60).map_err(failed)?;
    let not_after =
        Asn1Time::from_unix(created_at + i64::from(CERTIFICATE_DAYS) * 86_400).map_err(failed)?;
    builder.set_not_before(&not_before).map_err(failed)?;
    builder.set_not_after(&not_after).map_err(failed)?;
    builder
        .sign(&key, MessageDigest::sha256())
        .map_err(failed)?;
    Ok(Some(builder.build().to_der().map_err(failed)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asymmetric_alg_generates_a_pem_and_jwk() {
        for alg in [Alg::ES256, Alg::EdDSA, Alg::RS256] {
            let key = generate(alg).unwrap();
            assert!(
                key.private_pem.starts_with("-----BEGIN PRIVATE KEY-----"),
                "{alg:?}"
            );
            assert!(key.public_jwk["kty"].is_string(), "{alg:?}");
        }
    }
}
