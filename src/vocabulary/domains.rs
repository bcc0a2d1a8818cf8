//! Which hosts a product's tokens may be sent to. A host from a request must be a bare DNS name
//! (letters, digits and hyphens in dot-separated labels); anything else — user information,
//! a port, a path, a trailing dot, an empty label, a non-ASCII character — is refused before any
//! matching, so that no parser disagreement can turn an allowed-looking string into another host.
use std::fmt;

/// Longest DNS name (RFC 1035 section 2.3.4, without the trailing dot).
const MAX_HOST_LEN: usize = 253;
/// Longest DNS label.
const MAX_LABEL_LEN: usize = 63;

/// A host as a request names it, checked and lower-cased: `Help.Example.COM` becomes
/// `help.example.com`. `None` for anything that is not a bare DNS hostname.
pub fn normalize_host(candidate: &str) -> Option<String> {
    let host = candidate.to_ascii_lowercase();
    let valid = !host.is_empty()
        && host.len() <= MAX_HOST_LEN
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= MAX_LABEL_LEN
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    valid.then_some(host)
}

/// One entry of a product's `allowed_domains`.
#[derive(Clone, PartialEq, Eq)]
pub enum DomainPattern {
    /// `help.example.com`: that host only.
    Exact(String),
    /// `*.help.example.com`: exactly one label before `.help.example.com` (`acme.help.example.com`),
    /// as a TLS wildcard certificate matches — not `help.example.com` itself, not
    /// `a.b.help.example.com`, and never `evilhelp.example.com`.
    Wildcard(String),
}

impl DomainPattern {
    /// Reads a pattern from the config. A wildcard needs at least two labels after `*.`, so
    /// `*.com` cannot allow a whole top-level domain.
    pub fn parse(value: &str) -> Result<DomainPattern, &'static str> {
        match value.strip_prefix("*.") {
            Some(suffix) => match normalize_host(suffix) {
                Some(suffix) if suffix.contains('.') => Ok(DomainPattern::Wildcard(suffix)),
                Some(_) => Err("a wildcard needs at least two labels after `*.`"),
                None => Err("`*.` must be followed by a DNS hostname"),
            },
            None => normalize_host(value)
                .map(DomainPattern::Exact)
                .ok_or("not a DNS hostname (no scheme, port, path or trailing dot; `*.` only as the first label)"),
        }
    }

    /// Whether a host already passed through [`normalize_host`] is allowed by this pattern.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            DomainPattern::Exact(exact) => host == exact,
            DomainPattern::Wildcard(suffix) => host
                .strip_suffix(suffix.as_str())
                .and_then(|prefix| prefix.strip_suffix('.'))
                .is_some_and(|label| !label.is_empty() && !label.contains('.')),
        }
    }
}

impl fmt::Debug for DomainPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for DomainPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DomainPattern::Exact(host) => f.write_str(host),
            DomainPattern::Wildcard(suffix) => write!(f, "*.{suffix}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(patterns: &[&str], candidate: &str) -> bool {
        let patterns: Vec<DomainPattern> = patterns
            .iter()
            .map(|p| DomainPattern::parse(p).unwrap())
            .collect();
        normalize_host(candidate).is_some_and(|host| patterns.iter().any(|p| p.matches(&host)))
    }

    #[test]
    fn exact_names_match_only_themselves() {
        let patterns = ["help.example.com"];
        assert!(allowed(&patterns, "help.example.com"));
        assert!(allowed(&patterns, "HELP.Example.com"));
        for refused in [
            "evilhelp.example.com",
            "help.example.com.evil.com",
            "a.help.example.com",
            "example.com",
        ] {
            assert!(!allowed(&patterns, refused), "{refused}");
        }
    }

    #[test]
    fn a_wildcard_matches_one_whole_label() {
        let patterns = ["*.help.example.com"];
        assert!(allowed(&patterns, "acme.help.example.com"));
        assert!(allowed(&patterns, "ACME-2.help.example.com"));
        for refused in [
            "help.example.com",
            "a.b.help.example.com",
            "evilhelp.example.com",
            "acme.evilhelp.example.com",
            "acme.help.example.com.evil.com",
            ".help.example.com",
        ] {
            assert!(!allowed(&patterns, refused), "{refused}");
        }
    }

    #[test]
    fn anything_but_a_bare_hostname_is_refused() {
        let patterns = ["help.example.com", "*.help.example.com"];
        for hostile in [
            "allowed.com@evil.com",
            "help.example.com@evil.com",
            "evil.com@help.example.com",
            "help.example.com:444",
            "help.example.com/path",
            "help.example.com.",
            "help..example.com",
            "https://help.example.com",
            "help.example.com\\evil.com",
            "help.example.com%2fevil.com",
            "help.example.com\n",
            " help.example.com",
            "hélp.example.com",
            "-acme.help.example.com",
            "",
        ] {
            assert!(!allowed(&patterns, hostile), "{hostile:?}");
        }
    }

    #[test]
    fn patterns_from_the_config() {
        assert_eq!(
            DomainPattern::parse("*.Help.example.com"),
            Ok(DomainPattern::Wildcard("help.example.com".into()))
        );
        for bad in [
            "*.com",
            "*",
            "a.*.example.com",
            "*help.example.com",
            "https://help.example.com",
            "help.example.com:443",
        ] {
            assert!(DomainPattern::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            DomainPattern::parse("*.help.example.com")
                .unwrap()
                .to_string(),
            "*.help.example.com"
        );
    }
}
