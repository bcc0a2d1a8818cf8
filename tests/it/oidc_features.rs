//! Provider features beyond the basic flow: discovery, legacy paths, the session tracker,
//! form_post, prompt and max_age, remembered consent, client_credentials, introspection,
//! key rotation, the demo client, and two servers sharing one database.
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::Value;

use crate::oidc::{
    Browser, PROVIDER_CONFIG, REDIRECT, RP_SECRET, VERIFIER, authorize_url, post_form, provider,
    provider_with_clock, redeem, userinfo_status,
};
use crate::support::*;

async fn tokens_for(server: &TestServer, browser: &Browser<'_>, client_id: &str) -> Value {
    let url = authorize_url(server, client_id, &[]);
    let code = browser.authorize(&url, true).await.param("code").unwrap();
    let (status, body) = redeem(server, client_id, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn discovery_names_every_endpoint(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let document: Value = reqwest::get(server.url("/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(document["issuer"], server.base.as_str());
    for (key, path) in [
        ("authorization_endpoint", "/sso/v2/authorize"),
        ("token_endpoint", "/sso/v2/token"),
        ("userinfo_endpoint", "/sso/v2/userinfo"),
        ("jwks_uri", "/sso/v2/jwks"),
        ("end_session_endpoint", "/sso/v2/logout"),
        ("revocation_endpoint", "/sso/v2/revoke"),
        ("introspection_endpoint", "/sso/v2/introspect"),
    ] {
        assert_eq!(document[key], server.url(path).as_str(), "{key}");
    }
    assert_eq!(
        document["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    let algs = document["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    for alg in ["RS256", "ES256", "EdDSA", "HS256"] {
        assert!(algs.iter().any(|a| a == alg), "{alg}");
    }
    let jwks: Value = reqwest::get(server.url("/sso/v2/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(
        keys.len(),
        3,
        "one key per asymmetric algorithm in use: {jwks}"
    );
    assert!(
        keys.iter()
            .all(|k| k.get("d").is_none() && k.get("p").is_none()),
        "no private parts"
    );
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .map(|value| value.to_str().unwrap().to_string())
}

async fn legacy_paths_redirect_permanently(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(
        &db,
        &format!("[server]\nlegacy_sunset = \"2027-06-30\"\n{BASE_CONFIG}{PROVIDER_CONFIG}"),
        idbridge::Clock::system(),
        &[("RP_SECRET", RP_SECRET)],
    )
    .await
    .unwrap();
    let client = server.client();
    for (old, new) in [
        (
            "/authentication/v1/authenticate?client_id=x&a=1",
            "/sso/v2/authorize?client_id=x&a=1",
        ),
        ("/authentication/v1/tokens", "/sso/v2/token"),
        ("/authentication/v1/users", "/sso/v2/userinfo"),
        (
            "/authentication/v1/logout?state=q",
            "/sso/v2/logout?state=q",
        ),
        (
            "/authentication/v1/sessionTracker/oasm.js",
            "/sso/sessionTracker/oasm.js",
        ),
    ] {
        let response = client.get(server.url(old)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT, "{old}");
        assert_eq!(location(&response).as_deref(), Some(new));
        // RFC 9745: since when (2026-12-03); RFC 8594: until when, as configured.
        assert_eq!(
            header(&response, "deprecation").as_deref(),
            Some("@1796256000")
        );
        assert_eq!(
            header(&response, "sunset").as_deref(),
            Some("Wed, 30 Jun 2027 00:00:00 GMT")
        );
    }
    let (_db, without) = provider(backend).await;
    let response = without
        .client()
        .get(without.url("/authentication/v1/tokens"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(&response, "deprecation").as_deref(),
        Some("@1796256000")
    );
    assert_eq!(
        header(&response, "sunset"),
        None,
        "no sunset unless configured"
    );
    let post = client
        .post(server.url("/authentication/v1/tokens"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        post.status(),
        StatusCode::PERMANENT_REDIRECT,
        "POST keeps its method through a 308"
    );
}

async fn session_tracker_answers_registered_origins_only(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let script = reqwest::get(server.url("/sso/sessionTracker/oasm.js"))
        .await
        .unwrap();
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert!(script.text().await.unwrap().contains("/sso/v2/session"));

    let client = server.client();
    let status = |origin: &'static str| {
        let client = client.clone();
        let url = server.url("/sso/v2/session");
        async move {
            let response = client
                .get(url)
                .header("origin", origin)
                .send()
                .await
                .unwrap();
            let allowed = response
                .headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap().to_string());
            let credentials = response
                .headers()
                .get("access-control-allow-credentials")
                .is_some();
            let body: Value = response.json().await.unwrap();
            (body, allowed, credentials)
        }
    };
    let (body, allowed, _) = status("https://rp.example.com").await;
    assert_eq!(body["active"], false);
    assert_eq!(allowed.as_deref(), Some("https://rp.example.com"));
    server.login(&client, ALICE_EMAIL, ALICE_PASSWORD).await;
    let (body, _, credentials) = status("https://rp.example.com").await;
    assert_eq!(body["active"], true);
    assert!(body["expires_at"].is_i64());
    assert!(credentials);
    let (body, allowed, credentials) = status("https://evil.example").await;
    assert_eq!(allowed, None, "unregistered origin gets no CORS grant");
    assert!(!credentials);
    assert!(body.get("access_token").is_none() && body.as_object().unwrap().len() == 2);

    // A product on another site names the session by its sid: no cookie, no credentials.
    let now = server.clock.now();
    let sessions = server
        .state
        .store
        .sessions_of("u-alice", now)
        .await
        .unwrap();
    let by_sid = |sid: String| {
        let url = server.url(&format!("/sso/v2/session?sid={sid}"));
        async move {
            let response = reqwest::Client::new()
                .get(url)
                .header("origin", "https://rp.example.com")
                .send()
                .await
                .unwrap();
            let headers = response.headers().clone();
            let body: Value = response.json().await.unwrap();
            (body["active"].clone(), headers)
        }
    };
    let (active, headers) = by_sid(sessions[0].sid.clone()).await;
    assert_eq!(active, true);
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://rp.example.com"
    );
    assert!(headers.get("access-control-allow-credentials").is_none());
    let (active, _) = by_sid(idbridge::crypto::random_token()).await;
    assert_eq!(active, false, "an unknown sid names no session");
    server
        .state
        .store
        .end_session_of(
            "u-alice",
            &sessions[0].id_hash,
            &idbridge::store::Initiator {
                actor: idbridge::store::Actor::Person,
                client_addr: None,
            },
            &server.state.config(),
            now,
        )
        .await
        .unwrap();
    let (active, _) = by_sid(sessions[0].sid.clone()).await;
    assert_eq!(active, false, "an ended session is reported as ended");
}

async fn form_post_posts_the_code_to_the_client(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let browser = Browser::new(&server);
    browser
        .authorize(&authorize_url(&server, "rp-eddsa", &[]), true)
        .await; // login and consent once
    let response = browser
        .http
        .get(authorize_url(
            &server,
            "rp-eddsa",
            &[("response_mode", "form_post")],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("form-action https:;"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"));
    let page = response.text().await.unwrap();
    assert!(
        page.contains(r#"action="https://rp.example.com/callback""#),
        "{page}"
    );
    assert!(form_value(&page, "code").is_some());
    assert_eq!(form_value(&page, "state").as_deref(), Some("st-1"));
}

async fn prompt_login_and_max_age_ask_for_the_password_again(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let browser = Browser::new(&server);
    browser
        .authorize(&authorize_url(&server, "rp-eddsa", &[]), true)
        .await;
    // Signed in and consented: a plain request goes straight back with a code.
    let response = browser
        .http
        .get(authorize_url(&server, "rp-eddsa", &[]))
        .send()
        .await
        .unwrap();
    assert!(location(&response).unwrap().starts_with(REDIRECT));
    for extra in [("prompt", "login"), ("max_age", "0")] {
        server.clock.advance(2);
        let response = browser
            .http
            .get(authorize_url(&server, "rp-eddsa", &[extra]))
            .send()
            .await
            .unwrap();
        let to = location(&response).unwrap();
        assert!(
            to.starts_with("/sso/v2/login?") && to.contains("force=1"),
            "{extra:?}: {to}"
        );
        let page = browser.http.get(server.url(&to)).send().await.unwrap();
        assert_eq!(
            page.status(),
            StatusCode::OK,
            "the form is shown although signed in"
        );
        // Signing in again finishes the flow.
        let returned = browser
            .authorize(&authorize_url(&server, "rp-eddsa", &[extra]), true)
            .await;
        assert!(returned.param("code").is_some(), "{extra:?}");
    }
}

/// The claims of a JWT, unverified: the test only reads what its own server wrote.
fn jwt_claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Whether an authorization request sends the signed-in browser to the login form.
async fn asks_to_log_in(browser: &Browser<'_>, server: &TestServer, extra: (&str, &str)) -> bool {
    let response = browser
        .http
        .get(authorize_url(server, "rp-eddsa", &[extra]))
        .send()
        .await
        .unwrap();
    let to = location(&response).unwrap();
    to.starts_with("/sso/v2/login?") && to.contains("force=1")
}

/// OIDC Core 3.1.2.1: `prompt=login` and `max_age=0` ask for a login even when the last one
/// was in the same second, and only the login made for the request answers it. The clock stands
/// still, so every step below falls in the same second unless the test moves it.
async fn only_a_login_for_the_request_answers_prompt_login_and_max_age(backend: Backend) {
    let (_db, server) = provider_with_clock(backend, idbridge::Clock::stopped()).await;
    let browser = Browser::new(&server);
    browser
        .authorize(&authorize_url(&server, "rp-eddsa", &[]), true)
        .await;
    for extra in [("prompt", "login"), ("max_age", "0")] {
        assert!(
            asks_to_log_in(&browser, &server, extra).await,
            "{extra:?} right after a login"
        );
        // Logging in for the request finishes it; the ID token tells the new login's time.
        server.clock.advance(5);
        let returned = browser
            .authorize(&authorize_url(&server, "rp-eddsa", &[extra]), true)
            .await;
        let code = returned.param("code").expect("a code");
        let (status, tokens) = redeem(&server, "rp-eddsa", &code).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        let claims = jwt_claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(claims["auth_time"], server.clock.now(), "{extra:?}");
        // That login answered that request only: the next one asks again, in the same second.
        assert!(
            asks_to_log_in(&browser, &server, extra).await,
            "{extra:?} after a login for another request"
        );
    }
    // A max_age shorter than the time since the login asks; a longer one does not.
    server.clock.advance(6);
    assert!(asks_to_log_in(&browser, &server, ("max_age", "6")).await);
    assert!(!asks_to_log_in(&browser, &server, ("max_age", "7")).await);
}

async fn consent_is_remembered_until_withdrawn(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let browser = Browser::new(&server);
    let first = tokens_for(&server, &browser, "rp-eddsa").await;
    assert_eq!(server.count("consents").await, 1);
    let response = browser
        .http
        .get(authorize_url(&server, "rp-eddsa", &[]))
        .send()
        .await
        .unwrap();
    assert!(
        location(&response).unwrap().starts_with(REDIRECT),
        "no consent page the second time"
    );
    let response = browser
        .http
        .get(authorize_url(&server, "rp-eddsa", &[("prompt", "consent")]))
        .send()
        .await
        .unwrap();
    assert!(
        location(&response).unwrap().starts_with("/sso/v2/consent"),
        "prompt=consent asks again"
    );

    // The account page lists it; withdrawing it revokes the client's tokens (at once, though
    // this process has just answered userinfo for one) and asks again.
    assert_eq!(
        userinfo_status(&server, first["access_token"].as_str().unwrap())
            .await
            .0,
        StatusCode::OK
    );
    let page = page_text(&browser.http, server.url("/account")).await;
    assert_eq!(texts(&page, ".consents > li strong"), ["rp-eddsa"]);
    let csrf = form_value(&page, "csrf").unwrap();
    let response = browser
        .http
        .post(server.url("/account/consents/revoke"))
        .form(&[("csrf", csrf.as_str()), ("client_id", "rp-eddsa")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(server.count("consents").await, 0);
    assert_eq!(
        userinfo_status(&server, first["access_token"].as_str().unwrap())
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let response = browser
        .http
        .get(authorize_url(&server, "rp-eddsa", &[]))
        .send()
        .await
        .unwrap();
    assert!(location(&response).unwrap().starts_with("/sso/v2/consent"));
}

async fn account_lists_sessions_and_ends_another_one(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let (laptop, phone) = (server.client(), server.client());
    server.login(&laptop, ALICE_EMAIL, ALICE_PASSWORD).await;
    server.login(&phone, ALICE_EMAIL, ALICE_PASSWORD).await;
    let page = page_text(&laptop, server.url("/account")).await;
    assert_eq!(texts(&page, ".sessions > li").len(), 2);
    let other = form_value(&page, "session").expect("the other session has a sign-out button");
    let csrf = form_value(&page, "csrf").unwrap();
    laptop
        .post(server.url("/account/sessions/end"))
        .form(&[("csrf", csrf.as_str()), ("session", other.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        phone
            .get(server.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        laptop
            .get(server.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

async fn client_credentials_and_introspection(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let (status, body) = post_form(
        &server,
        "/sso/v2/token",
        &[("grant_type", "client_credentials")],
        Some(("rp-rs256", RP_SECRET)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("id_token").is_none() && body.get("refresh_token").is_none());
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(
        userinfo_status(&server, access).await.0,
        StatusCode::UNAUTHORIZED,
        "no user behind a client token"
    );

    let (_, own) = post_form(
        &server,
        "/sso/v2/introspect",
        &[("token", access)],
        Some(("rp-rs256", RP_SECRET)),
    )
    .await;
    assert_eq!(own["active"], true);
    assert_eq!(own["client_id"], "rp-rs256");
    let (_, other) = post_form(
        &server,
        "/sso/v2/introspect",
        &[("token", access)],
        Some(("rp-eddsa", RP_SECRET)),
    )
    .await;
    assert_eq!(
        other,
        serde_json::json!({"active": false}),
        "another client's token is not disclosed"
    );
    let (_, garbage) = post_form(
        &server,
        "/sso/v2/introspect",
        &[("token", "garbage")],
        Some(("rp-rs256", RP_SECRET)),
    )
    .await;
    assert_eq!(garbage["active"], false);
    let (status, _) = post_form(
        &server,
        "/sso/v2/introspect",
        &[("token", access)],
        Some(("rp-rs256", "wrong")),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, body) = post_form(
        &server,
        "/sso/v2/token",
        &[("grant_type", "client_credentials"), ("client_id", "spa")],
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unauthorized_client"))
    );
    let (status, body) = post_form(
        &server,
        "/sso/v2/token",
        &[("grant_type", "client_credentials"), ("scope", "openid")],
        Some(("rp-rs256", RP_SECRET)),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    let (status, body) = post_form(
        &server,
        "/sso/v2/token",
        &[("grant_type", "password")],
        Some(("rp-rs256", RP_SECRET)),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unsupported_grant_type"))
    );
}

async fn a_public_client_uses_pkce_and_no_secret(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let browser = Browser::new(&server);
    let url = format!(
        "{}&login_hint=alice%40example.com",
        authorize_url(&server, "spa", &[])
    );
    // The login page is prefilled from login_hint.
    let to = location(&browser.http.get(&url).send().await.unwrap()).unwrap();
    let page = page_text(&browser.http, server.url(&to)).await;
    assert_eq!(form_value(&page, "email").as_deref(), Some(ALICE_EMAIL));

    let code = browser.authorize(&url, true).await.param("code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "https://spa.example.com/cb"),
        ("client_id", "spa"),
    ];
    let (status, body) = post_form(&server, "/sso/v2/token", &form, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "verifier missing"
    );
    // That failed attempt spent the code; a new one with the verifier works.
    let code = browser.authorize(&url, true).await.param("code").unwrap();
    let (status, body) = post_form(
        &server,
        "/sso/v2/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://spa.example.com/cb"),
            ("client_id", "spa"),
            ("code_verifier", VERIFIER),
        ],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["id_token"].is_string());
}

/// Verifies an ID token against the JWKS the server publishes now.
async fn verifies_through_jwks(server: &TestServer, token: &str) -> bool {
    let jwks: JwkSet = reqwest::get(server.url("/sso/v2/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let Some(jwk) = jwks.find(header.kid.as_deref().unwrap()) else {
        return false;
    };
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&["rp-eddsa"]);
    validation.set_issuer(&[&server.base]);
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation).is_ok()
}

async fn key_rotation_keeps_old_tokens_valid(backend: Backend) {
    let db = TestDb::new(backend).await;
    let config = format!(
        "{}{PROVIDER_CONFIG}",
        BASE_CONFIG.replace(
            "id_token_alg = \"EdDSA\"",
            "id_token_alg = \"EdDSA\"\nrotate_after = \"1d\""
        )
    );
    let server = TestServer::start_with(
        &db,
        &config,
        idbridge::Clock::system(),
        &[("RP_SECRET", RP_SECRET)],
    )
    .await
    .unwrap();
    let browser = Browser::new(&server);
    let kid = |token: &str| jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let jwks_kids = || async {
        let jwks: JwkSet = reqwest::get(server.url("/sso/v2/jwks"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        jwks.keys
            .iter()
            .filter(|k| k.common.key_algorithm.map(|a| format!("{a:?}")) == Some("EdDSA".into()))
            .count()
    };
    let before = tokens_for(&server, &browser, "rp-eddsa").await["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(jwks_kids().await, 1);

    // Past rotate_after: a successor is published, but the old key still signs.
    server.clock.advance(86_400 + 1);
    idbridge::rotate_keys(&server.state).await.unwrap();
    assert_eq!(
        jwks_kids().await,
        2,
        "the new key is published before it signs"
    );
    let during = tokens_for(&server, &browser, "rp-eddsa").await["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(kid(&during), kid(&before));

    // An hour later the new key signs; the old one stays published for the old tokens.
    server.clock.advance(3600 + 1);
    idbridge::rotate_keys(&server.state).await.unwrap();
    let after = tokens_for(&server, &browser, "rp-eddsa").await["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(kid(&after), kid(&before));
    assert!(
        verifies_through_jwks(&server, &before).await,
        "a token signed before the rotation still verifies"
    );
    assert!(verifies_through_jwks(&server, &after).await);

    // Once every token of the old key has expired, it leaves JWKS.
    server.clock.advance(3600 + 1);
    idbridge::rotate_keys(&server.state).await.unwrap();
    assert_eq!(jwks_kids().await, 1);
    assert!(verifies_through_jwks(&server, &after).await);
}

async fn the_demo_client_shows_claims_and_userinfo(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, &idbridge::demo::config_text("{test_base}")).await;
    let browser = Browser::new(&server)
        .signing_in_as(idbridge::demo::DEMO_EMAIL, idbridge::demo::DEMO_PASSWORD);
    let start = browser
        .http
        .get(server.url("/demo/start"))
        .send()
        .await
        .unwrap();
    let callback = browser.authorize(&location(&start).unwrap(), true).await;
    assert_eq!(callback.url.path(), "/demo/callback");
    let page = browser
        .http
        .get(callback.url.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    let claims: Value = serde_json::from_str(&texts(&page, "#id-token-claims")[0]).unwrap();
    assert_eq!(claims["sub"], "demo-user");
    assert_eq!(claims["iss"], server.base.as_str());
    let userinfo: Value = serde_json::from_str(&texts(&page, "#userinfo")[0]).unwrap();
    assert_eq!(
        userinfo["attached_to"][1],
        serde_json::json!({"path": "/Demo Payments/Europe/Demo Shop", "level": "MERCHANT", "entityId": "demo-merchant"})
    );
    // A second visit of the same callback fails: the code is spent and the demo cookie gone.
    let again = page_text(&browser.http, callback.url.as_str()).await;
    assert!(
        texts(&again, ".error")[0].contains("did not start"),
        "{again}"
    );
}

/// Two server processes on one database — this test process and the `idbridge` binary: a flow
/// started on one finishes on the other, keys made by one sign and verify on the other, and a
/// code raced at both is spent once and never yields two live sets of tokens.
async fn two_processes_share_one_database(backend: Backend) {
    let (db, a) = provider(backend).await;
    let config = format!("{BASE_CONFIG}{PROVIDER_CONFIG}");
    let b = ServerProcess::spawn(&db, &config, &a.base, &[("RP_SECRET", RP_SECRET)]).await;
    let browser = Browser::new(&a);
    for round in 0..5 {
        let code = browser
            .authorize(&authorize_url(&a, "rp-eddsa", &[]), true)
            .await
            .param("code")
            .unwrap();
        let token_url = b.url("/sso/v2/token");
        let ((status_a, body_a), (status_b, body_b)) = tokio::join!(
            redeem(&a, "rp-eddsa", &code),
            post_form_to(&token_url, &code)
        );
        // Presented twice, the code counts as replayed (RFC 6749 4.1.2): at most one answer
        // carries tokens, and none of those tokens stays alive.
        let winners: Vec<&Value> = [(status_a, &body_a), (status_b, &body_b)]
            .into_iter()
            .filter(|(status, _)| *status == StatusCode::OK)
            .map(|(_, body)| body)
            .collect();
        assert!(
            winners.len() <= 1,
            "round {round}: {status_a} here, {status_b} in the other process"
        );
        for winner in winners {
            assert_eq!(
                userinfo_status(&a, winner["access_token"].as_str().unwrap())
                    .await
                    .0,
                StatusCode::UNAUTHORIZED,
                "round {round}: revoked after the replay"
            );
        }
    }
    // Authorize here, redeem in the other process; its ID token verifies through this one's JWKS,
    // and its access token works here.
    let code = browser
        .authorize(&authorize_url(&a, "rp-eddsa", &[]), true)
        .await
        .param("code")
        .unwrap();
    let (status, body) = post_form_to(&b.url("/sso/v2/token"), &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(verifies_through_jwks(&a, body["id_token"].as_str().unwrap()).await);
    assert_eq!(
        userinfo_status(&a, body["access_token"].as_str().unwrap())
            .await
            .0,
        StatusCode::OK,
        "a token from the other process works here"
    );

    // Revoked in the other process, the token stops working here too once this process's
    // userinfo cache (`server.userinfo_cache`, 1 s by default) has let go of it: a request sent
    // within 3 s of the revocation may still be answered from the cache, none sent later. (When
    // it is sent counts, not when its answer comes back, which a busy machine may delay.)
    let revoke = reqwest::Client::new()
        .post(b.url("/sso/v2/revoke"))
        .basic_auth("rp-eddsa", Some(RP_SECRET))
        .form(&[("token", body["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::OK);
    let revoked_at = std::time::Instant::now();
    loop {
        let sent_after = revoked_at.elapsed();
        let (status, _) = userinfo_status(&a, body["access_token"].as_str().unwrap()).await;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            sent_after < std::time::Duration::from_secs(3),
            "still answered a request sent {sent_after:?} after another process revoked it"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Redeems a code for `rp-eddsa` at a token endpoint URL.
async fn post_form_to(token_url: &str, code: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(token_url)
        .basic_auth("rp-eddsa", Some(RP_SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn expired_grants_are_swept(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let browser = Browser::new(&server);
    // A spent code, an access token and a refresh token:
    let offline = authorize_url(
        &server,
        "rp-eddsa",
        &[("scope", "openid profile offline_access")],
    );
    let code = browser
        .authorize(&offline, true)
        .await
        .param("code")
        .unwrap();
    let (status, _) = redeem(&server, "rp-eddsa", &code).await;
    assert_eq!(status, StatusCode::OK);
    browser
        .http
        .get(authorize_url(&server, "rp-eddsa", &[("prompt", "consent")]))
        .send()
        .await
        .unwrap(); // pending
    let tables = [
        "pending_authorizations",
        "authorization_codes",
        "access_tokens",
        "refresh_tokens",
    ];
    let counts = || async { table_counts(&server, &tables).await };
    assert_eq!(counts().await, [1, 1, 1, 1]);
    idbridge::sweep::sweep_expired(&server.state).await.unwrap();
    assert_eq!(counts().await, [1, 1, 1, 1], "nothing has expired yet");
    server.clock.advance(3601);
    idbridge::sweep::sweep_expired(&server.state).await.unwrap();
    assert_eq!(
        counts().await,
        [0, 1, 0, 1],
        "the spent code is kept to recognise a late replay"
    );
    server.clock.advance(31 * 86_400);
    idbridge::sweep::sweep_expired(&server.state).await.unwrap();
    assert_eq!(counts().await, [0, 0, 0, 0]);
}

/// Tokens are stored under their issue-time prefix and SHA-256; one stored the earlier way,
/// under its SHA-256 alone, still answers userinfo and introspection and can be revoked.
async fn tokens_stored_before_ordered_keys_still_work(backend: Backend) {
    use idbridge::crypto::{ordered_token_key, random_token, sha256_hex};
    use sea_orm::ConnectionTrait;
    let (_db, server) = provider(backend).await;
    let browser = Browser::new(&server);
    let body = tokens_for(&server, &browser, "rp-rs256").await;
    let issued = body["access_token"].as_str().unwrap();
    let key = ordered_token_key(issued);
    assert_eq!(
        &key[..12],
        &issued[..12],
        "the key starts with the time prefix"
    );
    let db = server.state.store.connection();
    let copy = |key: &str, from: &str| {
        format!(
            "INSERT INTO access_tokens (token_hash, family_id, client_id, user_id, scope, \
             expires_at, revoked_at) SELECT '{key}', family_id, client_id, user_id, scope, \
             expires_at, revoked_at FROM access_tokens WHERE token_hash = '{from}'"
        )
    };
    let earlier = random_token();
    let inserted = db
        .execute_unprepared(&copy(&sha256_hex(&earlier), &key))
        .await
        .unwrap();
    assert_eq!(
        inserted.rows_affected(),
        1,
        "the issued token is stored under {key}"
    );

    assert_eq!(userinfo_status(&server, &earlier).await.0, StatusCode::OK);
    let (_, introspected) = post_form(
        &server,
        "/sso/v2/introspect",
        &[("token", &earlier)],
        Some(("rp-rs256", RP_SECRET)),
    )
    .await;
    assert_eq!(introspected["active"], true);
    let (status, _) = post_form(
        &server,
        "/sso/v2/revoke",
        &[("token", &earlier)],
        Some(("rp-rs256", RP_SECRET)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        userinfo_status(&server, &earlier).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        userinfo_status(&server, issued).await.0,
        StatusCode::OK,
        "the other token is untouched"
    );
    // A token of the new shape whose prefix is altered finds nothing.
    let altered = format!("{:012x}{}", 1, &issued[12..]);
    assert_eq!(
        userinfo_status(&server, &altered).await.0,
        StatusCode::UNAUTHORIZED
    );
}

async fn table_counts(server: &TestServer, tables: &[&str]) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in tables {
        counts.push(server.count(table).await);
    }
    counts
}

crate::backend_tests!(
    expired_grants_are_swept,
    discovery_names_every_endpoint,
    legacy_paths_redirect_permanently,
    session_tracker_answers_registered_origins_only,
    form_post_posts_the_code_to_the_client,
    prompt_login_and_max_age_ask_for_the_password_again,
    only_a_login_for_the_request_answers_prompt_login_and_max_age,
    consent_is_remembered_until_withdrawn,
    account_lists_sessions_and_ends_another_one,
    client_credentials_and_introspection,
    a_public_client_uses_pkce_and_no_secret,
    key_rotation_keeps_old_tokens_valid,
    the_demo_client_shows_claims_and_userinfo,
    two_processes_share_one_database,
    tokens_stored_before_ordered_keys_still_work,
);
