//! The keys' life: at start and every few minutes ([`prepare`]), every stored key is checked
//! against the configured encryption key, a key is made where an algorithm has none or its newest
//! is older than `keys.rotate_after`, and keys no token can need any more are retired. Which key
//! signs is [`signer_of`]: a successor is published in JWKS before it signs.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::KeyError;
use super::at_rest::{encrypt, private_pem};
use super::generate::{certificate, generate};
use crate::config::{Alg, KeysConfig};
use crate::store::SigningKey;
use crate::store::Store;

pub const PUBLISH_DELAY: i64 = 3600;
/// Lifetime of an ID token: how long a superseded key must stay in JWKS.
pub const ID_TOKEN_TTL: i64 = 3600;
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
        // Keys made before SAML signing existed get their certificate once.
        if row.certificate.is_none()
            && let Some(der) = certificate(row.alg, &row.kid, &pem, row.created_at)?
        {
            store.store_signing_key_certificate(&row.kid, &der).await?;
        }
    }
    for &alg in algs {
        let newest = rows
            .iter()
            .filter(|row| row.alg == alg)
            .map(|row| row.created_at)
            .max();
        if newest.is_none_or(|created| created + config.rotate_after <= now) {
            store
                .insert_signing_key(new_key(alg, config, now).await?)
                .await?;
        }
        let Some(signer) = signer_of(rows.iter(), alg, now, |row| (row.alg, row.created_at)) else {
            continue;
        };
        if signer.created_at + PUBLISH_DELAY + ID_TOKEN_TTL <= now {
            for row in rows
                .iter()
                .filter(|row| row.alg == alg && row.created_at < signer.created_at)
            {
                store.retire_signing_key(&row.kid, now).await?;
            }
        }
    }
    Ok(())
}

async fn new_key(alg: Alg, config: &KeysConfig, now: i64) -> Result<SigningKey, KeyError> {
    let new = tokio::task::spawn_blocking(move || generate(alg)).await??;
    let kid = URL_SAFE_NO_PAD.encode(&crate::crypto::random_bytes()[..12]);
    let mut jwk = new.public_jwk;
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!(alg.as_str());
    jwk["use"] = json!("sig");
    let certificate = certificate(alg, &kid, &new.private_pem, now)?;
    let (private_key, encrypted) = match &config.encryption_key {
        Some(key) => (encrypt(key, &kid, &new.private_pem), true),
        None => (new.private_pem, false),
    };
    Ok(SigningKey {
        kid,
        alg,
        private_key,
        encrypted,
        public_jwk: jwk.to_string(),
        created_at: now,
        certificate,
    })
}

/// The key that signs now: the newest key of `alg` that has been published for
/// [`PUBLISH_DELAY`], or, when there is none yet (a new deployment), the newest key of `alg`.
pub(super) fn signer_of<'a, T>(
    keys: impl Iterator<Item = &'a T>,
    alg: Alg,
    now: i64,
    alg_and_created: impl Fn(&T) -> (Alg, i64),
) -> Option<&'a T>
where
    T: 'a,
{
    let mut of_alg: Vec<&T> = keys.filter(|k| alg_and_created(k).0 == alg).collect();
    of_alg.sort_by_key(|k| std::cmp::Reverse(alg_and_created(k).1));
    of_alg
        .iter()
        .find(|k| alg_and_created(k).1 + PUBLISH_DELAY <= now)
        .or(of_alg.first())
        .copied()
}
