//! Small cryptographic helpers shared by every area: random tokens, SHA-256 digests of them,
//! HMAC and constant-time comparison.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// 32 random bytes from the operating system.
pub fn random_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

/// A 256-bit random token, base64url without padding (43 characters): session ids, CSRF seeds.
/// Only its [`sha256_hex`] is stored.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes())
}

/// Hex digits of the issue time at the start of an [`ordered_token`].
const ORDERED_PREFIX: usize = 12;

/// A [`random_token`] behind its issue time (milliseconds since 1970, 12 hex digits): codes,
/// access and refresh tokens and their family ids. Their stored keys ([`ordered_token_key`])
/// then sort in the order they were issued, so the database appends each one to its indexes
/// instead of writing a page at a random place of them; under load that was most of what the
/// token endpoint wrote (see docs/performance.md). The time says nothing the holder of the
/// token does not know.
pub fn ordered_token() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    format!("{millis:012x}{}", random_token())
}

/// What the database keeps instead of an [`ordered_token`]: its time prefix, then the hex
/// SHA-256 of the whole token. A token of any other shape (one issued before tokens were
/// ordered, or garbage) is kept as its SHA-256 alone.
pub fn ordered_token_key(token: &str) -> String {
    let prefix = token.get(..ORDERED_PREFIX).filter(|prefix| {
        token.len() == ORDERED_PREFIX + 43
            && prefix
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    });
    match prefix {
        Some(prefix) => format!("{prefix}{}", sha256_hex(token)),
        None => sha256_hex(token),
    }
}

/// Hex SHA-256 of a token: what the database keeps instead of the token itself.
pub fn sha256_hex(value: &str) -> String {
    hex(&Sha256::digest(value.as_bytes()))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// HMAC-SHA256 of `message` (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA256 of `message`, base64url.
pub fn hmac_b64(key: &[u8], message: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(hmac_sha256(key, message))
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// `plaintext` sealed with AES-256-GCM under `key` and a random 96-bit nonce, as
/// `base64(nonce ‖ ciphertext)`, bound to `associated` (the row it belongs to): secrets at rest.
pub fn seal(key: &[u8; 32], associated: &str, plaintext: &str) -> String {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    use base64::Engine;
    let cipher = aes_gcm::Aes256Gcm::new(key.into());
    let nonce: [u8; 12] = random_bytes()[..12].try_into().expect("12 of 32 bytes");
    let payload = Payload {
        msg: plaintext.as_bytes(),
        aad: associated.as_bytes(),
    };
    let ciphertext = cipher
        .encrypt(&aes_gcm::Nonce::from(nonce), payload)
        .expect("AES-GCM encrypts any length");
    base64::engine::general_purpose::STANDARD.encode([nonce.as_slice(), &ciphertext].concat())
}

/// What [`seal`] sealed, if `stored` was sealed under `key` for `associated` and not changed.
pub fn open(key: &[u8; 32], associated: &str, stored: &str) -> Option<String> {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(stored)
        .ok()?;
    let (nonce, ciphertext) = bytes.split_at_checked(12)?;
    let nonce: [u8; 12] = nonce.try_into().ok()?;
    let cipher = aes_gcm::Aes256Gcm::new(key.into());
    let plain = cipher
        .decrypt(
            &aes_gcm::Nonce::from(nonce),
            Payload {
                msg: ciphertext,
                aad: associated.as_bytes(),
            },
        )
        .ok()?;
    String::from_utf8(plain).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_long() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
    }

    #[test]
    fn ordered_tokens_sort_by_issue_time_and_are_kept_hashed() {
        let first = ordered_token();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = ordered_token();
        assert_eq!(first.len(), 55);
        let (key1, key2) = (ordered_token_key(&first), ordered_token_key(&second));
        assert!(key1 < key2, "{key1} sorts before {key2}");
        assert_eq!(key1, format!("{}{}", &first[..12], sha256_hex(&first)));
        assert!(!key1.contains(&first[12..]), "the secret part is not kept");
    }

    #[test]
    fn other_tokens_are_kept_as_their_hash() {
        let old = random_token();
        assert_eq!(ordered_token_key(&old), sha256_hex(&old));
        let upper = format!("{}{}", "ABCDEF012345", random_token());
        assert_eq!(ordered_token_key(&upper), sha256_hex(&upper));
        assert_eq!(ordered_token_key("é"), sha256_hex("é"));
        // 55 bytes with a character across byte 12: no prefix, and no panic.
        let split = format!("01234567890é{}", "a".repeat(42));
        assert_eq!(split.len(), 55);
        assert_eq!(ordered_token_key(&split), sha256_hex(&split));
    }

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        // RFC 4231 section 4.3, test case 2.
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn comparison() {
        assert!(constant_time_eq("same", "same"));
        assert!(!constant_time_eq("same", "sane"));
        assert!(!constant_time_eq("same", "same-but-longer"));
    }
}
