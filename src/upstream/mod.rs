//! Where a person proves who they are: a local account, or a customer's identity provider
//! (OpenID Connect or SAML). Each kind is a [`Connector`]: it starts a login
//! ([`Connector::begin`], an [`Outgoing`] redirect and what to keep for the answer) and finishes
//! it ([`Connector::complete`], the [`Identity`] an [`Answer`] proves). Everything around that —
//! the kept state, the browser binding, replay protection, the user, the session, and going on
//! with the pending authorization — is written once, in [`routes`] (and, for the login form's
//! own page, in `web::login`). Neither the login page nor the authorization flow asks which kind
//! a connector is: they ask the registry ([`Connectors`]) for the one a `login_hint` points to
//! (home-realm discovery by email domain) and send the browser to its [`Connector::entry`].
mod continuation;
mod http;
mod local;
pub mod mapping;
pub mod oidc;
mod registry;
pub(crate) mod saml;

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use url::form_urlencoded::Serializer;

use crate::password::PasswordError;
use crate::password_check::PasswordChecker;
use crate::store::{
    KeptLogin, OneTimeId, SentLogout, StoreError, UpstreamProfile, UpstreamSession, User,
};
pub use continuation::{Continuation, Resume};
pub(crate) use http::fetch_metadata;
pub use local::LocalAccounts;
pub use oidc::OidcConnector;
pub use registry::Connectors;
pub use saml::{SamlConnector, SamlIdentity, SamlLimits};

/// The work of a connector that waits on a provider or the database.
pub type Working<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a connector needs to start a login.
#[derive(Debug, Clone, Copy)]
pub struct LoginRequest<'a> {
    /// Where the browser goes once signed in.
    pub continuation: &'a Continuation,
    /// Ask for credentials even if the browser is signed in (`prompt=login`, `max_age`).
    pub force: bool,
    pub login_hint: Option<&'a str>,
}

/// How a login is sent to its provider, and what is kept to check the answer.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    /// Where the browser goes.
    pub url: String,
    /// The value that comes back with the answer (OIDC `state`, SAML RelayState); kept hashed.
    pub state: String,
    pub nonce: Option<String>,
    pub pkce_verifier: Option<String>,
    pub request_id: Option<String>,
}

/// How a provider's answer reaches idbridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerRoute {
    /// `GET /{kind}/{connection}/callback`, a top-level navigation of the browser that started
    /// the login, which brings its cookies (OIDC).
    Callback,
    /// `POST /{kind}/{connection}/acs`, a cross-site form post that brings no `SameSite=Lax`
    /// cookie: the verified answer is kept, and the browser is sent to
    /// `/{kind}/{connection}/resume`, where its cookie shows whether it started the login (SAML).
    /// `unsolicited`: an answer to no request of ours is taken too (IdP-initiated).
    CrossSitePost { unsolicited: bool },
    /// The connector's own form (local accounts, `web::login`).
    Form,
}

impl AnswerRoute {
    /// The parameter in which answers bring back the value a request was sent with.
    pub fn state_param(self) -> &'static str {
        match self {
            AnswerRoute::CrossSitePost { .. } => "RelayState",
            AnswerRoute::Callback | AnswerRoute::Form => "state",
        }
    }
}

/// What came back from the provider (the callback's query, the posted form), and from where.
#[derive(Debug, Clone)]
pub struct Answer {
    pub params: HashMap<String, String>,
    /// The query string exactly as it came, for an answer brought by GET: the SAML
    /// HTTP-Redirect binding signs it as sent. `None` for a posted answer.
    pub query: Option<String>,
    pub client: IpAddr,
    pub now: i64,
}

