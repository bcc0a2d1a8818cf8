//! Upstream OpenID Connect connections, against a real upstream: a second idbridge, running as a
//! process of its own, whose client idbridge is. A relying party logs in at idbridge ("A"), which
//! sends the person to the upstream ("B") and back.
//!
//! To forge what no honest provider sends, a small proxy stands between A and B's token
//! endpoint: it passes B's answer on with the ID token re-signed by keys of its own (published
//! in its JWKS), after changing what the test asks for. An untouched pass through the proxy
//! signs in, so each refusal is the forgery's doing.
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use url::Url;

use crate::oidc::{PROVIDER_CONFIG, RP_SECRET, authorize_url, redeem};
use crate::support::*;

pub(crate) const UPSTREAM_SECRET: &str = "upstream-secret-0123456789abcdefghijklmnop";
pub(crate) const CONNECTION: &str = "partner";

/// B: Alice's home, with A as a client (and A's page for the end of a logout it asks for).
pub(crate) fn upstream_config(callback: &str) -> String {
    upstream_config_with(callback, "")
}

/// [`upstream_config`] with more keys (`more`) of the client A is at B.
pub(crate) fn upstream_config_with(callback: &str, more: &str) -> String {
    let logged_out = callback.replace("/callback", "/logged-out");
    format!(
        r#"{BASE_CONFIG}
[[clients]]
client_id = "bridge"
client_secret = "env:UPSTREAM_SECRET"
redirect_uris = ["{callback}"]
post_logout_redirect_uris = ["{logged_out}"]
allowed_scopes = ["openid", "profile", "email"]
{more}
"#
    )
}

/// A: the relying parties' provider, whose people sign in at `issuer`; `keys` are more keys of
/// the connection (its `domains`), and may be followed by more tables.
fn bridge_config(issuer: &str, timeout: &str, keys: &str) -> String {
    format!(
        "{BASE_CONFIG}{PROVIDER_CONFIG}{}",
        partner_connection(issuer, timeout, keys)
    )
}

/// Connection `partner` at A, whose people sign in at `issuer`; `keys` as in [`bridge_config`].
pub(crate) fn partner_connection(issuer: &str, timeout: &str, keys: &str) -> String {
    format!(
        r#"
[[connections]]
id = "{CONNECTION}"
type = "oidc"
name = "Partner IdP"
entity = "e-div-1"
issuer = "{issuer}"
client_id = "bridge"
client_secret = "env:UPSTREAM_SECRET"
timeout = "{timeout}"
{keys}
"#
    )
}

/// Alice's address at B is of this domain.
pub(crate) const DOMAINS: &str = r#"domains = ["example.com"]"#;

async fn start_bridge(db: &TestDb, issuer: &str, timeout: &str, keys: &str) -> TestServer {
    TestServer::start_with(
        db,
        &bridge_config(issuer, timeout, keys),
        idbridge::Clock::system(),
        &[
            ("RP_SECRET", RP_SECRET),
            ("UPSTREAM_SECRET", UPSTREAM_SECRET),
        ],
    )
    .await
    .unwrap()
}

/// A, B, and the proxy when there is one.
pub(crate) struct Chain {
    pub(crate) a: TestServer,
    _b: ServerProcess,
    pub(crate) b_base: String,
    pub(crate) proxy: Option<Arc<Proxy>>,
    /// Between A and its database, when the test is to cut it.
    pub(crate) database_proxy: Option<DatabaseProxy>,
    _dbs: (TestDb, TestDb),
}

impl Chain {
    /// B answers at `localhost` and A at `127.0.0.1`: cookies are not kept apart by port, so
    /// two hosts keep one browser's two sessions apart, as two domains would.
    pub(crate) async fn start(backend: Backend, via_proxy: bool) -> Chain {
        Chain::start_for(backend, via_proxy, DOMAINS).await
    }

    /// With `keys` for the connection (see [`bridge_config`]).
    async fn start_for(backend: Backend, via_proxy: bool, keys: &str) -> Chain {
        Chain::start_with(backend, via_proxy, keys, "").await
    }

    /// With `keys` for the connection, and `upstream_keys` for A's client at B (where
    /// `{bridge}` stands for A's address).
    pub(crate) async fn start_with(
        backend: Backend,
        via_proxy: bool,
        keys: &str,
        upstream_keys: &str,
    ) -> Chain {
        Chain::start_reaching(backend, via_proxy, keys, upstream_keys, false).await
    }

    /// Through the proxy, with A reaching its PostgreSQL database through a [`DatabaseProxy`].
    pub(crate) async fn start_with_database_proxy() -> Chain {
        Chain::start_reaching(Backend::Postgres, true, DOMAINS, "", true).await
    }

