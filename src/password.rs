//! Password hashing with argon2id at the OWASP-recommended cost (19 MiB, 2 passes, 1 lane), the
//! `argon2` crate's default. Hashing is CPU-heavy, so callers on the runtime use the async
//! functions, which run it on the blocking pool. Passwords that requests bring are checked
//! through an [`Argon2Gate`], which bounds how many checks run at once.
use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::phc::PasswordHash;
use argon2::{ARGON2ID_IDENT, Argon2, PasswordHasher, PasswordVerifier};
use tokio::sync::Semaphore;

/// How long a password check waits for its turn before the request is answered "busy".
pub const GATE_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("password task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("too many password checks waiting; none started within {0:?}")]
    Busy(Duration),
}

/// Lets at most a few argon2 checks run at once: each takes a core and 19 MiB for tens of
/// milliseconds, and without a bound a burst of logins would fill the blocking pool (512 threads,
/// about 10 GiB) and starve everything else that runs there. A check that cannot start within
/// the wait fails with [`PasswordError::Busy`], which the caller answers with 503.
pub struct Argon2Gate {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl Argon2Gate {
    pub fn new(permits: usize, wait: Duration) -> Argon2Gate {
        Argon2Gate {
            permits: Arc::new(Semaphore::new(permits.max(1))),
            wait,
        }
    }

    /// As many checks at once as the machine has cores, each waiting at most [`GATE_WAIT`].
    pub fn for_this_machine() -> Argon2Gate {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Argon2Gate::new(cores, GATE_WAIT)
    }

    /// [`verify`], once a permit is free. The permit goes with the check onto the blocking pool:
    /// a client that hangs up drops this future, but not the argon2 run, which keeps its permit
    /// until it ends.
    pub async fn verify(&self, password: String, phc: String) -> Result<bool, PasswordError> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| PasswordError::Busy(self.wait))?
            .expect("the gate's semaphore is never closed");
        Ok(tokio::task::spawn_blocking(move || {
            let _permit = permit;
            verify_blocking(&password, &phc)
        })
        .await?)
    }
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

    #[tokio::test]
    async fn the_gate_answers_busy_when_no_check_can_start_in_time() {
        let phc = hash_blocking("correct horse").unwrap();
        let gate = Argon2Gate::new(1, Duration::from_millis(50));
        let held = gate.permits.acquire().await.unwrap();
        let busy = gate
            .verify("correct horse".into(), phc.clone())
            .await
            .unwrap_err();
        assert!(matches!(busy, PasswordError::Busy(_)), "{busy}");
        drop(held);
        assert!(gate.verify("correct horse".into(), phc).await.unwrap());
    }

    #[tokio::test]
    async fn a_check_whose_request_is_gone_keeps_its_permit_until_it_ends() {
        let phc = hash_blocking("correct horse").unwrap();
        let gate = Arc::new(Argon2Gate::new(1, Duration::from_millis(1)));
        let check = tokio::spawn({
            let gate = gate.clone();
            async move { gate.verify("wrong horse".into(), phc).await }
        });
        while gate.permits.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        // The client hangs up: the request's future is dropped while argon2 runs.
        check.abort();
        assert!(check.await.unwrap_err().is_cancelled());
        assert_eq!(gate.permits.available_permits(), 0, "still held by the run");
        let busy = gate.verify("x".into(), "y".into()).await.unwrap_err();
        assert!(matches!(busy, PasswordError::Busy(_)), "{busy}");
        while gate.permits.available_permits() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[test]
    fn only_argon2id_is_accepted() {
        assert!(!is_argon2id_phc(
            "$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA"
        ));
        assert!(!is_argon2id_phc("plain text"));
    }
}