impl Answer {
    /// A parameter, if it is there and not empty.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Who an answer proves the person is.
#[derive(Debug)]
pub enum Identity {
    /// An account idbridge keeps (local accounts).
    Account(User),
    /// Someone a provider's answer vouched for earlier (a posted SAML answer, accepted at the
    /// ACS), with the provider's session it started, signed in when their browser resumes.
    Answered {
        user: User,
        upstream: Option<UpstreamSession>,
    },
    /// Someone a provider vouches for; their user is created or updated from the profile.
    Vouched {
        profile: UpstreamProfile,
        /// An id the answer carries that signs in once only.
        one_time: Option<OneTimeId>,
    },
}

/// A provider's verified word that its session has ended (an OpenID Connect logout token, a SAML
/// LogoutRequest): the sessions behind it it names, and the id that makes the word count once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedUpstream {
    /// Who the provider says the person is (`sub`, NameID), if it says.
    pub subject: Option<String>,
    /// The provider's session (`sid`, SessionIndex), if it says; at least one of the two is
    /// there.
    pub session_index: Option<String>,
    /// The word's own id (a logout token's `jti`, a LogoutRequest's ID), remembered as long as
    /// the word could be accepted.
    pub one_time: OneTimeId,
}

/// Held while an answer is checked (a turn of a bounded resource); dropped when done.
pub type Admission = Option<Box<dyn Send>>;

/// What connectors may use besides their own settings.
pub struct Context<'a> {
    /// Checks local passwords behind the failure counters.
    pub passwords: PasswordChecker<'a>,
}

/// One way to sign in. A new kind of connection implements this in a file of its own and is
/// named in one arm of [`Connectors::from_config`]; routes, state, sessions and the resume of
/// the authorization come with it.
pub trait Connector: Send + Sync {
    /// The connection id (`local` for local accounts).
    fn id(&self) -> &str;
    /// What the login page calls it.
    fn name(&self) -> &str;
    /// Email domains whose users sign in here (home-realm discovery).
    fn domains(&self) -> &[String];
    /// The first segment of its routes (`oidc`, `saml`).
    fn kind(&self) -> &'static str;
    /// How its answers come back.
    fn answer_route(&self) -> AnswerRoute;

    /// Where to send the browser to start signing in here.
    fn entry(&self, request: &LoginRequest) -> String {
        format!(
            "/{}/{}/login?{}",
            self.kind(),
            self.id(),
            login_query(request)
        )
    }

    /// Starts a login: where the browser goes, and what the answer is checked against.
    fn begin<'a>(
        &'a self,
        request: &'a LoginRequest<'a>,
        now: i64,
    ) -> Working<'a, Result<Outgoing, UpstreamError>>;

    /// Counts an answer against the address it comes from, before anything of it is looked at.
    fn count_sender(&self, _client: IpAddr) -> Result<(), UpstreamError> {
        Ok(())
    }

    /// Lets an answer be checked, before anything kept is taken for it: an answer refused here
    /// leaves its login to a retry. The admission is held until the check is done.
    fn admit<'a>(&'a self, _answer: &'a Answer) -> Working<'a, Result<Admission, UpstreamError>> {
        Box::pin(async { Ok(None) })
    }

    /// Finishes a login: who `answer` proves the person is. `kept` is what [`Connector::begin`]
    /// kept, `None` for an answer to no request (where [`AnswerRoute::CrossSitePost`] allows it)
    /// and for a connector with its own form.
    fn complete<'a>(
        &'a self,
        answer: &'a Answer,
        kept: Option<&'a KeptLogin>,
        context: &'a Context<'a>,
        admission: Admission,
    ) -> Working<'a, Result<Identity, UpstreamError>>;

    /// A document for the provider's administrator (SAML SP metadata), if the kind has one.
    fn metadata(&self) -> Option<String> {
        None
    }

    /// Reads again what the connector fetches of its provider (SAML IdP metadata).
    fn refresh(&self) -> Working<'_, Result<(), UpstreamError>> {
        Box::pin(async { Ok(()) })
    }

    /// Asks the provider to end its session too (single logout, after idbridge's has ended):
    /// where the browser goes, and what the answer at `/{kind}/{connection}/logged-out` is
    /// checked against (`state` and `request_id` of the [`Outgoing`]). `None`: the provider is
    /// not asked (it has no logout endpoint, or the kind has no such step).
    fn begin_logout<'a>(
        &'a self,
        _session: &'a UpstreamSession,
        _now: i64,
    ) -> Working<'a, Result<Option<Outgoing>, UpstreamError>> {
        Box::pin(async { Ok(None) })
    }

    /// Checks the provider's answer to a logout [`Connector::begin_logout`] sent, which the
    /// route has taken, once, by its state.
    fn finish_logout<'a>(
        &'a self,
        _answer: &'a Answer,
        _sent: &'a SentLogout,
    ) -> Working<'a, Result<(), UpstreamError>> {
        Box::pin(async { Ok(()) })
    }

    /// How the provider tells idbridge server to server that its session has ended
    /// (`POST /{kind}/{connection}/backchannel-logout`), if the kind has such a way.
    fn back_channel(&self) -> Option<&dyn BackChannel> {
        None
    }

    /// How the provider asks through the browser that the sessions behind its own end
    /// (`GET|POST /{kind}/{connection}/slo`), if the kind has such a way.
    fn front_channel(&self) -> Option<&dyn FrontChannel> {
        None
    }
}

