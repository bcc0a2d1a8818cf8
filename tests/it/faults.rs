//! Nothing is lost under faults: notifications produced while the process delivering them is
//! killed (`kill -9`, in the middle of deliveries to a slow receiver) all reach the receiver once
//! another process takes over, each under its stable id (at least once: a receiver drops the
//! duplicates by `X-Idbridge-Delivery`); a process told to stop (SIGTERM) answers the requests
//! it has begun before it exits; and while the database is out of reach every request that
//! needs it is answered 503 without internals, `/readyz` says so, and the server serves again
//! once the database is back, without a restart.
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::oidc::{Browser, PROVIDER_CONFIG, RP_SECRET, authorize_url, redeem};
use crate::session_urls::{SESSION_URLS_CONFIG, session_url_env};
use crate::support::*;
use crate::webhooks::{WEBHOOK_SECRET, webhook_config};
use idbridge::store::{OneTimeId, OutgoingLogin, UpstreamProfile};

crate::backend_tests!(
    a_killed_deliverer_loses_no_notification,
    sigterm_lets_a_request_in_flight_finish,
);

/// How many notifications the run produces.
const NOTIFICATIONS: usize = 1000;

/// A receiver that takes its time (a few milliseconds an answer): the delivery ids it was sent,
/// with their repeats.
#[derive(Clone, Default)]
struct SlowReceiver {
    seen: Arc<Mutex<Vec<String>>>,
    /// While set, it answers nothing in time (and takes nothing): the deliverer holds what it
    /// claimed until its timeout.
    stalled: Arc<AtomicBool>,
}

