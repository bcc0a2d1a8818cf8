//! `/admin/v1` and `idbridge admin`: the first admin credential made on an empty database by the
//! CLI, users found, changed, disabled and deleted, their sessions, tokens and consents revoked,
//! API credentials made and revoked, the config file's objects refused (409), stale versions
//! refused (412), every bad input refused with the field named and nothing stored but the
//! refusal's audit event, the audit trail of logins and changes, and the OpenAPI document
//! matching the routes.
use std::process::Command;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, ETAG, IF_MATCH, WWW_AUTHENTICATE};
use serde_json::{Value, json};

use crate::oidc::{Browser, PROVIDER_CONFIG, RP_SECRET, authorize_url, post_form, redeem};
use crate::session_urls::{SEED_TARGET, SESSION_URLS_CONFIG, open, session_url, session_url_env};
use crate::support::*;

crate::backend_tests!(
    the_cli_makes_the_first_admin_credential_on_an_empty_database,
    users_are_found_changed_disabled_and_deleted,
    sessions_consents_and_tokens_are_revoked,
    api_credentials_are_made_shown_once_and_revoked,
    bad_input_is_refused_naming_the_field_and_stores_nothing,
    the_audit_trail_records_logins_and_changes,
    audit_events_are_kept_for_the_retention_only,
    each_credential_has_its_own_rate,
    a_credential_revoked_at_one_process_stops_at_the_others_within_seconds,
    the_walkthrough_of_docs_admin_md_runs,
    what_the_file_declares_is_shown_without_secrets,
);

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_idbridge");
pub(crate) const OPS_SECRET: &str = "ops secret 0123456789abcdefghij";

/// `ops` may read and change (and ask for session URLs); `auditor` only read; `backend` (of [`SESSION_URLS_CONFIG`]) has no
/// admin scope.
pub(crate) const ADMIN_CONFIG: &str = r#"
[[api_credentials]]
username = "ops"
password = "env:OPS_SECRET"
scopes = ["admin:read", "admin:write", "session_urls"]

[[api_credentials]]
username = "auditor"
password = "env:OPS_SECRET"
scopes = ["admin:read"]
"#;

pub(crate) async fn start(backend: Backend) -> (TestDb, TestServer) {
    let db = TestDb::new(backend).await;
    let server = start_on(&db).await;
    (db, server)
}

pub(crate) fn config() -> String {
    format!("{BASE_CONFIG}{PROVIDER_CONFIG}{SESSION_URLS_CONFIG}{ADMIN_CONFIG}")
}

pub(crate) fn env() -> Vec<(&'static str, &'static str)> {
    let mut env = session_url_env();
    env.extend([("OPS_SECRET", OPS_SECRET), ("RP_SECRET", RP_SECRET)]);
    env
}

async fn start_on(db: &TestDb) -> TestServer {
    TestServer::start_with(db, &config(), idbridge::Clock::system(), &env())
        .await
        .expect("server starts")
}

/// An admin API request as `who` (username and password), with a JSON body if given; the
/// status, the `ETag` and the JSON answer (`Null` when there is none).
pub(crate) struct Call<'a> {
    pub server: &'a TestServer,
    pub who: Option<(&'a str, &'a str)>,
}

pub(crate) fn ops(server: &TestServer) -> Call<'_> {
    Call {
        server,
        who: Some(("ops", OPS_SECRET)),
    }
}

pub(crate) struct Answer {
    pub status: StatusCode,
    pub etag: Option<String>,
    pub json: Value,
}

