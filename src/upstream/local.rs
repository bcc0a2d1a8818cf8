//! Local accounts: people idbridge keeps a password for. Their login form is the login page
//! (`GET/POST /sso/v2/login`, `web::login`), which hands the email and password it was sent to
//! [`LocalAccounts`] as the answer. The password is checked with argon2id behind per-account and
//! per-address limits (see [`crate::password_check`]).
use super::{
    Admission, Answer, AnswerRoute, Connector, Context, Identity, LoginRequest, Outgoing,
    UpstreamError, Working, login_query,
};
use crate::password_check::{ACCOUNT_RULE, ADDRESS_RULE, Checked};
use crate::store::{KeptLogin, StoreError};
use crate::vocabulary::addresses::address_key;

/// The path of the login form.
pub const LOGIN_PATH: &str = "/sso/v2/login";

pub struct LocalAccounts;

impl LocalAccounts {
    /// Its connection id, which no `[[connections]]` entry may take.
    pub const ID: &'static str = crate::vocabulary::connections::LOCAL;
}

impl Connector for LocalAccounts {
    fn id(&self) -> &str {
        Self::ID
    }

    fn name(&self) -> &str {
        "idbridge account"
    }

    fn domains(&self) -> &[String] {
        &[]
    }

    fn kind(&self) -> &'static str {
        Self::ID
    }

    fn answer_route(&self) -> AnswerRoute {
        AnswerRoute::Form
    }

    fn entry(&self, request: &LoginRequest) -> String {
        format!("{LOGIN_PATH}?{}", login_query(request))
    }

    /// The login form is where it starts.
    fn begin<'a>(
        &'a self,
        request: &'a LoginRequest<'a>,
        _now: i64,
    ) -> Working<'a, Result<Outgoing, UpstreamError>> {
        Box::pin(async move {
            Ok(Outgoing {
                url: self.entry(request),
                ..Outgoing::default()
            })
        })
    }

    /// Checks the form's `email` and `password`, sent from the answer's client; on success the
    /// failures counted against the account are cleared.
    fn complete<'a>(
        &'a self,
        answer: &'a Answer,
        _kept: Option<&'a KeptLogin>,
        context: &'a Context<'a>,
        _admission: Admission,
    ) -> Working<'a, Result<Identity, UpstreamError>> {
        Box::pin(async move {
            let email = answer.param("email").unwrap_or_default().trim();
            let password = answer.param("password").unwrap_or_default();
            let account_key = format!("account:{}", email.to_lowercase());
            let address_key = address_key("address", answer.client);
            let keys = [
                (account_key.as_str(), ACCOUNT_RULE),
                (address_key.as_str(), ADDRESS_RULE),
            ];
            let store = context.passwords.store;
            let user = store.find_local_user(email).await?;
            let stored_hash = user.as_ref().and_then(|u| u.password_hash.clone());
            // Checked before the match: an unknown account does the same work and counts the
            // same.
            let checked = context
                .passwords
                .check::<UpstreamError>(&keys, stored_hash, password, answer.now)
                .await?;
            match checked {
                Checked::Correct => {
                    let user = user.ok_or_else(|| {
                        StoreError::Corrupt("a password matched without an account".into())
                    })?;
                    store.clear_failures(&account_key).await?;
                    Ok(Identity::Account(user))
                }
                Checked::Wrong => Err(UpstreamError::InvalidCredentials),
                Checked::Throttled { until } => Err(UpstreamError::Throttled { until }),
            }
        })
    }
}