impl SlowReceiver {
    async fn start(&self) -> String {
        async fn take(
            State(receiver): State<SlowReceiver>,
            headers: HeaderMap,
        ) -> axum::http::StatusCode {
            if receiver.stalled.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_secs(3)).await;
                return axum::http::StatusCode::SERVICE_UNAVAILABLE;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            let id = headers["x-idbridge-delivery"].to_str().unwrap().to_string();
            receiver.seen.lock().unwrap().push(id);
            axum::http::StatusCode::OK
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/hook", post(take))
            .with_state(self.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        url
    }

    fn distinct(&self) -> HashSet<String> {
        self.seen.lock().unwrap().iter().cloned().collect()
    }

    async fn wait_for(&self, count: usize, seconds: u64) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while self.distinct().len() < count {
            assert!(
                Instant::now() < deadline,
                "{} of {count} notifications arrived",
                self.distinct().len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn a_killed_deliverer_loses_no_notification(backend: Backend) {
    let receiver = SlowReceiver::default();
    let url = receiver.start().await;
    let db = TestDb::new(backend).await;
    // This test's server produces the notifications and delivers none: its config has no webhook.
    let producer = TestServer::start(&db, BASE_CONFIG).await;
    let with_webhook = format!(
        "{BASE_CONFIG}{}",
        webhook_config(
            &url,
            r#"["ProfileCreatedNotification"]"#,
            // Long enough that rows claimed from the stalled receiver below are still held when
            // the deliverer is killed and when they are counted, however loaded the machine: a
            // timeout ends an attempt and frees its row.
            r#"timeout = "10s""#
        )
    );
    let env = [("WEBHOOK_SECRET", WEBHOOK_SECRET)];
    let config = parse_config(&with_webhook, &[env[0], ("SHOP_SECRET", SHOP_SECRET)]).unwrap();
    let first = ServerProcess::spawn(&db, &with_webhook, &producer.base, &env).await;

    // Produced while the first deliverer works, one new user (and notification) at a time.
    let producing = {
        let store = producer.state.store.clone();
        let now = producer.clock.now();
        tokio::spawn(async move {
            for i in 0..NOTIFICATIONS {
                let profile = UpstreamProfile {
                    connection_id: "acme-oidc".into(),
                    subject: format!("s-{i}"),
                    email: format!("person-{i}@acme.com"),
                    name: format!("Person {i}"),
                    entity_ids: vec!["e-mer-1".into()],
                    profile: Default::default(),
                    session_index: None,
                    logout_hint: None,
                };
                let login = OutgoingLogin {
                    state_hash: format!("resume-{i}"),
                    connection_id: profile.connection_id.clone(),
                    browser_hash: String::new(),
                    nonce: None,
                    pkce_verifier: None,
                    request_id: None,
                    return_to: "/account".into(),
                    pending_id: None,
                    expires_at: now + 600,
                };
                // As the ACS keeps an answer, with its assertion ID to spend.
                let assertion = OneTimeId {
                    id: format!("a-{i}"),
                    expires_at: now + 600,
                };
                store
                    .accept_answer(
                        idbridge::store::Spent {
                            login: None,
                            one_time: Some(assertion),
                        },
                        &profile,
                        &format!("u-{i}"),
                        login,
                        &config,
                        now,
                    )
                    .await
                    .unwrap();
            }
        })
    };
    // Killed in the middle: some delivered, more claimed and in flight, the rest not yet made.
    receiver.wait_for(NOTIFICATIONS / 5, 60).await;
    // The receiver stops answering, so that the deliverer is sure to hold claimed rows (waiting
    // out its timeout) when it is killed, however the machine's timing falls.
    // The deliverer may be idle, caught up with a slow producer: the wait lasts until it has
    // claimed the next rows, which it then holds for its timeout.
    receiver.stalled.store(true, Ordering::SeqCst);
    let holding = "locked_until IS NOT NULL AND delivered_at IS NULL";
    let deadline = Instant::now() + Duration::from_secs(30);
    while count_where(&producer, holding).await == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.kill().await;
    receiver.stalled.store(false, Ordering::SeqCst);
    let delivered_before = receiver.distinct().len();
    let held = count_where(&producer, holding).await;
    if backend == Backend::Postgres {
        assert!(held > 0, "killed in the middle of deliveries");
    }
    assert!(delivered_before < NOTIFICATIONS, "killed before the end");
    producing.await.unwrap();
    assert_eq!(producer.count("outbox").await, NOTIFICATIONS as i64);

    // Another process takes over: the rest, and those the killed one held (once their lease of
    // timeout + 5 s runs out).
    let _second = ServerProcess::spawn(&db, &with_webhook, &producer.base, &env).await;
    // Generous: on a loaded machine (the whole suite at once) the takeover waits out leases and
    // retries the attempts the stall made fail.
    receiver.wait_for(NOTIFICATIONS, 120).await;
    let ids: HashSet<String> = outbox_ids(&producer).await;
    assert_eq!(
        receiver.distinct(),
        ids,
        "every notification, by its own id"
    );
    let sent = receiver.seen.lock().unwrap().len();
    println!(
        "{NOTIFICATIONS} notifications: {delivered_before} delivered before the kill, {held} \
         held by it, {sent} requests in all ({} repeats)",
        sent - NOTIFICATIONS
    );
}

/// The outbox's rows that match `condition`.
async fn count_where(server: &TestServer, condition: &str) -> i64 {
    use sea_orm::ConnectionTrait;
    let db = server.state.store.connection();
    db.query_one_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        format!("SELECT COUNT(*) AS n FROM outbox WHERE {condition}"),
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get::<i64>("", "n")
    .unwrap()
}

/// The ids of the outbox's rows, which are the payloads' `meta.id` and `X-Idbridge-Delivery`.
async fn outbox_ids(server: &TestServer) -> HashSet<String> {
    use sea_orm::ConnectionTrait;
    let db = server.state.store.connection();
    db.query_all_raw(sea_orm::Statement::from_string(
        db.get_database_backend(),
        "SELECT id FROM outbox".to_string(),
    ))
    .await
    .unwrap()
    .iter()
    .map(|row| row.try_get::<String>("", "id").unwrap())
    .collect()
}

/// A provider whose discovery takes `delay` to answer (and then is not there): a login that asks
/// it is in flight that long. Its issuer URL, and a flag raised once it has been asked.
async fn slow_provider(delay: Duration) -> (String, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let asked = Arc::new(AtomicBool::new(false));
    let flag = asked.clone();
    let app = Router::new().route(
        "/.well-known/openid-configuration",
        axum::routing::get(move || {
            flag.store(true, Ordering::SeqCst);
            async move {
                tokio::time::sleep(delay).await;
                (axum::http::StatusCode::NOT_FOUND, "not here")
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (issuer, asked)
}

async fn sigterm_lets_a_request_in_flight_finish(backend: Backend) {
    let (issuer, asked) = slow_provider(Duration::from_secs(4)).await;
    let config = format!(
        r#"{BASE_CONFIG}
[[connections]]
id = "slow"
type = "oidc"
entity = "e-div-1"
issuer = "{issuer}"
client_id = "idbridge"
client_secret = "env:SLOW_SECRET"
timeout = "10s"
"#
    );
    let db = TestDb::new(backend).await;
    let env = [("SLOW_SECRET", "slow-secret-0123456789abcdefghijklmnop")];
    let process = ServerProcess::spawn(&db, &config, "http://127.0.0.1", &env).await;
    let login = process.url("/oidc/slow/login?return_to=/account");
    let in_flight = tokio::spawn(async move { reqwest::Client::new().get(login).send().await });
    // The login is in flight once idbridge asks the provider.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !asked.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the login never reached the provider"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let base = process.base.clone();
    let stopped = tokio::spawn(process.terminate(20));
    // Told to stop, it soon takes no new connection, while the one it has begun goes on.
    let deadline = Instant::now() + Duration::from_secs(3);
    while reqwest::Client::new()
        .get(format!("{base}/healthz"))
        .send()
        .await
        .is_ok()
    {
        assert!(Instant::now() < deadline, "new connections still taken");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!in_flight.is_finished(), "the login is still in flight");
    // And answers it in full.
    let answered = in_flight.await.unwrap().expect("an answer, not a reset");
    assert_eq!(
        answered.status(),
        reqwest::StatusCode::BAD_GATEWAY,
        "the provider could not be read: a full page"
    );
    assert!(
        answered
            .text()
            .await
            .unwrap()
            .contains("Sign-in unavailable")
    );
    let status = stopped.await.unwrap().expect("it exits after the answer");
    assert!(status.success(), "{status}");
}

/// Words of what idbridge runs on, which an answer must not show: the driver's and database's
/// errors, addresses, panics.
const INTERNALS: &[&str] = &[
    "sqlx",
    "database",
    "postgres",
    "connection",
    "pool",
    "query",
    "os error",
    "error returned",
    "127.0.0.1",
    "panicked",
    "backtrace",
    "src/",
];

/// What one request during the outage is, and what it was answered.
struct Answered {
    what: &'static str,
    status: StatusCode,
    retry_after: Option<String>,
    body: String,
}

async fn answered(what: &'static str, request: reqwest::RequestBuilder) -> Answered {
    let response = request.send().await.expect("an answer");
    Answered {
        what,
        status: response.status(),
        retry_after: response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_string()),
        body: response.text().await.unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: scripts/test runs it (set IDBRIDGE_TEST_POSTGRES_URL)"]
async fn postgres_a_database_gone_for_a_while_is_503_then_served_again() {
    let db = TestDb::new(Backend::Postgres).await;
    let proxy = DatabaseProxy::start(db.server_address()).await;
    let config = format!(
        "{BASE_CONFIG}{PROVIDER_CONFIG}{SESSION_URLS_CONFIG}\n[server]\nuserinfo_cache = \"0s\"\n"
    );
    let mut env = session_url_env();
    env.push(("RP_SECRET", RP_SECRET));
    let backend_password = env
        .iter()
        .find(|(k, _)| *k == "BACKEND_PASSWORD")
        .unwrap()
        .1;
    let server = TestServer::start_with(
        &db.reached_at(proxy.address),
        &config,
        idbridge::Clock::system(),
        &env,
    )
    .await
    .unwrap();

    // Before: Alice signed in, with tokens, and a code not yet redeemed.
    let browser = Browser::new(&server);
    let authorize = authorize_url(&server, "rp-eddsa", &[]);
    let code = browser.authorize(&authorize, true).await.param("code");
    let (status, tokens) = redeem(&server, "rp-eddsa", &code.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let kept_code = browser
        .authorize(&authorize, true)
        .await
        .param("code")
        .unwrap();
    let other = server.client();
    let csrf = csrf_token_at(&server.base, &other, "/sso/v2/login").await;
    let requests = || {
        let http = reqwest::Client::new();
        [
            ("the account page", browser.http.get(server.url("/account"))),
            (
                "a login",
                other.post(server.url("/sso/v2/login")).form(&[
                    ("email", ALICE_EMAIL),
                    ("password", ALICE_PASSWORD),
                    ("csrf", &csrf),
                    ("return_to", "/account"),
                ]),
            ),
            (
                "the token endpoint",
                http.post(server.url("/sso/v2/token"))
                    .basic_auth("rp-eddsa", Some(RP_SECRET))
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("code", &kept_code),
                        ("redirect_uri", crate::oidc::REDIRECT),
                        ("code_verifier", crate::oidc::VERIFIER),
                    ]),
            ),
            (
                "userinfo",
                http.get(server.url("/sso/v2/userinfo"))
                    .bearer_auth(&access),
            ),
            (
                "introspection",
                http.post(server.url("/sso/v2/introspect"))
                    .basic_auth("rp-eddsa", Some(RP_SECRET))
                    .form(&[("token", &access)]),
            ),
            (
                "the session URL API",
                http.post(server.url("/urlgenerator/generateusersessionurl"))
                    .basic_auth("backend", Some(backend_password))
                    .json(&serde_json::json!({
                        "TargetUrl": "https://shop.example.com/?internalcustomer=C-9"
                    })),
            ),
            (
                "the product login-URL API",
                http.post(server.url("/api/v1/products/helpdesk/login-url"))
                    .basic_auth("sso-only", Some(backend_password))
                    .json(&serde_json::json!({
                        "user_id": "u-alice",
                        "hub_domain": "acme.help.example.com"
                    })),
            ),
        ]
    };
    let ready = || async {
        reqwest::get(server.url("/readyz"))
            .await
            .expect("an answer")
            .status()
    };
    assert_eq!(ready().await, StatusCode::OK);

    // The database goes away, for some seconds.
    proxy.cut();
    let gone = Instant::now();
    assert_eq!(ready().await, StatusCode::SERVICE_UNAVAILABLE, "not ready");
    let alive = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(alive.status(), StatusCode::OK, "alive all the same");
    for (what, request) in requests() {
        let answer = answered(what, request).await;
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{what}: {}",
            answer.body
        );
        assert_eq!(
            answer.retry_after.as_deref(),
            Some("5"),
            "{what}: Retry-After"
        );
        let body = answer.body.to_lowercase();
        for word in INTERNALS {
            assert!(
                !body.contains(word),
                "{what} shows {word:?}: {}",
                answer.body
            );
        }
        if answer.body.starts_with("<!doctype html>") {
            assert_eq!(
                texts(&answer.body, "h1"),
                ["Temporarily unavailable"],
                "{what}: an error page"
            );
        } else {
            let json: Value = serde_json::from_str(&answer.body).expect("JSON");
            let code = json
                .get("error")
                .or_else(|| json.get("ResultMessage"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            assert!(code.contains("unavailable"), "{}: {json}", answer.what);
        }
    }
    while gone.elapsed() < Duration::from_secs(3) {
        assert_eq!(ready().await, StatusCode::SERVICE_UNAVAILABLE, "not ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // It comes back: ready again, and served, by the same process.
    proxy.restore();
    let back = Instant::now();
    while ready().await != StatusCode::OK {
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "never ready again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (what, request) in requests() {
        let answer = answered(what, request).await;
        assert_eq!(answer.status, StatusCode::OK, "{what}: {}", answer.body);
        if what == "a login" {
            assert_eq!(texts(&answer.body, "h1"), ["Continuing…"], "signed in");
        }
        if what == "the token endpoint" {
            // The failed redemption spent nothing: the code gives its tokens now.
            let tokens: Value = serde_json::from_str(&answer.body).unwrap();
            assert!(tokens["access_token"].is_string(), "{tokens}");
        }
        if what == "introspection" {
            let introspected: Value = serde_json::from_str(&answer.body).unwrap();
            assert_eq!(introspected["active"], true);
        }
    }
}
