//! Upstream single logout over OpenID Connect, both ways, between two idbridge instances chained
//! as in `upstream_oidc` (A, the relying parties' provider, signs people in at B):
//! - a sign-out at A goes through B's `end_session_endpoint` (RP-Initiated Logout 1.0) with the
//!   ID token B gave A as `id_token_hint`, and comes back to A's `/oidc/{c}/logged-out`;
//! - a sign-out at B reaches A by B's back-channel logout token (Back-Channel Logout 1.0), which
//!   ends the session at A and, through A's outbox, tells A's own clients.
//!
//! Forged tokens are signed by the tampering proxy of `upstream_oidc`, whose keys A trusts when
//! the connection goes through it: an untouched token signed the same way ends the session, so
//! each refusal is the forgery's doing.
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use url::Url;

use crate::logout_channels::{EVENT, Receiver, verified};
use crate::oidc::{authorize_url, redeem};
use crate::support::*;
use crate::upstream_oidc::{
    ALLOW, CONNECTION, Chain, DOMAINS, Landing, chained_login_in, jwt_claims, rp_login, walk,
};

crate::backend_tests!(
    a_logout_at_the_bridge_ends_the_upstream_session_too,
    a_logout_at_the_upstream_reaches_the_bridge_and_its_clients,
    forged_logout_tokens_end_nothing,
    a_logged_out_answer_is_taken_once,
);

/// Follows redirects from `url` with `http` while they stay at A or B; where it stopped and how
/// the last answer began.
async fn follow(chain: &Chain, http: &Client, url: &str) -> (Url, StatusCode) {
    let own = [
        Url::parse(&chain.a.base).unwrap(),
        Url::parse(&chain.b_base).unwrap(),
    ];
    let mut next = Url::parse(url).unwrap();
    for _ in 0..20 {
        if !own.iter().any(|o| o.origin() == next.origin()) {
            return (next, StatusCode::SEE_OTHER);
        }
        let response = http.get(next.as_str()).send().await.unwrap();
        let Some(to) = location(&response).filter(|_| response.status().is_redirection()) else {
            return (next, response.status());
        };
        next = next.join(&to).unwrap();
    }
    panic!("too many redirects");
}

/// Whether a login at A in `http` needs Alice's password at B: B's login page, rather than a
/// code for the relying party at once.
async fn asks_for_login_at_b(chain: &Chain, http: &Client) -> bool {
    asks_for_login_at_b_for(chain, http, &rp_login(chain)).await
}

/// [`asks_for_login_at_b`] for the authorization request `url` at A.
async fn asks_for_login_at_b_for(chain: &Chain, http: &Client, url: &str) -> bool {
    let (at, status) = follow(chain, http, url).await;
    if at.as_str().starts_with(&chain.b_base) && at.path() == "/sso/v2/login" {
        assert_eq!(status, StatusCode::OK);
        return true;
    }
    assert!(
        at.as_str()
            .starts_with("https://rp.example.com/callback?code="),
        "{at}"
    );
    false
}

/// A's sign-out as the relying party asks for it, with its ID token as hint.
fn rp_logout(chain: &Chain, tokens: &Value) -> String {
    let mut logout = Url::parse(&chain.a.url("/sso/v2/logout")).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap())
        .append_pair("post_logout_redirect_uri", "https://rp.example.com/bye")
        .append_pair("state", "st-bye");
    logout.to_string()
}

async fn a_logout_at_the_bridge_ends_the_upstream_session_too(backend: Backend) {
    let chain = Chain::start(backend, false).await;
    let http = chain.a.client();
    let tokens = chained_login_in(&chain, &http).await;
    assert!(
        !asks_for_login_at_b(&chain, &http).await,
        "signed in at both, the browser gets a code at once"
    );
    assert_eq!(chain.a.count("sessions").await, 1);

    let response = http.get(rp_logout(&chain, &tokens)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let to_b = Url::parse(&location(&response).unwrap()).unwrap();
    assert!(
        to_b.as_str()
            .starts_with(&format!("{}/sso/v2/logout?", chain.b_base)),
        "{to_b}"
    );
    let logged_out = chain.a.url(&format!("/oidc/{CONNECTION}/logged-out"));
    assert_eq!(param(&to_b, "client_id").as_deref(), Some("bridge"));
    assert_eq!(
        param(&to_b, "post_logout_redirect_uri").as_deref(),
        Some(logged_out.as_str())
    );
    let hint = jwt_claims(&param(&to_b, "id_token_hint").expect("the ID token B gave A"));
    assert_eq!(hint["iss"], chain.b_base.as_str());
    assert_eq!(hint["aud"], "bridge");
    let state = param(&to_b, "state").expect("a state");
    assert!(state.len() >= 20);
    assert_eq!(
        chain.a.count("sessions").await,
        0,
        "A's session ended first"
    );
    assert_eq!(chain.a.count("upstream_logouts").await, 1);

    // B ends its session at once (the hint is of it) and sends the browser back to A.
    let response = http.get(to_b.as_str()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let back = Url::parse(&location(&response).unwrap()).unwrap();
    assert!(
        back.as_str().starts_with(&format!("{logged_out}?")),
        "{back}"
    );
    assert_eq!(param(&back, "state").as_deref(), Some(state.as_str()));
    let response = http.get(back.as_str()).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&response).as_deref(),
        Some("https://rp.example.com/bye?state=st-bye"),
        "the relying party's registered page, with its state"
    );
    assert_eq!(chain.a.count("upstream_logouts").await, 0);

    // Signed out at both: a new login at A needs the password at B again.
    assert!(asks_for_login_at_b(&chain, &http).await);
    assert_eq!(chain.a.count("sessions").await, 0);
}