    async fn start_reaching(
        backend: Backend,
        via_proxy: bool,
        keys: &str,
        upstream_keys: &str,
        database_via_proxy: bool,
    ) -> Chain {
        let db_a = TestDb::new(backend).await;
        let database_proxy = if database_via_proxy {
            Some(DatabaseProxy::start(db_a.server_address()).await)
        } else {
            None
        };
        let db_b = TestDb::new(backend).await;
        let b_port = ReservedPort::new();
        let b_issuer = format!("http://localhost:{}", b_port.port);
        let proxy = if via_proxy {
            Some(Proxy::start(&b_issuer).await)
        } else {
            None
        };
        let issuer = proxy.as_ref().map_or(b_issuer.clone(), |p| p.base.clone());
        let a = match &database_proxy {
            Some(database) => {
                start_bridge(&db_a.reached_at(database.address), &issuer, "5s", keys).await
            }
            None => start_bridge(&db_a, &issuer, "5s", keys).await,
        };
        let b = ServerProcess::spawn_on(
            b_port,
            &db_b,
            &upstream_config_with(
                &a.url(&format!("/oidc/{CONNECTION}/callback")),
                &upstream_keys.replace("{bridge}", &a.base),
            ),
            &b_issuer,
            &[("UPSTREAM_SECRET", UPSTREAM_SECRET)],
        )
        .await;
        Chain {
            a,
            _b: b,
            b_base: b_issuer,
            proxy,
            database_proxy,
            _dbs: (db_a, db_b),
        }
    }

    fn tamper(&self, tamper: Tamper) {
        *self.proxy.as_ref().unwrap().tamper.lock().unwrap() = tamper;
    }

    /// Users, sessions and upstream identities at A.
    async fn counts(&self) -> [i64; 3] {
        [
            self.a.count("users").await,
            self.a.count("sessions").await,
            self.a.count("upstream_identities").await,
        ]
    }
}

/// Where a browser's walk ended.
#[derive(Debug)]
pub(crate) enum Landing {
    /// Sent off to another site: the relying party.
    Left(Url),
    /// A page that is not a redirect.
    Page(StatusCode, String),
}

/// What a walk does at B's consent page, and whether it stops before A's callback.
#[derive(Clone, Copy)]
pub(crate) struct Walk {
    allow_at_upstream: bool,
    stop_at_callback: bool,
}

pub(crate) const ALLOW: Walk = Walk {
    allow_at_upstream: true,
    stop_at_callback: false,
};

/// Follows the browser's redirects from `url` through A and B, signing in at B's login page as
/// Alice and answering consent pages, until the browser leaves both or lands on a page.
pub(crate) async fn walk(chain: &Chain, http: &Client, url: &str, how: Walk) -> Landing {
    let own = [
        Url::parse(&chain.a.base).unwrap(),
        Url::parse(&chain.b_base).unwrap(),
    ];
    let is_own = |url: &Url| own.iter().any(|o| o.origin() == url.origin());
    let mut next = Url::parse(url).unwrap();
    for _ in 0..20 {
        if !is_own(&next) {
            return Landing::Left(next);
        }
        if how.stop_at_callback && next.path() == format!("/oidc/{CONNECTION}/callback") {
            return Landing::Left(next);
        }
        let response = http.get(next.as_str()).send().await.unwrap();
        let status = response.status();
        if status != StatusCode::SEE_OTHER {
            let body = response.text().await.unwrap();
            let at_b = next.origin() == own[1].origin();
            next = match next.path() {
                "/sso/v2/login" if at_b && status == StatusCode::OK => {
                    sign_in(http, &next, &body).await
                }
                "/sso/v2/consent" if status == StatusCode::OK => {
                    consent(http, &next, &body, !at_b || how.allow_at_upstream).await
                }
                _ => return Landing::Page(status, body),
            };
            continue;
        }
        next = next.join(&location(&response).unwrap()).unwrap();
    }
    panic!("too many redirects");
}

