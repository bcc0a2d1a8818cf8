//! Signing keys for ID tokens: made on first start, stored in the database so every process signs
//! with the same keys, and encrypted at rest with AES-256-GCM when `keys.encryption_key` is set.
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand_core::{OsRng, RngCore};
use serde_json::json;

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePublicKey};
use jsonwebtoken::DecodingKey;
use rsa::pkcs8::LineEnding;

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
    #[error("signing key {0} is stored in a form idbridge cannot use")]
    Unusable(String),
    #[error("there is no signing key for the configured algorithm")]
    NoSigningKey,
    #[error("signing with key {kid} failed: {reason}")]
    Sign { kid: String, reason: String },
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

/// A new key is in JWKS this long before it signs, so relying parties that cache JWKS see it first.
pub const PUBLISH_DELAY: i64 = 3600;
/// Lifetime of an ID token: how long a superseded key must stay in JWKS.
pub const ID_TOKEN_TTL: i64 = 3600;
/// How long a process trusts its in-memory copy of the key table.
const RELOAD_AFTER: Duration = Duration::from_secs(60);
/// How soon an unknown `kid` may make a process read the key table again.
const MISS_RELOAD_AFTER: Duration = Duration::from_secs(5);

/// Run at start and periodically: checks that every stored key can be read with the configured
/// encryption key (and encrypts keys stored in clear once one is configured), makes a key for the
/// configured algorithm if there is none, makes its successor when it is older than
/// `keys.rotate_after`, and retires keys no token can need any more.
pub async fn prepare(
    store: &Store,
    config: &KeysConfig,
    algs: &[Alg],
    now: i64,
) -> Result<(), KeyError> {
    let rows = store.active_signing_keys().await?;
    for row in &rows {
        let pem = private_pem(row, config.encryption_key.as_ref())?;
        if let (false, Some(key)) = (row.encrypted, &config.encryption_key) {
            store
                .store_encrypted_private_key(&row.kid, encrypt(key, &row.kid, &pem))
                .await?;
        }
    }
    for &alg in algs {
        let newest = rows
            .iter()
            .filter(|row| row.alg == alg.as_str())
            .map(|row| row.created_at)
            .max();
        if newest.is_none_or(|created| created + config.rotate_after <= now) {
            store
                .insert_signing_key(new_key(alg, config, now).await?)
                .await?;
        }
        let Some(signer) = signer_of(rows.iter(), alg, now, |row| (&row.alg, row.created_at))
        else {
            continue;
        };
        if signer.created_at + PUBLISH_DELAY + ID_TOKEN_TTL <= now {
            for row in rows
                .iter()
                .filter(|row| row.alg == alg.as_str() && row.created_at < signer.created_at)
            {
                store.retire_signing_key(&row.kid, now).await?;
            }
        }
    }
    Ok(())
}

async fn new_key(alg: Alg, config: &KeysConfig, now: i64) -> Result<signing_key::Model, KeyError> {
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
    Ok(signing_key::Model {
        kid,
        alg: alg.as_str().to_string(),
        private_key,
        encrypted,
        public_jwk: jwk.to_string(),
        created_at: now,
        retired_at: None,
    })
}

/// The key that signs now: the newest key of `alg` that has been published for
/// [`PUBLISH_DELAY`], or, when there is none yet (a new deployment), the newest key of `alg`.
fn signer_of<'a, T>(
    keys: impl Iterator<Item = &'a T>,
    alg: Alg,
    now: i64,
    alg_and_created: impl Fn(&T) -> (&str, i64),
) -> Option<&'a T>
where
    T: 'a,
{
    let mut of_alg: Vec<&T> = keys
        .filter(|k| alg_and_created(k).0 == alg.as_str())
        .collect();
    of_alg.sort_by_key(|k| std::cmp::Reverse(alg_and_created(k).1));
    of_alg
        .iter()
        .find(|k| alg_and_created(k).1 + PUBLISH_DELAY <= now)
        .or(of_alg.first())
        .copied()
}

/// A signing key ready to use.
pub struct LoadedKey {
    pub kid: String,
    pub alg: Alg,
    pub created_at: i64,
    signer: Signer,
    pub decoding: DecodingKey,
    pub public_jwk: serde_json::Value,
}

/// A private key decoded once. jsonwebtoken decodes its key again for every signature (for
/// P-256 and Ed25519 that derives the public key each time, as much work as the signature), so
/// ID tokens are signed here: RS256 and ES256 with ring, whose assembly is several times faster
/// than the pure-Rust RSA and P-256 crates, Ed25519 with ed25519-dalek.
enum Signer {
    Rs256(ring::signature::RsaKeyPair),
    Es256(ring::signature::EcdsaKeyPair),
    EdDsa(ed25519_dalek::SigningKey),
}

