//! Limits on what requests without credentials can make idbridge store (pending authorizations,
//! upstream logins): per client address, IPv6 by /64, and for the whole deployment.
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;

use crate::oidc::{PROVIDER_CONFIG, RP_SECRET, authorize_url};
use crate::support::*;

/// The provider's clients and an OIDC connection, behind a proxy on 127.0.0.1 whose
/// `X-Forwarded-For` says which address a request comes from; `limits` go under `[server]`.
async fn start(backend: Backend, limits: &str) -> (TestDb, TestServer) {
    let db = TestDb::new(backend).await;
    let config = format!(
        r#"[server]
trusted_proxies = ["127.0.0.1"]
{limits}
{BASE_CONFIG}{PROVIDER_CONFIG}
[[connections]]
id = "partner"
type = "oidc"
entity = "e-div-1"
issuer = "https://partner.example.com"
client_id = "bridge"
client_secret = "partner-secret-0123456789abcdefghijklmnop"
"#
    );
    let server = TestServer::start_with(
        &db,
        &config,
        idbridge::Clock::system(),
        &[("RP_SECRET", RP_SECRET)],
    )
    .await
    .unwrap();
    (db, server)
}

/// Starts an authorization (no session: it must be stored while the person logs in) from `from`.
async fn authorize_from(server: &TestServer, from: &str) -> reqwest::Response {
    server
        .client()
        .get(authorize_url(server, "rp-eddsa", &[]))
        .header("x-forwarded-for", from)
        .send()
        .await
        .unwrap()
}

fn assert_html_page(response: &reqwest::Response, status: StatusCode) {
    assert_eq!(response.status(), status);
    assert_eq!(location(response), None);
    assert!(
        response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

/// One /64 starts three pending logins a minute and no more, however it spreads them over its
/// addresses and endpoints; nothing is stored for the refused ones; another /64 is not held up.
async fn pending_logins_are_limited_per_address(backend: Backend) {
    let (_db, server) = start(backend, "pending_logins_per_minute = 3").await;
    for host in 1..=3 {
        let response = authorize_from(&server, &format!("2001:db8:1:2::{host}")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "request {host}");
    }
    assert_eq!(server.count("pending_authorizations").await, 3);

    let refused = authorize_from(&server, "2001:db8:1:2:ffff:ffff:ffff:ffff").await;
    assert_html_page(&refused, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("Too many sign-ins were started from your network")
    );
    let upstream = server
        .client()
        .get(server.url("/oidc/partner/login?return_to=%2Faccount"))
        .header("x-forwarded-for", "2001:db8:1:2::77")
        .send()
        .await
        .unwrap();
    assert_html_page(&upstream, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(server.count("pending_authorizations").await, 3);
    assert_eq!(server.count("upstream_logins").await, 0);

    let neighbour = authorize_from(&server, "2001:db8:1:3::1").await;
    assert_eq!(neighbour.status(), StatusCode::SEE_OTHER);
    assert_eq!(server.count("pending_authorizations").await, 4);

    // A minute later the address may start again.
    server.clock.advance(61);
    let again = authorize_from(&server, "2001:db8:1:2::1").await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
}

/// However many addresses ask, at most `max_pending_logins` pending logins are alive at once;
/// places come back as they expire.
async fn pending_logins_are_capped_overall(backend: Backend) {
    let (_db, server) = start(backend, "max_pending_logins = 3").await;
    for host in 1..=3 {
        let response = authorize_from(&server, &format!("198.51.100.{host}")).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "request {host}");
    }
    let refused = authorize_from(&server, "198.51.100.4").await;
    assert_html_page(&refused, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.count("pending_authorizations").await, 3);

    // Pending authorizations live 10 minutes.
    server.clock.advance(601);
    let later = authorize_from(&server, "198.51.100.4").await;
    assert_eq!(later.status(), StatusCode::SEE_OTHER);
}

crate::backend_tests!(
    pending_logins_are_limited_per_address,
    pending_logins_are_capped_overall,
);
