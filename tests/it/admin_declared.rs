//! Run-time clients, entities, connections and products through `/admin/v1/{kind}` and
//! `idbridge admin`: made, changed, rotated and deleted; refused by the config file's rules; in
//! force at once here and within seconds at another process on the same database.
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::admin::{ADMIN_CONFIG, BIN, Call, OPS_SECRET, config, env, ops, run_walkthrough, start};
use crate::saml_idp::*;
use crate::support::*;
use crate::upstream_saml::{acme_spec, idp_metadata, metadata_server, post_acs, to_idp};

crate::backend_tests!(
    a_client_is_made_changed_rotated_and_deleted,
    declarations_are_refused_by_the_files_rules_and_store_nothing,
    entities_move_and_do_not_go_from_under_what_depends_on_them,
    products_are_made_and_their_secrets_rotated,
    a_connection_reads_its_idp_from_a_metadata_url_or_document,
    the_saml_onboarding_walkthrough_of_docs_admin_md_runs,
    every_kind_refuses_stale_foreign_and_oversized_changes,
    a_file_that_takes_a_run_time_id_stops_the_start_until_it_is_undeclared,
    a_client_signing_with_an_algorithm_new_here_gets_its_key_at_once,
    a_connection_made_at_one_process_signs_people_in_at_another,
);

const APP_CALLBACK: &str = "https://app.example.com/callback";

/// The status and OAuth error of a code exchange by `client_id` with `secret` (a made-up code:
/// `invalid_grant` says the client was authenticated, `invalid_client` that it was not).
async fn token_error(server: &TestServer, client_id: &str, secret: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(server.url("/sso/v2/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "made-up"),
            ("redirect_uri", APP_CALLBACK),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status();
    (
        status,
        response.json::<Value>().await.unwrap()["error"].clone(),
    )
}

/// The status of an authorization request of `client_id` (a registered client is sent on to
/// sign in; an unknown one gets an error page).
async fn authorize_status(server: &TestServer, client_id: &str) -> StatusCode {
    let url = format!(
        "/sso/v2/authorize?client_id={client_id}&redirect_uri={APP_CALLBACK}&response_type=code\
         &scope=openid&state=s&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
         &code_challenge_method=S256"
    );
    server
        .client()
        .get(server.url(&url))
        .send()
        .await
        .unwrap()
        .status()
}

/// The `admin.change` events recorded of `id`, as `action` values, oldest first.
async fn changes_of(server: &TestServer, id: &str) -> Vec<String> {
    let events = ops(server)
        .get("/admin/v1/audit?kind=admin.change&limit=200")
        .await;
    events.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["details"]["id"] == id)
        .map(|e| e["details"]["action"].as_str().unwrap().to_string())
        .collect()
}

/// A SAML connection `acme` whose IdP signs with `idp`, attaching its people to `entity`.
fn acme(idp: &IdpKey, entity: &str) -> Value {
    json!({"id": "acme", "type": "saml", "name": "Acme SSO", "entity": entity,
           "domains": ["acme.test"], "idp_entity_id": IDP_ENTITY,
           "idp_sso_url": "https://idp.acme.test/sso", "idp_certificate": idp.cert_b64,
           "attributes": {"name": "displayName"}})
}

/// Alice signs in at the idbridge at `base` through its connection `acme`, whose IdP answers
/// signed with `idp`; whether she got to her account page.
async fn alice_signs_in(base: &str, idp: &IdpKey) -> bool {
    let alice = browser();
    let outstanding = to_idp(
        base,
        &alice,
        &format!("{base}/saml/acme/login?return_to=/account"),
    )
    .await;
    let spec = acme_spec(base, Some(&outstanding.request_id));
    let acs = post_acs(
        &alice,
        &format!("{base}/saml/acme/acs"),
        &encode(&idp.response(&spec)),
        Some(&outstanding.relay_state),
    )
    .await;
    if acs.status() != StatusCode::SEE_OTHER {
        return false;
    }
    let resumed = alice
        .get(format!("{base}{}", location(&acs).unwrap()))
        .send()
        .await
        .unwrap();
    location(&resumed).as_deref() == Some("/account")
}

/// The tokens the client `app` (with `secret`) gets for Alice, who signs in and allows `scope`.
async fn alices_tokens(server: &TestServer, scope: &str, secret: &str) -> Value {
    let extra = [("redirect_uri", APP_CALLBACK), ("scope", scope)];
    let url = crate::oidc::authorize_url(server, "app", &extra);
    let code = crate::oidc::Browser::new(server)
        .authorize(&url, true)
        .await
        .param("code")
        .expect("a code");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", APP_CALLBACK),
        ("code_verifier", crate::oidc::VERIFIER),
    ];
    let (status, tokens) =
        crate::oidc::post_form(server, "/sso/v2/token", &form, Some(("app", secret))).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    tokens
}

