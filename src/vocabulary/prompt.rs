//! The `prompt` parameter of an authorization request (OIDC Core 3.1.2.1): a set of values,
//! of which idbridge knows `none`, `login` and `consent`.
use std::fmt;

/// The prompt values a request asked for. `Display` writes them space-separated, the form the
/// database holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    /// Answer without showing any page, or fail (`login_required`, `consent_required`).
    pub none: bool,
    /// Ask for credentials even when the browser is signed in.
    pub login: bool,
    /// Ask for consent even when it was given before.
    pub consent: bool,
}

/// Why a `prompt` value was refused; its `Display` is the `error_description`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    #[error("prompt must be none, login or consent")]
    Unknown,
    #[error("prompt=none cannot be combined with other values")]
    NoneWithOthers,
}

impl Prompt {
    /// The values idbridge knows, as discovery lists them.
    pub const SUPPORTED: [&str; 3] = ["none", "login", "consent"];

    /// The space-separated values of a request's `prompt`; repeats are allowed, and `none`
    /// alone, since it asks for no interaction at all.
    pub fn parse(text: &str) -> Result<Prompt, PromptError> {
        let mut prompt = Prompt::default();
        for value in text.split(' ').filter(|v| !v.is_empty()) {
            match value {
                "none" => prompt.none = true,
                "login" => prompt.login = true,
                "consent" => prompt.consent = true,
                _ => return Err(PromptError::Unknown),
            }
        }
        if prompt.none && (prompt.login || prompt.consent) {
            return Err(PromptError::NoneWithOthers);
        }
        Ok(prompt)
    }

    /// The prompt of a stored pending authorization, which was checked when it was stored.
    pub fn stored(text: Option<&str>) -> Prompt {
        Prompt::parse(text.unwrap_or("")).unwrap_or_default()
    }

    pub fn is_empty(&self) -> bool {
        *self == Prompt::default()
    }
}

impl fmt::Display for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values: Vec<&str> = [
            (self.none, "none"),
            (self.login, "login"),
            (self.consent, "consent"),
        ]
        .into_iter()
        .filter_map(|(set, value)| set.then_some(value))
        .collect();
        f.write_str(&values.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_a_set() {
        let prompt = Prompt::parse("consent  login consent").unwrap();
        assert!(prompt.login && prompt.consent && !prompt.none);
        assert_eq!(prompt.to_string(), "login consent");
        assert_eq!(Prompt::stored(Some("login consent")), prompt);
        assert!(Prompt::parse("").unwrap().is_empty());
        assert_eq!(Prompt::parse("none none").unwrap().to_string(), "none");
    }

    #[test]
    fn unknown_values_and_none_with_others_are_refused() {
        assert_eq!(Prompt::parse("select_account"), Err(PromptError::Unknown));
        assert_eq!(Prompt::parse("none bogus"), Err(PromptError::Unknown));
        assert_eq!(
            Prompt::parse("none login"),
            Err(PromptError::NoneWithOthers)
        );
    }
}
