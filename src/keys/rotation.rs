//! The keys' life: at start and every few minutes ([`prepare`]), every stored key is checked
//! against the configured encryption key, a key is made where a use and algorithm has none or
//! its newest is older than its rotation age (`keys.rotate_after` for ID tokens,
//! `keys.saml_rotate_after` for SAML), and keys nothing can need any more are retired. Which key
//! signs is [`signer_of`]: a successor is published (in JWKS, or in the SAML metadata) before it
//! signs.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::KeyError;
use super::at_rest::{encrypt, private_pem};
use super::generate::{certificate, generate};
use crate::config::{Alg, KeyUse, KeysConfig};
use crate::store::SigningKey;
use crate::store::Store;

/// How long a new ID-token key is in JWKS before it signs: relying parties cache JWKS.
pub const PUBLISH_DELAY: i64 = 3600;
/// Lifetime of an ID token: how long a superseded key must stay in JWKS.
pub const ID_TOKEN_TTL: i64 = 3600;

/// How long a superseded key stays published once its successor signs: longer than an ID token,
/// or a SAML message, it signed lives.
const SUPERSEDED_FOR: i64 = ID_TOKEN_TTL;

/// How long a new key of `key_use` is published before it signs.
pub(super) fn publish_delay(config: &KeysConfig, key_use: KeyUse) -> i64 {
    match key_use {
        KeyUse::IdTokens => PUBLISH_DELAY,
        KeyUse::Saml => config.saml_publish_before,
    }
}

/// Run at start and periodically: checks that every stored key can be read with the configured
/// encryption key (and encrypts keys stored in clear once one is configured), makes a key of
/// each use and algorithm of `needed` if there is none, makes its successor when it is older than
/// its rotation age, and retires keys nothing can need any more: once a successor has signed
/// for an hour (no ID token, and no SAML message, that the old one signed is still alive).
pub async fn prepare(
    store: &Store,
    config: &KeysConfig,
    needed: &[(KeyUse, Alg)],
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
    for &(key_use, alg) in needed {
        let newest = rows
            .iter()
            .filter(|row| row.key_use == key_use && row.alg == alg)
            .map(|row| row.created_at)
            .max();
        if newest.is_none_or(|created| created + config.rotate_after(key_use) <= now) {
            let made = match (key_use, newest) {
                (KeyUse::Saml, None) => adopted(&rows, alg, config, now)?,
                _ => None,
            };
            let made = match made {
                Some(key) => key,
                None => new_key(key_use, alg, config, now).await?,
            };
            store.insert_signing_key(made).await?;
        }
        let delay = publish_delay(config, key_use);
        let Some(signer) = signer_of(rows.iter(), (key_use, alg), delay, now, stored_key) else {
            continue;
        };
        if signer.created_at + delay + SUPERSEDED_FOR <= now {
            for row in rows.iter().filter(|row| {
                row.key_use == key_use && row.alg == alg && row.created_at < signer.created_at
            }) {
                store.retire_signing_key(&row.kid, now).await?;
            }
        }
    }
    Ok(())
}

fn stored_key(key: &SigningKey) -> ((KeyUse, Alg), i64) {
    ((key.key_use, key.alg), key.created_at)
}

async fn new_key(
    key_use: KeyUse,
    alg: Alg,
    config: &KeysConfig,
    now: i64,
) -> Result<SigningKey, KeyError> {
    let new = tokio::task::spawn_blocking(move || generate(alg)).await??;
    let kid = new_kid();
    // SAML peers are given a certificate of the key; JWT verifiers only the JWK.
    let certificate = match key_use {
        KeyUse::Saml => certificate(alg, &kid, &new.private_pem, now)?,
        KeyUse::IdTokens => None,
    };
    Ok(stored(
        kid,
        key_use,
        alg,
        &new.private_pem,
        new.public_jwk,
        now,
        certificate,
        config,
    ))
}

/// The SAML key of `alg` of a deployment from before SAML keys were kept apart, when SAML
/// signed with the ID-token key (which then got a certificate, as every RSA and P-256 key
/// did): that key, copied as a SAML key of the same age, so that the SPs trusting its
/// certificate keep working. From then on it rotates on the SAML schedule, apart from the
/// ID-token key it was.
fn adopted(
    rows: &[SigningKey],
    alg: Alg,
    config: &KeysConfig,
    now: i64,
) -> Result<Option<SigningKey>, KeyError> {
    let signing = signer_of(
        rows.iter(),
        (KeyUse::IdTokens, alg),
        PUBLISH_DELAY,
        now,
        stored_key,
    );
    let Some((key, certificate)) = signing.and_then(|k| Some((k, k.certificate.clone()?))) else {
        return Ok(None);
    };
    let pem = private_pem(key, config.encryption_key.as_ref())?;
    let jwk =
        serde_json::from_str(&key.public_jwk).map_err(|_| KeyError::Unusable(key.kid.clone()))?;
    let kid = new_kid();
    let adopted = stored(
        kid,
        KeyUse::Saml,
        alg,
        &pem,
        jwk,
        key.created_at,
        Some(certificate),
        config,
    );
    Ok(Some(adopted))
}