/// A provider's request, brought by the browser, that the sessions behind its own end (SAML
/// IdP-initiated single logout), verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskedLogout {
    pub ended: EndedUpstream,
    /// The request's ID, which the answer names.
    pub request_id: String,
    /// Given back with the answer, as it came.
    pub relay_state: Option<String>,
}

/// A connector whose provider asks through the browser that the sessions behind its own end
/// (`GET|POST /{kind}/{connection}/slo`).
pub trait FrontChannel: Send + Sync {
    /// Verifies the request `answer` brings: whose sessions it ends. Spending its ID is the
    /// caller's.
    fn verify_logout_request<'a>(
        &'a self,
        answer: &'a Answer,
    ) -> Working<'a, Result<AskedLogout, UpstreamError>>;

    /// Where the browser takes the answer once the sessions have ended; `None` when the provider
    /// has no address for it.
    fn logout_answer(&self, asked: &AskedLogout, now: i64)
    -> Result<Option<String>, UpstreamError>;
}

/// A connector whose provider posts logout tokens when its session ends (OpenID Connect
/// Back-Channel Logout 1.0).
pub trait BackChannel: Send + Sync {
    /// Verifies a logout token: whose sessions it ends. Spending its `jti` is the caller's.
    fn verify_logout_token<'a>(
        &'a self,
        logout_token: &'a str,
        now: i64,
    ) -> Working<'a, Result<EndedUpstream, UpstreamError>>;
}

/// The query string every connector's login path takes: `return_to`, `force`, `login_hint`.
fn login_query(request: &LoginRequest) -> String {
    let mut query = Serializer::new(String::new());
    query.append_pair("return_to", &request.continuation.path());
    if request.force {
        query.append_pair("force", "1");
    }
    if let Some(hint) = request.login_hint {
        query.append_pair("login_hint", hint);
    }
    query.finish()
}

/// The domain of an email address, lower-cased.
fn email_domain(email: &str) -> String {
    email
        .rsplit_once('@')
        .map(|(_, domain)| domain.to_ascii_lowercase())
        .unwrap_or_default()
}

impl UpstreamError {
    /// Whether a login refused for this reason goes to the audit trail: not when it was turned
    /// away unchecked (too many attempts: recording each would let anyone write without bound)
    /// or idbridge itself failed.
    pub fn is_audited(&self) -> bool {
        !matches!(self.outcome(), "throttled" | "error")
    }

