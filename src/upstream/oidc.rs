//! OpenID Connect connections (SPEC section 6): idbridge as a relying party of a customer's
//! identity provider, with the `openidconnect` crate. Discovery is cached; the provider's keys are
//! fetched again when a token names one not seen yet (key rotation), at most every
//! [`JWKS_REFETCH_INTERVAL`].
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreIdToken, CoreIdTokenVerifier,
    CoreJsonWebKeySet, CoreJwsSigningAlgorithm, CoreTokenResponse,
};
use openidconnect::{
    AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    PostLogoutRedirectUrl, ProviderMetadataWithLogout, Scope, SignatureVerificationError,
    TokenResponse, reqwest,
};
use serde_json::{Map, Value};
use tokio::sync::RwLock;

pub mod logout;

use super::http::{BodyError, Capped, read_limited};
use super::{
    Admission, Answer, AnswerRoute, BackChannel, Connector, Context, Identity, LoginRequest,
    Outgoing, UpstreamError, Working, mapping,
};
use crate::config::{ConnectionDecl, OidcConnectionDecl};
use crate::store::{KeptLogin, UpstreamProfile, UpstreamSession};

/// Discovery as idbridge reads it: the standard members and `end_session_endpoint` (OpenID
/// Connect RP-Initiated Logout 1.0).
pub type Metadata = ProviderMetadataWithLogout;

/// How long discovery is trusted before it is fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// The least time between two fetches of the provider's keys for an unknown `kid`, so that
/// tokens naming made-up keys cannot make idbridge hammer the provider.
const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// Tolerated difference between the provider's clock and ours for `iat`.
const CLOCK_SKEW: i64 = 60;
/// The largest userinfo answer read: a few claims about one person take a few hundred bytes.
const MAX_USERINFO_BYTES: usize = 64 * 1024;
/// The largest discovery document, key set or token answer read: the largest providers' are a
/// few kilobytes (a key set with certificate chains some tens).
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// Discovery, when it was fetched, and when its keys were last fetched again.
#[derive(Clone)]
struct Discovered {
    metadata: Metadata,
    fetched_at: Instant,
    keys_refetched_at: Option<Instant>,
}

pub struct OidcConnector {
    connection: ConnectionDecl,
    settings: OidcConnectionDecl,
    /// Where the provider sends the browser back: `/oidc/{id}/callback`.
    redirect_uri: String,
    /// Where the provider sends the browser after a logout idbridge asked for:
    /// `/oidc/{id}/logged-out` (its `post_logout_redirect_uri`, which the operator registers).
    logged_out_uri: String,
    http: reqwest::Client,
    discovered: RwLock<Option<Discovered>>,
}

impl Connector for OidcConnector {
    fn id(&self) -> &str {
        &self.connection.id
    }

    fn name(&self) -> &str {
        &self.connection.name
    }

    fn domains(&self) -> &[String] {
        &self.connection.domains
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn answer_route(&self) -> AnswerRoute {
        AnswerRoute::Callback
    }

    fn begin<'a>(
        &'a self,
        request: &'a LoginRequest<'a>,
        _now: i64,
    ) -> Working<'a, Result<Outgoing, UpstreamError>> {
        Box::pin(self.authorization_url(request))
    }

    /// The callback's `error`, or its `code` redeemed with what the login kept.
    fn complete<'a>(
        &'a self,
        answer: &'a Answer,
        kept: Option<&'a KeptLogin>,
        _context: &'a Context<'a>,
        _admission: Admission,
    ) -> Working<'a, Result<Identity, UpstreamError>> {
        Box::pin(async move {
            if let Some(error) = answer.params.get("error") {
                return Err(UpstreamError::Denied {
                    connection: self.connection.id.clone(),
                    code: error.clone(),
                });
            }
            let code = answer
                .param("code")
                .ok_or_else(|| UpstreamError::InvalidAnswer {
                    connection: self.connection.id.clone(),
                })?;
            let kept = kept.map(|login| (&login.sent.nonce, &login.sent.pkce_verifier));
            let Some((Some(nonce), Some(verifier))) = kept else {
                return Err(UpstreamError::Corrupt {
                    connection: self.connection.id.clone(),
                    detail: "OIDC login without nonce or verifier".into(),
                });
            };
            let profile = self.redeem(code, nonce, verifier, answer.now).await?;
            Ok(Identity::Vouched {
                profile,
                one_time: None,
            })
        })
    }

    /// RP-Initiated Logout 1.0 at the provider's `end_session_endpoint`, if it has one. Its
    /// answer (`finish_logout`, left as the default) brings back only our `state`, which the
    /// route has already taken once: nothing signed comes back to check.
    fn begin_logout<'a>(
        &'a self,
        session: &'a UpstreamSession,
        _now: i64,
    ) -> Working<'a, Result<Option<Outgoing>, UpstreamError>> {
        Box::pin(self.end_session_url(session))
    }

    fn back_channel(&self) -> Option<&dyn BackChannel> {
        Some(self)
    }
}

