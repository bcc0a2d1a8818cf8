//! Signing in to a relying party on another site: login, consent, remembered consent, silent
//! and forced re-authentication, form_post, logout, the account page and the session tracker.
use super::relying_party::claims;
use super::{Browser, BrowserSetup, sign_in_for};
use crate::support::*;

const PROFILE: &str = "openid profile";

/// Waits for the relying party's callback and returns its query parameters.
async fn callback(browser: &Browser, setup: &BrowserSetup) -> url::Url {
    browser.wait_at(&setup.rp.base, "/cb").await
}

/// Walks a fresh browser through login and consent (Allow) and returns the callback URL.
async fn sign_in_and_allow(browser: &Browser, setup: &BrowserSetup, state: &str) -> url::Url {
    sign_in_for(browser, setup, PROFILE, state, &[]).await;
    browser.click("button[value=allow]").await;
    callback(browser, setup).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test installs it"]
async fn login_and_consent_reach_a_relying_party_on_another_site() {
    let setup = BrowserSetup::start("").await;
    let browser = Browser::start().await;
    browser
        .goto(&setup.rp.authorize_url(PROFILE, "st-allow", &[]))
        .await;
    browser.find("#email").await;
    browser.screenshot("login").await;
    browser.sign_in(ALICE_EMAIL, ALICE_PASSWORD).await;
    browser.find("button[value=allow]").await;
    browser.screenshot("consent").await;
    browser.click("button[value=allow]").await;

    let url = callback(&browser, &setup).await;
    assert_eq!(param(&url, "state").as_deref(), Some("st-allow"));
    let code = param(&url, "code").expect("a code at the relying party");
    let tokens = setup.rp.redeem(&code).await;
    let id_token = claims(tokens["id_token"].as_str().expect("an ID token"));
    assert_eq!(id_token["sub"], "u-alice");
    assert_eq!(id_token["name"], "Alice Example");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test installs it"]
async fn denying_consent_returns_access_denied_to_the_relying_party() {
    let setup = BrowserSetup::start("").await;
    let browser = Browser::start().await;
    sign_in_for(&browser, &setup, PROFILE, "st-deny", &[]).await;
    browser.click("button[value=deny]").await;

    let url = callback(&browser, &setup).await;
    assert_eq!(param(&url, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&url, "state").as_deref(), Some("st-deny"));
    assert_eq!(param(&url, "code"), None);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test installs it"]
async fn a_signed_in_browser_goes_straight_back_and_prompt_none_is_silent() {
    let setup = BrowserSetup::start("").await;
    let browser = Browser::start().await;
    // Before any login, a silent request says so.
    browser
        .goto(
            &setup
                .rp
                .authorize_url(PROFILE, "st-silent-0", &[("prompt", "none")]),
        )
        .await;
    let url = callback(&browser, &setup).await;
    assert_eq!(param(&url, "error").as_deref(), Some("login_required"));

    sign_in_and_allow(&browser, &setup, "st-first").await;
    for (state, extra) in [
        ("st-again", vec![]),
        ("st-silent", vec![("prompt", "none")]),
    ] {
        browser
            .goto(&setup.rp.authorize_url(PROFILE, state, &extra))
            .await;
        let url = callback(&browser, &setup).await;
        assert_eq!(param(&url, "state").as_deref(), Some(state));
        let code = param(&url, "code").expect("a code without any page in between");
        setup.rp.redeem(&code).await;
    }
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test installs it"]
async fn remembered_consent_takes_the_login_form_straight_to_the_relying_party() {
    let setup = BrowserSetup::start("").await;
    let browser = Browser::start().await;
    let first = sign_in_and_allow(&browser, &setup, "st-first").await;
    let first_tokens = setup.rp.redeem(&param(&first, "code").unwrap()).await;
    let first_login = claims(first_tokens["id_token"].as_str().unwrap())["auth_time"]
        .as_i64()
        .unwrap();

    // prompt=login shows the form again; consent is remembered, so the login POST ends at
    // the relying party.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    sign_in_for(
        &browser,
        &setup,
        PROFILE,
        "st-forced",
        &[("prompt", "login")],
    )
    .await;
    let url = callback(&browser, &setup).await;
    assert_eq!(param(&url, "state").as_deref(), Some("st-forced"));
    let tokens = setup.rp.redeem(&param(&url, "code").unwrap()).await;
    let auth_time = claims(tokens["id_token"].as_str().unwrap())["auth_time"]
        .as_i64()
        .unwrap();
    assert!(auth_time > first_login, "auth_time is the new login's");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test installs it"]
async fn max_age_zero_asks_for_the_password_again() {
    let setup = BrowserSetup::start("").await;
    let browser = Browser::start().await;
    sign_in_and_allow(&browser, &setup, "st-first").await;

    // At once, in the same second as the first login: still a new login is needed.
    sign_in_for(&browser, &setup, PROFILE, "st-max-age", &[("max_age", "0")]).await;
    let url = callback(&browser, &setup).await;
    assert_eq!(param(&url, "state").as_deref(), Some("st-max-age"));
    assert!(param(&url, "code").is_some());
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test installs it"]
async fn form_post_response_mode_posts_the_code_to_the_relying_party() {
    let setup = BrowserSetup::start("").await;
    let browser = Browser::start().await;
    sign_in_for(
        &browser,
        &setup,
        PROFILE,
        "st-form",
        &[("response_mode", "form_post")],
    )
    .await;
    browser.click("button[value=allow]").await;

    let posted = browser.find("#posted").await;
    assert_eq!(posted.text().await.unwrap(), "Form post");
    assert_eq!(
        browser.text("#posted-state").await.as_deref(),
        Some("st-form")
    );
    let code = browser.text("#posted-code").await.expect("a posted code");
    setup.rp.redeem(&code).await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test installs it"]
async fn logout_returns_to_the_relying_party_and_the_tracker_sees_it() {
    let setup = BrowserSetup::start("").await;
    let browser = Browser::start().await;
    let url = sign_in_and_allow(&browser, &setup, "st-1").await;
    let tokens = setup.rp.redeem(&param(&url, "code").unwrap()).await;
    let id_token = tokens["id_token"].as_str().unwrap().to_string();
    let sid = claims(&id_token)["sid"].as_str().expect("sid").to_string();

    // The product page on the relying party's site embeds the tracker.
    browser
        .goto(&setup.rp.url(&format!("/tracker?sid={sid}&interval=5000")))
        .await;
    let status = browser
        .eval(&format!(
            "return fetch('{}/sso/v2/session?sid={sid}').then(r => r.json())",
            setup.server.base
        ))
        .await;
    assert_eq!(
        status["active"], true,
        "the product sees the session: {status}"
    );
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    assert_eq!(browser.text("#tracker").await.as_deref(), Some("watching"));

    // Sign out from another tab, by the relying party's logout link.
    let product = browser.new_tab().await;
    let mut logout = url::Url::parse(&setup.server.url("/sso/v2/logout")).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", &id_token)
        .append_pair("post_logout_redirect_uri", &setup.rp.url("/bye"))
        .append_pair("state", "st-bye");
    browser.goto(logout.as_str()).await;
    let back = browser.wait_at(&setup.rp.base, "/bye").await;
    assert_eq!(param(&back, "state").as_deref(), Some("st-bye"));
    // On the way, the relying party's front-channel logout page was loaded in a frame, naming
    // the session.
    let loads = setup.rp.frontchannel_loads();
    assert_eq!(loads.len(), 1, "{loads:?}");
    assert_eq!(loads[0].get("sid"), Some(&sid));
    assert_eq!(loads[0].get("iss"), Some(&setup.server.base));

    // Within one interval (5 s), the tracker on the product page reports the end.
    browser.switch_to(product).await;
    let started = std::time::Instant::now();
    while browser.text("#tracker").await.as_deref() != Some("expired") {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(8),
            "the tracker did not report the logout within its interval"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test installs it"]
async fn a_consent_revoked_on_the_account_page_is_asked_for_again() {
    let setup = BrowserSetup::start("").await;
    let browser = Browser::start().await;
    sign_in_and_allow(&browser, &setup, "st-1").await;

    browser.goto(&setup.server.url("/account")).await;
    browser
        .find("form[action='/account/consents/revoke'] button")
        .await;
    browser.screenshot("account").await;
    browser
        .click("form[action='/account/consents/revoke'] button")
        .await;
    // The form posts from /account and comes back to it: wait for the page without the consent,
    // not for the address, which is the same before and after.
    assert!(
        browser
            .gone("form[action='/account/consents/revoke'] button")
            .await,
        "the consent is gone from the account page"
    );
    browser.wait_at(&setup.server.base, "/account").await;

    browser
        .goto(&setup.rp.authorize_url(PROFILE, "st-2", &[]))
        .await;
    browser.click("button[value=allow]").await;
    let url = callback(&browser, &setup).await;
    assert_eq!(param(&url, "state").as_deref(), Some("st-2"));
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test installs it"]
async fn an_entity_login_hint_brands_every_page_of_the_login() {
    let dir = tempfile::tempdir().unwrap();
    let css = dir.path().join("merchant.css");
    let js = dir.path().join("merchant.js");
    std::fs::write(&css, "h1 { color: rgb(0, 128, 128); }").unwrap();
    std::fs::write(
        &js,
        "document.addEventListener('DOMContentLoaded', function () { document.body.dataset.brand = 'merchant'; });",
    )
    .unwrap();
    let branded = BASE_CONFIG.replace(
        "level = \"MERCHANT\"\nparent = \"e-div-1\"",
        &format!(
            "level = \"MERCHANT\"\nparent = \"e-div-1\"\nbranding = {{ css = \"{}\", js = \"{}\", title = \"Merchant Login\" }}",
            css.display(),
            js.display()
        ),
    );
    let setup = BrowserSetup::start_from(&branded, "", &[]).await;
    let browser = Browser::start().await;
    // The entity's script runs on the login form, not on the consent page, where it could press
    // Allow for the person.
    let branded_page = |page: &'static str, script_runs: bool| {
        let browser = &browser;
        async move {
            let color = browser.style("h1", "color").await;
            assert!(
                ["rgb(0, 128, 128)", "rgba(0, 128, 128, 1)"].contains(&color.as_str()),
                "the entity's stylesheet applies on the {page} page: h1 is {color}"
            );
            let brand = browser
                .eval("return document.body.dataset.brand || null")
                .await;
            let expected = if script_runs {
                serde_json::Value::from("merchant")
            } else {
                serde_json::Value::Null
            };
            assert_eq!(brand, expected, "the entity's script on the {page} page");
        }
    };

    browser
        .goto(
            &setup
                .rp
                .authorize_url(PROFILE, "st-brand", &[("login_hint", "e-mer-1")]),
        )
        .await;
    browser.find("#email").await;
    assert_eq!(browser.text("h1").await.as_deref(), Some("Merchant Login"));
    branded_page("login", true).await;
    browser.screenshot("login-branded").await;

    // A wrong password shows the form again, still branded.
    browser.sign_in(ALICE_EMAIL, "not the password").await;
    browser.find(".error").await;
    branded_page("failed login", true).await;

    browser.sign_in(ALICE_EMAIL, ALICE_PASSWORD).await;
    browser.find("button[value=allow]").await;
    branded_page("consent", false).await;
    browser.click("button[value=allow]").await;
    let url = callback(&browser, &setup).await;
    assert_eq!(param(&url, "state").as_deref(), Some("st-brand"));
    browser.close().await;
}