impl Call<'_> {
    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        if_match: Option<&str>,
    ) -> Answer {
        let mut request = reqwest::Client::new().request(method, self.server.url(path));
        if let Some((username, password)) = self.who {
            request = request.basic_auth(username, Some(password));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(tag) = if_match {
            request = request.header(IF_MATCH, tag);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let etag = response
            .headers()
            .get(ETAG)
            .map(|v| v.to_str().unwrap().to_string());
        let text = response.text().await.unwrap();
        Answer {
            status,
            etag,
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    pub(crate) async fn get(&self, path: &str) -> Answer {
        self.send(reqwest::Method::GET, path, None, None).await
    }

    pub(crate) async fn patch(&self, path: &str, body: Value, if_match: Option<&str>) -> Answer {
        self.send(reqwest::Method::PATCH, path, Some(body), if_match)
            .await
    }

    pub(crate) async fn put(&self, path: &str, body: Value, if_match: Option<&str>) -> Answer {
        self.send(reqwest::Method::PUT, path, Some(body), if_match)
            .await
    }

    pub(crate) async fn post(&self, path: &str, body: Option<Value>) -> Answer {
        self.send(reqwest::Method::POST, path, body, None).await
    }

    pub(crate) async fn delete(&self, path: &str) -> Answer {
        self.send(reqwest::Method::DELETE, path, None, None).await
    }
}

/// The customer a session URL made (opened in a new browser, which is returned signed in), and
/// their user id.
async fn customer(server: &TestServer) -> (reqwest::Client, String) {
    let browser = server.client();
    let path = session_url(server, SEED_TARGET).await;
    let (status, _, page) = open(&browser, &server.base, &path).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let found = ops(server).get("/admin/v1/users?source=session_url").await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.json);
    let id = found.json["items"][0]["id"].as_str().unwrap().to_string();
    (browser, id)
}

/// A backend asks for a product login URL for the user `id`: the status and the JSON answer.
async fn product_login(server: &TestServer, id: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/products/helpdesk/login-url"))
        .basic_auth("sso-only", Some(crate::session_urls::BACKEND_PASSWORD))
        .json(&json!({"user_id": id, "domain": "acme.help.example.com"}))
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

/// Whether `browser` is signed in (the account page shows, rather than a redirect to login).
async fn signed_in(server: &TestServer, browser: &reqwest::Client) -> bool {
    let response = browser.get(server.url("/account")).send().await.unwrap();
    response.status() == StatusCode::OK
}

/// The audit events of `kind`, oldest first.
async fn audit_of(server: &TestServer, kind: &str) -> Vec<Value> {
    let answer = ops(server)
        .get(&format!("/admin/v1/audit?kind={kind}&limit=200"))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
    answer.json["items"].as_array().unwrap().clone()
}

async fn the_cli_makes_the_first_admin_credential_on_an_empty_database(backend: Backend) {
    let db = TestDb::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("idbridge.toml");
    std::fs::write(&file, with_test_kek(BASE_CONFIG)).unwrap();
    let admin = |args: &[&str]| {
        let output = Command::new(BIN)
            .arg("admin")
            .arg("--config")
            .arg(&file)
            .args(args)
            .env("IDBRIDGE_DATABASE_URL", &db.url)
            .env(TEST_KEK_VAR, TEST_KEK)
            .env("SHOP_SECRET", SHOP_SECRET)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    };
    let (code, out, err) = admin(&[
        "create-credential",
        "--username",
        "root",
        "--scope",
        "admin:read",
        "--scope",
        "admin:write",
        "--output",
        "json",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");
    let made: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(made["username"], "root");
    assert_eq!(made["managed_by"], "api");
    let secret = made["secret"].as_str().unwrap().to_string();
    assert_eq!(secret.len(), 43, "256 bits, base64url");

    // A second one of the same name, and one with an unknown scope, are refused.
    let (code, _, err) = admin(&[
        "create-credential",
        "--username",
        "root",
        "--scope",
        "admin:read",
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("exists already"), "{err}");
    let (code, _, err) = admin(&[
        "create-credential",
        "--username",
        "x",
        "--scope",
        "admin:all",
    ]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("scopes[0]: unknown scope \"admin:all\""),
        "{err}"
    );

    // One made with a name the file will declare gives way to the file's.
    let (code, out, err) = admin(&[
        "create-credential",
        "--username",
        "auditor",
        "--scope",
        "admin:write",
    ]);
    assert_eq!(code, Some(0), "{out}{err}");

    // The server starts on that database: the one made at run time survives the config sync, and
    // works.
    let server = start_on(&db).await;
    let root = Call {
        server: &server,
        who: Some(("root", &secret)),
    };
    let users = root.get("/admin/v1/users").await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.json);
    assert_eq!(users.json["items"][0]["id"], "u-alice");
    assert_eq!(users.json["items"][0]["managed_by"], "config");
    let auditor = Call {
        server: &server,
        who: Some(("auditor", OPS_SECRET)),
    };
    assert_eq!(auditor.get("/admin/v1/users").await.status, StatusCode::OK);
    let listed = root.get("/admin/v1/api_credentials").await.json;
    assert_eq!(listed[0]["username"], "auditor");
    assert_eq!(listed[0]["managed_by"], "config");
    assert_eq!(listed[0]["scopes"], json!(["admin:read"]));

    // The CLI lists the trail in JSON and in text: the change by `cli`, the refusals too.
    let (code, out, err) = admin(&["audit", "--kind", "admin.change", "--output", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let page: Value = serde_json::from_str(&out).unwrap();
    let changes = page["items"].as_array().unwrap();
    assert_eq!(changes.len(), 3, "{out}");
    assert_eq!(changes[0]["actor"], "cli");
    assert_eq!(changes[0]["details"]["resource"], "api_credential");
    assert_eq!(changes[2]["actor"], "config");
    assert_eq!(changes[2]["details"]["id"], "auditor");
    assert_eq!(changes[2]["details"]["action"], "replaced_by_config");
    assert!(!out.contains(&secret), "the secret is never audited");
    let (code, out, _) = admin(&["audit", "--kind", "admin.refused"]);
    assert_eq!(code, Some(0));
    assert_eq!(out.lines().count(), 2, "{out}");
    // A person's sessions and consents, from the command line too.
    assert_continues(
        &server
            .login(&server.client(), ALICE_EMAIL, ALICE_PASSWORD)
            .await,
    );
    let (code, out, err) = admin(&["sessions", "u-alice", "--output", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let sessions: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(sessions.as_array().unwrap().len(), 1, "{out}");
    assert_eq!(sessions[0]["client_addr"], "127.0.0.1");
    let (code, out, _) = admin(&["consents", "u-alice"]);
    assert_eq!((code, out.trim()), (Some(0), ""));
    let (code, _, err) = admin(&["sessions", "nobody"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no user \"nobody\""), "{err}");
    let (code, out, _) = admin(&["credentials"]);
    assert_eq!(code, Some(0));
    assert!(
        out.contains("root  scopes=admin:read,admin:write  managed_by=api"),
        "{out}"
    );
}

async fn users_are_found_changed_disabled_and_deleted(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (browser, id) = customer(&server).await;
    let path = format!("/admin/v1/users/{id}");

    // Without credentials, with a wrong password, without the scope.
    let anonymous = Call {
        server: &server,
        who: None,
    };
    let response = reqwest::get(server.url("/admin/v1/users")).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers()[WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(anonymous.get(&path).await.status, StatusCode::UNAUTHORIZED);
    let wrong = Call {
        server: &server,
        who: Some(("ops", "not the secret")),
    };
    assert_eq!(wrong.get(&path).await.status, StatusCode::UNAUTHORIZED);
    let backend_credential = Call {
        server: &server,
        who: Some(("backend", crate::session_urls::BACKEND_PASSWORD)),
    };
    assert_eq!(
        backend_credential.get(&path).await.status,
        StatusCode::FORBIDDEN
    );
    let auditor = Call {
        server: &server,
        who: Some(("auditor", OPS_SECRET)),
    };
    assert_eq!(auditor.get(&path).await.status, StatusCode::OK);
    let refused = auditor.patch(&path, json!({"name": "X"}), None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // Search: by text, source, entity; paged.
    let all = ops(&server).get("/admin/v1/users").await;
    assert_eq!(all.json["items"].as_array().unwrap().len(), 2);
    let jane = ops(&server).get("/admin/v1/users?q=JANE%40example").await;
    assert_eq!(jane.json["items"][0]["id"], id.as_str());
    assert_eq!(jane.json["items"].as_array().unwrap().len(), 1);
    let wildcard = ops(&server).get("/admin/v1/users?q=%25").await;
    assert_eq!(
        wildcard.json["items"].as_array().unwrap().len(),
        0,
        "% is literal"
    );
    let merchant = ops(&server).get("/admin/v1/users?entity=e-mer-1").await;
    assert_eq!(merchant.json["items"][0]["id"], "u-alice");
    assert_eq!(merchant.json["items"].as_array().unwrap().len(), 1);
    let first = ops(&server).get("/admin/v1/users?limit=1").await;
    let cursor = first.json["next_cursor"].as_str().unwrap().to_string();
    let second = ops(&server)
        .get(&format!("/admin/v1/users?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(second.json["items"].as_array().unwrap().len(), 1);
    assert_ne!(second.json["items"][0]["id"], first.json["items"][0]["id"]);
    let third = ops(&server)
        .get(&format!(
            "/admin/v1/users?limit=1&cursor={}",
            second.json["next_cursor"].as_str().unwrap()
        ))
        .await;
    assert_eq!(third.json["items"].as_array().unwrap().len(), 0);
    assert!(third.json.get("next_cursor").is_none());

    // A change against an old version is refused (412) and changes nothing.
    let shown = ops(&server).get(&path).await;
    let etag = shown.etag.clone().unwrap();
    assert_eq!(shown.json["managed_by"], "api");
    let renamed = ops(&server)
        .patch(&path, json!({"name": "Jane Q. Doe"}), Some(&etag))
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.json);
    assert_eq!(renamed.json["name"], "Jane Q. Doe");
    assert_ne!(renamed.etag.as_deref(), Some(etag.as_str()));
    let stale = ops(&server)
        .patch(&path, json!({"name": "Someone Else"}), Some(&etag))
        .await;
    assert_eq!(
        stale.status,
        StatusCode::PRECONDITION_FAILED,
        "{}",
        stale.json
    );
    assert_eq!(stale.json["error"], "precondition_failed");
    assert_eq!(ops(&server).get(&path).await.json["name"], "Jane Q. Doe");

    // The config file's users are shown but not changed.
    let declared = ops(&server)
        .patch("/admin/v1/users/u-alice", json!({"disabled": true}), None)
        .await;
    assert_eq!(declared.status, StatusCode::CONFLICT);
    assert_eq!(declared.json["error"], "managed_by_config");
    assert!(
        declared.json["message"]
            .as_str()
            .unwrap()
            .contains("config file")
    );
    assert_eq!(
        ops(&server).delete("/admin/v1/users/u-alice").await.status,
        StatusCode::CONFLICT
    );
    assert_eq!(
        ops(&server).get("/admin/v1/users/u-alice").await.json["disabled"],
        false
    );

    // Disabled: the session ends, and the person cannot sign in again until enabled.
    assert!(signed_in(&server, &browser).await);
    let disabled = ops(&server)
        .patch(&path, json!({"disabled": true}), None)
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.json);
    assert_eq!(disabled.json["disabled"], true);
    assert!(!signed_in(&server, &browser).await);
    let only_disabled = ops(&server).get("/admin/v1/users?disabled=true").await;
    assert_eq!(only_disabled.json["items"].as_array().unwrap().len(), 1);
    let again = session_url(&server, SEED_TARGET).await;
    let fresh = server.client();
    let (status, _, page) = open(&fresh, &server.base, &again).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("disabled"), "{page}");
    assert!(!signed_in(&server, &fresh).await);
    let refused = audit_of(&server, "login.failed").await;
    assert_eq!(
        refused.last().unwrap()["details"],
        json!({"connection": "session_url", "reason": "disabled"})
    );
    let (status, answer) = product_login(&server, &id).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(answer["error"], "user_disabled");
    let enabled = ops(&server)
        .patch(&path, json!({"disabled": false}), None)
        .await;
    assert_eq!(enabled.json["disabled"], false);
    assert_eq!(product_login(&server, &id).await.0, StatusCode::OK);
    let (status, _, _) = open(
        &fresh,
        &server.base,
        &session_url(&server, SEED_TARGET).await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(signed_in(&server, &fresh).await);

    // Deleted, with their session.
    let old = ops(&server).get(&path).await.etag.unwrap();
    ops(&server)
        .patch(&path, json!({"email": "jane.doe@example.com"}), None)
        .await;
    let stale_delete = ops(&server)
        .send(reqwest::Method::DELETE, &path, None, Some(&old))
        .await;
    assert_eq!(stale_delete.status, StatusCode::PRECONDITION_FAILED);
    let deleted = ops(&server).delete(&path).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(ops(&server).get(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        ops(&server).delete(&path).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(!signed_in(&server, &fresh).await);
    assert_eq!(server.count("customer_profiles").await, 0);
}

async fn sessions_consents_and_tokens_are_revoked(backend: Backend) {
    let (_db, server) = start(backend).await;
    // Alice signs in twice (two browsers) and allows the relying party her profile.
    let first = Browser::new(&server);
    let returned = first
        .authorize(&authorize_url(&server, "rp-rs256", &[]), true)
        .await;
    assert!(returned.param("code").is_some());
    let second = server.client();
    assert_continues(&server.login(&second, ALICE_EMAIL, ALICE_PASSWORD).await);

    let sessions = ops(&server).get("/admin/v1/users/u-alice/sessions").await;
    let listed = sessions.json.as_array().unwrap().clone();
    assert_eq!(listed.len(), 2, "{}", sessions.json);
    assert!(listed.iter().all(|s| s["client_addr"] == "127.0.0.1"));
    let consents = ops(&server).get("/admin/v1/users/u-alice/consents").await;
    assert_eq!(consents.json[0]["client_id"], "rp-rs256");
    assert_eq!(consents.json[0]["scope"], "openid profile");
    assert_eq!(
        ops(&server)
            .get("/admin/v1/users/nobody/sessions")
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // One session ended by its sid; the other browser stays signed in.
    let sid = listed[0]["sid"].as_str().unwrap();
    let ended = ops(&server)
        .delete(&format!("/admin/v1/users/u-alice/sessions/{sid}"))
        .await;
    assert_eq!(ended.status, StatusCode::NO_CONTENT);
    let again = ops(&server)
        .delete(&format!("/admin/v1/users/u-alice/sessions/{sid}"))
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.json["error"], "not_found");
    let left = ops(&server).get("/admin/v1/users/u-alice/sessions").await;
    assert_eq!(left.json.as_array().unwrap().len(), 1);

    // The consent withdrawn: the next authorization asks again.
    let withdrawn = ops(&server)
        .delete("/admin/v1/users/u-alice/consents/rp-rs256")
        .await;
    assert_eq!(withdrawn.status, StatusCode::NO_CONTENT);
    assert_eq!(
        ops(&server)
            .get("/admin/v1/users/u-alice/consents")
            .await
            .json,
        json!([])
    );

    // Everything revoked: no session left, no browser signed in.
    let revoked = ops(&server)
        .post("/admin/v1/users/u-alice/revoke", None)
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.json);
    assert_eq!(revoked.json["sessions_ended"], 1);
    assert!(!signed_in(&server, &second).await);
    assert!(!signed_in(&server, &first.http).await);
    assert_eq!(server.count("sessions").await, 0);
    let kinds: Vec<Value> = [
        audit_of(&server, "session.ended").await,
        audit_of(&server, "consent.revoked").await,
        audit_of(&server, "access.revoked").await,
    ]
    .into_iter()
    .map(|events| json!(events.iter().map(|e| &e["actor"]).collect::<Vec<_>>()))
    .collect();
    assert_eq!(
        kinds,
        [json!(["api:ops"]), json!(["api:ops"]), json!(["api:ops"])]
    );
}

async fn api_credentials_are_made_shown_once_and_revoked(backend: Backend) {
    let (_db, server) = start(backend).await;
    let made = ops(&server)
        .post(
            "/admin/v1/api_credentials",
            Some(json!({"username": "shop-backend", "scopes": ["session_urls", "admin:read"]})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
    let secret = made.json["secret"].as_str().unwrap().to_string();
    let listed = ops(&server).get("/admin/v1/api_credentials").await;
    let text = listed.json.to_string();
    assert!(!text.contains(&secret), "shown once: {text}");
    let usernames: Vec<&str> = listed
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["username"].as_str().unwrap())
        .collect();
    assert_eq!(
        usernames,
        ["auditor", "backend", "ops", "shop-backend", "sso-only"]
    );
    let stored: Vec<String> = ops(&server)
        .get("/admin/v1/api_credentials")
        .await
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["managed_by"] == "config")
        .map(|c| c["username"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(stored, ["auditor", "backend", "ops", "sso-only"]);

    // It works, with its scopes only.
    let made_one = Call {
        server: &server,
        who: Some(("shop-backend", &secret)),
    };
    assert_eq!(made_one.get("/admin/v1/users").await.status, StatusCode::OK);
    assert_eq!(
        made_one
            .post("/admin/v1/users/u-alice/revoke", None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // A name taken, a name the file declares, and a scope the maker does not hold itself
    // (sso_urls would sign in as anyone).
    for (username, scope, status, error) in [
        ("shop-backend", "admin:read", StatusCode::CONFLICT, "exists"),
        (
            "auditor",
            "admin:read",
            StatusCode::CONFLICT,
            "managed_by_config",
        ),
        ("anyone", "sso_urls", StatusCode::FORBIDDEN, "forbidden"),
    ] {
        let refused = ops(&server)
            .post(
                "/admin/v1/api_credentials",
                Some(json!({"username": username, "scopes": [scope]})),
            )
            .await;
        assert_eq!(refused.status, status, "{username}: {}", refused.json);
        assert_eq!(refused.json["error"], error, "{username}");
    }
    let declared = ops(&server).delete("/admin/v1/api_credentials/ops").await;
    assert_eq!(declared.status, StatusCode::CONFLICT);
    assert_eq!(declared.json["error"], "managed_by_config");

    // Revoked, it stops working at once.
    let revoked = ops(&server)
        .delete("/admin/v1/api_credentials/shop-backend")
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_eq!(
        made_one.get("/admin/v1/users").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        ops(&server)
            .delete("/admin/v1/api_credentials/shop-backend")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn bad_input_is_refused_naming_the_field_and_stores_nothing(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (_, id) = customer(&server).await;
    let path = format!("/admin/v1/users/{id}");
    let before = ops(&server).get(&path).await;
    let audit_rows = server.count("audit_events").await;
    let credentials = server.count("api_credentials").await;

    let cases: Vec<(Value, &str)> = vec![
        (json!({"email": "not an address"}), "email"),
        (json!({"name": ""}), "name"),
        (json!({"disabled": "yes"}), "disabled"),
        (json!({"name": "X", "role": "admin"}), "role"),
        (json!(["name"]), "body"),
    ];
    for (body, field) in &cases {
        let refused = ops(&server).patch(&path, body.clone(), None).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            refused.json
        );
        assert_eq!(refused.json["error"], "invalid_request");
        assert_eq!(refused.json["field"], *field, "{body}: {}", refused.json);
    }
    let credential_cases: Vec<(Value, &str)> = vec![
        (
            json!({"username": "a:b", "scopes": ["admin:read"]}),
            "username",
        ),
        (
            json!({"username": "x", "scopes": ["session_urls", "root"]}),
            "scopes[1]",
        ),
        (json!({"username": "x", "scopes": []}), "scopes"),
        (json!({"username": "x"}), "body"),
        (json!({"username": 7, "scopes": []}), "username"),
    ];
    for (body, field) in &credential_cases {
        let refused = ops(&server)
            .post("/admin/v1/api_credentials", Some(body.clone()))
            .await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            refused.json
        );
        assert_eq!(refused.json["field"], *field, "{body}: {}", refused.json);
    }

    // Not JSON, oversized, a malformed If-Match, bad query parameters.
    let http = reqwest::Client::new();
    let not_json = http
        .patch(server.url(&path))
        .basic_auth("ops", Some(OPS_SECRET))
        .header(CONTENT_TYPE, "text/plain")
        .body("{\"name\": \"X\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    let huge = http
        .patch(server.url(&path))
        .basic_auth("ops", Some(OPS_SECRET))
        .header(CONTENT_TYPE, "application/json")
        .body(format!("{{\"name\": \"{}\"}}", "x".repeat(64 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let bad_tag = ops(&server)
        .patch(&path, json!({"name": "X"}), Some("W/\"abc\""))
        .await;
    assert_eq!(bad_tag.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_tag.json["field"], "If-Match");
    for query in ["limit=0", "limit=201", "cursor=%%%", "disabled=maybe"] {
        let refused = ops(&server).get(&format!("/admin/v1/users?{query}")).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{query}");
    }
    let bad_kind = ops(&server).get("/admin/v1/audit?kind=everything").await;
    assert_eq!(bad_kind.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_kind.json["field"], "kind");

    // Nothing changed; each refused change wrote its refusal and nothing else.
    let after = ops(&server).get(&path).await;
    assert_eq!(after.json, before.json);
    assert_eq!(after.etag, before.etag);
    assert_eq!(server.count("api_credentials").await, credentials);
    let refusals = audit_of(&server, "admin.refused").await;
    let written = server.count("audit_events").await - audit_rows;
    assert_eq!(refusals.len() as i64, written);
    // The body-level refusals (PATCH and POST), the text body, the oversized one and the bad tag.
    assert_eq!(written, (cases.len() + credential_cases.len() + 3) as i64);
    assert!(
        refusals
            .iter()
            .all(|e| e["actor"] == "api:ops" && e["client_addr"] == "127.0.0.1")
    );
    assert_eq!(refusals[0]["details"]["id"], id.as_str());
    assert!(
        refusals[0]["details"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("email: ")
    );
}

async fn the_audit_trail_records_logins_and_changes(backend: Backend) {
    let (_db, server) = start(backend).await;
    let http = server.client();
    let wrong = server.login(&http, ALICE_EMAIL, "not her password").await;
    assert_eq!(wrong.status(), StatusCode::SEE_OTHER);
    assert_continues(&server.login(&http, ALICE_EMAIL, ALICE_PASSWORD).await);
    let (_, id) = customer(&server).await;
    ops(&server)
        .patch(
            &format!("/admin/v1/users/{id}"),
            json!({"name": "Janet"}),
            None,
        )
        .await;

    let failed = audit_of(&server, "login.failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(
        failed[0]["details"],
        json!({"connection": "local", "reason": "invalid_credentials"})
    );
    assert_eq!(failed[0]["actor"], "person");
    assert_eq!(failed[0]["client_addr"], "127.0.0.1");
    let succeeded = audit_of(&server, "login.succeeded").await;
    let connections: Vec<(&Value, &Value)> = succeeded
        .iter()
        .map(|e| (&e["user_id"], &e["details"]["connection"]))
        .collect();
    assert_eq!(
        connections,
        [
            (&json!("u-alice"), &json!("local")),
            (&json!(id), &json!("session_url"))
        ]
    );
    let changes = audit_of(&server, "admin.change").await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["actor"], "api:ops");
    assert_eq!(changes[0]["user_id"], id.as_str());
    assert_eq!(changes[0]["details"]["before"]["name"], "Jane Doe");
    assert_eq!(changes[0]["details"]["after"]["name"], "Janet");

    // A consent given, a token revoked by its client, a code redeemed twice (its grant revoked).
    let code = Browser::new(&server)
        .authorize(&authorize_url(&server, "rp-rs256", &[]), true)
        .await
        .param("code")
        .unwrap();
    let (status, tokens) = redeem(&server, "rp-rs256", &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (status, _) = post_form(
        &server,
        "/sso/v2/revoke",
        &[("token", tokens["access_token"].as_str().unwrap())],
        Some(("rp-rs256", RP_SECRET)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Replayed twice: the first replay revokes the grant and is recorded, the second finds
    // nothing left to revoke and writes nothing.
    for _ in 0..2 {
        let (status, _) = redeem(&server, "rp-rs256", &code).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let granted = audit_of(&server, "consent.granted").await;
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0]["user_id"], "u-alice");
    assert_eq!(
        granted[0]["details"],
        json!({"client_id": "rp-rs256", "scope": "openid profile"})
    );
    let replayed = audit_of(&server, "grant.replayed").await;
    assert_eq!(replayed.len(), 1);
    assert_eq!(replayed[0]["actor"], "client:rp-rs256");
    assert_eq!(replayed[0]["details"]["presented"], "authorization_code");
    let revoked = audit_of(&server, "tokens.revoked").await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["actor"], "client:rp-rs256");
    assert_eq!(revoked[0]["user_id"], "u-alice");
    let text = ops(&server)
        .get("/admin/v1/audit?limit=200")
        .await
        .json
        .to_string();
    for secret in [
        &code,
        tokens["access_token"].as_str().unwrap(),
        ALICE_PASSWORD,
    ] {
        assert!(!text.contains(secret), "the trail holds no secret");
    }

    // Alice signs out of the first browser.
    let csrf = server.csrf_token(&http, "/account").await;
    let signed_out = http
        .post(server.url("/sso/v2/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_continues(&signed_out);
    let ended = audit_of(&server, "session.ended").await;
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0]["actor"], "person");
    assert_eq!(ended[0]["user_id"], "u-alice");
    assert!(ended[0]["details"]["sid"].is_string());

    // Filters: by user, by actor, by time; a page at a time in order.
    let of_jane = ops(&server)
        .get(&format!("/admin/v1/audit?user={id}"))
        .await;
    assert_eq!(of_jane.json["items"].as_array().unwrap().len(), 2);
    let by_ops = ops(&server).get("/admin/v1/audit?actor=api:ops").await;
    assert_eq!(by_ops.json["items"].as_array().unwrap().len(), 1);
    let by_person = ops(&server)
        .get("/admin/v1/audit?actor=person&limit=200")
        .await;
    assert_eq!(
        by_person.json["items"].as_array().unwrap().len(),
        6,
        "{}",
        by_person.json
    );
    let future = ops(&server).get("/admin/v1/audit?from=99999999999").await;
    assert_eq!(future.json["items"], json!([]));
    let mut ids = Vec::new();
    let mut next = "/admin/v1/audit?limit=2".to_string();
    loop {
        let page = ops(&server).get(&next).await;
        ids.extend(
            page.json["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_i64().unwrap()),
        );
        match page.json["next_cursor"].as_str() {
            Some(cursor) => next = format!("/admin/v1/audit?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(ids.len(), 9, "{ids:?}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
}

async fn audit_events_are_kept_for_the_retention_only(backend: Backend) {
    let db = TestDb::new(backend).await;
    let config = format!("{BASE_CONFIG}{ADMIN_CONFIG}\n[server]\naudit_retention = \"1d\"\n");
    let clock = idbridge::Clock::system();
    let server = TestServer::start_with(&db, &config, clock.clone(), &[("OPS_SECRET", OPS_SECRET)])
        .await
        .unwrap();
    assert_continues(
        &server
            .login(&server.client(), ALICE_EMAIL, ALICE_PASSWORD)
            .await,
    );
    clock.advance(12 * 3600);
    server.login(&server.client(), ALICE_EMAIL, "wrong").await;
    clock.advance(13 * 3600);
    idbridge::sweep::sweep_expired(&server.state).await.unwrap();
    let left = ops(&server).get("/admin/v1/audit").await;
    let kinds: Vec<&Value> = left.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["kind"])
        .collect();
    assert_eq!(kinds, [&json!("login.failed")], "{}", left.json);
}

async fn each_credential_has_its_own_rate(backend: Backend) {
    let db = TestDb::new(backend).await;
    let config = format!(
        "{BASE_CONFIG}{ADMIN_CONFIG}\n[server]\nadmin_requests_per_second_per_credential = 2\n"
    );
    let server = TestServer::start_with(
        &db,
        &config,
        idbridge::Clock::system(),
        &[("OPS_SECRET", OPS_SECRET)],
    )
    .await
    .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let response = reqwest::Client::new()
            .get(server.url("/admin/v1/users"))
            .basic_auth("ops", Some(OPS_SECRET))
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(response.headers().contains_key("retry-after"));
        }
        statuses.push(response.status());
    }
    assert_eq!(statuses[..2], [StatusCode::OK, StatusCode::OK]);
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    let auditor = Call {
        server: &server,
        who: Some(("auditor", OPS_SECRET)),
    };
    assert_eq!(auditor.get("/admin/v1/users").await.status, StatusCode::OK);
}

async fn a_credential_revoked_at_one_process_stops_at_the_others_within_seconds(backend: Backend) {
    let (db, server) = start(backend).await;
    let other = ServerProcess::spawn(&db, &config(), "http://127.0.0.1", &env()).await;
    let made = ops(&server)
        .post(
            "/admin/v1/api_credentials",
            Some(json!({"username": "temporary", "scopes": ["admin:read"]})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
    let secret = made.json["secret"].as_str().unwrap().to_string();
    let at_other = || async {
        reqwest::Client::new()
            .get(other.url("/admin/v1/users"))
            .basic_auth("temporary", Some(&secret))
            .send()
            .await
            .unwrap()
            .status()
    };
    // The other process verifies it, and remembers that for a minute unless told otherwise.
    assert_eq!(at_other().await, StatusCode::OK);
    assert_eq!(
        ops(&server)
            .delete("/admin/v1/api_credentials/temporary")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let revoked_at = std::time::Instant::now();
    while at_other().await == StatusCode::OK {
        assert!(
            revoked_at.elapsed() < std::time::Duration::from_secs(8),
            "the other process still takes the revoked credential"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(at_other().await, StatusCode::UNAUTHORIZED);
}

/// The shell block after `<!-- {marker} -->` in docs/admin.md, run as it stands with bash
/// against `server` as the credential `ops`, with `env` besides; what it printed.
pub(crate) async fn run_walkthrough(
    server: &TestServer,
    marker: &str,
    env: &[(&str, &str)],
) -> String {
    let doc = include_str!("../../docs/admin.md");
    let block = doc
        .split_once(&format!("<!-- {marker} -->\n```sh\n"))
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .map(|(block, _)| block)
        .unwrap_or_else(|| panic!("docs/admin.md has no block after <!-- {marker} -->"));
    let output = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", block])
        .env("IDBRIDGE", &server.base)
        .env("OPS_SECRET", OPS_SECRET)
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    let out = String::from_utf8(output.stdout).unwrap();
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{out}\n{err}");
    out
}

/// The shell block after `<!-- walkthrough -->` in docs/admin.md, run as it stands with bash.
async fn the_walkthrough_of_docs_admin_md_runs(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (browser, id) = customer(&server).await;
    let out = run_walkthrough(&server, "walkthrough", &[]).await;
    assert!(
        out.contains("from 127.0.0.1"),
        "the session is listed: {out}"
    );
    assert!(
        out.contains(&format!("{{\"id\":\"{id}\",\"disabled\":true}}")),
        "{out}"
    );
    assert!(out.contains("login.succeeded by person"), "{out}");
    assert!(out.contains("admin.change by api:ops"), "{out}");
    assert_eq!(
        ops(&server)
            .get(&format!("/admin/v1/users/{id}"))
            .await
            .json["disabled"],
        true
    );
    assert!(!signed_in(&server, &browser).await);
}

async fn what_the_file_declares_is_shown_without_secrets(backend: Backend) {
    let (_db, server) = start(backend).await;
    let clients = ops(&server).get("/admin/v1/clients").await;
    assert_eq!(clients.status, StatusCode::OK);
    let ids: Vec<&str> = clients.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"shop") && ids.contains(&"rp-rs256"),
        "{ids:?}"
    );
    let shop = ops(&server).get("/admin/v1/clients/shop").await;
    assert_eq!(
        shop.json["redirect_uris"],
        json!(["https://shop.example.com/callback"])
    );
    assert_eq!(shop.json["public"], false);
    assert_eq!(shop.json["managed_by"], "config");
    assert_eq!(
        ops(&server).get("/admin/v1/clients/nobody").await.status,
        StatusCode::NOT_FOUND
    );
    // By id, in pages.
    let entities = ops(&server).get("/admin/v1/entities?limit=2").await;
    let cursor = entities.json["next_cursor"].as_str().unwrap();
    let rest = ops(&server)
        .get(&format!("/admin/v1/entities?cursor={cursor}"))
        .await;
    assert_eq!(rest.json["items"][0]["id"], "e-psp-1");
    assert_eq!(rest.json.get("next_cursor"), None);
    assert_eq!(
        entities.json["items"][1],
        json!({"id": "e-mer-1", "name": "MerchantName", "level": "MERCHANT", "parent": "e-div-1", "managed_by": "config"})
    );
    let products = ops(&server).get("/admin/v1/products").await;
    assert_eq!(products.json["items"][0]["id"], "helpdesk");
    assert_eq!(products.json["items"][0]["format"], "workspace");
    assert_eq!(products.json["items"][0]["secrets"], 1);
    let connections = ops(&server).get("/admin/v1/connections").await;
    assert_eq!(connections.json, json!({"items": []}));
    let only_api = ops(&server).get("/admin/v1/clients?managed_by=api").await;
    assert_eq!(only_api.json, json!({"items": []}));
    let wrong = ops(&server).get("/admin/v1/clients?managed_by=me").await;
    assert_eq!(wrong.json["field"], "managed_by");
    let everything = format!("{}{}{}", clients.json, products.json, shop.json);
    for secret in [
        SHOP_SECRET,
        RP_SECRET,
        "helpdesk-secret-1-0123456789abcdefghijklmnop",
    ] {
        assert!(!everything.contains(secret), "no secret is shown");
    }
    let unauthorized = reqwest::get(server.url("/admin/v1/clients")).await.unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
}

/// The OpenAPI document lists exactly the routes served: every operation it names answers (401
/// without credentials, not 404 or 405), and it names each one the tests above use.
#[tokio::test]
async fn the_openapi_document_matches_the_routes() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = start_on(&db).await;
    let response = reqwest::get(server.url("/admin/v1/openapi.json"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let document: Value = response.json().await.unwrap();
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        document["openapi"]
    );
    let mut operations = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.push(format!("{} {path}", method.to_uppercase()));
            let concrete = path
                .replace("{kind}", "clients")
                .replace("{id}", "u-alice")
                .replace("{sid}", "s")
                .replace("{client_id}", "c")
                .replace("{username}", "u");
            let answer = reqwest::Client::new()
                .request(
                    method.to_uppercase().parse().unwrap(),
                    server.url(&concrete),
                )
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
        }
    }
    operations.sort();
    assert_eq!(
        operations,
        [
            "DELETE /admin/v1/api_credentials/{username}",
            "DELETE /admin/v1/users/{id}",
            "DELETE /admin/v1/users/{id}/consents/{client_id}",
            "DELETE /admin/v1/users/{id}/sessions/{sid}",
            "DELETE /admin/v1/{kind}/{id}",
            "GET /admin/v1/api_credentials",
            "GET /admin/v1/audit",
            "GET /admin/v1/users",
            "GET /admin/v1/users/{id}",
            "GET /admin/v1/users/{id}/consents",
            "GET /admin/v1/users/{id}/sessions",
            "GET /admin/v1/{kind}",
            "GET /admin/v1/{kind}/{id}",
            "PATCH /admin/v1/users/{id}",
            "POST /admin/v1/api_credentials",
            "POST /admin/v1/clients/{id}/secret",
            "POST /admin/v1/connections/{id}/refresh",
            "POST /admin/v1/products/{id}/secrets",
            "POST /admin/v1/service_providers/{id}/refresh",
            "POST /admin/v1/users/{id}/revoke",
            "POST /admin/v1/{kind}",
            "PUT /admin/v1/{kind}/{id}",
        ]
    );
    assert_eq!(
        document["components"]["securitySchemes"]["basic"]["scheme"],
        "basic"
    );
}