/// The first segment of OIDC connections' routes.
const KIND: &str = "oidc";

impl OidcConnector {
    pub fn new(
        connection: ConnectionDecl,
        settings: OidcConnectionDecl,
        issuer: &str,
    ) -> Result<OidcConnector, UpstreamError> {
        // No redirects: a provider's answer is taken from the URL it was asked at, or not at all.
        let http = reqwest::ClientBuilder::new()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(settings.timeout))
            .build()
            .map_err(|e| UpstreamError::Unreachable {
                connection: connection.id.clone(),
                detail: format!("HTTP client: {e}"),
            })?;
        Ok(OidcConnector {
            redirect_uri: format!("{issuer}/{KIND}/{}/callback", connection.id),
            logged_out_uri: format!("{issuer}/{KIND}/{}/logged-out", connection.id),
            connection,
            settings,
            http,
            discovered: RwLock::new(None),
        })
    }

    /// The provider's authorization URL for a new login, with fresh `state`, `nonce` and PKCE
    /// verifier, which the caller keeps for the callback.
    async fn authorization_url(
        &self,
        request: &LoginRequest<'_>,
    ) -> Result<Outgoing, UpstreamError> {
        let metadata = self.metadata().await?;
        let client = self.client(metadata)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut authorize = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge)
            .add_scopes(
                self.settings
                    .scopes
                    .iter()
                    .filter(|s| *s != "openid")
                    .map(|s| Scope::new(s.clone())),
            );
        if let Some(hint) = request.login_hint {
            authorize = authorize.add_extra_param("login_hint", hint);
        }
        if request.force {
            authorize = authorize.add_extra_param("prompt", "login");
        }
        let (url, state, nonce) = authorize.url();
        Ok(Outgoing {
            url: url.to_string(),
            state: state.into_secret(),
            nonce: Some(nonce.secret().clone()),
            pkce_verifier: Some(verifier.into_secret()),
            request_id: None,
        })
    }

    /// Where the browser goes so that the provider ends the session behind `session`, with a
    /// fresh `state`; `None` when the provider has no `end_session_endpoint`.
    async fn end_session_url(
        &self,
        session: &UpstreamSession,
    ) -> Result<Option<Outgoing>, UpstreamError> {
        let metadata = self.metadata().await?;
        let Some(endpoint) = metadata.additional_metadata().end_session_endpoint.clone() else {
            return Ok(None);
        };
        let back = PostLogoutRedirectUrl::new(self.logged_out_uri.clone())
            .map_err(|e| self.invalid(format!("post-logout redirect URI: {e}")))?;
        let state = CsrfToken::new_random();
        let mut request = LogoutRequest::from(endpoint)
            .set_client_id(ClientId::new(self.settings.client_id.clone()))
            .set_post_logout_redirect_uri(back)
            .set_state(state.clone());
        // The ID token the login brought lets the provider end its session at once; without it,
        // the provider asks the person first.
        if let Some(id_token) = session
            .logout_hint
            .as_deref()
            .and_then(|hint| hint.parse::<CoreIdToken>().ok())
        {
            request = request.set_id_token_hint(&id_token);
        }
        Ok(Some(Outgoing {
            url: request.http_get_url().to_string(),
            state: state.into_secret(),
            ..Outgoing::default()
        }))
    }

    /// Redeems the code of a callback and verifies the ID token that comes back; the person it
    /// names, with the configured claims (asked from userinfo when the ID token lacks them).
    async fn redeem(
        &self,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
        now: i64,
    ) -> Result<UpstreamProfile, UpstreamError> {
        let metadata = self.metadata().await?;
        let client = self.client(metadata.clone())?;
        let response: CoreTokenResponse = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| self.invalid(format!("token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_string()))
            .request_async(&self.capped())
            .await
            .map_err(|e| self.unreachable_or_invalid(e))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| self.invalid("the token response has no ID token"))?;
        let nonce = Nonce::new(nonce.to_string());
        self.with_provider_keys(|metadata| {
            verify(&self.settings.client_id, metadata, id_token, &nonce, now)
        })
        .await?
        .map_err(|e| self.invalid(format!("ID token refused: {e}")))?;
        let id_token = id_token.to_string();
        let mut claims = jwt_payload(&id_token)
            .ok_or_else(|| self.invalid("the ID token's payload is not a JSON object"))?;
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|sub| !sub.is_empty())
            .ok_or_else(|| self.invalid("the ID token has no sub"))?
            .to_string();
        // The provider's session is named by the ID token alone: a `sid` from userinfo (merged
        // below) is not the provider's word about this login's session.
        let session_index = text_claim(&claims, "sid");
        // Userinfo is asked for what the ID token leaves out (OIDC Core 5.4: with an access
        // token, the `email` scope's claims may come from userinfo only).
        let lacks_verified =
            !self.settings.email_authoritative && !claims.contains_key(EMAIL_VERIFIED);
        if (!claims.contains_key(&self.settings.email_claim) || lacks_verified)
            && let Some(endpoint) = metadata.userinfo_endpoint()
        {
            let userinfo = self
                .userinfo(endpoint.url().as_str(), response.access_token().secret())
                .await?;
            // OIDC Core 5.3.2: userinfo about someone else is not about this login.
            if userinfo.get("sub").and_then(Value::as_str) != Some(subject.as_str()) {
                return Err(self.invalid("userinfo names another subject"));
            }
            for (name, value) in userinfo {
                claims.entry(name).or_insert(value);
            }
        }
        let text = |name: &str| text_claim(&claims, name);
        let email = text(&self.settings.email_claim)
            .filter(|email| crate::config::is_plausible_email(email))
            .ok_or_else(|| {
                self.invalid(format!(
                    "no email address in claim {:?}",
                    self.settings.email_claim
                ))
            })?;
        // Many providers let people type any address into their profile; an unverified one
        // could name someone else. Only a provider that owns the connection's domains (whose
        // addresses `check_email` then requires) is believed without its word.
        if !self.settings.email_authoritative && !is_verified(claims.get(EMAIL_VERIFIED)) {
            return Err(UpstreamError::UnverifiedEmail {
                connection: self.connection.id.clone(),
            });
        }
        let name = text(&self.settings.name_claim).unwrap_or_else(|| email.clone());
        let values = |name: &str| claim_values(&claims, name);
        let entity_ids = mapping::entities(&self.connection, &values)?;
        let profile = mapping::profile(&self.settings.profile_claims, &values);
        Ok(UpstreamProfile {
            connection_id: self.connection.id.clone(),
            subject,
            email,
            name,
            entity_ids,
            profile,
            session_index,
            // Sent back as `id_token_hint` when the person signs out (RP-Initiated Logout 1.0
            // section 2): it shows the provider that the request comes from its session's client.
            logout_hint: Some(id_token),
        })
    }

    /// Discovery, from the cache while it is fresh. When a refresh fails, the copy we have is
    /// used still: a provider briefly down should not stop logins that need nothing new from it.
    async fn metadata(&self) -> Result<Metadata, UpstreamError> {
        let cached = self.discovered.read().await.clone();
        if let Some(cached) = &cached
            && cached.fetched_at.elapsed() < DISCOVERY_TTL
        {
            return Ok(cached.metadata.clone());
        }
        match self.discover().await {
            Ok(metadata) => {
                *self.discovered.write().await = Some(Discovered {
                    metadata: metadata.clone(),
                    fetched_at: Instant::now(),
                    keys_refetched_at: None,
                });
                Ok(metadata)
            }
            Err(error) => match cached {
                Some(stale) => {
                    tracing::warn!(connection = %self.connection.id, %error, "discovery refresh failed; using the cached copy");
                    Ok(stale.metadata)
                }
                None => Err(error),
            },
        }
    }

    async fn discover(&self) -> Result<Metadata, UpstreamError> {
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|e| self.invalid(format!("issuer: {e}")))?;
        Metadata::discover_async(issuer, &self.capped())
            .await
            .map_err(|e| self.discovery_failed("discovery", e))
    }

    /// Fetches the provider's keys again, unless that was done a moment ago.
    async fn refetch_keys(&self) -> Result<Metadata, UpstreamError> {
        let mut discovered = self.discovered.write().await;
        let Some(current) = discovered.as_mut() else {
            return Err(self.invalid("keys asked for before discovery"));
        };
        if current
            .keys_refetched_at
            .is_none_or(|at| at.elapsed() >= JWKS_REFETCH_INTERVAL)
        {
            let keys = CoreJsonWebKeySet::fetch_async(current.metadata.jwks_uri(), &self.capped())
                .await
                .map_err(|e| self.discovery_failed("keys", e))?;
            current.metadata = current.metadata.clone().set_jwks(keys);
            current.keys_refetched_at = Some(Instant::now());
        }
        Ok(current.metadata.clone())
    }

    /// Runs `check` of a token against the provider's published keys and, when the token names
    /// a key we do not have, once more against its keys fetched again (the provider rotated
    /// them; see [`JWKS_REFETCH_INTERVAL`]). The outer error: the provider could not be asked;
    /// the inner one: `check` refused the token.
    async fn with_provider_keys<T>(
        &self,
        check: impl Fn(&Metadata) -> Result<T, ClaimsVerificationError>,
    ) -> Result<Result<T, ClaimsVerificationError>, UpstreamError> {
        let metadata = self.metadata().await?;
        Ok(match check(&metadata) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => check(&self.refetch_keys().await?),
            other => other,
        })
    }

    async fn userinfo(
        &self,
        endpoint: &str,
        access_token: &str,
    ) -> Result<Map<String, Value>, UpstreamError> {
        let response = self
            .http
            .get(endpoint)
            .bearer_auth(access_token)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| self.unreachable(format!("userinfo: {e}")))?;
        if !response.status().is_success() {
            return Err(self.invalid(format!("userinfo answered {}", response.status())));
        }
        let body = read_limited(response, MAX_USERINFO_BYTES)
            .await
            .map_err(|e| match e {
                BodyError::TooLarge(_) => self.invalid(format!("userinfo: {e}")),
                BodyError::Read(_) => self.unreachable(format!("userinfo: {e}")),
            })?;
        serde_json::from_slice(&body)
            .map_err(|e| self.invalid(format!("userinfo is not a JSON object: {e}")))
    }

    fn client(&self, metadata: Metadata) -> Result<ProviderClient, UpstreamError> {
        // client_secret_basic unless the provider says it only takes the secret in the body.
        let post_only = metadata
            .token_endpoint_auth_methods_supported()
            .is_some_and(|methods| {
                !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
                    && methods.contains(&CoreClientAuthMethod::ClientSecretPost)
            });
        let redirect = openidconnect::RedirectUrl::new(self.redirect_uri.clone())
            .map_err(|e| self.invalid(format!("redirect URI: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(
                self.settings.client_secret.expose().to_string(),
            )),
        )
        .set_redirect_uri(redirect)
        .set_auth_type(if post_only {
            AuthType::RequestBody
        } else {
            AuthType::BasicAuth
        }))
    }

    /// The client for openidconnect's requests to the provider, its answers bounded.
    fn capped(&self) -> Capped<'_> {
        Capped {
            http: &self.http,
            limit: MAX_ANSWER_BYTES,
        }
    }

    fn invalid(&self, detail: impl Into<String>) -> UpstreamError {
        UpstreamError::Invalid {
            connection: self.connection.id.clone(),
            detail: detail.into(),
        }
    }

    fn unreachable(&self, detail: impl Into<String>) -> UpstreamError {
        UpstreamError::Unreachable {
            connection: self.connection.id.clone(),
            detail: detail.into(),
        }
    }

    /// A failed code exchange: the provider could not be reached, or it said no, or its answer
    /// was too large.
    fn unreachable_or_invalid<T: openidconnect::ErrorResponse>(
        &self,
        error: openidconnect::RequestTokenError<BodyError, T>,
    ) -> UpstreamError {
        match error {
            openidconnect::RequestTokenError::Request(BodyError::Read(e)) => {
                self.unreachable(format!("token endpoint: {e}"))
            }
            other => self.invalid(format!("token endpoint: {other}")),
        }
    }

    /// A failed fetch of discovery or keys: the provider could not be reached, unless its
    /// answer was too large (that it answered badly).
    fn discovery_failed(
        &self,
        what: &str,
        error: openidconnect::DiscoveryError<BodyError>,
    ) -> UpstreamError {
        match error {
            openidconnect::DiscoveryError::Request(BodyError::TooLarge(_)) => {
                self.invalid(format!("{what}: {error}"))
            }
            other => self.unreachable(format!("{what}: {other}")),
        }
    }
}

