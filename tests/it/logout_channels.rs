//! OpenID Connect Back-Channel Logout 1.0 driven end to end: clients registered for it get one
//! signed logout token each, through the outbox, when a session they got a code in ends (logout,
//! the account page, another person signing in at the browser), retried until acknowledged,
//! without holding up the person's logout; the session's tokens are revoked with it. And
//! Front-Channel Logout 1.0: the sign-out answers with a page that frames each registered
//! client's logout page (the browser suite walks it in Chromium).
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tokio::net::TcpListener;

use crate::oidc::{Browser, PROVIDER_CONFIG, RP_SECRET, authorize_url, post_form, redeem};
use crate::support::*;

pub(crate) const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// How the receiver answers one logout token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    Accept,
    Fail,
    Hang,
}

/// A client's back-channel logout endpoint on 127.0.0.1: records every `logout_token` posted to
/// it, with the answer it gave.
#[derive(Clone)]
pub(crate) struct Receiver {
    pub(crate) url: String,
    got: Arc<Mutex<Vec<(String, Answer)>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
}

impl Receiver {
    pub(crate) async fn start(first: &[Answer]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Receiver {
            url: format!("http://{}/backchannel", listener.local_addr().unwrap()),
            got: Arc::default(),
            script: Arc::new(Mutex::new(first.iter().copied().collect())),
        };
        let app = axum::Router::new()
            .route("/backchannel", axum::routing::post(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        receiver
    }

    pub(crate) fn tokens(&self) -> Vec<(String, Answer)> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `count` tokens have come, or fails after 15 seconds.
    pub(crate) async fn wait_for(&self, count: usize) -> Vec<(String, Answer)> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.tokens().len() < count {
            assert!(
                Instant::now() < deadline,
                "{count} logout tokens did not come; got {:?}",
                self.tokens()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.tokens()
    }
}

async fn receive(
    State(receiver): State<Receiver>,
    axum::Form(form): axum::Form<std::collections::HashMap<String, String>>,
) -> StatusCode {
    let answer = receiver
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Answer::Accept);
    let token = form.get("logout_token").cloned().unwrap_or_default();
    receiver.got.lock().unwrap().push((token, answer));
    match answer {
        Answer::Accept => StatusCode::OK,
        Answer::Fail => StatusCode::SERVICE_UNAVAILABLE,
        Answer::Hang => std::future::pending().await,
    }
}

/// Two clients registered for back-channel logout (EdDSA and HS256 ID tokens) beside the
/// provider tests' clients, which are not.
fn config(receiver: &Receiver) -> String {
    let url = &receiver.url;
    format!(
        r#"{BASE_CONFIG}{PROVIDER_CONFIG}
[[clients]]
client_id = "bcl-eddsa"
client_secret = "env:RP_SECRET"
redirect_uris = ["https://rp.example.com/callback"]
allowed_scopes = ["openid", "profile", "email", "offline_access"]
id_token_alg = "EdDSA"
backchannel_logout_uri = "{url}"
backchannel_logout_session_required = true

[[clients]]
client_id = "bcl-hs256"
client_secret = "env:RP_SECRET"
redirect_uris = ["https://rp.example.com/callback"]
allowed_scopes = ["openid", "profile", "email", "offline_access"]
id_token_alg = "HS256"
backchannel_logout_uri = "{url}"

[[clients]]
client_id = "fcl"
client_secret = "env:RP_SECRET"
redirect_uris = ["https://rp.example.com/callback"]
post_logout_redirect_uris = ["https://rp.example.com/bye"]
allowed_scopes = ["openid", "profile", "email", "offline_access"]
frontchannel_logout_uri = "https://rp.example.com/frontchannel?tenant=1"
frontchannel_logout_session_required = true

[[clients]]
client_id = "fcl-plain"
client_secret = "env:RP_SECRET"
redirect_uris = ["https://rp.example.com/callback"]
allowed_scopes = ["openid", "profile", "email", "offline_access"]
frontchannel_logout_uri = "https://other.example.org/signed-out"

[[users]]
id = "u-bob"
email = "bob@example.com"
name = "Bob"
password = "{ALICE_PASSWORD}"
"#
    )
}

async fn start(
    backend: Backend,
    receiver: &Receiver,
    clock: idbridge::Clock,
) -> (TestDb, TestServer) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, &config(receiver), clock, &[("RP_SECRET", RP_SECRET)])
        .await
        .unwrap();
    (db, server)
}

