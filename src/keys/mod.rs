//! Signing keys for ID tokens: made on first start, stored in the database so every process signs
//! with the same keys, and encrypted at rest with AES-256-GCM when `keys.encryption_key` is set.
//! [`generate`] makes key pairs, [`at_rest`] encrypts them, [`rotation`] decides when keys are
//! made and retired, and [`ring`] holds the decoded keys for signing.
mod at_rest;
mod generate;
mod ring;
mod rotation;

pub use ring::{KeyRing, LoadedKey};
pub use rotation::{ID_TOKEN_TTL, PUBLISH_DELAY, prepare};

use crate::store::StoreError;

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