/// A's config for the back-channel tests: a client of A registered for back-channel logout at
/// `receiver`, beside the connection's `domains`.
fn with_back_channel_client(receiver: &Receiver) -> String {
    format!(
        r#"{DOMAINS}

[[clients]]
client_id = "rp-bcl"
backchannel_logout_uri = "{}"
# A's outbox tells it when a session it got a code in ends, whoever ended it.
client_secret = "env:RP_SECRET"
redirect_uris = ["https://rp.example.com/callback"]
allowed_scopes = ["openid", "profile", "email"]
"#,
        receiver.url
    )
}

/// A login of `client_id` at A through B in `http`; the claims of A's ID token.
async fn login_of(chain: &Chain, http: &Client, client_id: &str) -> Value {
    let url = authorize_url(&chain.a, client_id, &[("login_hint", ALICE_EMAIL)]);
    let Landing::Left(back) = walk(chain, http, &url, ALLOW).await else {
        panic!("the login did not come back to the relying party");
    };
    let code = param(&back, "code").expect("a code");
    let (status, tokens) = redeem(&chain.a, client_id, &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    jwt_claims(tokens["id_token"].as_str().unwrap())
}

async fn a_logout_at_the_upstream_reaches_the_bridge_and_its_clients(backend: Backend) {
    let receiver = Receiver::start(&[]).await;
    let chain = Chain::start_with(
        backend,
        false,
        &with_back_channel_client(&receiver),
        &format!(r#"backchannel_logout_uri = "{{bridge}}/oidc/{CONNECTION}/backchannel-logout""#),
    )
    .await;
    let http = chain.a.client();
    let signed_in = login_of(&chain, &http, "rp-bcl").await;
    // Alice in another browser: another session at B, and at A.
    let other = chain.a.client();
    let elsewhere = login_of(&chain, &other, "rp-bcl").await;
    assert_ne!(signed_in["sid"], elsewhere["sid"]);
    assert_eq!(chain.a.count("sessions").await, 2);

    // She signs out at B, in the first browser.
    let csrf = csrf_token_at(&chain.b_base, &http, "/account").await;
    let response = http
        .post(format!("{}/sso/v2/logout", chain.b_base))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_continues(&response);

    // B's outbox tells A, and A's tells its client of the session that ended there.
    let got = receiver.wait_for(1).await;
    let told = verified(&chain.a, &got[0].0).await;
    assert_eq!(told["aud"], "rp-bcl");
    assert_eq!(told["sid"], signed_in["sid"]);
    assert_eq!(told["events"][EVENT], json!({}));
    assert_eq!(
        chain.a.count("sessions").await,
        1,
        "the other browser's lives on"
    );
    assert_eq!(
        chain.a.count("saml_assertions").await,
        1,
        "B's jti is spent"
    );
    let again = authorize_url(&chain.a, "rp-bcl", &[("login_hint", ALICE_EMAIL)]);
    assert!(asks_for_login_at_b_for(&chain, &http, &again).await);
    assert!(
        !asks_for_login_at_b_for(&chain, &other, &again).await,
        "the other browser is signed in still"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(receiver.tokens().len(), 1, "told once");
}

/// Claims of a logout token from the proxy for the session B's last ID token started, changed
/// by `change`.
fn logout_claims(chain: &Chain, change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let proxy = chain.proxy.as_ref().unwrap();
    let (b_claims, _) = proxy
        .passed
        .lock()
        .unwrap()
        .clone()
        .expect("an ID token passed");
    let now = chain.a.clock.now();
    let mut claims = json!({
        "iss": proxy.base,
        "aud": "bridge",
        "iat": now,
        "exp": now + 120,
        "jti": idbridge::crypto::random_token(),
        "sub": b_claims["sub"],
        "sid": b_claims["sid"],
        "events": { EVENT: {} },
    });
    change(claims.as_object_mut().unwrap());
    claims
}

/// Posts a back-channel logout form to `path` at A; the status, body and `Cache-Control`.
async fn post_logout_token(chain: &Chain, path: &str, token: &str) -> (StatusCode, Value, String) {
    let response = Client::new()
        .post(chain.a.url(path))
        .form(&[("logout_token", token)])
        .send()
        .await
        .unwrap();
    let status = response.status();
    let cache = response
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        cache,
    )
}

async fn forged_logout_tokens_end_nothing(backend: Backend) {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let chain = Chain::start(backend, true).await;
    chained_login_in(&chain, &chain.a.client()).await;
    let endpoint = format!("/oidc/{CONNECTION}/backchannel-logout");
    let proxy = chain.proxy.clone().unwrap();
    let sign = |claims: &Value| proxy.sign_with(0, 0, Some("logout+jwt"), claims);
    let unchanged = |_: &mut serde_json::Map<String, Value>| {};
    let now = chain.a.clock.now();
    let (_, id_token) = proxy.passed.lock().unwrap().clone().unwrap();
    let forgeries: Vec<(&str, String)> = vec![
        ("alg none", {
            let claims = logout_claims(&chain, unchanged);
            format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"logout+jwt"}"#),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            )
        }),
        ("HS256 with the client secret", {
            let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
            header.typ = Some("logout+jwt".into());
            jsonwebtoken::encode(
                &header,
                &logout_claims(&chain, unchanged),
                &jsonwebtoken::EncodingKey::from_secret(
                    crate::upstream_oidc::UPSTREAM_SECRET.as_bytes(),
                ),
            )
            .unwrap()
        }),
        (
            "an unpublished key",
            proxy.sign_with(2, 2, Some("logout+jwt"), &logout_claims(&chain, unchanged)),
        ),
        (
            "another key under the published kid",
            proxy.sign_with(2, 0, Some("logout+jwt"), &logout_claims(&chain, unchanged)),
        ),
        (
            "a changed payload",
            forged(&sign(&logout_claims(&chain, unchanged))),
        ),
        (
            "wrong iss",
            sign(&logout_claims(&chain, |c| {
                c.insert("iss".into(), json!(chain.b_base));
            })),
        ),
        (
            "wrong aud",
            sign(&logout_claims(&chain, |c| {
                c.insert("aud".into(), json!("someone-else"));
            })),
        ),
        (
            "no events",
            sign(&logout_claims(&chain, |c| {
                c.remove("events");
            })),
        ),
        (
            "another event",
            sign(&logout_claims(&chain, |c| {
                c.insert(
                    "events".into(),
                    json!({"http://schemas.openid.net/event/other": {}}),
                );
            })),
        ),
        (
            "a nonce",
            sign(&logout_claims(&chain, |c| {
                c.insert("nonce".into(), json!("n-1"));
            })),
        ),
        (
            "expired",
            sign(&logout_claims(&chain, |c| {
                c.insert("iat".into(), json!(now - 300));
                c.insert("exp".into(), json!(now - 10));
            })),
        ),
        (
            "no iat",
            sign(&logout_claims(&chain, |c| {
                c.remove("iat");
            })),
        ),
        (
            "issued in the future",
            sign(&logout_claims(&chain, |c| {
                c.insert("iat".into(), json!(now + 600));
                c.insert("exp".into(), json!(now + 720));
            })),
        ),
        (
            "issued long ago, no exp",
            sign(&logout_claims(&chain, |c| {
                c.insert("iat".into(), json!(now - 3600));
                c.remove("exp");
            })),
        ),
        (
            "neither sid nor sub",
            sign(&logout_claims(&chain, |c| {
                c.remove("sid");
                c.remove("sub");
            })),
        ),
        (
            "no jti",
            sign(&logout_claims(&chain, |c| {
                c.remove("jti");
            })),
        ),
        (
            "typed as an access token",
            proxy.sign_with(0, 0, Some("at+jwt"), &logout_claims(&chain, unchanged)),
        ),
        ("the ID token itself", id_token),
        ("not a JWT", "not-a-token".into()),
    ];
    for (what, token) in &forgeries {
        let (status, body, cache) = post_logout_token(&chain, &endpoint, token).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
        assert_eq!(body["error"], "invalid_request", "{what}");
        assert_eq!(cache, "no-store", "{what}");
        assert_eq!(chain.a.count("sessions").await, 1, "{what} ended nothing");
        assert_eq!(
            chain.a.count("saml_assertions").await,
            0,
            "{what} spent nothing"
        );
    }

    // A body past 16 KiB is not read; an unknown connection, or one of another kind, takes
    // nothing.
    let genuine = sign(&logout_claims(&chain, unchanged));
    let padded = format!("{genuine}{}", " ".repeat(17 * 1024));
    let (status, _, _) = post_logout_token(&chain, &endpoint, &padded).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    for elsewhere in [
        "/oidc/nowhere/backchannel-logout",
        "/saml/partner/backchannel-logout",
        "/oidc/local/backchannel-logout",
    ] {
        let (status, body, _) = post_logout_token(&chain, elsewhere, &genuine).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{elsewhere}: {body}");
    }
    assert_eq!(chain.a.count("sessions").await, 1);
    assert_eq!(chain.a.count("saml_assertions").await, 0);

    // The same token, untouched, ends the session: the refusals were the forgeries' doing.
    let by_subject = sign(&logout_claims(&chain, |c| {
        c.remove("sid");
    }));
    let (status, body, cache) = post_logout_token(&chain, &endpoint, &by_subject).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(cache, "no-store");
    assert_eq!(chain.a.count("sessions").await, 0);
    assert_eq!(chain.a.count("saml_assertions").await, 1);

    // Replayed after she signs in again, it ends nothing; a new token (new jti) does.
    chained_login_in(&chain, &chain.a.client()).await;
    assert_eq!(chain.a.count("sessions").await, 1);
    let (status, body, _) = post_logout_token(&chain, &endpoint, &by_subject).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["error_description"],
        "the logout token was used before"
    );
    assert_eq!(chain.a.count("sessions").await, 1, "a replay ends nothing");
    let again = sign(&logout_claims(&chain, |c| {
        c.remove("sid");
    }));
    let (status, _, _) = post_logout_token(&chain, &endpoint, &again).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(chain.a.count("sessions").await, 0);
}

