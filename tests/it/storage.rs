//! Storage across restarts: data survives, a second start with the same config writes nothing,
//! config changes reach the database, and signing keys are made once and kept safe.
use idbridge::Clock;
use sea_orm::{ConnectionTrait, Statement};

use crate::support::*;

/// Every row of the tables the config and start-up write, in a stable order.
async fn snapshot(server: &TestServer) -> Vec<String> {
    let db = server.state.store.connection();
    let mut rows = Vec::new();
    for (table, order) in [
        ("entities", "id"),
        ("users", "id"),
        ("user_entities", "user_id, entity_id"),
        ("clients", "client_id"),
        ("api_credentials", "username"),
        ("signing_keys", "kid"),
        ("server_secrets", "name"),
        ("sessions", "id_hash"),
    ] {
        let sql = format!("SELECT * FROM {table} ORDER BY {order}");
        for row in db
            .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap()
        {
            let values: Vec<String> = row
                .column_names()
                .iter()
                .map(|column| {
                    let text = row.try_get::<Option<String>>("", column).ok().flatten();
                    let number = row.try_get::<Option<i64>>("", column).ok().flatten();
                    let flag = row.try_get::<Option<bool>>("", column).ok().flatten();
                    format!("{column}={text:?}/{number:?}/{flag:?}")
                })
                .collect();
            rows.push(format!("{table}: {}", values.join(", ")));
        }
    }
    rows
}

const API_CREDENTIAL: &str = r#"
[[api_credentials]]
username = "backend"
password = "backend password that is long"
scopes = ["session_urls"]
"#;

