//! Signing keys for ID tokens: made on first start, stored in the database so every process signs
//! with the same keys, and encrypted at rest with AES-256-GCM when `keys.encryption_key` is set.
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand_core::{OsRng, RngCore};
use serde_json::json;

use crate::config::{Alg, EncryptionKey, KeysConfig};
use crate::store::tables::signing_key;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error(
        "signing key {kid} cannot be decrypted: keys.encryption_key is not the key it was stored with"
    )]
    WrongEncryptionKey { kid: String },
    #[error("signing key {kid} is stored encrypted but keys.encryption_key is not set")]
    MissingEncryptionKey { kid: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("key task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A freshly made key pair: private key as PKCS#8 PEM, public key as a JWK.
struct NewKey {
    private_pem: String,
    public_jwk: serde_json::Value,
}

fn generate(alg: Alg) -> Result<NewKey, KeyError> {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    use rsa::pkcs8::LineEnding;
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

/// `base64(nonce ‖ ciphertext)`; the key id is bound in as associated data, so a ciphertext copied
/// onto another row does not decrypt.
fn encrypt(key: &EncryptionKey, kid: &str, plaintext: &str) -> String {
    let cipher = Aes256Gcm::new((&key.0).into());
    let mut nonce = [0u8; 12];
    OsRng.fill_bytes(&mut nonce);
    let payload = Payload {
        msg: plaintext.as_bytes(),
        aad: kid.as_bytes(),
    };
    let ciphertext = cipher
        .encrypt(&Nonce::from(nonce), payload)
        .expect("AES-GCM encrypts any length");
    STANDARD.encode([nonce.as_slice(), &ciphertext].concat())
}

fn decrypt(key: &EncryptionKey, kid: &str, stored: &str) -> Option<String> {
    let bytes = STANDARD.decode(stored).ok()?;
    let (nonce, ciphertext) = bytes.split_at_checked(12)?;
    let nonce: [u8; 12] = nonce.try_into().ok()?;
    let cipher = Aes256Gcm::new((&key.0).into());
    let plain = cipher
        .decrypt(
            &Nonce::from(nonce),
            Payload {
                msg: ciphertext,
                aad: kid.as_bytes(),
            },
        )
        .ok()?;
    String::from_utf8(plain).ok()
}

/// The private key of a stored row as PKCS#8 PEM.
fn private_pem(row: &signing_key::Model, key: Option<&EncryptionKey>) -> Result<String, KeyError> {
    match (row.encrypted, key) {
        (false, _) => Ok(row.private_key.clone()),
        (true, None) => Err(KeyError::MissingEncryptionKey {
            kid: row.kid.clone(),
        }),
        (true, Some(key)) => {
            decrypt(key, &row.kid, &row.private_key).ok_or_else(|| KeyError::WrongEncryptionKey {
                kid: row.kid.clone(),
            })
        }
    }
}

/// Run at start: checks that every stored key can be read with the configured encryption key,
/// encrypts keys stored in clear once an encryption key is configured, and makes a key for the
/// configured algorithm if there is none yet.
pub async fn prepare(store: &Store, config: &KeysConfig, now: i64) -> Result<(), KeyError> {
    let rows = store.active_signing_keys().await?;
    for row in &rows {
        let pem = private_pem(row, config.encryption_key.as_ref())?;
        if let (false, Some(key)) = (row.encrypted, &config.encryption_key) {
            store
                .store_encrypted_private_key(&row.kid, encrypt(key, &row.kid, &pem))
                .await?;
        }
    }
    if rows
        .iter()
        .any(|row| row.alg == config.id_token_alg.as_str())
    {
        return Ok(());
    }
    let alg = config.id_token_alg;
    let new = tokio::task::spawn_blocking(move || generate(alg)).await??;
    let kid = URL_SAFE_NO_PAD.encode(&crate::crypto::random_bytes()[..12]);
    let mut jwk = new.public_jwk;
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!(alg.as_str());
    jwk["use"] = json!("sig");
    let (private_key, encrypted) = match &config.encryption_key {
        Some(key) => (encrypt(key, &kid, &new.private_pem), true),
        None => (new.private_pem, false),
    };
    store
        .insert_signing_key(signing_key::Model {
            kid,
            alg: alg.as_str().to_string(),
            private_key,
            encrypted,
            public_jwk: jwk.to_string(),
            created_at: now,
            retired_at: None,
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encryption_round_trip_is_bound_to_key_and_kid() {
        let key = EncryptionKey([7; 32]);
        let stored = encrypt(&key, "kid-1", "-----BEGIN PRIVATE KEY-----");
        assert_eq!(
            decrypt(&key, "kid-1", &stored).as_deref(),
            Some("-----BEGIN PRIVATE KEY-----")
        );
        assert_eq!(decrypt(&key, "kid-2", &stored), None);
        assert_eq!(decrypt(&EncryptionKey([8; 32]), "kid-1", &stored), None);
    }

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
