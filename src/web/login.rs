//! `GET/POST /sso/v2/login` (local accounts) and `POST /sso/v2/logout` (ends the idbridge session).
//! A failed attempt answers 303 back to the form; the outcome of a failed attempt travels in a short-lived
//! flash cookie, so reloading the page never re-sends a password.
use askama::Template;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Extension, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use crate::branding::BrandingView;
use crate::http::pages::{after_form, local_path, render, see_other, urlencode};
use crate::http::{ClientAddr, PageError, cookies, csrf};
use crate::session::current_session;
use crate::session::flash::{Flash, LOGIN_PATH, clear_flash};
use crate::state::AppState;
use crate::upstream::{Answer, Continuation, LoginRequest, UpstreamError};

/// The login page, which sends the browser on to `return_to` (a local path) once signed in.
pub fn login_page(return_to: &str) -> String {
    format!("{LOGIN_PATH}?return_to={}", urlencode(return_to))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    return_to: String,
    login_hint: String,
    branding: Option<BrandingView>,
    email: String,
    email_error: Option<&'static str>,
    password_error: Option<String>,
    notice: Option<&'static str>,
    /// Upstream connections to sign in at instead: name and where to start.
    connections: Vec<(String, String)>,
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
    /// Show the form even to a signed-in browser (`prompt=login`, an exceeded `max_age`).
    force: Option<String>,
    /// An email address to fill in.
    login_hint: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    Query(query): Query<LoginQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let return_to = local_path(query.return_to.as_deref());
    if query.force.is_none() && current_session(&state, &headers).await?.is_some() {
        return Ok(see_other(&return_to, &[]));
    }
    let continuation = Continuation::from_return_to(return_to.clone());
    let (csrf, csrf_cookie) = csrf::issue(&state, &headers);
    let flash = cookies::get(&state, &headers, cookies::FLASH).and_then(Flash::decode);
    let login_hint = query.login_hint.unwrap_or_default();
    let hinted_email = Some(login_hint.clone())
        .filter(|hint| crate::config::is_plausible_email(hint))
        .unwrap_or_default();
    let (flash, email) = match flash {
        Some((flash, email)) => (Some(flash), email),
        None => (None, hinted_email),
    };
    let page = LoginPage {
        csrf,
        return_to: return_to.clone(),
        branding: BrandingView::for_hint(&state, Some(&login_hint)),
        login_hint,
        email,
        email_error: (flash == Some(Flash::EmailMissing)).then_some("Enter your email address."),
        password_error: match flash {
            Some(Flash::PasswordMissing) => Some("Enter your password.".to_string()),
            Some(Flash::Credentials) => Some("Incorrect email or password.".to_string()),
            Some(Flash::Throttled { minutes }) => Some(format!(
                "Too many failed sign-in attempts. Try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            )),
            _ => None,
        },
        notice: (flash == Some(Flash::SignedOut)).then_some("You are signed out."),
        connections: state
            .directory()
            .connectors
            .upstream()
            .map(|connector| {
                let start = connector.entry(&LoginRequest {
                    continuation: &continuation,
                    force: query.force.is_some(),
                    login_hint: None,
                });
                (connector.name().to_string(), start)
            })
            .collect(),
    };
    let mut set_cookies: Vec<String> = csrf_cookie.into_iter().collect();
    if flash.is_some() {
        set_cookies.push(clear_flash(&state));
    }
    render(&page, &set_cookies)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    return_to: Option<String>,
    /// Kept across a failed attempt, so the page keeps its entity's branding.
    #[serde(default)]
    login_hint: String,
}

pub async fn submit(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form?;
    csrf::verify(&state, &headers, &form.csrf)?;
    let return_to = local_path(form.return_to.as_deref());
    let continuation = Continuation::from_return_to(return_to.clone());
    let email = form.email.trim();
    let back = |flash: Flash| {
        let mut location = login_page(&return_to);
        if !form.login_hint.is_empty() {
            location.push_str(&format!("&login_hint={}", urlencode(&form.login_hint)));
        }
        let cookie = cookies::set(&state, cookies::FLASH, &flash.encode(email), Some(60));
        see_other(&location, &[cookie])
    };
    if email.is_empty() {
        return Ok(back(Flash::EmailMissing));
    }
    // Home-realm discovery: people of an organisation with its own identity provider sign in
    // there, whatever they typed as a password.
    let directory = state.directory();
    let connector = directory.connectors.for_login_hint(Some(email));
    if !connector.domains().is_empty() {
        let start = connector.entry(&LoginRequest {
            continuation: &continuation,
            force: false,
            login_hint: Some(email),
        });
        return Ok(after_form(see_other(&start, &[])));
    }
    if form.password.is_empty() {
        return Ok(back(Flash::PasswordMissing));
    }
    let answer = Answer {
        params: [
            ("email".to_string(), email.to_string()),
            ("password".to_string(), form.password.clone()),
        ]
        .into(),
        query: None,
        client,
        now: state.clock.now(),
    };
    let local = directory.connectors.local();
    match super::upstream::sign_in(&state, &headers, client, local, &answer, &continuation).await {
        Ok(signed_in) => Ok(after_form(signed_in)),
        Err(PageError::Upstream(UpstreamError::InvalidCredentials)) => Ok(back(Flash::Credentials)),
        Err(PageError::Upstream(UpstreamError::Throttled { until })) => {
            let minutes = ((until - state.clock.now()) as f64 / 60.0).ceil().max(1.0) as i64;
            Ok(back(Flash::Throttled { minutes }))
        }
        Err(other) => Err(other),
    }
}
