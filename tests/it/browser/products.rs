//! Products on another site: product SSO (`/sso/jwt/{product}`) for a browser that is not
//! signed in yet, the parameters that name where it goes (none leads to an unlisted site), and a
//! session URL that a backend asked for, opened in a fresh browser.
use std::collections::HashMap;

use axum::Router;
use axum::extract::Query;
use axum::response::Html;
use axum::routing::get;
use serde_json::json;
use tokio::net::TcpListener;

use super::relying_party::html_escape;
use super::{Browser, BrowserSetup};
use crate::products::{HELPDESK_SECRET, verify_hub};
use crate::support::*;

/// The hub's domain. Chromium resolves every `*.localhost` name to loopback by itself (no DNS),
/// and it is a site of its own, apart from idbridge's `localhost`.
const HUB_DOMAIN: &str = "help.localhost";

/// A hub product whose login page is served on `port` of every `*.localhost` host.
fn hub_product(port: u16) -> String {
    r#"
[[products]]
id = "helpdesk"
format = "hub"
login_url = "http://{hub_domain}:PORT/login/sso"
allowed_domains = ["help.localhost"]
secrets = ["env:HELPDESK_SECRET"]
"#
    .replace("PORT", &port.to_string())
}

/// The hub's login page: shows the token and the path it was given.
async fn hub() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().unwrap().port();
    let page = |Query(query): Query<HashMap<String, String>>| async move {
        let shown = |name: &str| html_escape(query.get(name).map_or("", String::as_str));
        Html(format!(
            r#"<h1 id=hub>Help desk</h1><p id=jwt>{}</p><p id=return-to>{}</p>"#,
            shown("jwt"),
            shown("return_to")
        ))
    };
    let app = Router::new().route("/login/sso", get(page));
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test installs it"]
async fn product_sso_signs_in_first_and_lands_at_the_hub_with_a_token() {
    let port = hub().await;
    let setup =
        BrowserSetup::start_with(&hub_product(port), &[("HELPDESK_SECRET", HELPDESK_SECRET)]).await;
    let browser = Browser::start().await;
    browser
        .goto(&setup.server.url(&format!(
            "/sso/jwt/helpdesk?hub_domain={HUB_DOMAIN}&return_to=%2Ftickets%2F42"
        )))
        .await;
    browser.find("#email").await;
    browser.sign_in(ALICE_EMAIL, ALICE_PASSWORD).await;
    // The first time at this host, the person says yes to it.
    browser.find("form.decision button").await;
    assert_eq!(
        browser.text("h1").await.as_deref(),
        Some("Continue to help.localhost as alice@example.com?")
    );
    browser.screenshot("product-confirm").await;
    browser.click("form.decision button").await;

    let hub_origin = format!("http://{HUB_DOMAIN}:{port}");
    let url = browser.wait_at(&hub_origin, "/login/sso").await;
    assert_eq!(param(&url, "return_to").as_deref(), Some("/tickets/42"));
    let jwt = browser
        .text("#jwt")
        .await
        .expect("the token reached the hub");
    assert_eq!(Some(&jwt), param(&url, "jwt").as_ref());
    let claims = verify_hub(&jwt, HELPDESK_SECRET, HUB_DOMAIN).expect("a valid hub token");
    assert_eq!(claims["user"]["id"], "u-alice");
    assert_eq!(claims["user"]["email"], ALICE_EMAIL);
    assert_eq!(claims["user"]["organization"]["id"], "e-mer-1");
    browser.close().await;
}

const SESSION_URLS: &str = r#"
[[api_credentials]]
username = "backend"
password = "env:BACKEND_PASSWORD"
scopes = ["session_urls"]
"#;

