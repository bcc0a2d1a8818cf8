//! Stored signing keys.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use super::tables::signing_key;
use super::{Store, StoreError};
use crate::config::{Alg, KeyUse};

/// A signing key that is not retired: made by `keys`, stored here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub kid: String,
    pub key_use: KeyUse,
    pub alg: Alg,
    /// PKCS#8 PEM, or `base64(nonce ‖ AES-256-GCM ciphertext)` of it when `encrypted`.
    pub private_key: String,
    pub encrypted: bool,
    /// The public key as a JWK (JSON), as JWKS will publish it.
    pub public_jwk: String,
    pub created_at: i64,
    /// DER of its X.509 certificate, which SAML service providers are given: SAML keys have
    /// one (ID-token keys made while SAML shared them may have one too, unused).
    pub certificate: Option<Vec<u8>>,
}

impl Store {
    /// Keys not yet retired; a row of an algorithm idbridge does not know is corrupt.
    pub async fn active_signing_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
        signing_key::Entity::find()
            .filter(signing_key::Column::RetiredAt.is_null())
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| {
                let alg = Alg::parse(&row.alg).ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "signing key {}: no such alg {:?}",
                        row.kid, row.alg
                    ))
                })?;
                let key_use = KeyUse::parse(&row.key_use).ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "signing key {}: no such use {:?}",
                        row.kid, row.key_use
                    ))
                })?;
                let certificate = row
                    .certificate
                    .as_ref()
                    .map(|text| STANDARD.decode(text))
                    .transpose()
                    .map_err(|_| {
                        StoreError::Corrupt(format!(
                            "signing key {}: certificate is not base64",
                            row.kid
                        ))
                    })?;
                Ok(SigningKey {
                    kid: row.kid,
                    key_use,
                    alg,
                    private_key: row.private_key,
                    encrypted: row.encrypted,
                    public_jwk: row.public_jwk,
                    created_at: row.created_at,
                    certificate,
                })
            })
            .collect()
    }

    pub async fn insert_signing_key(&self, key: SigningKey) -> Result<(), StoreError> {
        signing_key::ActiveModel {
            kid: Set(key.kid),
            key_use: Set(key.key_use.as_str().to_string()),
            alg: Set(key.alg.as_str().to_string()),
            private_key: Set(key.private_key),
            encrypted: Set(key.encrypted),
            public_jwk: Set(key.public_jwk),
            created_at: Set(key.created_at),
            retired_at: Set(None),
            certificate: Set(key.certificate.map(|der| STANDARD.encode(der))),
        }
        .insert(&self.writer)
        .await?;
        Ok(())
    }

    /// Replaces a key's clear private key with its encrypted form.
    pub async fn store_encrypted_private_key(
        &self,
        kid: &str,
        encrypted: String,
    ) -> Result<(), StoreError> {
        signing_key::Entity::update(signing_key::ActiveModel {
            kid: Set(kid.to_string()),
            private_key: Set(encrypted),
            encrypted: Set(true),
            ..Default::default()
        })
        .exec(&self.writer)
        .await?;
        Ok(())
    }

    /// Takes a key out of use (and out of JWKS or the SAML metadata) for good.
    pub async fn retire_signing_key(&self, kid: &str, now: i64) -> Result<(), StoreError> {
        signing_key::Entity::update(signing_key::ActiveModel {
            kid: Set(kid.to_string()),
            retired_at: Set(Some(now)),
            ..Default::default()
        })
        .exec(&self.writer)
        .await?;
        Ok(())
    }
}