async fn a_logged_out_answer_is_taken_once(backend: Backend) {
    let chain = Chain::start(backend, false).await;
    let http = chain.a.client();
    let tokens = chained_login_in(&chain, &http).await;
    let logged_out = chain.a.url(&format!("/oidc/{CONNECTION}/logged-out"));
    // Answers to no logout of ours: refused, and the browser stays signed in.
    for query in ["", "?state=", "?state=made-up"] {
        let response = http
            .get(format!("{logged_out}{query}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert!(
            set_cookie(&response, "idbridge_session").is_none(),
            "{query}"
        );
        assert_eq!(location(&response), None);
    }
    assert_eq!(chain.a.count("sessions").await, 1);
    assert!(!asks_for_login_at_b(&chain, &http).await, "still signed in");

    // A genuine answer, taken once.
    let response = http.get(rp_logout(&chain, &tokens)).send().await.unwrap();
    let to_b = location(&response).unwrap();
    let response = http.get(&to_b).send().await.unwrap();
    let back = location(&response).unwrap();
    assert!(back.starts_with(&logged_out), "{back}");
    // Carried to the other connection's path, it names no logout there.
    let misrouted = back.replace(&format!("/oidc/{CONNECTION}/"), "/oidc/nowhere/");
    assert_eq!(
        http.get(&misrouted).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let first = http.get(&back).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&first).as_deref(),
        Some("https://rp.example.com/bye?state=st-bye")
    );
    // She signs in again; the same answer once more does not sign her out or go anywhere.
    chained_login_in(&chain, &http).await;
    assert_eq!(chain.a.count("sessions").await, 1);
    let replay = http.get(&back).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(set_cookie(&replay, "idbridge_session").is_none());
    assert_eq!(location(&replay), None);
    assert_eq!(chain.a.count("sessions").await, 1);
}