impl LoadedKey {
    /// A compact JWS of `claims`, with this key's `alg` and `kid` in its header.
    pub fn sign_jwt<T: serde::Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let header = json!({"typ": "JWT", "alg": self.alg.as_str(), "kid": self.kid});
        let failed = |reason: String| KeyError::Sign {
            kid: self.kid.clone(),
            reason,
        };
        let encode = |value: Vec<u8>| URL_SAFE_NO_PAD.encode(value);
        let claims = serde_json::to_vec(claims).map_err(|e| failed(e.to_string()))?;
        let message = format!(
            "{}.{}",
            encode(header.to_string().into_bytes()),
            encode(claims)
        );
        let signature = match &self.signer {
            Signer::Rs256(key) => {
                let mut signature = vec![0; key.public().modulus_len()];
                key.sign(
                    &ring::signature::RSA_PKCS1_SHA256,
                    &ring::rand::SystemRandom::new(),
                    message.as_bytes(),
                    &mut signature,
                )
                .map_err(|e| failed(e.to_string()))?;
                encode(signature)
            }
            Signer::Es256(key) => {
                let signature = key
                    .sign(&ring::rand::SystemRandom::new(), message.as_bytes())
                    .map_err(|e| failed(e.to_string()))?;
                encode(signature.as_ref().to_vec())
            }
            Signer::EdDsa(key) => {
                use ed25519_dalek::Signer as _;
                encode(key.sign(message.as_bytes()).to_bytes().to_vec())
            }
        };
        Ok(format!("{message}.{signature}"))
    }
}

/// The signing keys of all processes, decoded once and held in memory; reloaded from the database
/// when older than a minute, so that a key another process made is used here soon after.
pub struct KeyRing {
    store: Store,
    config: KeysConfig,
    cache: RwLock<(Instant, Arc<Vec<Arc<LoadedKey>>>)>,
}

impl KeyRing {
    pub async fn load(store: Store, config: KeysConfig) -> Result<KeyRing, KeyError> {
        let keys = load_keys(&store, &config).await?;
        Ok(KeyRing {
            store,
            config,
            cache: RwLock::new((Instant::now(), Arc::new(keys))),
        })
    }

    /// Reads the key table again (after this process rotated, or when a kid is unknown).
    pub async fn reload(&self) -> Result<(), KeyError> {
        let keys = load_keys(&self.store, &self.config).await?;
        *self.cache.write().expect("key cache lock") = (Instant::now(), Arc::new(keys));
        Ok(())
    }

    async fn keys(&self) -> Result<Arc<Vec<Arc<LoadedKey>>>, KeyError> {
        let (loaded_at, keys) = self.cache.read().expect("key cache lock").clone();
        if loaded_at.elapsed() < RELOAD_AFTER {
            return Ok(keys);
        }
        self.reload().await?;
        Ok(self.cache.read().expect("key cache lock").1.clone())
    }

    /// The key that signs `alg` ID tokens now.
    pub async fn signer(&self, alg: Alg, now: i64) -> Result<Arc<LoadedKey>, KeyError> {
        let keys = self.keys().await?;
        signer_of(keys.iter(), alg, now, |k| (k.alg.as_str(), k.created_at))
            .cloned()
            .ok_or(KeyError::NoSigningKey)
    }

    /// The JSON Web Key Set: every key not retired (the next one, the signing one, and those
    /// whose tokens may still be alive).
    pub async fn jwks(&self) -> Result<serde_json::Value, KeyError> {
        let keys = self.keys().await?;
        Ok(json!({"keys": keys.iter().map(|k| &k.public_jwk).collect::<Vec<_>>()}))
    }

    /// The key with this id, reloading if it is not known here yet (another process may have just
    /// made it), at most every few seconds, so that made-up kids cannot keep the table reloading.
    pub async fn by_kid(&self, kid: &str) -> Result<Option<Arc<LoadedKey>>, KeyError> {
        let find = |keys: &[Arc<LoadedKey>]| keys.iter().find(|k| k.kid == kid).cloned();
        if let Some(key) = find(&self.keys().await?) {
            return Ok(Some(key));
        }
        let loaded_at = self.cache.read().expect("key cache lock").0;
        if loaded_at.elapsed() < MISS_RELOAD_AFTER {
            return Ok(None);
        }
        self.reload().await?;
        Ok(find(&self.keys().await?))
    }
}