/// A client of the provider, as built from its discovery document.
type ProviderClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// Checks an ID token for `client_id`: signature with the provider's keys, `iss`, `aud`, `azp`,
/// `exp`, `iat` ([`issued_in_time`]) and `nonce`.
pub fn verify(
    client_id: &str,
    metadata: &Metadata,
    id_token: &CoreIdToken,
    nonce: &Nonce,
    now: i64,
) -> Result<(), ClaimsVerificationError> {
    let verifier = CoreIdTokenVerifier::new_public_client(
        ClientId::new(client_id.to_string()),
        metadata.issuer().clone(),
        metadata.jwks().clone(),
    )
    // Only the provider's public keys: an HS256 token "signed" with our own client secret, or
    // one with alg `none`, proves nothing about the provider.
    .set_allowed_algs(asymmetric_algs(metadata))
    .set_time_fn(move || {
        chrono::DateTime::from_timestamp(now, 0).unwrap_or(chrono::DateTime::UNIX_EPOCH)
    })
    .set_issue_time_verifier_fn(move |iat| issued_in_time(iat.timestamp(), now));
    id_token.claims(&verifier, nonce).map(|_| ())
}

/// Whether a token's `iat` is not in the future, beyond [`CLOCK_SKEW`].
fn issued_in_time(iat: i64, now: i64) -> Result<(), String> {
    if iat > now + CLOCK_SKEW {
        Err("issued in the future".into())
    } else {
        Ok(())
    }
}