/// The database goes away while the provider tells of a logout: the provider is asked to try
/// again later (503 with `Retry-After`, nothing of the database in the answer), nothing is spent,
/// and the same token, sent again once the database is back, ends the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: scripts/test runs it (set IDBRIDGE_TEST_POSTGRES_URL)"]
async fn postgres_a_logout_told_while_the_database_is_gone_is_503_then_taken() {
    let chain = Chain::start_with_database_proxy().await;
    chained_login_in(&chain, &chain.a.client()).await;
    let endpoint = format!("/oidc/{CONNECTION}/backchannel-logout");
    let proxy = chain.proxy.clone().unwrap();
    let token = proxy.sign_with(0, 0, Some("logout+jwt"), &logout_claims(&chain, |_| {}));
    let database = chain.database_proxy.as_ref().unwrap();

    database.cut();
    let response = Client::new()
        .post(chain.a.url(&endpoint))
        .form(&[("logout_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("5")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    assert!(!body.to_string().to_lowercase().contains("sqlx"), "{body}");

    database.restore();
    let mut answer = (StatusCode::SERVICE_UNAVAILABLE, Value::Null, String::new());
    for _ in 0..50 {
        answer = post_logout_token(&chain, &endpoint, &token).await;
        if answer.0 != StatusCode::SERVICE_UNAVAILABLE {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
    assert_eq!(chain.a.count("sessions").await, 0, "the session ended");
    assert_eq!(
        chain.a.count("saml_assertions").await,
        1,
        "its jti spent once"
    );
}
