//! The key ring: the decoded signing keys in memory, re-read from the table every minute (or on
//! an unknown `kid`, at most every 5 s) so that keys made by another process are picked up.
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePublicKey};
use jsonwebtoken::DecodingKey;
use rsa::pkcs8::LineEnding;
use serde_json::json;

use super::KeyError;
use super::at_rest::private_pem;
use super::rotation::{publish_delay, signer_of};
use crate::config::{Alg, EncryptionKey, KeyUse, KeysConfig};
use crate::store::SigningKey;
use crate::store::Store;

/// How long a process trusts its in-memory copy of the key table.
const RELOAD_AFTER: Duration = Duration::from_secs(60);
/// How soon an unknown `kid` may make a process read the key table again.
const MISS_RELOAD_AFTER: Duration = Duration::from_secs(5);

/// A signing key ready to use.
pub struct LoadedKey {
    pub kid: String,
    pub key_use: KeyUse,
    pub alg: Alg,
    pub created_at: i64,
    signer: Signer,
    pub decoding: DecodingKey,
    pub public_jwk: serde_json::Value,
    /// For XML signatures: SAML keys (RSA and P-256), with their certificate.
    pub xml_signing: Option<XmlSigning>,
}

/// A key as libxmlsec1 reads it (traditional DER), and its certificate (DER).
pub struct XmlSigning {
    key_der: Vec<u8>,
    pub certificate: Vec<u8>,
}