async fn load_keys(store: &Store, config: &KeysConfig) -> Result<Vec<Arc<LoadedKey>>, KeyError> {
    let encryption_key = config.encryption_key.as_ref();
    store
        .active_signing_keys()
        .await?
        .into_iter()
        .map(|row| load_key(row, encryption_key).map(Arc::new))
        .collect()
}

/// Decodes a stored key pair, once, for signing and verifying.
fn load_key(
    row: signing_key::Model,
    encryption_key: Option<&EncryptionKey>,
) -> Result<LoadedKey, KeyError> {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    let pem = private_pem(&row, encryption_key)?;
    let unusable = || KeyError::Unusable(row.kid.clone());
    let alg = Alg::parse(&row.alg).ok_or_else(unusable)?;
    let (signer, decoding) = match alg {
        Alg::RS256 => {
            let key = rsa::RsaPrivateKey::from_pkcs8_pem(&pem).map_err(|_| unusable())?;
            let public = rsa::traits::PublicKeyParts::n(&key).to_bytes_be();
            let exponent = rsa::traits::PublicKeyParts::e(&key).to_bytes_be();
            let der = key.to_pkcs8_der().map_err(|_| unusable())?;
            (
                Signer::Rs256(
                    ring::signature::RsaKeyPair::from_pkcs8(der.as_bytes())
                        .map_err(|_| unusable())?,
                ),
                DecodingKey::from_rsa_raw_components(&public, &exponent),
            )
        }
        Alg::ES256 => {
            let key = p256::SecretKey::from_pkcs8_pem(&pem).map_err(|_| unusable())?;
            let public = key
                .public_key()
                .to_public_key_pem(LineEnding::LF)
                .map_err(|_| unusable())?;
            let der = key.to_pkcs8_der().map_err(|_| unusable())?;
            let signer = ring::signature::EcdsaKeyPair::from_pkcs8(
                &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                der.as_bytes(),
                &ring::rand::SystemRandom::new(),
            )
            .map_err(|_| unusable())?;
            (
                Signer::Es256(signer),
                DecodingKey::from_ec_pem(public.as_bytes()).map_err(|_| unusable())?,
            )
        }
        Alg::EdDSA => {
            let key = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem).map_err(|_| unusable())?;
            let public = key
                .verifying_key()
                .to_public_key_pem(LineEnding::LF)
                .map_err(|_| unusable())?;
            let public = DecodingKey::from_ed_pem(public.as_bytes()).map_err(|_| unusable())?;
            (Signer::EdDsa(key), public)
        }
        Alg::HS256 => return Err(unusable()),
    };
    let public_jwk = serde_json::from_str(&row.public_jwk).map_err(|_| unusable())?;
    Ok(LoadedKey {
        kid: row.kid,
        alg,
        created_at: row.created_at,
        signer,
        decoding,
        public_jwk,
    })
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

    /// Each signer's JWS verifies with the key decoded for verifying and with the JWK that JWKS
    /// publishes, so what ring signs is what relying parties check.
    #[test]
    fn every_asymmetric_alg_signs_what_its_published_key_verifies() {
        for alg in [Alg::ES256, Alg::EdDSA, Alg::RS256] {
            let new = generate(alg).unwrap();
            let row = signing_key::Model {
                kid: format!("kid-{}", alg.as_str()),
                alg: alg.as_str().to_string(),
                private_key: new.private_pem,
                encrypted: false,
                public_jwk: new.public_jwk.to_string(),
                created_at: 0,
                retired_at: None,
            };
            let key = load_key(row, None).unwrap();
            let jws = key.sign_jwt(&json!({"sub": "someone"})).unwrap();
            let jwk: jsonwebtoken::jwk::Jwk =
                serde_json::from_value(key.public_jwk.clone()).unwrap();
            let published = DecodingKey::from_jwk(&jwk).unwrap();
            let algorithm = jsonwebtoken::decode_header(&jws).unwrap().alg;
            let mut validation = jsonwebtoken::Validation::new(algorithm);
            validation.required_spec_claims.clear();
            for decoding in [&key.decoding, &published] {
                let claims = jsonwebtoken::decode::<serde_json::Value>(&jws, decoding, &validation)
                    .unwrap_or_else(|e| panic!("{alg:?}: {e}"))
                    .claims;
                assert_eq!(claims["sub"], "someone");
            }
            // One bit of the signature's middle byte turned over.
            let (message, signature) = jws.rsplit_once('.').unwrap();
            let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 1;
            let forged = format!("{message}.{}", URL_SAFE_NO_PAD.encode(bytes));
            assert!(
                jsonwebtoken::decode::<serde_json::Value>(&forged, &published, &validation)
                    .is_err(),
                "{alg:?}"
            );
        }
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
