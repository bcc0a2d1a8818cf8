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
            store
                .insert_signing_key(new_key(key_use, alg, config, now).await?)
                .await?;
        }
        let delay = publish_delay(config, key_use);
        let Some(signer) = signer_of(rows.iter(), (key_use, alg), delay, now, stored_key) else {
            continue;
        };
        if signer.created_at + delay + ID_TOKEN_TTL <= now {
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
    let kid = URL_SAFE_NO_PAD.encode(&crate::crypto::random_bytes()[..12]);
    let mut jwk = new.public_jwk;
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!(alg.as_str());
    jwk["use"] = json!("sig");
    // SAML peers are given a certificate of the key; JWT verifiers only the JWK.
    let certificate = match key_use {
        KeyUse::Saml => certificate(alg, &kid, &new.private_pem, now)?,
        KeyUse::IdTokens => None,
    };
    let (private_key, encrypted) = match &config.encryption_key {
        Some(key) => (encrypt(key, &kid, &new.private_pem), true),
        None => (new.private_pem, false),
    };
    Ok(SigningKey {
        kid,
        key_use,
        alg,
        private_key,
        encrypted,
        public_jwk: jwk.to_string(),
        created_at: now,
        certificate,
    })
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
