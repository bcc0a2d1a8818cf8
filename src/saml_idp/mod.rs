//! idbridge as a SAML 2.0 identity provider of the service providers in `[[service_providers]]`
//! (docs/saml-idp.md): metadata at `/saml/idp/metadata`, AuthnRequests over HTTP-Redirect and
//! HTTP-POST at `/saml/idp/sso`, IdP-initiated logins at `/saml/idp/sso/{sp}`. The person signs
//! in through the same login page and connectors as for OpenID Connect; the request waits,
//! sealed, in the URL the login returns to ([`pending`]), so a request stores nothing but its
//! spent ID. Errors before the SP and its ACS are known to be genuine are shown to the person;
//! never is anything posted to an ACS the SP did not register.
mod consent;
mod logout;
mod metadata;
mod pending;
mod request;
mod response;

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Form, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::config::{NameIdFormat, PersonValue, ServiceProviderDecl};
use crate::crypto;
use crate::http::{ClientAddr, PageError, pages};
use crate::keys::LoadedKey;
use crate::service_providers::ServiceProvider;
use crate::session::current_session_and_consent;
use crate::state::AppState;
use crate::store::{OneTimeId, SessionInfo, User};
use crate::upstream::{Continuation, LoginRequest};
use crate::vocabulary::scope;
use pending::PendingSso;
use request::Binding;
use response::{Addressed, Statement};

/// What the person allows a service provider that is given more than their address, as the
/// consents table keeps it (OpenID Connect's `profile`).
const PROFILE_CONSENT: &str = scope::PROFILE;

pub use logout::frames as logout_frames;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/saml/idp/metadata", get(metadata::serve))
        .route("/saml/idp/sso", get(sso_redirect).post(sso_post))
        .route("/saml/idp/sso/{sp}", get(idp_initiated))
        .route("/saml/idp/continue", get(resume))
        .route("/saml/idp/slo", get(logout::serve))
        .route(
            "/saml/idp/consent",
            get(consent::show).post(consent::decide),
        )
}

