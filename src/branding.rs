//! Entity branding (SPEC section 4, `login_hint`): the files an entity's `branding` names, served
//! from this site, and how the pages of a login link them. Every page a person sees during one
//! login (the login form, the consent page) carries the same branding; the entity's script runs on
//! the login form only.
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::http::PageError;
use crate::http::pages::urlencode;
use crate::state::AppState;

/// The branding of the entity a `login_hint` names, as the pages of a login link it.
pub struct BrandingView {
    pub css: Option<String>,
    pub js: Option<String>,
    pub logo: Option<String>,
    pub title: Option<String>,
}

impl BrandingView {
    pub fn for_hint(state: &AppState, hint: Option<&str>) -> Option<BrandingView> {
        let config = state.config();
        let (owner, branding) = config.hierarchy.branding_for(hint?)?;
        let url = |file: &str| format!("/branding/{}/{file}", urlencode(owner));
        Some(BrandingView {
            css: branding.css.as_ref().map(|_| url("style.css")),
            js: branding.js.as_ref().map(|_| url("script.js")),
            logo: branding.logo.as_ref().map(|_| url("logo")),
            title: branding.title.clone(),
        })
    }

    /// The same, without the entity's script: for the consent page, where a script could press
    /// Allow for the person (the styles and logo stay, so the page looks the same).
    pub fn without_script(self) -> BrandingView {
        BrandingView { js: None, ..self }
    }
}

/// `GET /branding/{entity}/{style.css|script.js|logo}`: an entity's own branding files.
pub async fn branding_file(
    State(state): State<AppState>,
    axum::extract::Path((entity, file)): axum::extract::Path<(String, String)>,
) -> Result<Response, PageError> {
    let config = state.config();
    let branding = config
        .hierarchy
        .own_branding(&entity)
        .ok_or(PageError::NotFound)?;
    let asset = match file.as_str() {
        "style.css" => branding.css.as_ref(),
        "script.js" => branding.js.as_ref(),
        "logo" => branding.logo.as_ref(),
        _ => None,
    }
    .ok_or(PageError::NotFound)?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, asset.content_type),
            (axum::http::header::CACHE_CONTROL, "public, max-age=300"),
        ],
        asset.bytes.to_vec(),
    )
        .into_response())
}