async fn a_client_is_made_changed_rotated_and_deleted(backend: Backend) {
    let (db, server) = start(backend).await;
    assert_eq!(
        authorize_status(&server, "app").await,
        StatusCode::BAD_REQUEST
    );
    let made = ops(&server)
        .post(
            "/admin/v1/clients",
            Some(json!({"client_id": "app", "redirect_uris": [APP_CALLBACK]})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
    let first_version = made.etag.clone().expect("an ETag");
    assert_eq!(made.json["managed_by"], "api");
    assert_eq!(made.json["public"], false);
    let secret = made.json["client_secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 43);

    // In force at once: the client may ask for a code, and its secret authenticates it.
    assert_eq!(
        authorize_status(&server, "app").await,
        StatusCode::SEE_OTHER
    );
    let authenticated = (StatusCode::BAD_REQUEST, json!("invalid_grant"));
    let refused = (StatusCode::UNAUTHORIZED, json!("invalid_client"));
    assert_eq!(token_error(&server, "app", &secret).await, authenticated);
    assert_eq!(token_error(&server, "app", "guess").await, refused);

    let shown = ops(&server).get("/admin/v1/clients/app").await;
    assert_eq!(shown.etag.as_ref(), Some(&first_version));
    assert!(!shown.json.to_string().contains(&secret));
    // What a PUT would change: the declaration as given, without the secret.
    assert_eq!(
        shown.json["declaration"],
        json!({"client_id": "app", "redirect_uris": [APP_CALLBACK]})
    );
    // It lives in the database: a restart (here a second start on it) keeps it, and the config
    // sync of that start leaves it alone.
    let restarted = TestServer::start_with(&db, &config(), idbridge::Clock::system(), &env())
        .await
        .expect("starts");
    assert_eq!(
        authorize_status(&restarted, "app").await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(token_error(&restarted, "app", &secret).await, authenticated);
    drop(restarted);

    // A change against an old version is refused; against the current one it holds.
    let changed = json!({"client_id": "app",
                         "redirect_uris": [APP_CALLBACK, "https://app.example.com/other"]});
    let stale = ops(&server)
        .put("/admin/v1/clients/app", changed.clone(), Some("\"70\""))
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let updated = ops(&server)
        .put("/admin/v1/clients/app", changed, Some(&first_version))
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.json);
    assert!(updated.etag.is_some() && updated.etag != Some(first_version));
    assert_eq!(
        updated.json["redirect_uris"][1],
        "https://app.example.com/other"
    );
    // Its secret was kept.
    assert_eq!(token_error(&server, "app", &secret).await, authenticated);

    let rotated = ops(&server)
        .post("/admin/v1/clients/app/secret", None)
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.json);
    let new_secret = rotated.json["client_secret"].as_str().unwrap().to_string();
    assert_ne!(new_secret, secret);
    assert_eq!(token_error(&server, "app", &secret).await, refused);
    assert_eq!(
        token_error(&server, "app", &new_secret).await,
        authenticated
    );

    // Alice signs in at the client and lets it read her profile; its token reads it.
    let tokens = alices_tokens(&server, "openid profile", &new_secret).await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let userinfo = || async {
        reqwest::Client::new()
            .get(server.url("/sso/v2/userinfo"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(userinfo().await, StatusCode::OK);
    let consents = || async {
        ops(&server)
            .get("/admin/v1/users/u-alice/consents")
            .await
            .json
            .to_string()
    };
    assert!(consents().await.contains("\"app\""));

    // Deleted, it takes its tokens and the consents given it along.
    let deleted = ops(&server).delete("/admin/v1/clients/app").await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let since = Instant::now();
    while userinfo().await != StatusCode::UNAUTHORIZED {
        assert!(
            since.elapsed() < Duration::from_secs(5),
            "its token still reads"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!consents().await.contains("\"app\""));
    assert_eq!(
        authorize_status(&server, "app").await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(token_error(&server, "app", &new_secret).await, refused);
    assert_eq!(
        ops(&server).get("/admin/v1/clients/app").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(server.count("declarations").await, 0);

    assert_eq!(
        changes_of(&server, "app").await,
        ["create", "update", "rotate_secret", "delete"]
    );
    let trail = ops(&server).get("/admin/v1/audit?limit=200").await.json;
    for secret in [&secret, &new_secret] {
        assert!(!trail.to_string().contains(secret.as_str()));
    }
}

async fn declarations_are_refused_by_the_files_rules_and_store_nothing(backend: Backend) {
    let (_db, server) = start(backend).await;
    let post = |kind: &'static str, body: Value| {
        let server = &server;
        async move {
            ops(server)
                .post(&format!("/admin/v1/{kind}"), Some(body))
                .await
        }
    };
    let refusals: Vec<(&str, Value, StatusCode, &str, &str)> = vec![
        (
            "clients",
            json!({"client_id": "app", "redirect_uris": ["not a url"]}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uris[0]",
        ),
        (
            "clients",
            json!({"client_id": "app", "redirect_uris": [APP_CALLBACK], "colour": "red"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "colour",
        ),
        (
            "clients",
            json!({"client_id": "app", "redirect_uris": [APP_CALLBACK], "client_secret": "mine"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_secret",
        ),
        (
            "clients",
            json!({"client_id": "shop", "redirect_uris": [APP_CALLBACK]}),
            StatusCode::CONFLICT,
            "managed_by_config",
            "",
        ),
        (
            "entities",
            json!({"id": "d-x", "name": "X", "level": "DIVISION", "parent": "nowhere"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "parent",
        ),
        (
            "entities",
            json!({"id": "p-x", "name": "X", "level": "PSP", "branding": {"css": "/etc/passwd"}}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "branding",
        ),
        (
            "connections",
            json!({"id": "acme", "type": "saml", "entity": "e-mer-1",
                   "idp_metadata": "/etc/passwd"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "idp_metadata",
        ),
        (
            "connections",
            json!({"id": "acme", "type": "oidc", "entity": "e-mer-1",
                   "issuer": "https://idp.example.com", "client_id": "x",
                   "client_secret": "env:OPS_SECRET"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_secret",
        ),
        (
            "products",
            json!({"id": "help", "format": "desk", "allowed_domains": ["help.example.com"]}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "format",
        ),
        (
            "clients",
            json!({"client_id": "a/b", "redirect_uris": [APP_CALLBACK]}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id",
        ),
        (
            "widgets",
            json!({"id": "w"}),
            StatusCode::NOT_FOUND,
            "not_found",
            "",
        ),
    ];
    for (kind, body, status, error, field) in refusals {
        let answer = post(kind, body.clone()).await;
        assert_eq!(answer.status, status, "{body}: {}", answer.json);
        assert_eq!(answer.json["error"], error, "{body}");
        if !field.is_empty() {
            assert_eq!(answer.json["field"], field, "{body}: {}", answer.json);
        }
    }
    // Config-managed objects are not changed or deleted through the API.
    let shop = json!({"client_id": "shop", "redirect_uris": [APP_CALLBACK]});
    let put = ops(&server).put("/admin/v1/clients/shop", shop, None).await;
    assert_eq!(put.json["error"], "managed_by_config");
    let delete = ops(&server).delete("/admin/v1/entities/e-mer-1").await;
    assert_eq!(delete.json["error"], "managed_by_config");
    // A credential that may only read may not change.
    let auditor = Call {
        server: &server,
        who: Some(("auditor", OPS_SECRET)),
    };
    let forbidden = auditor
        .post(
            "/admin/v1/clients",
            Some(json!({"client_id": "app", "redirect_uris": [APP_CALLBACK]})),
        )
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    // A duplicate is refused once the first exists.
    let first = post(
        "entities",
        json!({"id": "d-x", "name": "X", "level": "DIVISION", "parent": "e-psp-1"}),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.json);
    let again = post(
        "entities",
        json!({"id": "d-x", "name": "Y", "level": "DIVISION", "parent": "e-psp-1"}),
    )
    .await;
    assert_eq!(again.json["error"], "exists");
    // Of all these, one declaration and one change were stored; every refusal was audited (the
    // credential without the scope got no further than authentication).
    assert_eq!(server.count("declarations").await, 1);
    assert_eq!(changes_of(&server, "d-x").await, ["create"]);
    let refused = ops(&server)
        .get("/admin/v1/audit?kind=admin.refused&limit=200")
        .await;
    assert_eq!(refused.json["items"].as_array().unwrap().len(), 14);
}

async fn entities_move_and_do_not_go_from_under_what_depends_on_them(backend: Backend) {
    let (db, server) = start(backend).await;
    let made = |body: Value| {
        let server = &server;
        async move {
            let answer = ops(server).post("/admin/v1/entities", Some(body)).await;
            assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.json);
        }
    };
    made(json!({"id": "d-api", "name": "Api Division", "level": "DIVISION", "parent": "e-psp-1"}))
        .await;
    made(json!({"id": "m-api", "name": "Api Shop", "level": "MERCHANT", "parent": "d-api"})).await;

    // The division has a merchant below it.
    let refused = ops(&server).delete("/admin/v1/entities/d-api").await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.json);
    assert_eq!(refused.json["error"], "in_use");

    // A connection attaches its people to the merchant: deleting that breaks the connection.
    let idp = IdpKey::generate();
    let answer = ops(&server)
        .post("/admin/v1/connections", Some(acme(&idp, "m-api")))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.json);
    let refused = ops(&server).delete("/admin/v1/entities/m-api").await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.json);
    assert_eq!(refused.json["field"], r#"connections["acme"].entity"#);
    assert!(alice_signs_in(&server.base, &idp).await);

    // The merchant moves to the file's division, with its connection and its people.
    let read = ops(&server).get("/admin/v1/entities/m-api").await;
    let moved = ops(&server)
        .put(
            "/admin/v1/entities/m-api",
            json!({"id": "m-api", "name": "Api Shop", "level": "MERCHANT", "parent": "e-div-1"}),
            read.etag.as_deref(),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.json);
    let shown = ops(&server).get("/admin/v1/entities/m-api").await;
    assert_eq!(shown.json["parent"], "e-div-1");
    // A merchant under a merchant breaks the tree's rules.
    let wrong = ops(&server)
        .put(
            "/admin/v1/entities/m-api",
            json!({"id": "m-api", "name": "Api Shop", "level": "MERCHANT", "parent": "e-mer-1"}),
            None,
        )
        .await;
    assert_eq!(wrong.json["field"], "parent", "{}", wrong.json);
    // Now nothing is below the division.
    let deleted = ops(&server).delete("/admin/v1/entities/d-api").await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.json);

    // Without its connection, the merchant still has Alice attached: she would be left without
    // it, so only a cascading delete takes it, and her attachment with it.
    assert_eq!(server.count("upstream_identities").await, 1);
    let gone = ops(&server).delete("/admin/v1/connections/acme").await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.json);
    // A connection made again with its id does not take over its people.
    assert_eq!(server.count("upstream_identities").await, 0);
    let refused = ops(&server).delete("/admin/v1/entities/m-api").await;
    assert_eq!(refused.json["error"], "in_use", "{}", refused.json);
    let alice =
        || async { ops(&server).get("/admin/v1/users?source=acme").await.json["items"][0].clone() };
    assert_eq!(alice().await["entity_ids"], json!(["m-api"]));
    let cascaded = ops(&server)
        .delete("/admin/v1/entities/m-api?cascade=true")
        .await;
    assert_eq!(cascaded.status, StatusCode::NO_CONTENT, "{}", cascaded.json);
    assert_eq!(alice().await["entity_ids"], json!([]));

    // A subtree goes whole when asked, with its people's attachments; through the command line.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("idbridge.toml");
    std::fs::write(&file, with_test_kek(&config())).unwrap();
    let declare = |kind: &str, body: Value| {
        let path = dir.path().join("body.json");
        std::fs::write(&path, body.to_string()).unwrap();
        cli(&db, &file, &["declare", kind, path.to_str().unwrap()])
    };
    declare(
        "entities",
        json!({"id": "d-two", "name": "Two", "level": "DIVISION", "parent": "e-psp-1"}),
    );
    declare(
        "entities",
        json!({"id": "m-two", "name": "Two Shop", "level": "MERCHANT", "parent": "d-two"}),
    );
    // The running server takes what the command made within seconds.
    let since = Instant::now();
    while ops(&server).get("/admin/v1/entities/m-two").await.status != StatusCode::OK {
        assert!(since.elapsed() < Duration::from_secs(8), "not taken");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let cascaded = ops(&server)
        .delete("/admin/v1/entities/d-two?cascade=true")
        .await;
    assert_eq!(cascaded.status, StatusCode::NO_CONTENT, "{}", cascaded.json);
    let entities = ops(&server).get("/admin/v1/entities").await;
    let ids: Vec<&str> = entities.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["e-div-1", "e-mer-1", "e-psp-1"]);
    declare(
        "entities",
        json!({"id": "d-three", "name": "Three", "level": "DIVISION", "parent": "e-psp-1"}),
    );
    let listed = cli(&db, &file, &["declared", "entities", "--output", "json"]);
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[3]["id"], "d-three");
    assert_eq!(listed[3]["managed_by"], "api");
}

/// Runs `idbridge admin …` with `config` on `db`; what it printed.
fn cli(db: &TestDb, config: &std::path::Path, args: &[&str]) -> String {
    let output = std::process::Command::new(BIN)
        .args(["admin", "--config"])
        .arg(config)
        .args(args)
        .env("IDBRIDGE_DATABASE_URL", &db.url)
        .env(TEST_KEK_VAR, TEST_KEK)
        .env("SHOP_SECRET", SHOP_SECRET)
        .envs(env())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

async fn products_are_made_and_their_secrets_rotated(backend: Backend) {
    let (_db, server) = start(backend).await;
    let login = || async {
        let url = server.url("/sso/jwt/desk?domain=acme.desk.example.com");
        server.client().get(url).send().await.unwrap().status()
    };
    assert_eq!(login().await, StatusCode::NOT_FOUND);
    let made = ops(&server)
        .post(
            "/admin/v1/products",
            Some(json!({"id": "desk", "format": "workspace",
                        "allowed_domains": ["*.desk.example.com"]})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
    let first = made.json["secret"].as_str().unwrap().to_string();
    assert_eq!(made.json["secrets"], 1);
    // Known now: a person who is not signed in is sent to sign in first.
    assert_eq!(login().await, StatusCode::SEE_OTHER);

    let rotated = ops(&server)
        .post("/admin/v1/products/desk/secrets", None)
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.json);
    let second = rotated.json["secret"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    assert_eq!(rotated.json["secrets"], 2);
    let again = ops(&server)
        .post("/admin/v1/products/desk/secrets", None)
        .await;
    assert_eq!(again.json["secrets"], 2);
    let signing = server.state.product("desk").unwrap();
    assert_eq!(
        signing.signing_secret().expose(),
        again.json["secret"].as_str().unwrap()
    );
    assert_eq!(signing.secrets[1].expose(), second);
    let trail = ops(&server).get("/admin/v1/audit?limit=200").await.json;
    assert!(!trail.to_string().contains(&first));
}

async fn a_connection_made_at_one_process_signs_people_in_at_another(backend: Backend) {
    let (db, server) = start(backend).await;
    let port = ReservedPort::new();
    let issuer = port.base();
    let other = ServerProcess::spawn_on(port, &db, &config(), &issuer, &env()).await;
    let idp = IdpKey::generate();
    let login_status = || async {
        browser()
            .get(other.url("/saml/acme/login?return_to=/account"))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(login_status().await, StatusCode::NOT_FOUND);
    let connection = acme(&idp, "e-mer-1");
    let made = ops(&server)
        .post("/admin/v1/connections", Some(connection.clone()))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
    let since = Instant::now();
    while login_status().await != StatusCode::SEE_OTHER {
        assert!(since.elapsed() < Duration::from_secs(8), "not taken");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Alice signs in at the other process through the connection made here.
    assert!(alice_signs_in(&other.base, &idp).await);
    let users = ops(&server).get("/admin/v1/users?source=acme").await;
    assert_eq!(users.json["items"][0]["email"], "alice@acme.test");

    // Disabled here, it takes no login there within seconds, and Alice's session through it
    // ends at once.
    assert_eq!(server.count("sessions").await, 1);
    let mut disabled = connection;
    disabled["enabled"] = json!(false);
    let changed = ops(&server)
        .put("/admin/v1/connections/acme", disabled, made.etag.as_deref())
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.json);
    assert_eq!(changed.json["enabled"], false);
    assert_eq!(server.count("sessions").await, 0);
    let since = Instant::now();
    while login_status().await != StatusCode::NOT_FOUND {
        assert!(since.elapsed() < Duration::from_secs(8), "still taken");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn a_connection_reads_its_idp_from_a_metadata_url_or_document(backend: Backend) {
    let (_db, server) = start(backend).await;
    let (old, new) = (IdpKey::generate(), IdpKey::generate());
    let served = std::sync::Arc::new(std::sync::Mutex::new(idp_metadata(
        &[&old.cert_b64],
        &new.cert_b64,
    )));
    let url = metadata_server(served.clone()).await;
    let connection = json!({"id": "acme", "type": "saml", "entity": "e-mer-1",
                            "domains": ["acme.test"], "idp_metadata_url": url});
    let made = ops(&server)
        .post("/admin/v1/connections", Some(connection))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
    assert_eq!(made.json.get("warnings"), None, "{}", made.json);
    assert!(alice_signs_in(&server.base, &old).await);

    // The IdP rolls its key over; a refresh asked for now reads it.
    *served.lock().unwrap() = idp_metadata(&[&new.cert_b64], &new.cert_b64);
    let refresh = ops(&server)
        .post("/admin/v1/connections/acme/refresh", None)
        .await;
    assert_eq!(refresh.status, StatusCode::NO_CONTENT, "{}", refresh.json);
    assert!(alice_signs_in(&server.base, &new).await);
    assert!(!alice_signs_in(&server.base, &old).await);
    // An IdP that is down: said so, and what was read before stays.
    *served.lock().unwrap() = "down for maintenance".into();
    let refresh = ops(&server)
        .post("/admin/v1/connections/acme/refresh", None)
        .await;
    assert_eq!(refresh.status, StatusCode::BAD_GATEWAY, "{}", refresh.json);
    assert!(alice_signs_in(&server.base, &new).await);
    let unknown = ops(&server)
        .post("/admin/v1/connections/nobody/refresh", None)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // The metadata document itself, as the API takes it instead of a file.
    let document = json!({"id": "globex", "type": "saml", "entity": "e-mer-1",
                          "domains": ["globex.test"],
                          "idp_metadata_xml": idp_metadata(&[&old.cert_b64], &old.cert_b64)});
    let made = ops(&server)
        .post("/admin/v1/connections", Some(document))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
    // The audit trail keeps the document by its digest, not megabytes of it.
    let trail = ops(&server)
        .get("/admin/v1/audit?kind=admin.change&limit=200")
        .await
        .json;
    let globex = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["details"]["id"] == "globex")
        .expect("audited");
    let digest = globex["details"]["after"]["idp_metadata_xml"]
        .as_str()
        .unwrap();
    assert!(digest.starts_with("sha256:"), "{digest}");
    // An IdP whose metadata cannot be read yet: made, and told.
    let down = std::sync::Arc::new(std::sync::Mutex::new("not yet".to_string()));
    let down_url = metadata_server(down).await;
    let later = json!({"id": "hooli", "type": "saml", "entity": "e-mer-1",
                       "domains": ["hooli.test"], "idp_metadata_url": down_url});
    let made = ops(&server)
        .post("/admin/v1/connections", Some(later))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
    assert_eq!(
        made.json["warnings"].as_array().map(Vec::len),
        Some(1),
        "{}",
        made.json
    );
    let broken = json!({"id": "initech", "type": "saml", "entity": "e-mer-1",
                        "domains": ["initech.test"], "idp_metadata_xml": "<md:EntityDescriptor/>"});
    let refused = ops(&server)
        .post("/admin/v1/connections", Some(broken))
        .await;
    assert_eq!(
        refused.json["field"], "idp_metadata_xml",
        "{}",
        refused.json
    );
}

/// The shell block after `<!-- walkthrough: saml -->` in docs/admin.md, run as it stands with
/// bash; then a person of the customer signs in through what it made.
async fn the_saml_onboarding_walkthrough_of_docs_admin_md_runs(backend: Backend) {
    let (_db, server) = start(backend).await;
    let idp = IdpKey::generate();
    let dir = tempfile::tempdir().unwrap();
    let metadata = dir.path().join("acme-idp.xml");
    std::fs::write(&metadata, idp_metadata(&[&idp.cert_b64], &idp.cert_b64)).unwrap();
    let metadata = metadata.to_str().unwrap();
    let env = [
        ("METADATA", metadata),
        ("DOMAIN", "acme.test"),
        ("DIVISION", "e-div-1"),
    ];
    let out = run_walkthrough(&server, "walkthrough: saml", &env).await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            r#"{"id":"m-acme","managed_by":"api"}"#,
            r#"{"id":"acme","type":"saml","enabled":true}"#,
            &format!(r#"entityID="{}/saml/acme""#, server.base),
            "303 https://idp.acme.test/sso",
        ]
    );
    assert!(alice_signs_in(&server.base, &idp).await);
    let alice = ops(&server).get("/admin/v1/users?source=acme").await;
    assert_eq!(alice.json["items"][0]["entity_ids"], json!(["m-acme"]));
}

/// For each kind: a change against an old version (412), a body naming another id or an unknown
/// field (400), the file's object (409), an oversized body (413), a credential that may only read
/// (403), a body that is not JSON (400); each refused change stores nothing.
async fn every_kind_refuses_stale_foreign_and_oversized_changes(backend: Backend) {
    let db = TestDb::new(backend).await;
    let idp = IdpKey::generate();
    let with_connection = format!(
        "{}{}",
        config(),
        crate::upstream_saml::acme_connection(&idp.cert_b64, "https://idp.acme.test/sso")
    );
    let server = TestServer::start_with(&db, &with_connection, idbridge::Clock::system(), &env())
        .await
        .expect("starts");
    // The kind, the id of one the file declares, the key of the id, a body with a given id.
    type Case = (&'static str, &'static str, &'static str, fn(&str) -> Value);
    let cases: [Case; 4] = [
        (
            "clients",
            "shop",
            "client_id",
            |id| json!({"client_id": id, "redirect_uris": [APP_CALLBACK]}),
        ),
        (
            "entities",
            "e-mer-1",
            "id",
            |id| json!({"id": id, "name": "Made", "level": "DIVISION", "parent": "e-psp-1"}),
        ),
        ("connections", "acme", "id", |id| {
            json!({"id": id, "type": "oidc", "entity": "e-mer-1", "domains": [format!("{id}.test")],
                   "issuer": "https://idp.example.com", "client_id": "idbridge",
                   "client_secret": "theirs"})
        }),
        (
            "products",
            "helpdesk",
            "id",
            |id| json!({"id": id, "format": "workspace", "allowed_domains": ["*.made.example.com"]}),
        ),
    ];
    let reader = Call {
        server: &server,
        who: Some(("auditor", OPS_SECRET)),
    };
    for (kind, in_file, id_key, body) in cases {
        let path = format!("/admin/v1/{kind}/made");
        let made = ops(&server)
            .post(&format!("/admin/v1/{kind}"), Some(body("made")))
            .await;
        assert_eq!(made.status, StatusCode::CREATED, "{kind}: {}", made.json);
        let version = made.etag.clone().expect("an ETag");
        let refusals = [
            (
                Some("\"90\""),
                body("made"),
                StatusCode::PRECONDITION_FAILED,
                None,
            ),
            (None, body("other"), StatusCode::BAD_REQUEST, Some(id_key)),
            (
                None,
                {
                    let mut b = body("made");
                    b["colour"] = json!("red");
                    b
                },
                StatusCode::BAD_REQUEST,
                Some("colour"),
            ),
        ];
        for (if_match, body, status, field) in refusals {
            let answer = ops(&server).put(&path, body, if_match).await;
            assert_eq!(answer.status, status, "{kind}: {}", answer.json);
            if let Some(field) = field {
                assert_eq!(answer.json["field"], field, "{kind}: {}", answer.json);
            }
        }
        if kind == "connections" {
            // The upstream client secret is kept for the same provider only.
            let mut elsewhere = body("made");
            elsewhere["issuer"] = json!("https://attacker.example.net");
            elsewhere.as_object_mut().unwrap().remove("client_secret");
            let refused = ops(&server).put(&path, elsewhere, None).await;
            assert_eq!(refused.json["field"], "client_secret", "{}", refused.json);
        }
        let file_path = format!("/admin/v1/{kind}/{in_file}");
        let theirs = ops(&server).put(&file_path, body(in_file), None).await;
        assert_eq!(theirs.json["error"], "managed_by_config", "{kind}");
        let theirs = ops(&server).delete(&file_path).await;
        assert_eq!(theirs.json["error"], "managed_by_config", "{kind}");
        let mut huge = body("huge");
        huge["padding"] = json!("x".repeat(idbridge_body_limit() + 1));
        let too_large = ops(&server)
            .post(&format!("/admin/v1/{kind}"), Some(huge))
            .await;
        assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE, "{kind}");
        let forbidden = reader.put(&path, body("made"), None).await;
        assert_eq!(forbidden.status, StatusCode::FORBIDDEN, "{kind}");
        let not_json = reqwest::Client::new()
            .put(server.url(&path))
            .basic_auth("ops", Some(OPS_SECRET))
            .body(body("made").to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(not_json.status(), StatusCode::BAD_REQUEST, "{kind}");
        let stale = ops(&server)
            .send(Method::DELETE, &path, None, Some("\"90\""))
            .await;
        assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED, "{kind}");
        // Nothing of the refused changes was stored: the version is still the first.
        let shown = ops(&server).get(&path).await;
        assert_eq!(shown.etag.as_ref(), Some(&version), "{kind}");
        let deleted = ops(&server)
            .send(Method::DELETE, &path, None, Some(&version))
            .await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{kind}");
        assert_eq!(changes_of(&server, "made").await, ["create", "delete"]);
        let trail = ops(&server)
            .get("/admin/v1/audit?kind=admin.change&limit=200")
            .await;
        assert!(
            !trail.json.to_string().contains("theirs"),
            "no secret audited"
        );
        forget_changes(&server).await;
    }
    assert_eq!(server.count("declarations").await, 0);
}

/// The largest body a declaration may have.
fn idbridge_body_limit() -> usize {
    idbridge::admin::DECLARATION_BODY_LIMIT
}

/// Deletes the `admin.change` events so far, for the next case to count its own.
async fn forget_changes(server: &TestServer) {
    use sea_orm::ConnectionTrait;
    server
        .state
        .store
        .connection()
        .execute_unprepared("DELETE FROM audit_events WHERE kind = 'admin.change'")
        .await
        .unwrap();
}

/// The file declares, after the fact, an id a run-time entity has: every start fails naming it,
/// until `idbridge admin undeclare` (which still runs) deletes the run-time one.
async fn a_file_that_takes_a_run_time_id_stops_the_start_until_it_is_undeclared(backend: Backend) {
    let (db, server) = start(backend).await;
    let made = ops(&server)
        .post(
            "/admin/v1/entities",
            Some(json!({"id": "d-east", "name": "East", "level": "DIVISION", "parent": "e-psp-1"})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
    drop(server);
    let edited = format!(
        "{}\n[[entities]]\nid = \"d-east\"\nname = \"East\"\nlevel = \"DIVISION\"\nparent = \"e-psp-1\"\n",
        config()
    );
    let refused = TestServer::start_with(&db, &edited, idbridge::Clock::system(), &env()).await;
    let message = refused.err().expect("the start fails");
    assert!(message.contains(r#"entities["d-east"]"#), "{message}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("idbridge.toml");
    std::fs::write(&file, with_test_kek(&edited)).unwrap();
    cli(&db, &file, &["undeclare", "entities", "d-east"]);
    let started = TestServer::start_with(&db, &edited, idbridge::Clock::system(), &env())
        .await
        .expect("starts once the run-time one is gone");
    let shown = ops(&started).get("/admin/v1/entities/d-east").await;
    assert_eq!(shown.json["managed_by"], "config");
    // The file's own is not deleted through the command line.
    let output = std::process::Command::new(BIN)
        .args(["admin", "--config"])
        .arg(&file)
        .args(["undeclare", "entities", "d-east"])
        .env("IDBRIDGE_DATABASE_URL", &db.url)
        .env(TEST_KEK_VAR, TEST_KEK)
        .env("SHOP_SECRET", SHOP_SECRET)
        .envs(env())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("config file"));
}

/// No client of the file signs with RS256, so there is no RS256 key until a run-time client asks
/// for one: it gets it with the change, and its first ID token is signed with it.
async fn a_client_signing_with_an_algorithm_new_here_gets_its_key_at_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(
        &db,
        &format!("{BASE_CONFIG}{ADMIN_CONFIG}"),
        idbridge::Clock::system(),
        &env(),
    )
    .await
    .expect("starts");
    let jwks = || async {
        reqwest::get(server.url("/sso/v2/jwks"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    assert!(!jwks().await.contains("RS256"));
    let made = ops(&server)
        .post(
            "/admin/v1/clients",
            Some(json!({"client_id": "app", "redirect_uris": [APP_CALLBACK],
                        "id_token_alg": "RS256"})),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.json);
    let secret = made.json["client_secret"].as_str().unwrap().to_string();
    let tokens = alices_tokens(&server, "openid", &secret).await;
    let header = tokens["id_token"]
        .as_str()
        .unwrap()
        .split('.')
        .next()
        .unwrap();
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "RS256");
}