/// Why a SAML request is refused: shown to the person, who is not sent to the SP.
#[derive(Debug, thiserror::Error)]
pub enum SamlIdpError {
    #[error("the SAML request could not be read: {0}")]
    Unreadable(&'static str),
    #[error("the SAML request names no registered service provider")]
    UnknownServiceProvider,
    #[error("the service provider's metadata has not been read yet")]
    NotReadYet,
    #[error("the SAML request's signature: {0}")]
    Signature(&'static str),
    #[error("the SAML request names an AssertionConsumerService the SP did not register")]
    UnregisteredAcs,
    #[error("the SAML request is too old or from the future")]
    Stale,
    #[error("the SAML request was used before")]
    Replayed,
    #[error("the service provider does not take IdP-initiated logins")]
    NotUnsolicited,
    #[error("the pending SAML login is unknown or expired")]
    Expired,
    #[error("the SAML response could not be made: {0}")]
    Signing(String),
}

impl From<SamlIdpError> for PageError {
    fn from(error: SamlIdpError) -> PageError {
        tracing::info!(error = %error, "SAML request refused");
        match error {
            SamlIdpError::Unreadable(_) | SamlIdpError::Stale => PageError::BadRequest(
                "The application's sign-in request could not be read or is out of date. Go back to the application and start again.",
            ),
            SamlIdpError::UnknownServiceProvider => PageError::UnknownClient,
            SamlIdpError::NotReadYet => PageError::ApplicationUnavailable,
            SamlIdpError::Signature(_) => PageError::BadRequest(
                "The application's sign-in request is not signed as agreed, so it was refused.",
            ),
            SamlIdpError::UnregisteredAcs => PageError::UnregisteredRedirectUri,
            SamlIdpError::Replayed => PageError::AuthorizationFinished,
            SamlIdpError::NotUnsolicited => PageError::BadRequest(
                "This application must be opened from its own page: it does not take sign-ins started here.",
            ),
            SamlIdpError::Expired => PageError::AuthorizationExpired,
            SamlIdpError::Signing(detail) => PageError::Internal(detail),
        }
    }
}

/// Counts a request that signs (or stores) something against the per-address SAML budget,
/// which the SAML connections' ACS posts share.
fn count(state: &AppState, client: IpAddr) -> Result<(), PageError> {
    let within = state
        .directory()
        .connectors
        .saml_limits()
        .count_post(client, std::time::Instant::now());
    if within {
        Ok(())
    } else {
        Err(PageError::TooManyRequests)
    }
}

/// idbridge's entity ID as an IdP: the URL of its metadata.
fn idp_entity_id(state: &AppState) -> String {
    format!("{}/saml/idp/metadata", state.server().issuer)
}

fn sso_url(state: &AppState) -> String {
    format!("{}/saml/idp/sso", state.server().issuer)
}

/// `GET /saml/idp/sso`: an AuthnRequest over HTTP-Redirect.
async fn sso_redirect(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = query.unwrap_or_default();
    start(&state, client, &headers, Binding::Redirect(&query)).await
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PostedRequest {
    #[serde(rename = "SAMLRequest")]
    saml_request: String,
    relay_state: Option<String>,
}

/// `POST /saml/idp/sso`: an AuthnRequest over HTTP-POST.
async fn sso_post(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    headers: HeaderMap,
    form: Result<Form<PostedRequest>, axum::extract::rejection::FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form?;
    let binding = Binding::Post {
        saml_request: &form.saml_request,
        relay_state: form.relay_state,
    };
    start(&state, client, &headers, binding).await
}

async fn start(
    state: &AppState,
    client: IpAddr,
    headers: &HeaderMap,
    binding: Binding<'_>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    count(state, client)?;
    let posted = matches!(binding, Binding::Post { .. });
    let accepted = request::accept(binding, &state.directory(), &sso_url(state), now)?;
    let spent = state
        .store
        .spend_saml_request_id(
            &accepted.sp.id,
            OneTimeId {
                id: accepted.id.clone(),
                expires_at: accepted.expires_at,
            },
        )
        .await?;
    if !spent {
        return Err(SamlIdpError::Replayed.into());
    }
    let pending = PendingSso {
        sp: accepted.sp.id.clone(),
        request_id: Some(accepted.id),
        acs_url: accepted.acs_url,
        relay_state: accepted.relay_state,
        force_authn: accepted.force_authn,
        is_passive: accepted.is_passive,
        received_at: now,
    };
    if accepted.unmet_name_id_format {
        return refuse(
            state,
            &accepted.sp,
            &pending,
            response::REQUESTER,
            response::INVALID_NAME_ID_POLICY,
        )
        .await;
    }
    if posted {
        // A cross-site POST brings no SameSite=Lax cookie, so the session is not seen here: the
        // browser goes on to a GET of this site, which brings it.
        let path = pending.path(&state.saml_request_key);
        return Ok(pages::after_form(Redirect::to(&path).into_response()));
    }
    proceed(state, headers, &accepted.sp, &pending, false).await
}

#[derive(Deserialize)]
struct UnsolicitedQuery {
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// `GET /saml/idp/sso/{sp}`: the person (signed in, or once signed in) is sent to the SP's
/// default ACS without a request.
async fn idp_initiated(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    headers: HeaderMap,
    Path(sp_id): Path<String>,
    Query(query): Query<UnsolicitedQuery>,
) -> Result<Response, PageError> {
    count(&state, client)?;
    let sp = service_provider(&state, &sp_id)?;
    if !sp.allow_idp_initiated {
        return Err(SamlIdpError::NotUnsolicited.into());
    }
    let relay_state = query.relay_state.filter(|r| !r.is_empty());
    if relay_state
        .as_ref()
        .is_some_and(|r| r.len() > request::MAX_RELAY_STATE)
    {
        return Err(SamlIdpError::Unreadable("the RelayState is longer than allowed").into());
    }
    let acs_url = sp
        .acs_urls
        .first()
        .map(|acs| acs.url.clone())
        .ok_or(SamlIdpError::UnregisteredAcs)?;
    let pending = PendingSso {
        sp: sp.id.clone(),
        request_id: None,
        acs_url,
        relay_state,
        force_authn: false,
        is_passive: false,
        received_at: state.clock.now(),
    };
    proceed(&state, &headers, &sp, &pending, false).await
}

#[derive(Deserialize)]
struct ResumeQuery {
    request: String,
}

/// `GET /saml/idp/continue?request=…`: where a login returns to.
async fn resume(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    headers: HeaderMap,
    Query(query): Query<ResumeQuery>,
) -> Result<Response, PageError> {
    count(&state, client)?;
    let (pending, sp) = pending_request(&state, &query.request)?;
    proceed(&state, &headers, &sp, &pending, false).await
}

/// The sealed pending request `sealed`, and its SP (which must still be registered with the
/// same ACS).
fn pending_request(
    state: &AppState,
    sealed: &str,
) -> Result<(PendingSso, Arc<ServiceProviderDecl>), PageError> {
    let pending = PendingSso::open(&state.saml_request_key, sealed, state.clock.now())
        .ok_or(SamlIdpError::Expired)?;
    let sp = service_provider(state, &pending.sp)?;
    if !sp.acs_urls.iter().any(|acs| acs.url == pending.acs_url) {
        return Err(SamlIdpError::UnregisteredAcs.into());
    }
    Ok((pending, sp))
}

fn service_provider(state: &AppState, id: &str) -> Result<Arc<ServiceProviderDecl>, SamlIdpError> {
    in_force(state.directory().service_providers.get(id).cloned())
}

/// The service provider found (if one was) as it is in force now.
fn in_force(sp: Option<Arc<ServiceProvider>>) -> Result<Arc<ServiceProviderDecl>, SamlIdpError> {
    sp.ok_or(SamlIdpError::UnknownServiceProvider)?
        .current()
        .ok_or(SamlIdpError::NotReadYet)
}

/// The next step for a pending request: login when there is no session (or not a fresh one for
/// `ForceAuthn`), consent when the SP is given personal data the person has not allowed it, then
/// the response.
async fn proceed(
    state: &AppState,
    headers: &HeaderMap,
    sp: &ServiceProviderDecl,
    pending: &PendingSso,
    consent_given: bool,
) -> Result<Response, PageError> {
    let (session, consented) = current_session_and_consent(state, headers, &sp.id)
        .await?
        .unzip();
    let fresh = session.filter(|s| !pending.force_authn || s.auth_time >= pending.received_at);
    let Some(session) = fresh else {
        if pending.is_passive {
            return refuse(
                state,
                sp,
                pending,
                response::RESPONDER,
                response::NO_PASSIVE,
            )
            .await;
        }
        let continuation = Continuation::Page(pending.path(&state.saml_request_key));
        let directory = state.directory();
        let entry = directory
            .connectors
            .for_login_hint(None)
            .entry(&LoginRequest {
                continuation: &continuation,
                force: pending.force_authn,
                login_hint: None,
            });
        return Ok(Redirect::to(&entry).into_response());
    };
    let personal = sp.attributes.iter().any(|a| a.value.is_profile());
    let allowed = consented
        .flatten()
        .is_some_and(|scope| scope::Scopes::parse(&scope).contains(PROFILE_CONSENT));
    if personal && !allowed && !consent_given {
        if pending.is_passive {
            return refuse(
                state,
                sp,
                pending,
                response::RESPONDER,
                response::REQUEST_DENIED,
            )
            .await;
        }
        let path = format!(
            "/saml/idp/consent?request={}",
            pages::urlencode(&pending.seal(&state.saml_request_key))
        );
        return Ok(Redirect::to(&path).into_response());
    }
    answer(state, sp, pending, session).await
}

/// Posts the assertion about the person of `session` to the SP's ACS.
async fn answer(
    state: &AppState,
    sp: &ServiceProviderDecl,
    pending: &PendingSso,
    session: SessionInfo,
) -> Result<Response, PageError> {
    let user = &session.user;
    let name_id = name_id_for(state, sp, user);
    let wants_entities = sp.attributes.iter().any(|a| {
        matches!(
            a.value,
            PersonValue::AttachedToPath
                | PersonValue::AttachedToLevel
                | PersonValue::AttachedToEntityId
        )
    });
    let attachments = if wants_entities {
        let entity_ids = state.store.attached_entity_ids(&user.id).await?;
        state.config().hierarchy.attachments(&entity_ids)
    } else {
        Vec::new()
    };
    let attributes = sp
        .attributes
        .iter()
        .map(|attribute| {
            let values: Vec<String> = match attribute.value {
                PersonValue::Email => vec![user.email.clone()],
                PersonValue::Name => vec![user.name.clone()],
                PersonValue::GivenName => user.profile.given_name.clone().into_iter().collect(),
                PersonValue::FamilyName => user.profile.family_name.clone().into_iter().collect(),
                PersonValue::AttachedToPath => attachments.iter().map(|a| a.path.clone()).collect(),
                PersonValue::AttachedToLevel => {
                    attachments.iter().map(|a| a.level.to_string()).collect()
                }
                PersonValue::AttachedToEntityId => {
                    attachments.iter().map(|a| a.entity_id.clone()).collect()
                }
            };
            (attribute.name.as_str(), attribute.name_format, values)
        })
        .collect();
    let statement = Statement {
        name_id: &name_id,
        session_index: &session.sid,
        auth_instant: session.auth_time,
        attributes,
    };
    let (to, key) = addressed(state, sp, pending).await?;
    let xml = response::success(&to, &statement, &key)?;
    if sp.slo.is_some() {
        // Told when the session ends (see `logout`).
        state
            .store
            .remember_session_client(&session.sid, &sp.id)
            .await?;
    }
    tracing::info!(service_provider = %sp.id, user = %user.id, "SAML assertion issued");
    Ok(post_response(pending, &xml))
}

/// How `sp` names `user`: their address, an opaque value of their own for this SP, or a new
/// random one each time.
fn name_id_for(state: &AppState, sp: &ServiceProviderDecl, user: &User) -> String {
    match sp.name_id_format {
        NameIdFormat::Email => user.email.clone(),
        NameIdFormat::Persistent => crypto::hmac_b64(
            state.saml_name_id_key.as_slice(),
            format!("{}\n{}", sp.entity_id, user.id).as_bytes(),
        ),
        NameIdFormat::Transient => format!("_{}", crypto::random_token()),
    }
}

/// Answers a pending request with an error status, posted to its (registered) ACS.
async fn refuse(
    state: &AppState,
    sp: &ServiceProviderDecl,
    pending: &PendingSso,
    top: &str,
    code: &str,
) -> Result<Response, PageError> {
    let (to, key) = addressed(state, sp, pending).await?;
    let xml = response::failure(&to, top, code, &key)?;
    tracing::info!(service_provider = %sp.id, status = code, "SAML request answered with an error");
    Ok(post_response(pending, &xml))
}

/// Where the response to `pending` goes, and the key that signs it now.
async fn addressed<'a>(
    state: &AppState,
    sp: &'a ServiceProviderDecl,
    pending: &'a PendingSso,
) -> Result<(Addressed<'a>, Arc<LoadedKey>), PageError> {
    let now = state.clock.now();
    let key = state
        .keys
        .xml_signer(sp.signature_alg, now)
        .await
        .map_err(|e| PageError::Internal(format!("no key signs SAML responses: {e}")))?;
    let to = Addressed {
        idp: idp_entity_id(state),
        sp,
        acs_url: &pending.acs_url,
        in_response_to: pending.request_id.as_deref(),
        now,
    };
    Ok((to, key))
}

/// The page that posts `xml` (and the RelayState) to the pending request's ACS.
fn post_response(pending: &PendingSso, xml: &str) -> Response {
    let Ok(acs) = url::Url::parse(&pending.acs_url) else {
        return PageError::Internal(format!("registered ACS {} does not parse", pending.acs_url))
            .into_response();
    };
    let mut fields = vec![("SAMLResponse", STANDARD.encode(xml))];
    fields.extend(pending.relay_state.clone().map(|r| ("RelayState", r)));
    let mut response = pages::post_to(&acs, &fields);
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}
