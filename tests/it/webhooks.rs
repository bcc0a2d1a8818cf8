//! Notifications (SPEC section 8): events are written to the outbox with the change that causes
//! them, delivered signed to a real HTTP receiver, retried until acknowledged, given up after
//! `max_attempts`, and not lost when the process delivering them is killed.
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use idbridge::config::Config;
use idbridge::store::Notification;
use idbridge::store::tables::outbox;
use idbridge::store::{
    AttemptOutcome, DueNotification, NewSession, OutgoingLogin, Store, StoreError, UpstreamProfile,
};
use reqwest::header::CONTENT_TYPE;
use sea_orm::{ConnectionTrait, EntityTrait};
use serde_json::Value;
use sha2::Sha256;
use tokio::net::TcpListener;

use crate::support::*;

pub(crate) const WEBHOOK_SECRET: &str = "webhook-secret-0123456789abcdefghijklmnop";
pub(crate) const ALL_EVENTS: &str =
    r#"["UserLoginNotification", "ProfileCreatedNotification", "ProfileUpdatedNotification"]"#;

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    Accept,
    /// 500.
    Fail,
    /// Never answers: the sender's timeout ends the attempt.
    Hang,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    delivery: String,
    timestamp: String,
    signature: String,
    content_type: String,
    pub(crate) body: String,
    answer: Answer,
    /// When it arrived, in seconds since the Unix epoch.
    received_at: i64,
}

#[derive(Default)]
struct Script {
    /// The answers to the first requests, in order.
    first: VecDeque<Answer>,
    /// The answer once those are used up.
    then: Option<Answer>,
}

/// A webhook receiver on 127.0.0.1 that records every request and answers as scripted.
#[derive(Clone)]
pub(crate) struct Receiver {
    pub(crate) url: String,
    requests: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<Script>>,
}

