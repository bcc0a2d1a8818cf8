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
