//! Every one-time thing is spent by one conditional write (docs/architecture.md, "Exactly once"),
//! so across processes one use of it wins. Each test runs two idbridge processes on one database,
//! this test's server and the real binary beside it, and fires [`RACERS`] requests at once,
//! alternating between the two, that present the same thing:
//! - a SAML response or a session URL: exactly one signs in, every other is refused (an
//!   upstream OIDC callback likewise: `upstream_oidc::a_callback_is_taken_once_across_processes`);
//! - an authorization code or a refresh token: presenting one again is a sign that it was stolen,
//!   so the replay revokes everything it gave (RFC 6749 section 4.1.2, RFC 9700 section 4.14.2).
//!   At most one request is answered with tokens, and no token of the grant is left alive in
//!   either process, whichever order the writes land in; every other request gets
//!   `invalid_grant`. A code is spent by one request alone: only one stores tokens for it.
use std::sync::Arc;

use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::Value;
use tokio::sync::Barrier;

use crate::oidc::{Browser, PROVIDER_CONFIG, REDIRECT, RP_SECRET, VERIFIER, authorize_url};
use crate::saml_idp::{IdpKey, encode};
use crate::session_urls::{SESSION_URLS_CONFIG, session_url, session_url_env};
use crate::support::*;
use crate::upstream_saml::acme_spec;

crate::backend_tests!(
    a_code_is_redeemed_once_across_processes,
    a_refresh_token_is_spent_once_and_its_reuse_revokes_the_family,
    a_saml_response_signs_in_once_across_processes,
    a_new_person_signing_in_at_both_processes_at_once_is_one_user,
    a_session_url_opens_once_across_processes,
);

/// How many requests race for one thing.
const RACERS: usize = 20;

/// This test's server and a second process on the same database, answering as the same issuer.
struct TwoProcesses {
    a: TestServer,
    b: ServerProcess,
    _db: TestDb,
}

impl TwoProcesses {
    async fn start(backend: Backend, config: &str, env: &[(&str, &str)]) -> TwoProcesses {
        let db = TestDb::new(backend).await;
        let a = TestServer::start_with(&db, config, idbridge::Clock::system(), env)
            .await
            .unwrap();
        let b = ServerProcess::spawn(&db, config, &a.base, env).await;
        TwoProcesses { a, b, _db: db }
    }

    async fn race(
        &self,
        request: impl Fn(&str) -> RequestBuilder,
    ) -> Vec<(StatusCode, Option<String>, String)> {
        race([&self.a.base, &self.b.base], request).await
    }
}

/// Sends [`RACERS`] requests that `request` makes for a base URL, alternately to each of `bases`,
/// released together; each one's status, `Location` and body, in sending order.
pub(crate) async fn race(
    bases: [&str; 2],
    request: impl Fn(&str) -> RequestBuilder,
) -> Vec<(StatusCode, Option<String>, String)> {
    let start = Arc::new(Barrier::new(RACERS));
    let mut racers = Vec::new();
    for i in 0..RACERS {
        let request = request(bases[i % 2]);
        let start = start.clone();
        racers.push(tokio::spawn(async move {
            start.wait().await;
            let response = request.send().await.unwrap();
            let status = response.status();
            let location = location(&response);
            (status, location, response.text().await.unwrap())
        }));
    }
    let mut results = Vec::new();
    for racer in racers {
        results.push(racer.await.unwrap());
    }
    results
}

/// The results with `won`'s status, at most one; every other must have `lost`.
fn winners(
    results: &[(StatusCode, Option<String>, String)],
    won: StatusCode,
    lost: StatusCode,
) -> Vec<String> {
    let winners: Vec<String> = results
        .iter()
        .filter(|(s, _, _)| *s == won)
        .map(|(_, _, body)| body.clone())
        .collect();
    assert!(winners.len() <= 1, "at most one wins: {results:#?}");
    for (status, _, body) in results.iter().filter(|(s, _, _)| *s != won) {
        assert_eq!(*status, lost, "{body}");
    }
    winners
}

/// The one result with `won`'s status; every other must have `lost`.
pub(crate) fn the_winner(
    results: &[(StatusCode, Option<String>, String)],
    won: StatusCode,
    lost: StatusCode,
) -> (Option<String>, String) {
    let winners: Vec<_> = results.iter().filter(|(s, _, _)| *s == won).collect();
    assert_eq!(winners.len(), 1, "exactly one wins: {results:#?}");
    for (status, _, body) in results.iter().filter(|(s, _, _)| *s != won) {
        assert_eq!(*status, lost, "{body}");
    }
    let (_, location, body) = winners[0];
    (location.clone(), body.clone())
}

