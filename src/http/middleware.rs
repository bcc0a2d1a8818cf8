//! Layers every request and response passes through: the request timeout, security headers, and
//! one structured log line per request (method, route, status, latency, client address — never a
//! query string, which can carry codes and tokens).
use std::net::IpAddr;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Site;
use super::client_addr::client_addr;

/// The client's address as resolved through trusted proxies, for handlers (rate limits, sessions).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The policy of a page that loads `origins` in frames (the front-channel logout page), and
/// nothing else besides what every page may.
pub fn policy_with_frames<'a>(origins: impl Iterator<Item = &'a str>) -> String {
    let origins: Vec<&str> = origins.collect();
    format!("{CONTENT_SECURITY_POLICY}; frame-src {}", origins.join(" "))
}

/// How long a client is asked to wait after a 503 that did not say: the database coming back
/// or a restart takes seconds.
const RETRY_AFTER_UNAVAILABLE: u32 = 5;

/// Answers 408 when a request is not answered within the site's request timeout: a body
/// trickled in slowly, or a handler stuck on something that will not come. The connection is
/// closed, since the request's body may be half read.
pub async fn request_timeout<S: Site>(
    State(site): State<S>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(site.request_timeout(), next.run(request)).await {
        Ok(response) => response,
        Err(_) => (
            StatusCode::REQUEST_TIMEOUT,
            [(header::CONNECTION, "close")],
            "The request took too long.\n",
        )
            .into_response(),
    }
}

/// Security headers on every response, and a `Retry-After` on every 503 that has none.
pub async fn common_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let unavailable = response.status() == StatusCode::SERVICE_UNAVAILABLE;
    let headers = response.headers_mut();
    if unavailable {
        headers
            .entry(header::RETRY_AFTER)
            .or_insert(HeaderValue::from(RETRY_AFTER_UNAVAILABLE));
    }
    // A handler that posts to a client (form_post) sets its own policy.
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    // Pages show personal data and carry CSRF tokens: no cache keeps them unless a handler
    // says otherwise (the stylesheet does).
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

pub async fn request_log<S: Site>(
    State(site): State<S>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let client = client_addr(&request, site.trusted_proxies());
    if let Some(ip) = client {
        request.extensions_mut().insert(ClientAddr(ip));
    }
    let method = request.method().clone();
    // The route pattern (`/surl/{token}`), not the path, so that secrets in paths stay out of logs.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "(no route)".to_string());
    let response = next.run(request).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    site.metrics().request(&method, &route, status, took);
    tracing::info!(
        target: "idbridge::http",
        %method,
        route,
        status,
        latency_us = took.as_micros() as u64,
        client = client.map(|ip| ip.to_string()).unwrap_or_default(),
        "request"
    );
    response
}