impl Receiver {
    pub(crate) async fn start(first: &[Answer], then: Answer) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Receiver {
            url: format!("http://{}/hooks/idbridge", listener.local_addr().unwrap()),
            requests: Arc::default(),
            script: Arc::new(Mutex::new(Script {
                first: first.iter().copied().collect(),
                then: Some(then),
            })),
        };
        let app = axum::Router::new()
            .route("/hooks/idbridge", axum::routing::post(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        receiver
    }

    fn answer_from_now_on(&self, answer: Answer) {
        let mut script = self.script.lock().unwrap();
        script.first.clear();
        script.then = Some(answer);
    }

    pub(crate) fn requests(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }

    /// The payloads of the requests it acknowledged, each checked as every request must be.
    pub(crate) fn accepted_payloads(&self) -> Vec<Value> {
        self.requests()
            .iter()
            .filter(|r| r.answer == Answer::Accept)
            .inspect(|r| check_request(r))
            .map(|r| serde_json::from_str(&r.body).unwrap())
            .collect()
    }

    /// The delivery ids it acknowledged (with 2xx).
    fn accepted(&self) -> HashSet<String> {
        self.requests()
            .into_iter()
            .filter(|r| r.answer == Answer::Accept)
            .map(|r| r.delivery)
            .collect()
    }

    /// Waits until `done` holds for the requests received, or fails after `seconds`.
    pub(crate) async fn wait_for(
        &self,
        seconds: u64,
        what: &str,
        done: impl Fn(&[Received]) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
        while !done(&self.requests()) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "receiver: {what} did not happen within {seconds}s; got {:#?}",
                self.requests()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
    let answer = {
        let mut script = receiver.script.lock().unwrap();
        let then = script.then.unwrap_or(Answer::Accept);
        script.first.pop_front().unwrap_or(then)
    };
    let header = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    receiver.requests.lock().unwrap().push(Received {
        delivery: header("x-idbridge-delivery"),
        timestamp: header("x-idbridge-timestamp"),
        signature: header("x-idbridge-signature"),
        content_type: header("content-type"),
        body,
        answer,
        received_at: idbridge::Clock::system().now(),
    });
    match answer {
        Answer::Accept => StatusCode::NO_CONTENT,
        Answer::Fail => StatusCode::INTERNAL_SERVER_ERROR,
        Answer::Hang => std::future::pending().await,
    }
}

/// A `[[webhooks]]` entry for `url` with quick retries.
pub(crate) fn webhook_config(url: &str, events: &str, extra: &str) -> String {
    format!(
        r#"
[[webhooks]]
url = "{url}"
secret = "env:WEBHOOK_SECRET"
events = {events}
backoff = "1s"
{extra}
"#
    )
}

async fn start(db: &TestDb, webhooks: &str) -> TestServer {
    TestServer::start_with(
        db,
        &format!("{BASE_CONFIG}{webhooks}"),
        idbridge::Clock::system(),
        &[("WEBHOOK_SECRET", WEBHOOK_SECRET)],
    )
    .await
    .expect("server starts")
}

async fn outbox_rows(store: &Store) -> Vec<outbox::Model> {
    outbox::Entity::find()
        .all(store.connection())
        .await
        .expect("outbox rows")
}

/// Waits until every outbox row satisfies `done`, or fails after `seconds`.
async fn wait_for_rows(
    store: &Store,
    seconds: u64,
    what: &str,
    done: impl Fn(&outbox::Model) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        let rows = outbox_rows(store).await;
        if !rows.is_empty() && rows.iter().all(&done) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "outbox: {what} did not happen within {seconds}s; rows {rows:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The signature a receiver expects, computed here independently of idbridge's code.
fn expected_signature(timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{body}").as_bytes());
    let digest: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("v1={digest}")
}

/// Whether `value` has what `schema` requires: types, consts, enums, required keys and
/// date-times, in every nested object and array item. (No JSON Schema crate is needed for these
/// documents' keywords.)
fn check_against_schema(value: &Value, schema: &Value, path: &str) {
    if let Some(expected) = schema.get("const") {
        assert_eq!(value, expected, "{path}: const");
    }
    if let Some(kind) = schema.get("type").and_then(Value::as_str) {
        let matches = match kind {
            "object" => value.is_object(),
            "string" => value.is_string(),
            "array" => value.is_array(),
            other => panic!("{path}: schema type {other} not checked here"),
        };
        assert!(matches, "{path}: not a {kind}: {value}");
    }
    if schema.get("format").and_then(Value::as_str) == Some("date-time") {
        let text = value.as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(text).is_ok() && text.ends_with('Z'),
            "{path}: not an RFC 3339 UTC date-time: {text}"
        );
    }
    if let Some(alternatives) = schema.get("anyOf").and_then(Value::as_array) {
        assert!(
            alternatives
                .iter()
                .any(|alternative| satisfies(value, alternative, path)),
            "{path}: none of {alternatives:?} holds for {value}"
        );
    }
    for key in schema["required"].as_array().into_iter().flatten() {
        let key = key.as_str().unwrap();
        assert!(
            value.get(key).is_some(),
            "{path}.{key} is required: {value}"
        );
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        assert!(
            allowed.contains(value),
            "{path}: {value} is not one of {allowed:?}"
        );
    }
    for (key, property) in schema["properties"].as_object().into_iter().flatten() {
        if let Some(inner) = value.get(key) {
            check_against_schema(inner, property, &format!("{path}.{key}"));
        }
    }
    if let Some(items) = schema.get("items") {
        for (i, item) in value.as_array().into_iter().flatten().enumerate() {
            check_against_schema(item, items, &format!("{path}[{i}]"));
        }
    }
}

/// Whether a string satisfies an `anyOf` alternative of the schemas: an email format or a
/// maximum length.
fn satisfies(value: &Value, alternative: &Value, path: &str) -> bool {
    let text = value.as_str().unwrap_or_default();
    let format = alternative.get("format").and_then(Value::as_str);
    let max_length = alternative.get("maxLength").and_then(Value::as_u64);
    match (format, max_length) {
        (Some("email"), None) => text
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.')),
        (None, Some(max)) => text.chars().count() as u64 <= max,
        _ => panic!("{path}: anyOf alternative {alternative} not checked here"),
    }
}

/// Checks a delivered payload against the schema the server serves at its `meta.schemaUrl`.
pub(crate) async fn check_payload(server: &TestServer, payload: &Value) {
    let schema_url = payload["meta"]["schemaUrl"].as_str().unwrap();
    let kind = payload["meta"]["type"].as_str().unwrap();
    assert_eq!(
        schema_url,
        server.url(&format!("/JsonNotificationSchemas/{kind}"))
    );
    let response = reqwest::get(schema_url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()[CONTENT_TYPE],
        "application/schema+json",
        "{schema_url}"
    );
    let schema: Value = response.json().await.unwrap();
    assert_eq!(schema["$id"], schema_url);
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    check_against_schema(payload, &schema, "$");
}

/// Checks what every request to the receiver must be: signed with the secret over the timestamp
/// and the exact body, JSON, and named by the id inside the body.
pub(crate) fn check_request(request: &Received) {
    assert_eq!(
        request.signature,
        expected_signature(&request.timestamp, &request.body),
        "signature of {request:?}"
    );
    assert_eq!(request.content_type, "application/json");
    let timestamp: i64 = request.timestamp.parse().unwrap();
    let received = request.received_at;
    assert!(
        (received - 60..=received).contains(&timestamp),
        "a fresh timestamp: {timestamp}, received at {received}"
    );
    let payload: Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(payload["meta"]["id"], request.delivery.as_str());
}

async fn logins_are_delivered_signed_and_retried(backend: Backend) {
    let db = TestDb::new(backend).await;
    // The first attempt gets a 500, the second no answer; then the receiver acknowledges.
    let receiver = Receiver::start(&[Answer::Fail, Answer::Hang], Answer::Accept).await;
    let server = start(
        &db,
        &webhook_config(&receiver.url, ALL_EVENTS, r#"timeout = "1s""#),
    )
    .await;

    for _ in 0..3 {
        let response = server
            .login(&server.client(), ALICE_EMAIL, ALICE_PASSWORD)
            .await;
        assert_continues(&response);
    }
    let rows = outbox_rows(&server.state.store).await;
    assert_eq!(rows.len(), 3, "one notification per login");
    assert_eq!(server.count("sessions").await, 3);
    assert!(rows.iter().all(|r| r.event_type == "UserLoginNotification"));
    let ids: HashSet<String> = rows.iter().map(|r| r.id.clone()).collect();

    receiver
        .wait_for(20, "every login acknowledged", |_| {
            receiver.accepted() == ids
        })
        .await;
    wait_for_rows(&server.state.store, 5, "delivered", |r| {
        r.delivered_at.is_some()
    })
    .await;

    let requests = receiver.requests();
    assert!(requests.len() >= 5, "two failed attempts were retried");
    for request in &requests {
        check_request(request);
    }
    let failed: Vec<&Received> = requests
        .iter()
        .filter(|r| r.answer != Answer::Accept)
        .collect();
    for request in failed {
        assert!(
            requests
                .iter()
                .any(|r| r.answer == Answer::Accept && r.delivery == request.delivery),
            "a failed attempt was retried with the same id and body"
        );
    }
    for request in requests.iter().filter(|r| r.answer == Answer::Accept) {
        let payload: Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(payload["meta"]["type"], "UserLoginNotification");
        assert_eq!(payload["user"]["id"], "u-alice");
        assert_eq!(payload["user"]["email"], ALICE_EMAIL);
        assert_eq!(payload["user"]["name"], "Alice Example");
        assert_eq!(payload["connection"], "local");
        assert!(payload.get("internalCustomer").is_none());
        check_payload(&server, &payload).await;
    }
    for row in outbox_rows(&server.state.store).await {
        let stored = requests.iter().find(|r| r.delivery == row.id).unwrap();
        assert_eq!(stored.body, row.body, "the body sent is the one stored");
        assert!(row.locked_until.is_none() && row.given_up_at.is_none());
    }
}

/// Keeps the user behind `profile` as an upstream answer that its browser resumes does.
async fn accept_upstream_profile(
    store: &Store,
    profile: &UpstreamProfile,
    new_user_id: &str,
    config: &Config,
    now: i64,
) -> Result<(), StoreError> {
    let login = OutgoingLogin {
        state_hash: format!("resume-{new_user_id}-{}", profile.name),
        connection_id: profile.connection_id.clone(),
        browser_hash: String::new(),
        nonce: None,
        pkce_verifier: None,
        request_id: None,
        return_to: "/account".into(),
        pending_id: None,
        expires_at: now + 60,
    };
    store
        .accept_answer(Default::default(), profile, new_user_id, login, config, now)
        .await
        .map(|_| ())
}

fn upstream_profile(subject: &str, name: &str, entity: &str) -> UpstreamProfile {
    UpstreamProfile {
        connection_id: "acme-oidc".into(),
        subject: subject.into(),
        email: "carol@acme.com".into(),
        name: name.into(),
        entity_ids: vec![entity.into()],
        profile: Default::default(),
        session_index: None,
        logout_hint: None,
    }
}

async fn profiles_are_announced_with_their_change(backend: Backend) {
    let db = TestDb::new(backend).await;
    let receiver = Receiver::start(&[], Answer::Accept).await;
    let server = start(&db, &webhook_config(&receiver.url, ALL_EVENTS, "")).await;
    let (store, config) = (&server.state.store, &*server.state.config());
    let now = server.clock.now();

    accept_upstream_profile(
        store,
        &upstream_profile("s-1", "Carol", "e-mer-1"),
        "u-carol",
        config,
        now,
    )
    .await
    .unwrap();
    accept_upstream_profile(
        store,
        &upstream_profile("s-1", "Carol", "e-mer-1"),
        "u-x",
        config,
        now,
    )
    .await
    .unwrap();
    accept_upstream_profile(
        store,
        &upstream_profile("s-1", "Carol Acme", "e-mer-1"),
        "u-x",
        config,
        now,
    )
    .await
    .unwrap();
    let mut kinds: Vec<String> = outbox_rows(store)
        .await
        .into_iter()
        .map(|r| r.event_type)
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        ["ProfileCreatedNotification", "ProfileUpdatedNotification"],
        "created once, updated once, nothing for an unchanged profile"
    );

    // A change that fails writes no notification: the outbox rows roll back with it.
    let users = server.count("users").await;
    let failed = accept_upstream_profile(
        store,
        &upstream_profile("s-2", "Dave", "no-such-entity"),
        "u-dave",
        config,
        now,
    )
    .await;
    assert!(failed.is_err(), "attaching to an unknown entity fails");
    let created = store.find_user("u-carol").await.unwrap().unwrap();
    let mut ghost = created.clone();
    ghost.id = "u-nobody".into();
    let login = Notification::user_login(&ghost, "local");
    let session = NewSession {
        now,
        ttl: 60,
        client_addr: std::net::IpAddr::from([127, 0, 0, 1]),
        user_agent: "test",
        pending_id: None,
        replaces: None,
        upstream: None,
    };
    assert!(
        store.create_session(&login, session, config).await.is_err(),
        "a session of an unknown user fails"
    );
    assert_eq!(server.count("users").await, users);
    assert_eq!(server.count("outbox").await, 2, "no row of a failed change");

    receiver
        .wait_for(10, "both profile notifications", |r| r.len() >= 2)
        .await;
    let payloads: HashMap<String, Value> = receiver
        .requests()
        .iter()
        .map(|r| {
            check_request(r);
            let payload: Value = serde_json::from_str(&r.body).unwrap();
            (
                payload["meta"]["type"].as_str().unwrap().to_string(),
                payload,
            )
        })
        .collect();
    let created_payload = &payloads["ProfileCreatedNotification"];
    assert_eq!(created_payload["user"]["id"], "u-carol");
    assert_eq!(created_payload["user"]["name"], "Carol");
    let updated_payload = &payloads["ProfileUpdatedNotification"];
    assert_eq!(updated_payload["user"]["id"], "u-carol");
    assert_eq!(updated_payload["user"]["name"], "Carol Acme");
    for payload in payloads.values() {
        assert!(payload.get("connection").is_none());
        check_payload(&server, payload).await;
    }

    let unknown = reqwest::get(server.url("/JsonNotificationSchemas/SomethingElse"))
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

async fn only_subscribed_events_are_written(backend: Backend) {
    let db = TestDb::new(backend).await;
    let receiver = Receiver::start(&[], Answer::Accept).await;
    let server = start(
        &db,
        &webhook_config(&receiver.url, r#"["ProfileUpdatedNotification"]"#, ""),
    )
    .await;
    let response = server
        .login(&server.client(), ALICE_EMAIL, ALICE_PASSWORD)
        .await;
    assert_continues(&response);
    let (store, config) = (&server.state.store, &*server.state.config());
    accept_upstream_profile(
        store,
        &upstream_profile("s-1", "Carol", "e-mer-1"),
        "u-carol",
        config,
        server.clock.now(),
    )
    .await
    .unwrap();
    assert_eq!(server.count("outbox").await, 0);
}

async fn given_up_after_max_attempts(backend: Backend) {
    let db = TestDb::new(backend).await;
    let receiver = Receiver::start(&[], Answer::Fail).await;
    let server = start(
        &db,
        &webhook_config(&receiver.url, ALL_EVENTS, "max_attempts = 3"),
    )
    .await;
    let response = server
        .login(&server.client(), ALICE_EMAIL, ALICE_PASSWORD)
        .await;
    assert_continues(&response);

    // Attempts at about 0 s, 1 s and 1 + 2 s.
    wait_for_rows(&server.state.store, 15, "given up", |r| {
        r.given_up_at.is_some()
    })
    .await;
    let row = &outbox_rows(&server.state.store).await[0];
    assert_eq!(row.attempts, 3);
    assert_eq!(row.delivered_at, None);
    assert_eq!(row.locked_until, None);
    assert_eq!(row.last_error.as_deref(), Some("answered HTTP 500"));
    assert_eq!(receiver.requests().len(), 3);
    // Longer than the next backoff (4 s would be due after 3 attempts of 1, 2 s): nothing more.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    assert_eq!(receiver.requests().len(), 3, "no attempt after giving up");
}

async fn a_killed_process_loses_nothing(backend: Backend) {
    let db = TestDb::new(backend).await;
    // At first the receiver never answers, so the first process dies mid-delivery.
    let receiver = Receiver::start(&[], Answer::Hang).await;
    let config = format!(
        "{BASE_CONFIG}{}",
        webhook_config(&receiver.url, ALL_EVENTS, r#"timeout = "2s""#)
    );
    let env = [("WEBHOOK_SECRET", WEBHOOK_SECRET)];
    let port = ReservedPort::new();
    let first_base = port.base();
    let first = ServerProcess::spawn_on(port, &db, &config, &first_base, &env).await;
    for _ in 0..2 {
        let response = login_at(&first.base, &browser(), ALICE_EMAIL, ALICE_PASSWORD).await;
        assert_continues(&response);
    }
    receiver
        .wait_for(10, "both notifications in flight", |r| {
            r.iter().map(|r| &r.delivery).collect::<HashSet<_>>().len() == 2
        })
        .await;
    drop(first); // killed (SIGKILL) with both attempts in flight
    let store = Store::connect(&db.url).await.unwrap();
    let rows = outbox_rows(&store).await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.delivered_at.is_none()));
    let ids: HashSet<String> = rows.into_iter().map(|r| r.id).collect();

    receiver.answer_from_now_on(Answer::Accept);
    let port = ReservedPort::new();
    let second_base = port.base();
    let _second = ServerProcess::spawn_on(port, &db, &config, &second_base, &env).await;
    // Once the dead process's lease (timeout 2 s + 5 s) has run out.
    receiver
        .wait_for(
            30,
            "every notification acknowledged after the restart",
            |_| receiver.accepted() == ids,
        )
        .await;
    wait_for_rows(&store, 5, "delivered", |r| r.delivered_at.is_some()).await;
    for request in receiver.requests() {
        check_request(&request);
    }
}

async fn an_interrupted_last_attempt_is_made_once_more(backend: Backend) {
    let db = TestDb::new(backend).await;
    let receiver = Receiver::start(&[], Answer::Accept).await;
    let server = start(
        &db,
        &webhook_config(&receiver.url, ALL_EVENTS, "max_attempts = 2"),
    )
    .await;
    let (store, config) = (&server.state.store, &*server.state.config());
    let user = store.find_user("u-alice").await.unwrap().unwrap();
    // Two rows, written not yet due, then made to look like rows whose process stopped during
    // attempt 2 of 2, and during the one attempt more that such a row gets.
    let later = server.clock.now() + 3600;
    let login = Notification::user_login(&user, "local");
    for _ in 0..2 {
        idbridge::store::enqueue_notification(store.connection(), config, &login, later)
            .await
            .unwrap();
    }
    let ids: Vec<String> = outbox_rows(store).await.into_iter().map(|r| r.id).collect();
    for (id, attempts) in ids.iter().zip([2, 3]) {
        store
            .connection()
            .execute_unprepared(&format!(
                "UPDATE outbox SET attempts = {attempts}, next_attempt_at = 0, locked_until = 1 \
                 WHERE id = '{id}'"
            ))
            .await
            .unwrap();
    }

    wait_for_rows(store, 10, "finished", |r| {
        r.delivered_at.is_some() || r.given_up_at.is_some()
    })
    .await;
    let rows = outbox_rows(store).await;
    let row = |id: &str| rows.iter().find(|r| r.id == id).unwrap();
    assert!(row(&ids[0]).delivered_at.is_some(), "sent once more");
    assert_eq!(row(&ids[0]).attempts, 3);
    assert!(row(&ids[1]).given_up_at.is_some());
    assert_eq!(
        row(&ids[1]).last_error.as_deref(),
        Some("the previous attempt was interrupted and no attempts are left")
    );
    let sent: Vec<String> = receiver
        .requests()
        .into_iter()
        .map(|r| r.delivery)
        .collect();
    assert_eq!(sent, [ids[0].clone()], "no attempt beyond that one more");
}

async fn a_row_is_held_by_one_claim_at_a_time(backend: Backend) {
    // The store alone, with explicit times: no worker runs here.
    let db = TestDb::new(backend).await;
    let text = format!(
        "{BASE_CONFIG}{}",
        webhook_config("https://backend.example.com/hooks", ALL_EVENTS, "")
    );
    let config = parse_config(
        &text,
        &[
            ("SHOP_SECRET", SHOP_SECRET),
            ("WEBHOOK_SECRET", WEBHOOK_SECRET),
        ],
    )
    .unwrap();
    let store = Store::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    store.apply_config(&config, None, 0).await.unwrap().unwrap();
    let user = store.find_user("u-alice").await.unwrap().unwrap();
    let now = 1_000_000;
    let login = Notification::user_login(&user, "local");
    idbridge::store::enqueue_notification(store.connection(), &config, &login, now)
        .await
        .unwrap();
    let keys = [config.webhooks[0].key()];

    let due = store.due_notifications(&keys, now, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    let first = store.claim_notification(&due[0], now, 15).await.unwrap();
    assert_eq!(first.as_ref().map(|r| r.attempts), Some(1));
    assert_eq!(
        store.claim_notification(&due[0], now, 15).await.unwrap(),
        None,
        "a second claim of the same row gets nothing"
    );
    let held = DueNotification {
        attempts: 1,
        ..due[0].clone()
    };
    assert_eq!(
        store.claim_notification(&held, now + 14, 15).await.unwrap(),
        None,
        "a held row cannot be claimed, even by someone who read it after the first claim"
    );
    assert!(
        store
            .due_notifications(&keys, now + 14, 10)
            .await
            .unwrap()
            .is_empty(),
        "held while the lease lasts"
    );

    // The holder died: once the lease has run out, another claim takes the row.
    let due = store.due_notifications(&keys, now + 15, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    let second = store
        .claim_notification(&due[0], now + 15, 15)
        .await
        .unwrap();
    assert_eq!(second.as_ref().map(|r| r.attempts), Some(2));
    // The first holder's late failure changes nothing: the attempt count fences it off.
    let late = AttemptOutcome::GiveUp {
        error: "late".into(),
    };
    store
        .finish_attempt(&due[0].id, 1, &late, now + 16)
        .await
        .unwrap();
    let row = &outbox_rows(&store).await[0];
    assert_eq!((row.given_up_at, row.locked_until), (None, Some(now + 30)));
    store
        .finish_attempt(&due[0].id, 2, &AttemptOutcome::Delivered, now + 17)
        .await
        .unwrap();
    assert!(
        store
            .due_notifications(&keys, now + 3600, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A delivered row is kept 7 days after its event; one still waiting (its webhook unreachable
    // all week, or idbridge stopped) is kept while its webhook is configured.
    idbridge::store::enqueue_notification(store.connection(), &config, &login, now)
        .await
        .unwrap();
    let week = idbridge::store::OUTBOX_RETENTION;
    store.sweep(now + week - 1, 900, &keys).await.unwrap();
    assert_eq!(outbox_rows(&store).await.len(), 2);
    store.sweep(now + week, 900, &keys).await.unwrap();
    let rows = outbox_rows(&store).await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].delivered_at.is_none(), "the waiting row is kept");
    // Once its webhook is gone from the config, it goes too.
    store.sweep(now + week, 900, &[]).await.unwrap();
    assert!(outbox_rows(&store).await.is_empty());
}

crate::backend_tests!(
    logins_are_delivered_signed_and_retried,
    profiles_are_announced_with_their_change,
    only_subscribed_events_are_written,
    given_up_after_max_attempts,
    a_killed_process_loses_nothing,
    a_row_is_held_by_one_claim_at_a_time,
    an_interrupted_last_attempt_is_made_once_more,
);

/// The problems of a config with `webhooks` added to the base config.
fn problems(webhooks: &str) -> Vec<String> {
    config_problems(
        &format!("{BASE_CONFIG}{webhooks}"),
        &[
            ("SHOP_SECRET", SHOP_SECRET),
            ("SHORT_SECRET", "too short"),
            ("WEBHOOK_SECRET", WEBHOOK_SECRET),
        ],
    )
}

#[test]
fn webhook_config_errors_name_their_key() {
    let found = problems(
        r#"
[[webhooks]]
url = "http://backend.example.com/hooks"
secret = "env:SHORT_SECRET"
events = ["UserLoginNotification", "UserDeletedNotification"]

[[webhooks]]
url = "backend.example.com/hooks"
secret = "env:WEBHOOK_SECRET"
events = []
max_attempts = 0
backoff = "2h"
timeout = "soon"

[[webhooks]]
url = "https://backend.example.com/hooks#x"
secret = "env:MISSING_SECRET"
events = ["ProfileCreatedNotification"]
"#,
    );
    assert_eq!(
        found,
        [
            "webhooks[0].url: must be an https URL (http only for loopback hosts)",
            "webhooks[0].secret: shorter than 32 bytes (make one with `openssl rand -base64 32`)",
            "webhooks[0].events[1]: unknown event \"UserDeletedNotification\" (known: UserLoginNotification, ProfileCreatedNotification, ProfileUpdatedNotification)",
            "webhooks[1].url: not an absolute URL",
            "webhooks[1].events: at least one is required",
            "webhooks[1].max_attempts: must be from 1 to 100",
            "webhooks[1].backoff: must be at most 3600s (delays are capped there)",
            "webhooks[1].timeout: not a duration (examples: 30s, 5m, 8h, 90d)",
            "webhooks[2].url: must not have a fragment",
            "webhooks[2].secret: environment variable MISSING_SECRET is not set",
        ]
    );
    let found = problems(&format!(
        "[[webhooks]]\nurl = \"https://backend.example.com/hooks\"\nsecret = \"env:WEBHOOK_SECRET\"\nevents = {ALL_EVENTS}\nretries = 3\n"
    ));
    assert_eq!(found, ["webhooks[0].retries: unknown key"]);
}

#[test]
fn webhook_urls_are_https_or_loopback_and_unique() {
    let entry = |url: &str| {
        format!(
            "[[webhooks]]\nurl = \"{url}\"\nsecret = \"env:WEBHOOK_SECRET\"\nevents = {ALL_EVENTS}\n"
        )
    };
    let ok = format!(
        "{BASE_CONFIG}{}{}{}",
        entry("https://backend.example.com/hooks"),
        entry("http://127.0.0.1:9000/hooks"),
        entry("http://localhost/hooks"),
    );
    let config = parse_config(
        &ok,
        &[
            ("SHOP_SECRET", SHOP_SECRET),
            ("WEBHOOK_SECRET", WEBHOOK_SECRET),
        ],
    )
    .unwrap();
    let webhook = &config.webhooks[0];
    assert_eq!(
        (webhook.max_attempts, webhook.backoff, webhook.timeout),
        (12, 30, 10),
        "the documented defaults"
    );
    assert_eq!(webhook.events.len(), 3);
    assert!(
        !format!("{webhook:?}").contains(WEBHOOK_SECRET),
        "Debug hides the secret"
    );

    let found = problems(&format!(
        "{}{}{}",
        entry("https://backend.example.com/hooks"),
        entry("https://backend.example.com/hooks"),
        entry("https://user:pw@backend.example.com/hooks"),
    ));
    assert_eq!(
        found,
        [
            "webhooks[1].url: another webhook has the same url (the url names a webhook)",
            "webhooks[2].url: must not carry user information",
        ]
    );
}
