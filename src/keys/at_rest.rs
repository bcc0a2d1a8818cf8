//! Private keys at rest: sealed under `keys.encryption_key` ([`crypto::seal`]), with the `kid` as
//! associated data so that a ciphertext copied onto another row does not decrypt.
use super::KeyError;
use crate::config::EncryptionKey;
use crate::crypto;
use crate::store::SigningKey;

/// `base64(nonce ‖ ciphertext)` of `plaintext` under `key`; the key id is bound in as associated
/// data, so a ciphertext copied onto another row does not decrypt.
pub(super) fn encrypt(key: &EncryptionKey, kid: &str, plaintext: &str) -> String {
    crypto::seal(&key.0, kid, plaintext)
}

fn decrypt(key: &EncryptionKey, kid: &str, stored: &str) -> Option<String> {
    crypto::open(&key.0, kid, stored)
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