/// Tokens a client got in the browser's session: the ID token's claims and the token answer.
async fn tokens_for(server: &TestServer, browser: &Browser<'_>, client_id: &str) -> (Value, Value) {
    let url = authorize_url(
        server,
        client_id,
        &[("scope", "openid profile offline_access")],
    );
    let code = browser
        .authorize(&url, true)
        .await
        .param("code")
        .expect("a code");
    let (status, tokens) = redeem(server, client_id, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    (claims(tokens["id_token"].as_str().unwrap()), tokens)
}

pub(crate) fn claims(token: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode_claims::<Value>(token).unwrap()
}

/// A logout token verified as a client does (Back-Channel Logout 1.0, section 2.6): typed,
/// signed for it, from this issuer, for it; its claims.
pub(crate) async fn verified(server: &TestServer, token: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let audience = claims(token)["aud"].as_str().unwrap().to_string();
    let key = if header.alg == Algorithm::HS256 {
        assert_eq!(audience, "bcl-hs256");
        DecodingKey::from_secret(RP_SECRET.as_bytes())
    } else {
        let jwks: JwkSet = reqwest::get(server.url("/sso/v2/jwks"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        DecodingKey::from_jwk(jwks.find(header.kid.as_deref().unwrap()).unwrap()).unwrap()
    };
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[&audience]);
    validation.set_issuer(&[&server.base]);
    validation.set_required_spec_claims(&["iss", "aud", "iat", "exp"]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("a logout token signed for its client")
        .claims;
    assert_eq!(claims["events"][EVENT], serde_json::json!({}));
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 20));
    assert!(claims.get("nonce").is_none(), "a logout token has no nonce");
    claims
}

async fn refresh_status(server: &TestServer, client_id: &str, tokens: &Value) -> StatusCode {
    post_form(
        server,
        "/sso/v2/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
        Some((client_id, RP_SECRET)),
    )
    .await
    .0
}

/// Signs the browser out with the account page's form.
async fn sign_out(server: &TestServer, browser: &Browser<'_>) {
    let csrf = server.csrf_token(&browser.http, "/account").await;
    let response = browser
        .http
        .post(server.url("/sso/v2/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_continues(&response);
    assert!(
        set_cookie(&response, "idbridge_session").is_some(),
        "the cookie is cleared"
    );
}

/// Signs `email` in at a browser that is signed in already (the form `prompt=login` shows).
async fn sign_in_again(server: &TestServer, browser: &Browser<'_>, email: &str) {
    let csrf = server.csrf_token(&browser.http, "/account").await;
    let response = browser
        .http
        .post(server.url("/sso/v2/login"))
        .form(&[
            ("email", email),
            ("password", ALICE_PASSWORD),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert!(cookie_value(&response, "idbridge_session").is_some_and(|v| !v.is_empty()));
}

crate::backend_tests!(
    a_logout_frames_each_front_channel_page_then_moves_on,
    a_logout_tells_each_client_of_the_session_once,
    a_client_that_fails_is_told_again_and_a_hung_one_holds_up_no_one,
    a_session_ends_on_the_account_page_or_at_another_persons_login_not_at_a_fresh_one,
    an_expired_session_is_told_and_its_offline_tokens_live_on,
);

async fn a_logout_frames_each_front_channel_page_then_moves_on(backend: Backend) {
    let receiver = Receiver::start(&[]).await;
    let (_db, server) = start(backend, &receiver, idbridge::Clock::system()).await;
    let browser = Browser::new(&server);
    let (id_token, tokens) = tokens_for(&server, &browser, "fcl").await;
    tokens_for(&server, &browser, "fcl-plain").await;
    tokens_for(&server, &browser, "rp-eddsa").await;
    let sid = id_token["sid"].as_str().unwrap();
    let mut logout = url::Url::parse(&server.url("/sso/v2/logout")).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap())
        .append_pair("post_logout_redirect_uri", "https://rp.example.com/bye")
        .append_pair("state", "st-bye");
    let response = browser.http.get(logout.as_str()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bye = "https://rp.example.com/bye?state=st-bye";
    assert_eq!(
        response.headers()["refresh"],
        format!("3;url={bye}").as_str()
    );
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        policy.ends_with("; frame-src https://rp.example.com https://other.example.org")
            || policy.ends_with("; frame-src https://other.example.org https://rp.example.com"),
        "{policy}"
    );
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(
        set_cookie(&response, "idbridge_session").is_some(),
        "signed out"
    );
    let page = response.text().await.unwrap();
    let document = scraper::Html::parse_document(&page);
    let frames = scraper::Selector::parse("iframe.frontchannel").unwrap();
    let mut sources: Vec<String> = document
        .select(&frames)
        .map(|frame| frame.value().attr("src").unwrap().to_string())
        .collect();
    sources.sort();
    let iss = url::form_urlencoded::byte_serialize(server.base.as_bytes()).collect::<String>();
    assert_eq!(
        sources,
        [
            "https://other.example.org/signed-out".to_string(),
            format!("https://rp.example.com/frontchannel?tenant=1&iss={iss}&sid={sid}"),
        ]
    );
    let next = scraper::Selector::parse("#continue").unwrap();
    let link = document.select(&next).next().unwrap().value().attr("href");
    assert_eq!(link, Some(bye));

    // A sign-out with no front-channel client to tell moves on at once, as before.
    let other = Browser::new(&server);
    let (_, tokens) = tokens_for(&server, &other, "rp-eddsa").await;
    let mut logout = url::Url::parse(&server.url("/sso/v2/logout")).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap());
    let response = other.http.get(logout.as_str()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response).as_deref(), Some("/sso/v2/login"));
}

async fn a_logout_tells_each_client_of_the_session_once(backend: Backend) {
    let receiver = Receiver::start(&[]).await;
    let (_db, server) = start(backend, &receiver, idbridge::Clock::system()).await;
    let discovery: Value = reqwest::get(server.url("/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["backchannel_logout_supported"], true);
    assert_eq!(discovery["backchannel_logout_session_supported"], true);

    let browser = Browser::new(&server);
    let (eddsa, eddsa_tokens) = tokens_for(&server, &browser, "bcl-eddsa").await;
    tokens_for(&server, &browser, "bcl-eddsa").await;
    let (hs256, hs256_tokens) = tokens_for(&server, &browser, "bcl-hs256").await;
    let (_, other_tokens) = tokens_for(&server, &browser, "rp-eddsa").await;
    assert_eq!(eddsa["sid"], hs256["sid"], "one session");
    assert!(
        receiver.tokens().is_empty(),
        "nothing told before the logout"
    );

    sign_out(&server, &browser).await;
    let got = receiver.wait_for(2).await;
    // Another poll of the outbox or two: no client hears of the session twice.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(receiver.tokens().len(), 2, "one token per client");
    let mut audiences = Vec::new();
    for (token, _) in &got {
        let claims = verified(&server, token).await;
        assert_eq!(claims["sid"], eddsa["sid"]);
        assert_eq!(claims["sub"], eddsa["sub"]);
        audiences.push(claims["aud"].as_str().unwrap().to_string());
    }
    audiences.sort();
    assert_eq!(audiences, ["bcl-eddsa", "bcl-hs256"]);

    // What the session gave every client is revoked, back-channel or not.
    for (client, tokens) in [
        ("bcl-eddsa", &eddsa_tokens),
        ("bcl-hs256", &hs256_tokens),
        ("rp-eddsa", &other_tokens),
    ] {
        assert_eq!(
            refresh_status(&server, client, tokens).await,
            StatusCode::BAD_REQUEST,
            "{client}'s refresh token"
        );
        let access = tokens["access_token"].as_str().unwrap();
        assert_eq!(
            crate::oidc::userinfo_status(&server, access).await.0,
            StatusCode::UNAUTHORIZED,
            "{client}'s access token"
        );
    }
}

async fn a_client_that_fails_is_told_again_and_a_hung_one_holds_up_no_one(backend: Backend) {
    // A receiver that never answers: the person's logout does not wait for it.
    let hung = Receiver::start(&[Answer::Hang]).await;
    let (_db, server) = start(backend, &hung, idbridge::Clock::system()).await;
    let browser = Browser::new(&server);
    tokens_for(&server, &browser, "bcl-eddsa").await;
    let started = Instant::now();
    sign_out(&server, &browser).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    hung.wait_for(1).await;

    // A receiver that fails first is told again, with the same jti, after the backoff.
    let failing = Receiver::start(&[Answer::Fail]).await;
    let clock = idbridge::Clock::system();
    let (_db, server) = start(backend, &failing, clock.clone()).await;
    let browser = Browser::new(&server);
    let (id_token, _) = tokens_for(&server, &browser, "bcl-eddsa").await;
    sign_out(&server, &browser).await;
    failing.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(failing.tokens().len(), 1, "not again before the backoff");
    clock.advance(31);
    let got = failing.wait_for(2).await;
    assert_eq!(got[0].1, Answer::Fail);
    assert_eq!(got[1].1, Answer::Accept);
    let (first, second) = (claims(&got[0].0), verified(&server, &got[1].0).await);
    assert_eq!(first["jti"], second["jti"], "the same logout, told again");
    assert_eq!(second["sid"], id_token["sid"]);
}

async fn a_session_ends_on_the_account_page_or_at_another_persons_login_not_at_a_fresh_one(
    backend: Backend,
) {
    let receiver = Receiver::start(&[]).await;
    let (_db, server) = start(backend, &receiver, idbridge::Clock::system()).await;
    let browser = Browser::new(&server);
    let (first, _) = tokens_for(&server, &browser, "bcl-eddsa").await;
    // Alice signs in again (as `prompt=login` asks): the same session to the client.
    sign_in_again(&server, &browser, ALICE_EMAIL).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(receiver.tokens().is_empty(), "{:?}", receiver.tokens());

    // Ended from the account page of another of her browsers.
    let other = server.client();
    server.login(&other, ALICE_EMAIL, ALICE_PASSWORD).await;
    let page = page_text(&other, server.url("/account")).await;
    let csrf = form_value(&page, "csrf").unwrap();
    let now = server.clock.now();
    let sessions = server
        .state
        .store
        .sessions_of("u-alice", now)
        .await
        .unwrap();
    let first_browser = sessions
        .iter()
        .find(|s| s.sid == first["sid"].as_str().unwrap())
        .expect("the first browser's session");
    let ended = other
        .post(server.url("/account/sessions/end"))
        .form(&[("csrf", csrf.as_str()), ("session", &first_browser.id_hash)])
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    let got = receiver.wait_for(1).await;
    assert_eq!(verified(&server, &got[0].0).await["sid"], first["sid"]);

    // Bob signs in at the browser where Alice's other session is: hers ends.
    let (second, _) = tokens_for(&server, &Browser::new(&server), "bcl-eddsa").await;
    let bobs = Browser::new(&server);
    tokens_for(&server, &bobs, "bcl-eddsa").await;
    sign_in_again(&server, &bobs, "bob@example.com").await;
    let got = receiver.wait_for(2).await;
    let told = verified(&server, &got[1].0).await;
    assert_ne!(
        told["sid"], second["sid"],
        "the session of another browser lives on"
    );
    assert_eq!(told["sub"], first["sub"]);
    assert_eq!(receiver.tokens().len(), 2);
}

async fn an_expired_session_is_told_and_its_offline_tokens_live_on(backend: Backend) {
    let receiver = Receiver::start(&[]).await;
    let clock = idbridge::Clock::system();
    let (_db, server) = start(backend, &receiver, clock.clone()).await;
    let browser = Browser::new(&server);
    let (id_token, tokens) = tokens_for(&server, &browser, "bcl-eddsa").await;

    idbridge::sweep::sweep_expired(&server.state).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(receiver.tokens().is_empty(), "a live session is not told");

    // Past the session's lifetime (8 hours by default), the sweep ends it.
    clock.advance(8 * 3600 + 1);
    idbridge::sweep::sweep_expired(&server.state).await.unwrap();
    let got = receiver.wait_for(1).await;
    let claims = verified(&server, &got[0].0).await;
    assert_eq!(claims["sid"], id_token["sid"]);
    assert_eq!(claims["sub"], id_token["sub"]);
    idbridge::sweep::sweep_expired(&server.state).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.tokens().len(), 1, "an ended session is told once");

    // offline_access outlives the session: its refresh token still works.
    assert_eq!(
        refresh_status(&server, "bcl-eddsa", &tokens).await,
        StatusCode::OK
    );
}