fn provider_config() -> String {
    format!("{BASE_CONFIG}{PROVIDER_CONFIG}")
}

const RP_ENV: &[(&str, &str)] = &[("RP_SECRET", RP_SECRET)];

fn token_request(client: &str, form: &[(&str, &str)]) -> impl Fn(&str) -> RequestBuilder {
    let client = client.to_string();
    let form: Vec<(String, String)> = form
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |base: &str| {
        Client::new()
            .post(format!("{base}/sso/v2/token"))
            .basic_auth(&client, Some(RP_SECRET))
            .form(&form)
    }
}

/// The status userinfo at `base` gives `access_token`.
async fn userinfo_at(base: &str, access_token: &str) -> StatusCode {
    Client::new()
        .get(format!("{base}/sso/v2/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status()
}

/// Waits out `server.userinfo_cache` (1 s by default), so that both processes read the database.
async fn past_the_userinfo_cache() {
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
}

/// How many codes race, one after another: a spend that reads and then writes lets a code be
/// redeemed twice in only some races (about half, when tried).
const CODES: usize = 3;

async fn a_code_is_redeemed_once_across_processes(backend: Backend) {
    let two = TwoProcesses::start(backend, &provider_config(), RP_ENV).await;
    let browser = Browser::new(&two.a);
    let mut won = Vec::new();
    for _ in 0..CODES {
        let code = browser
            .authorize(&authorize_url(&two.a, "rp-eddsa", &[]), true)
            .await
            .param("code")
            .unwrap();
        let results = two
            .race(token_request(
                "rp-eddsa",
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                    ("code_verifier", VERIFIER),
                ],
            ))
            .await;
        won.extend(winners(&results, StatusCode::OK, StatusCode::BAD_REQUEST));
        for (_, _, refused) in results.iter().filter(|(s, _, _)| *s != StatusCode::OK) {
            let refused: Value = serde_json::from_str(refused).unwrap();
            assert_eq!(refused["error"], "invalid_grant", "{refused}");
        }
    }
    // Each code was spent by one request: it alone stored tokens, whether or not it was still
    // answered with them (the replays revoke them, see below).
    assert_eq!(
        two.a.count("access_tokens").await,
        CODES as i64,
        "each code was spent once"
    );
    // Whatever the codes gave is revoked, in both processes.
    past_the_userinfo_cache().await;
    for tokens in &won {
        let tokens: Value = serde_json::from_str(tokens).unwrap();
        let access = tokens["access_token"].as_str().unwrap();
        for base in [&two.a.base, &two.b.base] {
            assert_eq!(userinfo_at(base, access).await, StatusCode::UNAUTHORIZED);
        }
    }
    assert_eq!(live_access_tokens(&two.a).await, 0);
}

/// Access tokens not revoked.
async fn live_access_tokens(server: &TestServer) -> i64 {
    use sea_orm::ConnectionTrait;
    let db = server.state.store.connection();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM access_tokens WHERE revoked_at IS NULL".to_string(),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

async fn a_refresh_token_is_spent_once_and_its_reuse_revokes_the_family(backend: Backend) {
    let two = TwoProcesses::start(backend, &provider_config(), RP_ENV).await;
    let offline = [("scope", "openid profile offline_access")];
    let code = Browser::new(&two.a)
        .authorize(&authorize_url(&two.a, "rp-eddsa", &offline), true)
        .await
        .param("code")
        .unwrap();
    let (status, first) = crate::oidc::redeem(&two.a, "rp-eddsa", &code).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let refresh = first["refresh_token"].as_str().unwrap();
    let results = two
        .race(token_request(
            "rp-eddsa",
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        ))
        .await;
    let won = winners(&results, StatusCode::OK, StatusCode::BAD_REQUEST);
    // The reuse revoked the whole family: the first tokens and any the race gave, everywhere.
    past_the_userinfo_cache().await;
    let mut access_tokens = vec![first["access_token"].as_str().unwrap().to_string()];
    let mut refresh_tokens = Vec::new();
    for tokens in &won {
        let tokens: Value = serde_json::from_str(tokens).unwrap();
        access_tokens.push(tokens["access_token"].as_str().unwrap().to_string());
        refresh_tokens.push(tokens["refresh_token"].as_str().unwrap().to_string());
    }
    for base in [&two.a.base, &two.b.base] {
        for access in &access_tokens {
            assert_eq!(userinfo_at(base, access).await, StatusCode::UNAUTHORIZED);
        }
        for refresh in &refresh_tokens {
            let again = token_request(
                "rp-eddsa",
                &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            )(base)
            .send()
            .await
            .unwrap();
            assert_eq!(again.status(), StatusCode::BAD_REQUEST);
        }
    }
    assert_eq!(live_access_tokens(&two.a).await, 0);
}

fn acme_config(idp: &IdpKey) -> String {
    format!(
        r#"{BASE_CONFIG}
[[connections]]
id = "acme"
type = "saml"
entity = "e-mer-1"
domains = ["acme.test"]
idp_entity_id = "{}"
idp_sso_url = "https://idp.acme.test/sso"
idp_certificate = "{}"
allow_idp_initiated = true
"#,
        crate::saml_idp::IDP_ENTITY,
        idp.cert_b64
    )
}

/// Posts `response` to the ACS at `base`.
fn post_to_acs(base: &str, response: &str) -> RequestBuilder {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{base}/saml/acme/acs"))
        .form(&[("SAMLResponse", response)])
}

async fn a_saml_response_signs_in_once_across_processes(backend: Backend) {
    let idp = IdpKey::generate();
    let two = TwoProcesses::start(backend, &acme_config(&idp), &[]).await;
    let users = two.a.count("users").await;
    // Unsolicited (IdP-initiated): the response alone signs in, whoever posts it.
    let response = encode(&idp.response(&acme_spec(&two.a.base, None)));
    let results = two.race(|base| post_to_acs(base, &response)).await;
    let (location, _) = the_winner(&results, StatusCode::SEE_OTHER, StatusCode::BAD_REQUEST);
    assert!(
        location.unwrap().starts_with("/saml/acme/resume?token="),
        "the winner goes on to resume"
    );
    assert_eq!(two.a.count("users").await, users + 1, "one user");
    assert_eq!(two.a.count("saml_assertions").await, 1);
    assert_eq!(
        two.a.count("upstream_logins").await,
        1,
        "one login to resume"
    );
}

/// A person's first logins, each with its own response, reach both processes at the same moment:
/// every one signs in, and all as the one user that the first to commit created (the others
/// find it when they try again).
async fn a_new_person_signing_in_at_both_processes_at_once_is_one_user(backend: Backend) {
    let idp = IdpKey::generate();
    let two = TwoProcesses::start(backend, &acme_config(&idp), &[]).await;
    let users = two.a.count("users").await;
    // Both answer as the same issuer, A's.
    let spec = acme_spec(&two.a.base, None);
    let results = two
        .race(|base| post_to_acs(base, &encode(&idp.response(&spec))))
        .await;
    for (status, location, body) in &results {
        assert_eq!(*status, StatusCode::SEE_OTHER, "{body}");
        assert!(
            location
                .as_deref()
                .is_some_and(|l| l.starts_with("/saml/acme/resume?token=")),
            "{location:?}"
        );
    }
    assert_eq!(two.a.count("users").await, users + 1, "one user");
    assert_eq!(two.a.count("upstream_identities").await, 1);
    assert_eq!(two.a.count("upstream_logins").await, RACERS as i64);
}

async fn a_session_url_opens_once_across_processes(backend: Backend) {
    let config = format!("{BASE_CONFIG}{SESSION_URLS_CONFIG}");
    let two = TwoProcesses::start(backend, &config, &session_url_env()).await;
    let path = session_url(&two.a, "https://shop.example.com/?internalcustomer=C-7").await;
    let url = two.a.url(&path);
    // One person's browser: the page, then its button pressed twenty times over, at both.
    let browser = two.a.client();
    let page = page_text(&browser, &url).await;
    let csrf = form_value(&page, "csrf").unwrap();
    let results = two
        .race(|base| {
            browser
                .post(format!("{base}{path}"))
                .form(&[("csrf", csrf.as_str())])
        })
        .await;
    let (_, page) = the_winner(&results, StatusCode::OK, StatusCode::BAD_REQUEST);
    assert!(page.contains("https://shop.example.com/"), "{page}");
    assert_eq!(two.a.count("session_urls").await, 0);
    assert_eq!(two.a.count("customer_profiles").await, 1);
    assert_eq!(two.a.count("sessions").await, 1, "one session");
}
