//! Password hashing with argon2id at the OWASP-recommended cost (19 MiB, 2 passes, 1 lane), the
//! `argon2` crate's default. Hashing is CPU-heavy, so callers on the runtime use the async
//! functions, which run it on the blocking pool.
use argon2::password_hash::phc::PasswordHash;
use argon2::{ARGON2ID_IDENT, Argon2, PasswordHasher, PasswordVerifier};

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("password task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Hashes a password into an argon2id PHC string with a fresh random salt.
pub fn hash_blocking(password: &str) -> Result<String, PasswordError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Checks a password against a PHC string, with the cost parameters stored in that string.
pub fn verify_blocking(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

pub async fn hash(password: String) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || hash_blocking(&password)).await?
}

pub async fn verify(password: String, phc: String) -> Result<bool, PasswordError> {
    Ok(tokio::task::spawn_blocking(move || verify_blocking(&password, &phc)).await?)
}

/// Whether a string is a well-formed argon2id PHC hash (what the config accepts).
pub fn is_argon2id_phc(value: &str) -> bool {
    PasswordHash::new(value)
        .is_ok_and(|hash| hash.algorithm == ARGON2ID_IDENT && hash.hash.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let phc = hash_blocking("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(is_argon2id_phc(&phc));
        assert!(verify_blocking("correct horse", &phc));
        assert!(!verify_blocking("wrong horse", &phc));
        assert!(!verify_blocking("correct horse", "not a hash"));
    }

    #[test]
    fn only_argon2id_is_accepted() {
        assert!(!is_argon2id_phc(
            "$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA"
        ));
        assert!(!is_argon2id_phc("plain text"));
    }
}
