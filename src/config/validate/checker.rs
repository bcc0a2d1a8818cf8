//! The [`Checker`] every section's check writes its problems to, with the checks of single
//! values that sections share: secrets (`env:NAME`), durations, counts, passwords, unique ids.
use std::collections::HashSet;

use crate::config::file::OneOrMany;
use crate::config::{EnvLookup, PasswordDecl, Problem, Secret, certificate_der};

/// Minimum length of an HMAC-SHA256 key (a product's HS256 secret, a webhook's secret): 32 bytes,
/// the output size of SHA-256 (RFC 2104 section 3; RFC 7518 section 3.2 requires it for HS256).
const MIN_HMAC_SECRET_LEN: usize = 32;

pub(in crate::config) struct Checker<'a> {
    pub(in crate::config) env: EnvLookup<'a>,
    pub(in crate::config) problems: Vec<Problem>,
}

impl Checker<'_> {
    pub(super) fn problem(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    /// A list that must not be empty (`required`: what the problem says), each item read by
    /// `read` under its own path (`{path}[{j}]`); the items that read.
    /// The DER of a certificate given as PEM or base64 DER, or a problem at `path`.
    pub(super) fn certificate(&mut self, path: String, value: &str) -> Option<Vec<u8>> {
        certificate_der(value).or_else(|| {
            self.problem(path, "not an X.509 certificate (PEM or base64 DER)");
            None
        })
    }

    /// One certificate or a list of them (`key` or `key[i]` for each problem).
    pub(super) fn certificates(&mut self, key: &str, given: &OneOrMany) -> Vec<Vec<u8>> {
        match given {
            OneOrMany::One(value) => self
                .certificate(key.to_string(), value)
                .into_iter()
                .collect(),
            OneOrMany::Many(values) => values
                .iter()
                .enumerate()
                .filter_map(|(i, value)| self.certificate(format!("{key}[{i}]"), value))
                .collect(),
        }
    }

    pub(super) fn required_list<T>(
        &mut self,
        path: &str,
        values: &[String],
        required: &str,
        mut read: impl FnMut(&mut Self, &str, &str) -> Option<T>,
    ) -> Vec<T> {
        if values.is_empty() {
            self.problem(path, required);
        }
        values
            .iter()
            .enumerate()
            .filter_map(|(j, value)| read(self, &format!("{path}[{j}]"), value))
            .collect()
    }

    /// A value that may be `env:NAME`, read from the environment.
    pub(super) fn secret(&mut self, path: &str, value: &str) -> Option<Secret> {
        let Some(name) = value.strip_prefix("env:") else {
            return Some(Secret::new(value));
        };
        match (self.env)(name) {
            Some(resolved) if !resolved.is_empty() => Some(Secret::new(resolved)),
            Some(_) => {
                self.problem(path, format!("environment variable {name} is empty"));
                None
            }
            None => {
                self.problem(path, format!("environment variable {name} is not set"));
                None
            }
        }
    }

    /// A secret used as an HMAC key (a product's JWTs, a webhook's signatures) or a bearer token
    /// (the metrics'): at least
    /// [`MIN_HMAC_SECRET_LEN`] bytes, else a problem and `None`.
    pub(super) fn hmac_secret(&mut self, path: &str, value: &str) -> Option<Secret> {
        let secret = self.secret(path, value)?;
        if secret.expose().len() < MIN_HMAC_SECRET_LEN {
            self.problem(
                path,
                format!(
                    "shorter than {MIN_HMAC_SECRET_LEN} bytes (make one with `openssl rand -base64 32`)"
                ),
            );
            return None;
        }
        Some(secret)
    }

    /// A setting the environment may override: the value and the name to report problems under.
    pub(super) fn overridable(
        &self,
        var: &str,
        key: &str,
        file_value: Option<String>,
    ) -> (Option<String>, String) {
        match (self.env)(var) {
            Some(value) => (Some(value), format!("{key} (from {var})")),
            None => (file_value, key.to_string()),
        }
    }

    pub(super) fn duration(&mut self, path: &str, value: Option<&str>, default: i64) -> i64 {
        match value.map(parse_duration) {
            None => default,
            Some(Some(seconds)) => seconds,
            Some(None) => {
                self.problem(path, "not a duration (examples: 30s, 5m, 8h, 90d)");
                default
            }
        }
    }

    /// A whole number from 1 to `max`, or `default` when absent.
    pub(super) fn count(&mut self, path: &str, value: Option<i64>, default: i64, max: i64) -> i64 {
        match value {
            None => default,
            Some(n) if (1..=max).contains(&n) => n,
            Some(_) => {
                self.problem(path, format!("must be from 1 to {max}"));
                default
            }
        }
    }

    pub(super) fn password(
        &mut self,
        path: &str,
        hash: Option<&str>,
        plain: Option<&str>,
    ) -> Option<PasswordDecl> {
        match (hash, plain) {
            (Some(hash), None) => {
                if crate::password::is_argon2id_phc(hash) {
                    Some(PasswordDecl::Hash(hash.to_string()))
                } else {
                    self.problem(
                        format!("{path}.password_hash"),
                        "not an argon2id PHC string (make one with `idbridge hash-password`)",
                    );
                    None
                }
            }
            (None, Some(plain)) => self
                .secret(&format!("{path}.password"), plain)
                .map(PasswordDecl::Plain),
            (Some(_), Some(_)) => {
                self.problem(path, "give either password_hash or password, not both");
                None
            }
            (None, None) => {
                self.problem(path, "password_hash or password is required");
                None
            }
        }
    }
}

/// `30s`, `5m`, `8h`, `90d` as seconds.
pub fn parse_duration(value: &str) -> Option<i64> {
    let value = value.trim();
    let split = value.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = value.split_at(split);
    let number: i64 = number.parse().ok()?;
    let unit_seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return None,
    };
    number.checked_mul(unit_seconds).filter(|s| *s > 0)
}

pub(super) fn check_unique<'a>(
    check: &mut Checker,
    seen: &mut HashSet<String>,
    path: String,
    id: &'a str,
) -> Option<&'a str> {
    if id.trim().is_empty() {
        check.problem(path, "must not be empty");
        None
    } else if !seen.insert(id.to_lowercase()) {
        check.problem(path, format!("duplicate id {id:?}"));
        None
    } else {
        Some(id)
    }
}

pub fn is_plausible_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
                && !domain.contains('@')
        }
        None => false,
    }
}

/// Product ids appear in URLs (`/sso/jwt/{id}`), so they are kept to URL-safe characters.
pub(in crate::config) fn is_url_safe_id(id: &str) -> bool {
    id.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(30));
        assert_eq!(parse_duration("5m"), Some(300));
        assert_eq!(parse_duration("8h"), Some(28_800));
        assert_eq!(parse_duration("90d"), Some(7_776_000));
        for bad in [
            "",
            "h",
            "8",
            "8x",
            "-1h",
            "0s",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert!(is_plausible_email("alice@example.com"));
        for bad in [
            "alice",
            "@example.com",
            "a@b",
            "a b@example.com",
            "a@@example.com",
        ] {
            assert!(!is_plausible_email(bad), "{bad}");
        }
    }
}