const BACKEND_PASSWORD: &str = "backend password 0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test installs it"]
async fn a_session_url_signs_a_fresh_browser_in_once() {
    let setup =
        BrowserSetup::start_with(SESSION_URLS, &[("BACKEND_PASSWORD", BACKEND_PASSWORD)]).await;
    // The relying party's backend asks for a link to its own page for customer C-7.
    let target = setup
        .rp
        .url("/cb?from=mail&internalcustomer=C-7&billingFirstname=Jane&billingLastname=Doe");
    let answer: serde_json::Value = reqwest::Client::new()
        .post(setup.server.url("/urlgenerator/generateusersessionurl"))
        .basic_auth("backend", Some(BACKEND_PASSWORD))
        .json(&json!({"TargetUrl": target}))
        .send()
        .await
        .expect("session URL request")
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["ResultMessage"], "OK", "{answer}");
    let link = answer["Url"].as_str().expect("a URL").to_string();

    // Opening the link shows one button and signs no one in yet.
    let browser = Browser::start().await;
    browser.goto(&link).await;
    browser.find("form button").await;
    browser.screenshot("session-url").await;
    assert_eq!(setup.server.count("customer_profiles").await, 0);
    browser.click("form button").await;

    // The button leads to the target, without the profile's parameters, signed in as Jane Doe.
    let landed = browser.wait_at(&setup.rp.base, "/cb").await;
    assert_eq!(landed.query(), Some("from=mail"));
    browser.goto(&setup.server.url("/account")).await;
    assert_eq!(browser.text("h1").await.as_deref(), Some("Jane Doe"));

    // The relying party's logout link without an ID token: idbridge asks first.
    browser
        .goto(&setup.server.url(&format!(
            "/sso/v2/logout?client_id=rp&post_logout_redirect_uri={}&state=st-bye",
            setup.rp.url("/bye")
        )))
        .await;
    browser.find("form[action='/sso/v2/logout'] button").await;
    browser.screenshot("logout").await;
    browser.click("form[action='/sso/v2/logout'] button").await;
    let bye = browser.wait_at(&setup.rp.base, "/bye").await;
    assert_eq!(param(&bye, "state").as_deref(), Some("st-bye"));

    // The link worked once: opened again, it shows the error page and signs no one in.
    browser.goto(&link).await;
    assert_eq!(
        browser.text("h1").await.as_deref(),
        Some("Request not valid")
    );
    assert!(!browser.has("form button").await);
    browser.screenshot("error").await;
    browser.goto(&setup.server.url("/account")).await;
    browser.find("#email").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test installs it"]
async fn no_product_parameter_leads_a_signed_in_browser_to_an_unlisted_site() {
    let port = hub().await;
    let setup =
        BrowserSetup::start_with(&hub_product(port), &[("HELPDESK_SECRET", HELPDESK_SECRET)]).await;
    let browser = Browser::start().await;
    browser.goto(&setup.server.url("/sso/v2/login")).await;
    browser.sign_in(ALICE_EMAIL, ALICE_PASSWORD).await;
    browser.find("h1").await;

    // The honest request reaches the hub once the person says yes, so each refusal below is the
    // parameter's doing.
    browser
        .goto(&setup.server.url(&format!(
            "/sso/jwt/helpdesk?hub_domain={HUB_DOMAIN}&return_to=%2Ftickets"
        )))
        .await;
    browser.click("form.decision button").await;
    browser
        .wait_at(&format!("http://{HUB_DOMAIN}:{port}"), "/login/sso")
        .await;

    let attempts = [
        "hub_domain=evil.localhost",
        "hub_domain=help.localhost.evil.localhost",
        "hub_domain=evil.localhost%2F%3Fhelp.localhost",
        "hub_domain=help.localhost%40evil.localhost",
        "hub_domain=127.0.0.3",
        "hub_domain=help.localhost&return_to=%2F%2Fevil.localhost%2Fx",
        "hub_domain=help.localhost&return_to=%2F%5Cevil.localhost%2Fx",
        "hub_domain=help.localhost&return_to=http%3A%2F%2Fevil.localhost%2Fx",
    ];
    for attempt in attempts {
        browser
            .goto(&setup.server.url(&format!("/sso/jwt/helpdesk?{attempt}")))
            .await;
        browser.find("h1").await;
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let url = browser.url().await;
        assert_eq!(
            url.origin().ascii_serialization(),
            setup.server.base,
            "{attempt} led to {url}"
        );
        assert_eq!(
            browser.text("h1").await.as_deref(),
            Some("Request not valid"),
            "{attempt}"
        );
    }
    browser.close().await;
}
