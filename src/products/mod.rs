//! Downstream products that take an HS256 SSO JWT (SPEC section 7): `GET /sso/jwt/{product}` for
//! a signed-in browser, `POST /api/v1/products/{product}/login-url` for a backend that builds
//! login links itself. The handlers here only read the request and answer; [`request`] checks
//! where a token may go, [`jwt`] signs it and builds the URL, [`error`] turns failures into HTTP.
use std::sync::Arc;
mod confirm;
pub mod error;
pub mod jwt;
pub mod request;

use axum::extract::rejection::{FormRejection, JsonRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::config::ProductDecl;
use crate::http::pages::{after_form, see_other};
use crate::http::{ClientAddr, PageError, csrf};
use crate::session::current_session;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::User;
use crate::web::login_page;
use error::{ApiError, ProductError};
use jwt::{Organization, SsoUser};
use request::{Destination, SsoRequest};

/// The API scope that may ask for login URLs.
pub const SSO_URLS_SCOPE: &str = "sso_urls";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/sso/jwt/{product}",
            get(browser_login).post(browser_confirmed),
        )
        .route("/api/v1/products/{product}/login-url", post(api_login_url))
}

fn find_product(state: &AppState, id: &str) -> Result<Arc<ProductDecl>, ProductError> {
    state.product(id).ok_or(ProductError::UnknownProduct)
}

/// `GET /sso/jwt/{product}?hub_domain=&hub_id=&return_to=` (hub) or `?hub_domain=&redirect_to=`
/// (workspace). The request is checked first; a browser without a session signs in and comes
/// back to this same URL; then it is sent to the product with a fresh token once the person has
/// said yes to that product's host (see [`confirm`]).
async fn browser_login(
    State(state): State<AppState>,
    Path(product): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<SsoRequest>, QueryRejection>,
) -> Result<Response, PageError> {
    let (product, destination) = browser_request(&state, &product, query)?;
    let Some(session) = current_session(&state, &headers).await? else {
        return Ok(sign_in_first(&uri));
    };
    // Refused before the person is asked to confirm a host no token can go to.
    jwt::can_name(&destination, &session.user.email)?;
    let confirmed = state
        .store
        .product_confirmed(&session.user.id, &product.id, destination.host())
        .await
        .map_err(ProductError::from)?;
    if !confirmed {
        return confirm::page(
            &state,
            &headers,
            &destination,
            &session.user.email,
            this_request(&uri),
        );
    }
    let url = issue(&state, &product, &destination, session.user).await?;
    Ok(see_other(url.as_str(), &[]))
}

#[derive(Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /sso/jwt/{product}?<the same query>` from the confirmation page: the person said yes,
/// which is remembered for this product's host. The browser moves on by the page of
/// [`after_form`]: a redirect after a form would be held to the page's `form-action`.
async fn browser_confirmed(
    State(state): State<AppState>,
    Path(product): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<SsoRequest>, QueryRejection>,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form?;
    csrf::verify(&state, &headers, &form.csrf)?;
    let (product, destination) = browser_request(&state, &product, query)?;
    let Some(session) = current_session(&state, &headers).await? else {
        return Ok(sign_in_first(&uri));
    };
    state
        .store
        .confirm_product(
            &session.user.id,
            &product.id,
            destination.host(),
            state.clock.now(),
        )
        .await
        .map_err(ProductError::from)?;
    let url = issue(&state, &product, &destination, session.user).await?;
    Ok(after_form(see_other(url.as_str(), &[])))
}

/// The product and the checked destination a browser's request names.
fn browser_request(
    state: &AppState,
    product: &str,
    query: Result<Query<SsoRequest>, QueryRejection>,
) -> Result<(Arc<ProductDecl>, Destination), ProductError> {
    let product = find_product(state, product)?;
    let Query(query) =
        query.map_err(|_| ProductError::BadRequest("the query string could not be read"))?;
    let destination = request::destination(&product, &query)?;
    Ok((product, destination))
}

/// To the login page, and back to this same request once signed in.
fn sign_in_first(uri: &Uri) -> Response {
    see_other(&login_page(this_request(uri)), &[])
}

/// The path and query of a request, to come back to after signing in or confirming.
fn this_request(uri: &Uri) -> &str {
    uri.path_and_query().map_or(uri.path(), |pq| pq.as_str())
}

#[derive(Deserialize)]
struct LoginUrlBody {
    user_id: Option<String>,
    /// Instead of `user_id`: the `internalcustomer` of session URLs, whose profile's user it is.
    internal_customer: Option<String>,
    #[serde(flatten)]
    destination: SsoRequest,
}

/// `POST /api/v1/products/{product}/login-url` with HTTP Basic credentials holding scope
/// `sso_urls` and `{"user_id": ..., <destination fields>}` (or `"internal_customer"` instead of
/// `"user_id"`); answers `{"url": ...}`.
async fn api_login_url(
    State(state): State<AppState>,
    Path(product): Path<String>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    headers: HeaderMap,
    body: Result<Json<LoginUrlBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    crate::api_auth::authenticate(
        &state.api_auth,
        state.password_checker(),
        state.clock.now(),
        &headers,
        client,
        SSO_URLS_SCOPE,
    )
    .await?;
    let product = &*find_product(&state, &product)?;
    let Json(body) = body?;
    let destination = request::destination(product, &body.destination)?;
    let user = match (body.user_id, body.internal_customer) {
        (Some(user_id), None) => state.store.find_user(&user_id).await,
        (None, Some(customer)) => state.store.find_customer_user(&customer).await,
        _ => {
            return Err(ProductError::BadRequest(
                "give exactly one of user_id and internal_customer",
            )
            .into());
        }
    }
    .map_err(ProductError::from)?
    .ok_or(ProductError::UnknownUser)?;
    let url = issue(&state, product, &destination, user).await?;
    Ok(Json(json!({"url": url.as_str()})).into_response())
}

/// Signs a token for `user` and returns the URL that carries it to the product.
async fn issue(
    state: &AppState,
    product: &ProductDecl,
    destination: &Destination,
    user: User,
) -> Result<url::Url, ProductError> {
    if user.disabled_at.is_some() {
        return Err(ProductError::UserDisabled);
    }
    let user = sso_user(state, user).await?;
    let url = jwt::login_url(
        product,
        &state.server().issuer,
        destination,
        &user,
        state.clock.now(),
    )?;
    tracing::info!(product = %product.id, user = %user.id, "product SSO token issued");
    Ok(url)
}

async fn sso_user(state: &AppState, user: User) -> Result<SsoUser, StoreError> {
    let entity_ids = state.store.attached_entity_ids(&user.id).await?;
    let profile = state.store.customer_profile_of(&user.id).await?;
    let (given_name, family_name) = match profile {
        Some(profile) => (profile.first_name, profile.last_name),
        None => (None, None),
    };
    let organization =
        state
            .config()
            .hierarchy
            .organization(&entity_ids)
            .map(|(entity, attachment)| Organization {
                id: entity.id.clone(),
                name: entity.name.clone(),
                level: attachment.level,
                path: attachment.path,
            });
    Ok(SsoUser {
        id: user.id,
        email: user.email,
        name: user.name,
        given_name,
        family_name,
        organization,
    })
}