/// The algorithms the provider says it signs ID tokens with, verified with its published keys
/// (its logout tokens too: Back-Channel Logout 1.0 section 2.6).
fn asymmetric_algs(metadata: &Metadata) -> Vec<CoreJwsSigningAlgorithm> {
    use CoreJwsSigningAlgorithm as A;
    metadata
        .id_token_signing_alg_values_supported()
        .iter()
        .filter(|alg| !matches!(alg, A::HmacSha256 | A::HmacSha384 | A::HmacSha512 | A::None))
        .cloned()
        .collect()
}

/// The claim by which a provider says it checked that the address is the person's.
const EMAIL_VERIFIED: &str = "email_verified";

/// Whether an `email_verified` claim says yes: `true`, or the string `"true"` that some
/// providers send (Amazon Cognito, older Entra ID).
fn is_verified(claim: Option<&Value>) -> bool {
    match claim {
        Some(Value::Bool(verified)) => *verified,
        Some(Value::String(verified)) => verified == "true",
        _ => false,
    }
}

/// Every value of a claim: a string's, each string or number of an array (such as `groups`), a
/// number's or a boolean's as text.
fn claim_values(claims: &Map<String, Value>, name: &str) -> Vec<String> {
    let text = |value: &Value| match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    };
    match claims.get(name) {
        Some(Value::Array(values)) => values.iter().filter_map(text).collect(),
        Some(value) => text(value).into_iter().collect(),
        None => Vec::new(),
    }
}

/// A claim's text, trimmed, if it is a non-empty string.
fn text_claim(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// The claims of a compact JWS whose signature has been verified.
pub fn jwt_payload(token: &str) -> Option<Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&bytes).ok()
}
