//! Pages on an attacker's site: framing the login page, posting a forged consent, and open
//! redirects through each parameter that names where to go next.
use super::{Browser, BrowserSetup, Trap, sign_in_for};
use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test installs it"]
async fn the_login_page_cannot_be_framed_by_another_site() {
    let setup = BrowserSetup::start("").await;
    let browser = Browser::start().await;
    browser.goto(&setup.rp.url("/hostile/frame")).await;
    browser.find("#victim").await;
    // Give the frame time to load (or be refused).
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    browser.enter_frame().await;
    assert!(
        !browser.has("#email").await,
        "the framed login page must not render"
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test installs it"]
async fn a_forged_consent_from_another_site_is_refused_by_the_csrf_check() {
    let setup = BrowserSetup::start("").await;
    let browser = Browser::start().await;
    // The victim is signed in and has a sign-in request waiting for consent.
    sign_in_for(&browser, &setup, "openid profile", "st-victim", &[]).await;
    browser.find("button[value=allow]").await;
    let consent = browser.url().await;
    let id = param(&consent, "id").expect("the pending authorization's id");
    let real_token = browser
        .find("form[action='/sso/v2/consent'] input[name=csrf]")
        .await
        .attr("value")
        .await
        .unwrap()
        .expect("a CSRF token");

    // The attacker knows the id (say it leaked through a log) and even the page's real token:
    // the check must still fail, because the browser does not send the CSRF cookie on a
    // cross-site POST, not because the attacker guessed wrong.
    for csrf in [forged(&real_token), real_token.clone()] {
        browser
            .goto(&setup.rp.url(&format!("/hostile/post?id={id}&csrf={csrf}")))
            .await;
        let page = browser
            .wait_for_url("idbridge's answer", |url| {
                url.path() == "/sso/v2/consent" || url.path() == "/cb"
            })
            .await;
        assert_eq!(page.path(), "/sso/v2/consent", "no code went anywhere");
        let heading = browser.text("h1").await.unwrap_or_default();
        assert_eq!(heading, "Form expired", "refused by the CSRF check");
    }
    // And nothing was granted: the account page lists no consent.
    browser.goto(&setup.server.url("/account")).await;
    browser.find("h1").await;
    assert!(
        !browser
            .has("form[action='/account/consents/revoke'] button")
            .await
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test installs it"]
async fn no_redirect_parameter_leads_to_an_unregistered_site() {
    let setup = BrowserSetup::start("").await;
    let browser = Browser::start().await;
    let trap = Trap::start([127, 0, 0, 3], 0).await;
    let evil = format!("{}/stolen", trap.base);
    let evil_host = trap.base.trim_start_matches("http://");
    let mut authorize = url::Url::parse(&setup.rp.authorize_url("openid", "s", &[])).unwrap();
    let pairs: Vec<(String, String)> = authorize
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "redirect_uri" {
                evil.as_str().into()
            } else {
                v
            };
            (k.into_owned(), v.into_owned())
        })
        .collect();
    authorize.query_pairs_mut().clear().extend_pairs(pairs);

    let attempts = [
        authorize.to_string(),
        setup.server.url(&format!(
            "/sso/v2/logout?client_id=rp&post_logout_redirect_uri={evil}"
        )),
        setup
            .server
            .url(&format!("/sso/v2/login?return_to=//{evil_host}/stolen")),
        setup
            .server
            .url(&format!("/sso/v2/login?return_to=/\\{evil_host}/stolen")),
        setup.server.url(&format!("/sso/v2/login?return_to={evil}")),
    ];
    for attempt in attempts {
        browser.goto(&attempt).await;
        browser.find("h1").await;
        // A login page may also be the answer: sign in to follow `return_to` to its end.
        if browser.has("#password").await {
            browser.sign_in(ALICE_EMAIL, ALICE_PASSWORD).await;
            browser.find("h1").await;
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        let url = browser.url().await;
        assert_eq!(
            url.origin().ascii_serialization(),
            setup.server.base,
            "{attempt} led to {url}"
        );
    }
    assert_eq!(
        trap.hits().await,
        0,
        "a browser reached the attacker's site"
    );
    browser.close().await;
}