    /// What the metrics call the outcome of a login that failed so.
    pub fn outcome(&self) -> &'static str {
        match self {
            UpstreamError::Unreachable { .. } => "unreachable",
            UpstreamError::Invalid { .. }
            | UpstreamError::Rejected { .. }
            | UpstreamError::InvalidAnswer { .. }
            | UpstreamError::NoSamlResponse { .. }
            | UpstreamError::UnknownAnswer { .. }
            | UpstreamError::AnotherBrowser { .. }
            | UpstreamError::Corrupt { .. } => "invalid_answer",
            UpstreamError::Denied { .. } => "denied_by_provider",
            UpstreamError::ForeignDomain { .. }
            | UpstreamError::UnverifiedEmail { .. }
            | UpstreamError::ClaimedDomain { .. }
            | UpstreamError::HeldAddress { .. }
            | UpstreamError::NoEntity { .. }
            | UpstreamError::AccountGone { .. } => "refused_identity",
            UpstreamError::TooManyResponses { .. }
            | UpstreamError::Busy { .. }
            | UpstreamError::Throttled { .. } => "throttled",
            UpstreamError::InvalidCredentials => "invalid_credentials",
            UpstreamError::LogoutRefused { .. } | UpstreamError::LogoutReplayed { .. } => {
                "invalid_answer"
            }
            UpstreamError::Store(_) | UpstreamError::Password(_) => "error",
        }
    }
}

/// Why a login did not work.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("connection {connection}: the identity provider could not be reached: {detail}")]
    Unreachable { connection: String, detail: String },
    #[error("connection {connection}: the identity provider's answer was refused: {detail}")]
    Invalid { connection: String, detail: String },
    #[error("connection {connection}: the identity provider answered error={code}")]
    Denied { connection: String, code: String },
    #[error("connection {connection}: {email_domain} is not one of the connection's domains")]
    ForeignDomain {
        connection: String,
        email_domain: String,
    },
    #[error("connection {connection}: the provider did not say the email address is verified")]
    UnverifiedEmail { connection: String },
    #[error(
        "connection {connection}: {email_domain} belongs to connection {owner}, which alone may sign its people in"
    )]
    ClaimedDomain {
        connection: String,
        email_domain: String,
        owner: String,
    },
    #[error(
        "connection {connection}: the email address belongs to a person of {holder} (a local account is `config`)"
    )]
    HeldAddress { connection: String, holder: String },
    #[error("connection {connection}: the SAML response was refused: {detail}")]
    Rejected { connection: String, detail: String },
    #[error("connection {connection}: too many SAML responses from one address")]
    TooManyResponses { connection: String },
    #[error("connection {connection}: no SAML verification turn came free in time")]
    Busy { connection: String },
    #[error("connection {connection}: the answer lacks its state or its result")]
    InvalidAnswer { connection: String },
    #[error("connection {connection}: the posted answer has no SAMLResponse")]
    NoSamlResponse { connection: String },
    #[error("connection {connection}: the answer names no login waiting for it")]
    UnknownAnswer { connection: String },
    #[error("connection {connection}: the answer came to another browser than the login's")]
    AnotherBrowser { connection: String },
    #[error("connection {connection}: the answered login's user no longer exists")]
    AccountGone { connection: String },
    #[error(
        "connection {connection}: no entity rule matches what the provider says, and the connection has no default entity"
    )]
    NoEntity { connection: String },
    /// A provider's word that its session has ended (a logout token, a LogoutRequest or
    /// LogoutResponse) that does not verify.
    #[error("connection {connection}: the provider's logout message was refused: {detail}")]
    LogoutRefused { connection: String, detail: String },
    #[error("connection {connection}: the provider's logout message was used before")]
    LogoutReplayed { connection: String },
    /// Something kept for the login is not as [`Connector::begin`] left it.
    #[error("connection {connection}: {detail}")]
    Corrupt { connection: String, detail: String },
    #[error("incorrect email or password")]
    InvalidCredentials,
    #[error("too many failed logins; blocked until {until}")]
    Throttled { until: i64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Password(#[from] PasswordError),
}
