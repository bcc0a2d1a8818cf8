//! The consent page (SPEC section 4): shown when `profile` asks for personal data the user has
//! not yet allowed this client to have.
use std::net::IpAddr;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use super::error::{AuthorizationError, ErrorCode};
use super::flow;
use crate::branding::BrandingView;
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
    branding: Option<BrandingView>,
}

#[derive(Deserialize)]
pub struct ConsentQuery {
    id: String,
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ConsentQuery>,
) -> Result<Response, PageError> {
    let pending = flow::pending_for_browser(&state, &headers, &query.id).await?;
    let Some(session) = current_session(&state, &headers).await? else {
        return Ok(Redirect::to(&flow::resume_path(&pending.authorization)).into_response());
    };
    let (csrf, csrf_cookie) = csrf::issue(&state, &headers);
    let page = ConsentPage {
        action: "/sso/v2/consent",
        csrf,
        id: pending.authorization.id.clone(),
        client: pending.authorization.client_id.clone(),
        user_email: session.user.email,
        items: pending
            .authorization
            .scope
            .iter()
            .filter_map(scope::describe)
            .collect(),
        branding: BrandingView::for_hint(&state, pending.authorization.login_hint.as_deref())
            .map(BrandingView::without_script),
    };
    pages::render(&page, &csrf_cookie.into_iter().collect::<Vec<_>>())
}

#[derive(Deserialize)]
pub struct ConsentForm {
    #[serde(default)]
    id: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
}

pub async fn decide(
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
    client: IpAddr,
    headers: HeaderMap,
    form: Result<Form<ConsentForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form?;
    csrf::verify(&state, &headers, &form.csrf)?;
    let pending = flow::pending_for_browser(&state, &headers, &form.id).await?;
    let Some(session) = current_session(&state, &headers).await? else {
        return Ok(Redirect::to(&flow::resume_path(&pending.authorization)).into_response());
    };
    match form.decision.as_str() {
        "allow" => {
            state
                .store
                .grant_consent(
                    &session.user.id,
                    &pending.authorization.client_id,
                    &pending.authorization.scope.to_string(),
                    &Initiator {
                        actor: Actor::Person,
                        client_addr: Some(client),
                    },
                    state.clock.now(),
                )
                .await?;
            flow::proceed(&state, &headers, &pending, true).await
        }
        "deny" => {
            let error =
                AuthorizationError::new(ErrorCode::AccessDenied, "the user denied the request");
            flow::fail(&state, &pending, error).await
        }
        _ => Err(PageError::NoConsentDecision),
    }
}
