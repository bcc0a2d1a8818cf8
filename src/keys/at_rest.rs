//! Secrets at rest (private keys, and run-time declarations: `store::declarations`): AES-256-GCM
//! under `keys.encryption_key` with a random 96-bit nonce, stored as `base64(nonce ‖ ciphertext)`,
//! with the row's key (a `kid`) as associated data so that a ciphertext copied onto another row
//! does not decrypt.
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand_core::{OsRng, RngCore};

use super::KeyError;
use crate::config::EncryptionKey;
use crate::store::SigningKey;

/// `base64(nonce ‖ ciphertext)`; the key id is bound in as associated data, so a ciphertext copied
/// onto another row does not decrypt.
pub(crate) fn encrypt(key: &EncryptionKey, kid: &str, plaintext: &str) -> String {
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

pub(crate) fn decrypt(key: &EncryptionKey, kid: &str, stored: &str) -> Option<String> {
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
pub(super) fn private_pem(
    row: &SigningKey,
    key: Option<&EncryptionKey>,
) -> Result<String, KeyError> {
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
}