fn new_kid() -> String {
    URL_SAFE_NO_PAD.encode(&crate::crypto::random_bytes()[..12])
}

/// A key as it is stored: its private key encrypted under its `kid` when the config has a key.
#[allow(clippy::too_many_arguments)]
fn stored(
    kid: String,
    key_use: KeyUse,
    alg: Alg,
    private_pem: &str,
    mut jwk: serde_json::Value,
    created_at: i64,
    certificate: Option<Vec<u8>>,
    config: &KeysConfig,
) -> SigningKey {
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!(alg.as_str());
    jwk["use"] = json!("sig");
    let (private_key, encrypted) = match &config.encryption_key {
        Some(key) => (encrypt(key, &kid, private_pem), true),
        None => (private_pem.to_string(), false),
    };
    SigningKey {
        kid,
        key_use,
        alg,
        private_key,
        encrypted,
        public_jwk: jwk.to_string(),
        created_at,
        certificate,
    }
}

/// The key of `kind` (use and algorithm) that signs now: the newest that has been published
/// for `publish_delay`, or, when there is none yet (a new deployment), the newest.
pub(super) fn signer_of<'a, T, K: PartialEq>(
    keys: impl Iterator<Item = &'a T>,
    kind: K,
    publish_delay: i64,
    now: i64,
    kind_and_created: impl Fn(&T) -> (K, i64),
) -> Option<&'a T>
where
    T: 'a,
{
    let mut of_kind: Vec<&T> = keys.filter(|k| kind_and_created(k).0 == kind).collect();
    of_kind.sort_by_key(|k| std::cmp::Reverse(kind_and_created(k).1));
    of_kind
        .iter()
        .find(|k| kind_and_created(k).1 + publish_delay <= now)
        .or(of_kind.first())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> KeysConfig {
        KeysConfig {
            id_token_alg: Alg::RS256,
            rotate_after: 90 * 86400,
            saml_rotate_after: 365 * 86400,
            saml_publish_before: 30 * 86400,
            encryption_key: Some(crate::config::EncryptionKey([7; 32])),
        }
    }

    /// A deployment whose ID-token key signed SAML (and so has a certificate) keeps it as its
    /// SAML key: same private key, certificate and age, so it signs at once and SPs that
    /// trusted it still do; one without such a key gets none adopted.
    #[test]
    fn the_id_token_key_that_signed_saml_is_adopted() {
        let config = config();
        let now = 1_000_000;
        let made = generate(Alg::RS256).unwrap();
        let der = certificate(Alg::RS256, "old", &made.private_pem, 1000).unwrap();
        let old = stored(
            "old".into(),
            KeyUse::IdTokens,
            Alg::RS256,
            &made.private_pem,
            made.public_jwk.clone(),
            1000,
            der.clone(),
            &config,
        );
        let adopted = adopted(std::slice::from_ref(&old), Alg::RS256, &config, now)
            .unwrap()
            .expect("adopted");
        assert_eq!(adopted.key_use, KeyUse::Saml);
        assert_ne!(adopted.kid, old.kid);
        assert_eq!(adopted.certificate, der);
        assert_eq!(adopted.created_at, 1000);
        assert_eq!(
            private_pem(&adopted, config.encryption_key.as_ref()).unwrap(),
            made.private_pem
        );
        let rows = [old.clone(), adopted.clone()];
        let delay = config.saml_publish_before;
        let signing = signer_of(
            rows.iter(),
            (KeyUse::Saml, Alg::RS256),
            delay,
            now,
            stored_key,
        );
        assert_eq!(signing.map(|k| &k.kid), Some(&adopted.kid));

        let uncertified = SigningKey {
            certificate: None,
            ..old
        };
        assert!(adopted_none(&uncertified, &config, now));
    }

    fn adopted_none(row: &SigningKey, config: &KeysConfig, now: i64) -> bool {
        adopted(std::slice::from_ref(row), Alg::RS256, config, now)
            .unwrap()
            .is_none()
    }
}
