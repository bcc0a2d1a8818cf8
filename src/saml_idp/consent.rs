//! The consent page for a service provider that is given personal data (attributes beyond the
//! email address), as for an OpenID Connect client asking for `profile`: the same page, and the
//! same consents, which the account page lists and withdraws.
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use super::{PROFILE_CONSENT, pending_request, proceed, refuse, response};
use crate::http::{ClientAddr, PageError, csrf, pages};
use crate::session::current_session;
use crate::state::AppState;
use crate::store::{Actor, Initiator};
use crate::vocabulary::scope;

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage {
    action: &'static str,
    csrf: String,
    id: String,
    client: String,
    user_email: String,
    items: Vec<&'static str>,
    branding: Option<crate::branding::BrandingView>,
}

#[derive(Deserialize)]
pub(super) struct ConsentQuery {
    request: String,
}

pub(super) async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ConsentQuery>,
) -> Result<Response, PageError> {
    let (pending, sp) = pending_request(&state, &query.request)?;
    let Some(session) = current_session(&state, &headers).await? else {
        return Ok(Redirect::to(&pending.path(&state.saml_request_key)).into_response());
    };
    let (csrf, csrf_cookie) = csrf::issue(&state, &headers);
    let page = ConsentPage {
        action: "/saml/idp/consent",
        csrf,
        id: query.request,
        client: sp.name.clone(),
        user_email: session.user.email,
        items: [scope::PROFILE]
            .into_iter()
            .filter_map(scope::describe)
            .collect(),
        branding: None,
    };
    pages::render(&page, &csrf_cookie.into_iter().collect::<Vec<_>>())
}

#[derive(Deserialize)]
pub(super) struct ConsentForm {
    #[serde(default)]
    id: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
}

pub(super) async fn decide(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    headers: HeaderMap,
    form: Result<Form<ConsentForm>, FormRejection>,
) -> Result<Response, PageError> {
    decision(state, client, headers, form)
        .await
        .map(pages::after_form)
}

async fn decision(
    state: AppState,
    client: std::net::IpAddr,
    headers: HeaderMap,
    form: Result<Form<ConsentForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form?;
    csrf::verify(&state, &headers, &form.csrf)?;
    let (pending, sp) = pending_request(&state, &form.id)?;
    let Some(session) = current_session(&state, &headers).await? else {
        return Ok(Redirect::to(&pending.path(&state.saml_request_key)).into_response());
    };
    match form.decision.as_str() {
        "allow" => {
            state
                .store
                .grant_consent(
                    &session.user.id,
                    &sp.id,
                    PROFILE_CONSENT,
                    &Initiator {
                        actor: Actor::Person,
                        client_addr: Some(client),
                    },
                    state.clock.now(),
                )
                .await?;
            proceed(&state, &headers, &sp, &pending, true).await
        }
        "deny" => {
            refuse(
                &state,
                &sp,
                &pending,
                response::RESPONDER,
                response::REQUEST_DENIED,
            )
            .await
        }
        _ => Err(PageError::NoConsentDecision),
    }
}