async fn restart_keeps_data_and_a_second_start_changes_nothing(backend: Backend) {
    let db = TestDb::new(backend).await;
    let config = format!("{BASE_CONFIG}{API_CREDENTIAL}");
    let first = TestServer::start(&db, &config).await;
    let client = first.client();
    let login = first.login(&client, ALICE_EMAIL, ALICE_PASSWORD).await;
    let session = cookie_value(&login, "idbridge_session").unwrap();
    let before = snapshot(&first).await;
    assert!(before.iter().any(|r| r.starts_with("sessions:")));
    first.stop().await;

    // Later, so that any rewritten timestamp would show.
    let clock = Clock::system();
    clock.advance(3600);
    let second = TestServer::start_with(&db, &config, clock, &[])
        .await
        .unwrap();
    assert_eq!(
        snapshot(&second).await,
        before,
        "a second start with the same config changes nothing"
    );

    // The session made before the restart still opens the account page.
    let response = second
        .client()
        .get(second.url("/account"))
        .header("cookie", format!("idbridge_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
}

async fn config_changes_reach_the_database(backend: Backend) {
    let db = TestDb::new(backend).await;
    let first = TestServer::start(&db, &format!("{BASE_CONFIG}{API_CREDENTIAL}")).await;
    assert_eq!(first.count("clients").await, 1);
    assert_eq!(first.count("api_credentials").await, 1);
    assert_eq!(first.count("user_entities").await, 2);
    first.stop().await;

    // Alice is renamed, moved to the division only, the merchant, the client and the API
    // credential are gone.
    let changed = BASE_CONFIG
        .replace("name = \"Alice Example\"", "name = \"Alice Renamed\"")
        .replace(
            "attached_to = [\"e-psp-1\", \"e-mer-1\"]",
            "attached_to = [\"e-div-1\"]",
        );
    let changed = changed[..changed.find("[[entities]]\nid = \"e-mer-1\"").unwrap()].to_string()
        + &changed[changed.find("[[users]]").unwrap()..changed.find("[[clients]]").unwrap()];
    let second = TestServer::start(&db, &changed).await;
    assert_eq!(second.count("entities").await, 2);
    assert_eq!(second.count("clients").await, 0);
    assert_eq!(second.count("api_credentials").await, 0);
    let client = second.client();
    let login = second.login(&client, ALICE_EMAIL, ALICE_PASSWORD).await;
    let (_, page) = second.follow(&client, &login).await;
    assert_eq!(texts(&page, "h1"), ["Alice Renamed"]);
    let entities = texts(&page, ".entities li");
    assert_eq!(entities.len(), 1);
    assert!(
        entities[0].contains("/PSPName/DivisionName"),
        "{entities:?}"
    );
}

async fn a_changed_password_takes_effect(backend: Backend) {
    let db = TestDb::new(backend).await;
    TestServer::start(&db, BASE_CONFIG).await.stop().await;
    let changed = BASE_CONFIG.replace(ALICE_PASSWORD, "a brand new password");
    let server = TestServer::start(&db, &changed).await;
    let client = server.client();
    let old = server.login(&client, ALICE_EMAIL, ALICE_PASSWORD).await;
    assert!(set_cookie(&old, "idbridge_session").is_none());
    let new = server
        .login(&client, ALICE_EMAIL, "a brand new password")
        .await;
    assert!(set_cookie(&new, "idbridge_session").is_some());
}

async fn signing_keys_are_encrypted_at_rest(backend: Backend) {
    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const OTHER_KEY: &str = "HxwdHhsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";
    let db = TestDb::new(backend).await;
    // The embedded demo, the one config that may go without an encryption key, on this database.
    let demo = || {
        let url = db.url.clone();
        idbridge::demo::config(&move |name| (name == "IDBRIDGE_DATABASE_URL").then(|| url.clone()))
            .unwrap()
    };

    // First the demo, without an encryption key: stored in clear.
    idbridge::AppState::prepare(demo(), Clock::system())
        .await
        .unwrap();
    // The demo's algorithm, RS256: its key is kept, not joined by another.
    let with_key = format!(
        "[keys]\nencryption_key = \"env:KEK\"\nid_token_alg = \"RS256\"\n{}",
        &BASE_CONFIG[BASE_CONFIG.find("[[entities]]").unwrap()..]
    );
    let server = TestServer::start_with(&db, &with_key, Clock::system(), &[("KEK", KEY)])
        .await
        .unwrap();
    let rows = snapshot(&server).await;
    let key_row = rows
        .iter()
        .find(|r| r.starts_with("signing_keys:"))
        .unwrap();
    assert!(
        !key_row.contains("BEGIN PRIVATE KEY"),
        "encrypted once a key is configured: {key_row}"
    );
    assert!(
        key_row.contains("encrypted=") && key_row.contains("\"RS256\""),
        "{key_row}"
    );
    assert_eq!(
        server.count("signing_keys").await,
        1,
        "the existing key is kept, not replaced"
    );
    server.stop().await;

    // A wrong key stops the start with a message that names the setting.
    let error = TestServer::start_with(&db, &with_key, Clock::system(), &[("KEK", OTHER_KEY)])
        .await
        .err()
        .expect("start refused");
    assert!(error.contains("keys.encryption_key"), "{error}");

    // So does a missing one (only the demo can go without).
    let error = idbridge::AppState::prepare(demo(), Clock::system())
        .await
        .err()
        .expect("start refused")
        .to_string();
    assert!(error.contains("keys.encryption_key is not set"), "{error}");
}

async fn each_algorithm_gets_its_key(backend: Backend) {
    let db = TestDb::new(backend).await;
    for (alg, kty) in [("ES256", "EC"), ("RS256", "RSA"), ("EdDSA", "OKP")] {
        let config = BASE_CONFIG.replace(
            "id_token_alg = \"EdDSA\"",
            &format!("id_token_alg = \"{alg}\""),
        );
        let server = TestServer::start(&db, &config).await;
        let rows = snapshot(&server).await;
        let jwk = rows
            .iter()
            .filter(|r| r.starts_with("signing_keys:") && r.contains(&format!("\"{alg}\"")))
            .count();
        assert_eq!(jwk, 1, "one {alg} key: {rows:#?}");
        assert!(
            rows.iter()
                .any(|r| r.contains(&format!(r#"\"kty\":\"{kty}\""#))),
            "{kty}"
        );
        server.stop().await;
    }
}

async fn expired_sessions_and_counters_are_swept(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, BASE_CONFIG).await;
    let client = server.client();
    server.login(&client, ALICE_EMAIL, ALICE_PASSWORD).await;
    server.login(&server.client(), ALICE_EMAIL, "wrong").await;
    assert_eq!(
        idbridge::sweep::sweep_expired(&server.state).await.unwrap(),
        0,
        "nothing expired yet"
    );
    assert_eq!(
        (
            server.count("sessions").await,
            server.count("login_throttle").await
        ),
        (1, 2)
    );

    server.clock.advance(8 * 3600);
    assert_eq!(
        idbridge::sweep::sweep_expired(&server.state).await.unwrap(),
        3
    );
    assert_eq!(
        (
            server.count("sessions").await,
            server.count("login_throttle").await
        ),
        (0, 0)
    );
}

crate::backend_tests!(
    expired_sessions_and_counters_are_swept,
    restart_keeps_data_and_a_second_start_changes_nothing,
    config_changes_reach_the_database,
    a_changed_password_takes_effect,
    signing_keys_are_encrypted_at_rest,
    each_algorithm_gets_its_key,
);

/// SQLite commits stay in the write-ahead log until a checkpoint copies them into the database
/// file. The server checkpoints every second beside the writers (automatic checkpoints, which
/// stall the commit that triggers them, are off); this shows that a checkpoint does the copying.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_checkpoint_copies_the_log_into_the_database_file() {
    let db = TestDb::new(Backend::Sqlite).await;
    let store = idbridge::store::Store::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    let file = db
        .url
        .strip_prefix("sqlite://")
        .and_then(|rest| rest.strip_suffix("?mode=rwc"))
        .unwrap();
    let tables_in_the_file_alone = || async {
        let copy = tempfile::tempdir().unwrap();
        let copied = copy.path().join("copy.db");
        std::fs::copy(file, &copied).unwrap();
        let reader = sea_orm::Database::connect(format!("sqlite://{}?mode=ro", copied.display()))
            .await
            .unwrap();
        let row = reader
            .query_one_raw(Statement::from_string(
                reader.get_database_backend(),
                "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    };
    assert_eq!(tables_in_the_file_alone().await, 0, "still in the log");
    store.checkpoint().await.unwrap();
    assert!(tables_in_the_file_alone().await > 10, "in the file");
}