impl XmlSigning {
    /// The private key, for libxmlsec1 to sign with.
    pub fn key_der(&self) -> &[u8] {
        &self.key_der
    }
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
        self.sign_typed_jwt("JWT", claims)
    }

    /// The same, with the header's `typ` (an explicitly typed token, such as `logout+jwt`).
    pub fn sign_typed_jwt<T: serde::Serialize>(
        &self,
        typ: &str,
        claims: &T,
    ) -> Result<String, KeyError> {
        let header = json!({"typ": typ, "alg": self.alg.as_str(), "kid": self.kid});
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

    /// The key of `key_use` that signs with `alg` now.
    async fn signer_of_use(
        &self,
        key_use: KeyUse,
        alg: Alg,
        now: i64,
    ) -> Result<Arc<LoadedKey>, KeyError> {
        let keys = self.keys().await?;
        let delay = publish_delay(&self.config, key_use);
        signer_of(keys.iter(), (key_use, alg), delay, now, loaded_key)
            .cloned()
            .ok_or(KeyError::NoSigningKey)
    }

    /// The key that signs `alg` ID tokens now.
    pub async fn signer(&self, alg: Alg, now: i64) -> Result<Arc<LoadedKey>, KeyError> {
        self.signer_of_use(KeyUse::IdTokens, alg, now).await
    }

    /// The SAML key that signs `alg` XML signatures now, with its certificate.
    pub async fn xml_signer(&self, alg: Alg, now: i64) -> Result<Arc<LoadedKey>, KeyError> {
        let signer = self.signer_of_use(KeyUse::Saml, alg, now).await?;
        match signer.xml_signing {
            Some(_) => Ok(signer),
            None => Err(KeyError::NoSigningKey),
        }
    }

    /// The certificates of every SAML `alg` key not retired, the one signing now first: SAML
    /// metadata lists them all, so that a successor is trusted before it signs.
    pub async fn certificates(&self, alg: Alg, now: i64) -> Result<Vec<Vec<u8>>, KeyError> {
        let keys = self.keys().await?;
        let delay = publish_delay(&self.config, KeyUse::Saml);
        let signing =
            signer_of(keys.iter(), (KeyUse::Saml, alg), delay, now, loaded_key).map(|k| &k.kid);
        let mut of_alg: Vec<&Arc<LoadedKey>> = keys
            .iter()
            .filter(|k| k.key_use == KeyUse::Saml && k.alg == alg)
            .collect();
        of_alg.sort_by_key(|k| (Some(&k.kid) != signing, std::cmp::Reverse(k.created_at)));
        Ok(of_alg
            .into_iter()
            .filter_map(|k| k.xml_signing.as_ref())
            .map(|xml| xml.certificate.clone())
            .collect())
    }

    /// The JSON Web Key Set: every ID-token key not retired (the next one, the signing one, and
    /// those whose tokens may still be alive).
    pub async fn jwks(&self) -> Result<serde_json::Value, KeyError> {
        let keys = self.keys().await?;
        let published: Vec<_> = keys
            .iter()
            .filter(|k| k.key_use == KeyUse::IdTokens)
            .map(|k| &k.public_jwk)
            .collect();
        Ok(json!({ "keys": published }))
    }

    /// The ID-token key with this id, reloading if it is not known here yet (another process may
    /// have just made it), at most every few seconds, so that made-up kids cannot keep the table
    /// reloading.
    pub async fn by_kid(&self, kid: &str) -> Result<Option<Arc<LoadedKey>>, KeyError> {
        let find = |keys: &[Arc<LoadedKey>]| {
            keys.iter()
                .find(|k| k.kid == kid && k.key_use == KeyUse::IdTokens)
                .cloned()
        };
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

fn loaded_key(key: &Arc<LoadedKey>) -> ((KeyUse, Alg), i64) {
    ((key.key_use, key.alg), key.created_at)
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
    row: SigningKey,
    encryption_key: Option<&EncryptionKey>,
) -> Result<LoadedKey, KeyError> {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    let pem = private_pem(&row, encryption_key)?;
    let unusable = || KeyError::Unusable(row.kid.clone());
    let alg = row.alg;
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
    let xml_signing = match (row.key_use, row.certificate) {
        (KeyUse::Saml, Some(certificate)) => {
            let key = openssl::pkey::PKey::private_key_from_pem(pem.as_bytes())
                .map_err(|_| unusable())?;
            // A certificate of another key would be published and never verify: fail closed.
            let certified = openssl::x509::X509::from_der(&certificate)
                .and_then(|cert| cert.public_key())
                .is_ok_and(|public| public.public_eq(&key));
            if !certified {
                return Err(unusable());
            }
            Some(XmlSigning {
                key_der: key.private_key_to_der().map_err(|_| unusable())?,
                certificate,
            })
        }
        _ => None,
    };
    Ok(LoadedKey {
        xml_signing,
        kid: row.kid,
        key_use: row.key_use,
        alg,
        created_at: row.created_at,
        signer,
        decoding,
        public_jwk,
    })
}

#[cfg(test)]
mod tests {
    use super::super::generate::generate;
    use super::*;

    /// An RSA or P-256 key loads for XML signatures with its own certificate, and not at all
    /// with another key's.
    #[test]
    fn a_key_signs_xml_only_with_its_own_certificate() {
        use super::super::generate::certificate;
        for alg in [Alg::RS256, Alg::ES256] {
            let row = |private_pem: String, certificate: Option<Vec<u8>>| SigningKey {
                kid: "k".into(),
                key_use: KeyUse::Saml,
                alg,
                private_key: private_pem,
                encrypted: false,
                public_jwk: "{}".into(),
                created_at: 0,
                certificate,
            };
            let key = generate(alg).unwrap();
            let own = certificate(alg, "k", &key.private_pem, 0).unwrap();
            let loaded = load_key(row(key.private_pem.clone(), own.clone()), None).unwrap();
            let xml = loaded.xml_signing.as_ref().expect("an XML signer");
            assert_eq!(Some(&xml.certificate), own.as_ref());
            let other = generate(alg).unwrap();
            let foreign = certificate(alg, "k", &other.private_pem, 0).unwrap();
            assert!(
                load_key(row(key.private_pem, foreign), None).is_err(),
                "{alg:?}"
            );
        }
        let eddsa = generate(Alg::EdDSA).unwrap();
        assert_eq!(
            certificate(Alg::EdDSA, "k", &eddsa.private_pem, 0).unwrap(),
            None
        );
    }

    /// Each signer's JWS verifies with the key decoded for verifying and with the JWK that JWKS
    /// publishes, so what ring signs is what relying parties check.
    #[test]
    fn every_asymmetric_alg_signs_what_its_published_key_verifies() {
        for alg in [Alg::ES256, Alg::EdDSA, Alg::RS256] {
            let new = generate(alg).unwrap();
            let row = SigningKey {
                kid: format!("kid-{}", alg.as_str()),
                key_use: KeyUse::IdTokens,
                alg,
                private_key: new.private_pem,
                encrypted: false,
                public_jwk: new.public_jwk.to_string(),
                created_at: 0,
                certificate: None,
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
}