pub(crate) async fn sign_in(http: &Client, page_url: &Url, page: &str) -> Url {
    let response = http
        .post(page_url.join("/sso/v2/login").unwrap())
        .form(&[
            ("email", ALICE_EMAIL),
            ("password", ALICE_PASSWORD),
            ("csrf", &form_value(page, "csrf").unwrap()),
            ("return_to", &form_value(page, "return_to").unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_continues(&response);
    page_url.join(&location(&response).unwrap()).unwrap()
}

async fn consent(http: &Client, page_url: &Url, page: &str, allow: bool) -> Url {
    let response = http
        .post(page_url.join("/sso/v2/consent").unwrap())
        .form(&[
            ("csrf", form_value(page, "csrf").unwrap().as_str()),
            ("id", &form_value(page, "id").unwrap()),
            ("decision", if allow { "allow" } else { "deny" }),
        ])
        .send()
        .await
        .unwrap();
    assert_continues(&response);
    page_url.join(&location(&response).unwrap()).unwrap()
}

/// An authorization request at A for Alice, whose email domain sends her to B.
pub(crate) fn rp_login(chain: &Chain) -> String {
    authorize_url(&chain.a, "rp-rs256", &[("login_hint", ALICE_EMAIL)])
}

/// Walks the whole chain and redeems the code; the token response.
pub(crate) async fn chained_login(chain: &Chain) -> Value {
    chained_login_in(chain, &chain.a.client()).await
}

/// [`chained_login`] in the browser `http`.
pub(crate) async fn chained_login_in(chain: &Chain, http: &Client) -> Value {
    let Landing::Left(back) = walk(chain, http, &rp_login(chain), ALLOW).await else {
        panic!("the login did not come back to the relying party");
    };
    assert!(back.as_str().starts_with("https://rp.example.com/callback"));
    assert_eq!(param(&back, "state").as_deref(), Some("st-1"));
    let code = param(&back, "code").expect("a code");
    let (status, tokens) = redeem(&chain.a, "rp-rs256", &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

pub(crate) fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

crate::backend_tests!(
    a_chained_login_reaches_the_relying_party,
    forged_id_tokens_sign_no_one_in,
    a_rotated_upstream_key_is_fetched,
    bad_callbacks_sign_no_one_in,
    an_upstream_refusal_reaches_the_waiting_client,
    an_unreachable_upstream_gets_a_page_in_time,
    the_login_page_leads_to_the_connection,
    people_of_other_domains_are_refused,
    unverified_addresses_sign_no_one_in,
    an_authoritative_provider_needs_no_email_verified,
    an_address_another_connection_claims_is_refused,
    an_oversize_userinfo_is_refused,
    oversize_provider_answers_are_refused,
    a_callback_may_land_on_another_process,
    a_callback_is_taken_once_across_processes,
    a_sign_in_that_fails_stores_nothing,
    claims_attach_each_person_where_the_rules_say,
);

/// Groups `east` attach to the merchant, `west` to the PSP; the connection's division takes the
/// rest.
const GROUP_RULES: &str = r#"domains = ["example.com"]
claims = { given_name = "first_name" }

[[connections.entity_rules]]
attribute = "groups"
equals = "east"
entity = "e-mer-1"

[[connections.entity_rules]]
attribute = "groups"
equals = "west"
entity = "e-psp-1"
"#;

async fn claims_attach_each_person_where_the_rules_say(backend: Backend) {
    let chain = Chain::start_for(backend, true, GROUP_RULES).await;
    let attached = |claims: &Value| {
        claims["attached_to"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["entityId"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let login_as = |said: &'static str| {
        chain.tamper(Tamper::Claims(said));
        async {
            let tokens = chained_login(&chain).await;
            userinfo(&chain.a, tokens["access_token"].as_str().unwrap()).await
        }
    };

    let alice = login_as(
        r#"{"groups": ["east"], "first_name": "Alice", "family_name": "Example", "locale": "en-GB"}"#,
    )
    .await;
    assert_eq!(attached(&alice), ["e-mer-1"]);
    assert_eq!(
        alice["given_name"], "Alice",
        "from the claim the connection names"
    );
    assert_eq!(alice["family_name"], "Example");
    assert_eq!(alice["locale"], "en-GB");

    // Another person of the same provider, in a group of the other rule and one of none.
    let bob = login_as(
        r#"{"sub": "bob-at-b", "email": "bob@example.com", "name": "Bob", "groups": ["staff", "west"]}"#,
    )
    .await;
    assert_ne!(bob["sub"], alice["sub"]);
    assert_eq!(attached(&bob), ["e-psp-1"]);
    assert_eq!(bob["given_name"], Value::Null);

    // No group: the connection's entity. Then Alice moves west, and her locale is gone.
    let carol =
        login_as(r#"{"sub": "carol-at-b", "email": "carol@example.com", "groups": "none"}"#).await;
    assert_eq!(attached(&carol), ["e-div-1"]);
    let moved = login_as(r#"{"groups": ["west"], "first_name": "Alice"}"#).await;
    assert_eq!(moved["sub"], alice["sub"]);
    assert_eq!(attached(&moved), ["e-psp-1"]);
    assert_eq!(moved["locale"], Value::Null);
    assert_eq!(chain.a.count("upstream_identities").await, 3);
}

async fn a_chained_login_reaches_the_relying_party(backend: Backend) {
    let chain = Chain::start(backend, false).await;
    let tokens = chained_login(&chain).await;
    let claims = userinfo(&chain.a, tokens["access_token"].as_str().unwrap()).await;
    let sub = claims["sub"].as_str().unwrap().to_string();
    assert_ne!(
        sub, "u-alice",
        "a user of its own, not the local account with her email"
    );
    assert_eq!(
        claims["name"], "Alice Example",
        "the name came from the upstream"
    );
    assert_eq!(
        claims["attached_to"],
        json!([{"path": "/PSPName/DivisionName", "level": "DIVISION", "entityId": "e-div-1"}]),
        "attached to the connection's entity at A, not to B's"
    );
    assert_eq!(jwt_claims(tokens["id_token"].as_str().unwrap())["sub"], sub);
    assert_eq!(chain.a.count("upstream_identities").await, 1);

    // Her next login, in another browser, is the same user at A.
    let again = chained_login(&chain).await;
    let claims = userinfo(&chain.a, again["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["sub"], sub.as_str());
    assert_eq!(chain.a.count("upstream_identities").await, 1);
}

/// The user, its identity and its session are stored together or not at all: a session that
/// cannot be stored leaves no user behind.
async fn a_sign_in_that_fails_stores_nothing(backend: Backend) {
    let chain = Chain::start(backend, false).await;
    let before = chain.counts().await;
    chain.a.refuse_inserts("sessions").await;
    let http = chain.a.client();
    let landing = walk(&chain, &http, &rp_login(&chain), ALLOW).await;
    let Landing::Page(status, _) = landing else {
        panic!("the login should have failed: {landing:?}");
    };
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(chain.counts().await, before, "no user, session or identity");
}

/// How the proxy changes B's ID token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tamper {
    /// Re-signed, unchanged otherwise (with the proxy's own issuer).
    Nothing,
    WrongIssuer,
    WrongAudience,
    Expired,
    WrongNonce,
    /// Signed with a key the proxy never publishes.
    UnknownKey,
    /// `alg: none`, no signature.
    Unsigned,
    /// HS256 with the client secret, though the provider publishes asymmetric keys.
    Hs256WithClientSecret,
    /// Signed with a second key, published only from now on.
    Rotated,
    /// `email_verified: false`, in the ID token and userinfo.
    UnverifiedEmail,
    /// No `email_verified`, in the ID token or userinfo.
    NoEmailVerified,
    /// No `email_verified` in the ID token; userinfo says it.
    VerifiedInUserinfoOnly,
    /// No email in the ID token, and userinfo padded past 64 KiB.
    HugeUserinfo,
    /// No email in the ID token, and userinfo padded to just under 64 KiB.
    LargeUserinfo,
    /// The discovery document, the key set or the token answer padded past 256 KiB.
    HugeDiscovery,
    HugeKeys,
    HugeTokenAnswer,
    /// These claims (a JSON object) set in the ID token: what another IdP would say.
    Claims(&'static str),
}

/// What [`Tamper::HugeDiscovery`] and its kin add to an answer: a member no one reads.
fn pad_past_the_limit(answer: &mut Value) {
    answer["padding"] = json!("x".repeat(256 * 1024));
}

/// The userinfo padding of [`Tamper::HugeUserinfo`] and [`Tamper::LargeUserinfo`].
fn userinfo_padding(tamper: Tamper) -> Option<String> {
    match tamper {
        Tamper::HugeUserinfo => Some("x".repeat(64 * 1024)),
        Tamper::LargeUserinfo => Some("x".repeat(60 * 1024)),
        _ => None,
    }
}

async fn forged_id_tokens_sign_no_one_in(backend: Backend) {
    let chain = Chain::start(backend, true).await;
    chained_login(&chain).await;
    let before = chain.counts().await;
    for tamper in [
        Tamper::WrongIssuer,
        Tamper::WrongAudience,
        Tamper::Expired,
        Tamper::WrongNonce,
        Tamper::UnknownKey,
        Tamper::Unsigned,
        Tamper::Hs256WithClientSecret,
    ] {
        chain.tamper(tamper);
        let http = chain.a.client();
        match walk(&chain, &http, &rp_login(&chain), ALLOW).await {
            Landing::Page(status, body) => {
                assert_eq!(status, StatusCode::BAD_GATEWAY, "{tamper:?}");
                assert_eq!(texts(&body, "h1"), ["Sign-in failed"], "{tamper:?}");
            }
            other => panic!("{tamper:?} was let through: {other:?}"),
        }
        assert_eq!(chain.counts().await, before, "{tamper:?} changed nothing");
    }
    // The same way, untouched, still signs in: the refusals were the forgeries' doing.
    chain.tamper(Tamper::Nothing);
    chained_login(&chain).await;
}

async fn a_rotated_upstream_key_is_fetched(backend: Backend) {
    let chain = Chain::start(backend, true).await;
    chained_login(&chain).await;
    chain.tamper(Tamper::Rotated);
    chained_login(&chain).await;
}

async fn bad_callbacks_sign_no_one_in(backend: Backend) {
    let chain = Chain::start(backend, false).await;
    let callback = chain.a.url(&format!("/oidc/{CONNECTION}/callback"));
    let http = chain.a.client();
    let before = chain.counts().await;
    for query in ["?code=abc", "?state=&code=abc", "?state=made-up&code=abc"] {
        let response = http.get(format!("{callback}{query}")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
    }

    // A genuine callback carried to another browser does nothing there, and is spent.
    let stopped = Walk {
        allow_at_upstream: true,
        stop_at_callback: true,
    };
    let Landing::Left(genuine) = walk(&chain, &http, &rp_login(&chain), stopped).await else {
        panic!("no callback");
    };
    let other_browser = chain.a.client();
    let response = other_browser.get(genuine.as_str()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("meant for another browser")
    );
    assert_eq!(chain.counts().await, before);

    // A callback that worked once does not work again.
    let Landing::Left(genuine) = walk(&chain, &http, &rp_login(&chain), stopped).await else {
        panic!("no callback");
    };
    let first = http.get(genuine.as_str()).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let after_first = chain.counts().await;
    let replay = chain.a.client().get(genuine.as_str()).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    let replay = http.get(genuine.as_str()).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(replay.text().await.unwrap().contains("already used"));
    assert_eq!(chain.counts().await, after_first);
}

async fn an_upstream_refusal_reaches_the_waiting_client(backend: Backend) {
    let chain = Chain::start(backend, false).await;
    let before = chain.counts().await;
    let deny = Walk {
        allow_at_upstream: false,
        stop_at_callback: false,
    };
    let http = chain.a.client();
    let Landing::Left(back) = walk(&chain, &http, &rp_login(&chain), deny).await else {
        panic!("the client was not told");
    };
    assert!(back.as_str().starts_with("https://rp.example.com/callback"));
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&back, "state").as_deref(), Some("st-1"));
    assert_eq!(param(&back, "code"), None);
    assert_eq!(chain.counts().await, before);

    // With no client waiting, the person is told.
    let start = chain
        .a
        .url(&format!("/oidc/{CONNECTION}/login?return_to=/account"));
    match walk(&chain, &chain.a.client(), &start, deny).await {
        Landing::Page(status, body) => {
            assert_eq!(status, StatusCode::FORBIDDEN);
            assert_eq!(texts(&body, "h1"), ["Sign-in refused"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(chain.counts().await, before);
}

async fn an_unreachable_upstream_gets_a_page_in_time(backend: Backend) {
    let db = TestDb::new(backend).await;
    // Accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_issuer = format!("http://{}", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    // Refuses connections: a port held by this test, where nothing listens.
    let closed = ReservedPort::new();
    let closed_issuer = closed.base();
    for issuer in [silent_issuer, closed_issuer] {
        let a = start_bridge(&db, &issuer, "1s", DOMAINS).await;
        let http = a.client();
        let started = Instant::now();
        let response = http
            .get(authorize_url(
                &a,
                "rp-rs256",
                &[("login_hint", ALICE_EMAIL)],
            ))
            .send()
            .await
            .unwrap();
        let start = a.url(&location(&response).unwrap());
        assert!(start.contains("/oidc/partner/login"), "{start}");
        let response = http.get(start).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY, "{issuer}");
        assert_eq!(
            texts(&response.text().await.unwrap(), "h1"),
            ["Sign-in unavailable"]
        );
        // Bounded by the 1 s upstream timeout, not hanging; the margin is for a busy machine.
        let elapsed = started.elapsed();
        assert!(
            elapsed < Duration::from_secs(20),
            "{issuer}: no hang beyond the timeout ({elapsed:?})"
        );
        assert_eq!(a.count("upstream_logins").await, 0);
        a.stop().await;
    }
    held.abort();
    drop(closed);
}

async fn the_login_page_leads_to_the_connection(backend: Backend) {
    let chain = Chain::start(backend, false).await;
    let http = chain.a.client();
    let page = page_text(&http, chain.a.url("/sso/v2/login?return_to=/account")).await;
    assert_eq!(texts(&page, ".connections a"), ["Partner IdP"]);
    // Typing an address of the connection's domain goes there, password or not.
    let csrf = form_value(&page, "csrf").unwrap();
    let response = http
        .post(chain.a.url("/sso/v2/login"))
        .form(&[
            ("email", "Bob@Example.com"),
            ("password", ""),
            ("csrf", &csrf),
            ("return_to", "/account"),
        ])
        .send()
        .await
        .unwrap();
    assert_continues(&response);
    let start = location(&response).unwrap();
    assert!(
        start.starts_with(&format!("/oidc/{CONNECTION}/login?return_to=%2Faccount")),
        "{start}"
    );
    // And from there, through B, to the account page, signed in.
    let landing = walk(&chain, &http, &chain.a.url(&start), ALLOW).await;
    match landing {
        Landing::Page(StatusCode::OK, body) => {
            assert!(body.contains("Alice Example"), "the account page: {body}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(chain.a.count("sessions").await, 1);
}

async fn people_of_other_domains_are_refused(backend: Backend) {
    // Alice is alice@example.com at B, which is not the connection's domain.
    let chain = Chain::start_for(backend, false, r#"domains = ["globex.com"]"#).await;
    let before = chain.counts().await;
    let start = chain
        .a
        .url(&format!("/oidc/{CONNECTION}/login?return_to=/account"));
    match walk(&chain, &chain.a.client(), &start, ALLOW).await {
        Landing::Page(status, body) => {
            assert_eq!(status, StatusCode::FORBIDDEN);
            assert_eq!(texts(&body, "h1"), ["Sign-in refused"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(chain.counts().await, before);
}

/// Goes to B through `/oidc/partner/login` (not by the hint, which another connection may claim);
/// the page the login ends on.
async fn refused_page(chain: &Chain) -> (StatusCode, Vec<String>) {
    let start = chain
        .a
        .url(&format!("/oidc/{CONNECTION}/login?return_to=/account"));
    match walk(chain, &chain.a.client(), &start, ALLOW).await {
        Landing::Page(status, body) => (status, texts(&body, "h1")),
        other => panic!("{other:?}"),
    }
}

/// A provider may let people type any address into their profile: one it does not say it
/// verified (`email_verified` false, or missing from both the ID token and userinfo) could be
/// someone else's, and signs no one in.
async fn unverified_addresses_sign_no_one_in(backend: Backend) {
    let chain = Chain::start(backend, true).await;
    chained_login(&chain).await;
    let before = chain.counts().await;
    for tamper in [Tamper::UnverifiedEmail, Tamper::NoEmailVerified] {
        chain.tamper(tamper);
        assert_eq!(
            refused_page(&chain).await,
            (StatusCode::FORBIDDEN, vec!["Sign-in refused".to_string()]),
            "{tamper:?}"
        );
        assert_eq!(chain.counts().await, before, "{tamper:?} changed nothing");
    }
    // `email_verified` from userinfo counts when the ID token leaves it out.
    chain.tamper(Tamper::VerifiedInUserinfoOnly);
    chained_login(&chain).await;
}

/// A connection whose provider owns its domains takes their addresses without `email_verified`.
async fn an_authoritative_provider_needs_no_email_verified(backend: Backend) {
    let chain = Chain::start_for(
        backend,
        true,
        &format!("{DOMAINS}\nemail_authoritative = true"),
    )
    .await;
    for tamper in [Tamper::UnverifiedEmail, Tamper::NoEmailVerified] {
        chain.tamper(tamper);
        chained_login(&chain).await;
    }
    assert_eq!(chain.a.count("upstream_identities").await, 1);
}

/// A connection without `domains` may not sign in people of a domain another connection lists,
/// verified or not: only that connection's provider speaks for them; nor the holder of a local
/// account.
async fn an_address_another_connection_claims_is_refused(backend: Backend) {
    let other = r#"
[[connections]]
id = "example-saml"
type = "saml"
entity = "e-mer-1"
domains = ["example.com"]
idp_entity_id = "https://idp.example.com"
idp_sso_url = "https://idp.example.com/sso"
idp_certificate = "IDP_CERT"
"#;
    let idp = crate::saml_idp::IdpKey::generate();
    let chain = Chain::start_for(backend, false, &other.replace("IDP_CERT", &idp.cert_b64)).await;
    let before = chain.counts().await;
    assert_eq!(
        refused_page(&chain).await,
        (StatusCode::FORBIDDEN, vec!["Sign-in refused".to_string()])
    );
    assert_eq!(chain.counts().await, before, "nothing stored");
    // Without the other connection, the address is still Alice's local account at A, which a
    // connection without `domains` may not take over (`upstream_saml` shows such a connection
    // signing in an address no one holds).
    let open = Chain::start_for(backend, false, "").await;
    let before = open.counts().await;
    assert_eq!(
        refused_page(&open).await,
        (StatusCode::FORBIDDEN, vec!["Sign-in refused".to_string()])
    );
    assert_eq!(open.counts().await, before, "nothing stored");
    // With the domain listed, the connection speaks for it and signs Alice in.
    let owner = Chain::start_for(backend, false, DOMAINS).await;
    let (status, _) = refused_page(&owner).await;
    assert_eq!(status, StatusCode::OK, "the account page");
}

/// A provider whose userinfo answer is larger than 64 KiB is refused before the answer fills
/// memory.
async fn an_oversize_userinfo_is_refused(backend: Backend) {
    let chain = Chain::start(backend, true).await;
    chained_login(&chain).await;
    let before = chain.counts().await;
    chain.tamper(Tamper::HugeUserinfo);
    assert_eq!(
        refused_page(&chain).await,
        (StatusCode::BAD_GATEWAY, vec!["Sign-in failed".to_string()])
    );
    assert_eq!(chain.counts().await, before);
    // Just under the limit, the same answer signs in.
    chain.tamper(Tamper::LargeUserinfo);
    chained_login(&chain).await;
}

/// A discovery document, key set or token answer larger than 256 KiB is refused before it fills
/// memory (openidconnect would read any size), and signs no one in; the same provider answering
/// in bounds signs in. Discovery is cached once it works, so the huge ones come first.
async fn oversize_provider_answers_are_refused(backend: Backend) {
    let chain = Chain::start(backend, true).await;
    let before = chain.counts().await;
    for tamper in [
        Tamper::HugeDiscovery,
        Tamper::HugeKeys,
        Tamper::HugeTokenAnswer,
    ] {
        chain.tamper(tamper);
        assert_eq!(
            refused_page(&chain).await,
            (StatusCode::BAD_GATEWAY, vec!["Sign-in failed".to_string()]),
            "{tamper:?}"
        );
        assert_eq!(chain.counts().await, before, "{tamper:?} changed nothing");
    }
    chain.tamper(Tamper::Nothing);
    chained_login(&chain).await;
}

/// A chain with a second process of A on A's database, and a login walked up to A's callback
/// in `http`, not yet taken: the callback's path and query.
async fn callback_beside_a_second_process(
    backend: Backend,
) -> (Chain, ServerProcess, Client, String) {
    let chain = Chain::start(backend, false).await;
    let second = ServerProcess::spawn(
        &chain._dbs.0,
        &bridge_config(&chain.b_base, "5s", DOMAINS),
        &chain.a.base,
        &[
            ("RP_SECRET", RP_SECRET),
            ("UPSTREAM_SECRET", UPSTREAM_SECRET),
        ],
    )
    .await;
    let http = chain.a.client();
    let stopped = Walk {
        allow_at_upstream: true,
        stop_at_callback: true,
    };
    let Landing::Left(callback) = walk(&chain, &http, &rp_login(&chain), stopped).await else {
        panic!("no callback");
    };
    let path = format!("{}?{}", callback.path(), callback.query().unwrap());
    (chain, second, http, path)
}

/// The login starts at one idbridge process and comes back to another on the same database.
async fn a_callback_may_land_on_another_process(backend: Backend) {
    let (chain, second, http, path) = callback_beside_a_second_process(backend).await;
    let response = http.get(second.url(&path)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let resume = location(&response).unwrap();
    assert!(
        resume.starts_with("/sso/v2/authorize/resume?id="),
        "{resume}"
    );
    let Landing::Left(back) = walk(&chain, &http, &chain.a.url(&resume), ALLOW).await else {
        panic!("the login did not come back to the relying party");
    };
    let code = param(&back, "code").expect("a code");
    let (status, _) = redeem(&chain.a, "rp-rs256", &code).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(chain.a.count("upstream_identities").await, 1);
}

/// The same callback, brought 20 times at once by the browser that started the login, to A and
/// to a second process of A: one signs in, the rest are refused.
async fn a_callback_is_taken_once_across_processes(backend: Backend) {
    let (chain, second, http, path) = callback_beside_a_second_process(backend).await;
    let results = crate::races::race([&chain.a.base, &second.base], |base| {
        http.get(format!("{base}{path}"))
    })
    .await;
    let (resume, _) =
        crate::races::the_winner(&results, StatusCode::SEE_OTHER, StatusCode::BAD_REQUEST);
    assert!(
        resume.unwrap().starts_with("/sso/v2/authorize/resume?id="),
        "the winner resumes the authorization"
    );
    assert_eq!(chain.a.count("sessions").await, 1, "one session");
    assert_eq!(chain.a.count("upstream_identities").await, 1);
}

/// The tampering proxy: discovery and keys of its own, B's token endpoint behind it.
pub(crate) struct Proxy {
    pub(crate) base: String,
    upstream: String,
    tamper: Mutex<Tamper>,
    /// Published from the start, published after a rotation, never published.
    keys: [ProxyKey; 3],
    http: Client,
    /// The ID token it last passed on, as B made it and as it forged it.
    pub(crate) passed: Mutex<Option<(Value, String)>>,
}

struct ProxyKey {
    kid: &'static str,
    encoding: EncodingKey,
    jwk: Value,
}

impl ProxyKey {
    fn generate(kid: &'static str) -> ProxyKey {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let key = ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng);
        let pem = key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        ProxyKey {
            kid,
            encoding: EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
            jwk: json!({
                "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": kid,
                "x": URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()),
            }),
        }
    }
}

impl Proxy {
    async fn start(upstream: &str) -> Arc<Proxy> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Arc::new(Proxy {
            base: format!("http://{}", listener.local_addr().unwrap()),
            upstream: upstream.to_string(),
            tamper: Mutex::new(Tamper::Nothing),
            keys: [
                ProxyKey::generate("proxy-1"),
                ProxyKey::generate("proxy-2"),
                ProxyKey::generate("proxy-3"),
            ],
            http: Client::new(),
            passed: Mutex::new(None),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(proxy_discovery))
            .route("/jwks", get(proxy_jwks))
            .route("/token", post(proxy_token))
            .route("/userinfo", get(proxy_userinfo))
            .with_state(proxy.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        proxy
    }

    fn tamper(&self) -> Tamper {
        *self.tamper.lock().unwrap()
    }

    /// B's ID token as the proxy passes it on.
    fn forge(&self, id_token: &str) -> String {
        let tamper = self.tamper();
        let mut claims = jwt_claims(id_token);
        claims["iss"] = json!(self.base);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        match tamper {
            Tamper::WrongIssuer => claims["iss"] = json!("https://evil.example.com"),
            Tamper::WrongAudience => claims["aud"] = json!("someone-else"),
            Tamper::Expired => {
                claims["iat"] = json!(now - 7200);
                claims["exp"] = json!(now - 3600);
            }
            Tamper::WrongNonce => claims["nonce"] = json!("not-the-nonce"),
            Tamper::UnverifiedEmail => claims["email_verified"] = json!(false),
            Tamper::NoEmailVerified | Tamper::VerifiedInUserinfoOnly => {
                claims.as_object_mut().unwrap().remove("email_verified");
            }
            Tamper::HugeUserinfo | Tamper::LargeUserinfo => {
                claims.as_object_mut().unwrap().remove("email");
            }
            Tamper::Claims(said) => {
                let said: Value = serde_json::from_str(said).unwrap();
                for (name, value) in said.as_object().unwrap() {
                    claims[name] = value.clone();
                }
            }
            _ => {}
        }
        let sign_with = |key: usize| self.sign_with(key, key, None, &claims);
        let forged = match tamper {
            Tamper::Unsigned => format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            ),
            Tamper::Hs256WithClientSecret => jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims,
                &EncodingKey::from_secret(UPSTREAM_SECRET.as_bytes()),
            )
            .unwrap(),
            Tamper::UnknownKey => sign_with(2),
            Tamper::Rotated => sign_with(1),
            _ => sign_with(0),
        };
        *self.passed.lock().unwrap() = Some((jwt_claims(id_token), forged.clone()));
        forged
    }

    /// `claims` signed (EdDSA) with its key `key` under the `kid` of its key `named`, typed
    /// `typ`. Its key 0 is published from the start, 1 after a rotation, 2 never.
    pub(crate) fn sign_with(
        &self,
        key: usize,
        named: usize,
        typ: Option<&str>,
        claims: &Value,
    ) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.keys[named].kid.to_string());
        header.typ = typ.map(str::to_string);
        jsonwebtoken::encode(&header, claims, &self.keys[key].encoding).unwrap()
    }
}

async fn proxy_discovery(State(proxy): State<Arc<Proxy>>) -> axum::Json<Value> {
    let mut metadata: Value = proxy
        .http
        .get(format!(
            "{}/.well-known/openid-configuration",
            proxy.upstream
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    metadata["issuer"] = json!(proxy.base);
    metadata["jwks_uri"] = json!(format!("{}/jwks", proxy.base));
    metadata["token_endpoint"] = json!(format!("{}/token", proxy.base));
    metadata["userinfo_endpoint"] = json!(format!("{}/userinfo", proxy.base));
    // As many providers do, it says it also signs with HS256 (for clients that ask for it) and
    // even `none`: neither may be accepted from it for a client that did not ask.
    metadata["id_token_signing_alg_values_supported"] = json!(["EdDSA", "HS256", "none"]);
    if proxy.tamper() == Tamper::HugeDiscovery {
        pad_past_the_limit(&mut metadata);
    }
    axum::Json(metadata)
}

async fn proxy_jwks(State(proxy): State<Arc<Proxy>>) -> axum::Json<Value> {
    let published = if proxy.tamper() == Tamper::Rotated {
        2
    } else {
        1
    };
    let keys: Vec<&Value> = proxy.keys[..published].iter().map(|k| &k.jwk).collect();
    let mut set = json!({ "keys": keys });
    if proxy.tamper() == Tamper::HugeKeys {
        pad_past_the_limit(&mut set);
    }
    axum::Json(set)
}

async fn proxy_token(
    State(proxy): State<Arc<Proxy>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, axum::Json<Value>) {
    let mut request = proxy
        .http
        .post(format!("{}/sso/v2/token", proxy.upstream))
        .body(body);
    for name in ["authorization", "content-type", "accept"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value.to_str().unwrap());
        }
    }
    let response = request.send().await.unwrap();
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
    let mut answer: Value = response.json().await.unwrap();
    if let Some(id_token) = answer["id_token"].as_str().map(str::to_string) {
        answer["id_token"] = json!(proxy.forge(&id_token));
    }
    if proxy.tamper() == Tamper::HugeTokenAnswer {
        pad_past_the_limit(&mut answer);
    }
    (status, axum::Json(answer))
}

/// B's userinfo, changed as the tampering asks.
async fn proxy_userinfo(State(proxy): State<Arc<Proxy>>, headers: HeaderMap) -> String {
    let mut request = proxy
        .http
        .get(format!("{}/sso/v2/userinfo", proxy.upstream));
    if let Some(value) = headers.get("authorization") {
        request = request.header("authorization", value.to_str().unwrap());
    }
    let mut answer: Value = request.send().await.unwrap().json().await.unwrap();
    let tamper = proxy.tamper();
    match tamper {
        Tamper::UnverifiedEmail => answer["email_verified"] = json!(false),
        Tamper::NoEmailVerified => {
            answer.as_object_mut().unwrap().remove("email_verified");
        }
        _ => {}
    }
    if let Some(padding) = userinfo_padding(tamper) {
        answer["padding"] = json!(padding);
    }
    answer.to_string()
}
