//! A pending authorization: a checked authorization request, typed, as it waits in the database
//! for the person to come back from login or consent (Dex's `AuthRequest`). The stored text of
//! its scope, prompt and response mode is the form the wire uses, so rows of every version read.
use super::prompt::Prompt;
use super::response_mode::ResponseMode;
use super::scope::Scopes;
use crate::store::PendingRow;

#[derive(Debug, Clone)]
pub struct PendingAuthorization {
    /// Random, with a letter first: upstream SAML uses it as the AuthnRequest ID, an `xs:ID`.
    pub id: String,
    /// SHA-256 of the flow cookie of the browser that started it: the id alone grants nothing.
    pub browser_hash: String,
    pub client_id: String,
    /// Matched exactly against a registered one.
    pub redirect_uri: String,
    pub scope: Scopes,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub response_mode: ResponseMode,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

impl PendingAuthorization {
    /// The row to store, in its text form.
    pub fn to_row(&self) -> PendingRow {
        PendingRow {
            id: self.id.clone(),
            browser_hash: self.browser_hash.clone(),
            client_id: self.client_id.clone(),
            redirect_uri: self.redirect_uri.clone(),
            scope: self.scope.to_string(),
            state: self.state.clone(),
            nonce: self.nonce.clone(),
            code_challenge: self.code_challenge.clone(),
            response_mode: self.response_mode.as_str().to_string(),
            prompt: (!self.prompt.is_empty()).then(|| self.prompt.to_string()),
            max_age: self.max_age,
            login_hint: self.login_hint.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
        }
    }
}

/// A stored row, which was checked when it was stored.
impl From<PendingRow> for PendingAuthorization {
    fn from(row: PendingRow) -> Self {
        PendingAuthorization {
            scope: Scopes::parse(&row.scope),
            response_mode: ResponseMode::stored(&row.response_mode),
            prompt: Prompt::stored(row.prompt.as_deref()),
            id: row.id,
            browser_hash: row.browser_hash,
            client_id: row.client_id,
            redirect_uri: row.redirect_uri,
            state: row.state,
            nonce: row.nonce,
            code_challenge: row.code_challenge,
            max_age: row.max_age,
            login_hint: row.login_hint,
            created_at: row.created_at,
            expires_at: row.expires_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row stored before these types existed reads, and is written back the same.
    #[test]
    fn stored_text_round_trips() {
        let row = PendingRow {
            id: "a1".into(),
            browser_hash: "h".into(),
            client_id: "c".into(),
            redirect_uri: "https://rp.example/cb".into(),
            scope: "openid profile offline_access".into(),
            state: Some("s".into()),
            nonce: None,
            code_challenge: None,
            response_mode: "form_post".into(),
            prompt: Some("login consent".into()),
            max_age: Some(0),
            login_hint: None,
            created_at: 1,
            expires_at: 2,
        };
        let pending = PendingAuthorization::from(row.clone());
        assert_eq!(pending.response_mode, ResponseMode::FormPost);
        assert!(pending.prompt.login && pending.prompt.consent && !pending.prompt.none);
        assert_eq!(pending.to_row(), row);
        let plain = PendingAuthorization {
            response_mode: ResponseMode::Query,
            prompt: Prompt::default(),
            ..PendingAuthorization::from(row)
        };
        let written = plain.to_row();
        assert_eq!(
            (written.response_mode.as_str(), written.prompt),
            ("query", None)
        );
    }
}
