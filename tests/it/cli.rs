//! The command line: check-config, hash-password, migrate, --help.
use crate::support::page_text;
use std::io::Write;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_idbridge");

/// Runs `idbridge check-config` on a file it must refuse, and returns what it printed.
fn check_config_fails(file: &std::path::Path) -> String {
    let output = Command::new(BIN)
        .arg("check-config")
        .arg(file)
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn check_config_lists_every_problem_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[server]\nbind = \"nowhere\"\n[[entities]]\nid = \"d\"\nname = \"D\"\nlevel = \"DIVISION\"\nparent = \"missing\"\n",
    )
    .unwrap();
    let stderr = check_config_fails(&file);
    assert!(stderr.contains("config has 3 problem(s)"), "{stderr}");
    assert!(stderr.contains("keys.encryption_key: required"), "{stderr}");
    assert!(
        stderr.contains("server.bind: not a socket address"),
        "{stderr}"
    );
    assert!(
        stderr.contains("entities[0].parent: unknown entity \"missing\""),
        "{stderr}"
    );
}

#[test]
fn check_config_names_unknown_keys_and_invalid_values_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        r#"
[server]
bogus_key = 1

[[entities]]
id = "p"
name = "P"
level = "PSP"

[[clients]]
client_id = "first"
client_secret = "0123456789abcdef0123456789abcdef"
redirect_uris = ["https://first.example.com/callback"]

[[clients]]
client_id = "second"
client_secret = "0123456789abcdef0123456789abcdef"
redirect_uris = ["not a url"]
"#,
    )
    .unwrap();
    let stderr = check_config_fails(&file);
    assert!(stderr.contains("config has 3 problem(s)"), "{stderr}");
    assert!(stderr.contains("server.bogus_key: unknown key"), "{stderr}");
    assert!(stderr.contains("keys.encryption_key: required"), "{stderr}");
    assert!(stderr.contains("clients[1].redirect_uris[0]: "), "{stderr}");
}

#[test]
fn check_config_accepts_a_good_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("good.toml");
    std::fs::write(
        &file,
        "[keys]\nencryption_key = \"env:KEK\"\n[[entities]]\nid = \"p\"\nname = \"P\"\nlevel = \"PSP\"\n",
    )
    .unwrap();
    let output = Command::new(BIN)
        .arg("check-config")
        .arg(&file)
        .env_clear()
        .env("KEK", crate::support::TEST_KEK)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(
        String::from_utf8(output.stdout)
            .unwrap()
            .ends_with(": ok\n")
    );
}

/// Outside the demo, private signing keys must be stored encrypted: `serve` with a config that
/// gives no `keys.encryption_key` refuses to start, naming the key. (The database could not be
/// opened either, so that a `serve` that wrongly went on stops instead of serving forever.)
#[test]
fn serve_refuses_a_config_without_an_encryption_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("idbridge.toml");
    std::fs::write(
        &file,
        "[[entities]]\nid = \"p\"\nname = \"P\"\nlevel = \"PSP\"\n",
    )
    .unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("missing/s.db").display()
    );
    let output = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&file)
        .env_clear()
        .env("IDBRIDGE_DATABASE_URL", &url)
        .env("IDBRIDGE_BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("keys.encryption_key: required"), "{stderr}");
}

#[test]
fn check_config_names_a_missing_file() {
    let output = Command::new(BIN)
        .args(["check-config", "/nonexistent/idbridge.toml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("cannot read config file /nonexistent/idbridge.toml")
    );
}

#[test]
fn hash_password_prints_a_verifiable_argon2id_hash() {
    let mut child = Command::new(BIN)
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"s3cret pass\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let hash = String::from_utf8(output.stdout).unwrap();
    let hash = hash.trim();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(idbridge::password::verify_blocking("s3cret pass", hash));
    assert!(
        !idbridge::password::verify_blocking("s3cret pass\n", hash),
        "newline is not part of it"
    );
}

#[test]
fn hash_password_refuses_empty_input() {
    let output = Command::new(BIN)
        .arg("hash-password")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn migrate_creates_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("m.db").display());
    let output = Command::new(BIN)
        .arg("migrate")
        .env("IDBRIDGE_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let again = Command::new(BIN)
        .arg("migrate")
        .env("IDBRIDGE_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(again.status.success(), "migrating twice is fine: {again:?}");
}

#[test]
fn help_lists_the_commands() {
    let output = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for command in [
        "serve",
        "migrate",
        "check-config",
        "hash-password",
        "admin",
        "IDBRIDGE_DATABASE_URL",
    ] {
        assert!(help.contains(command), "{command} in {help}");
    }
    let output = Command::new(BIN)
        .args(["admin", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for command in ["create-credential", "disable-user", "audit", "--output"] {
        assert!(help.contains(command), "{command} in {help}");
    }
}

/// The README's first command: `idbridge serve` with no config runs the demo on SQLite in the
/// working directory, and a person can sign in as the demo user.
#[tokio::test]
async fn serve_without_config_runs_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::support::ReservedPort::new();
    let base = port.base();
    let mut child = tokio::process::Command::new(BIN)
        .arg("serve")
        .current_dir(dir.path())
        .env_remove("IDBRIDGE_CONFIG")
        .env_remove("IDBRIDGE_DATABASE_URL")
        .env("IDBRIDGE_BIND", format!("127.0.0.1:{}", port.port))
        .env("IDBRIDGE_ISSUER", &base)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Ready once it prints where to go.
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    for _ in 0..2 {
        let mut line = String::new();
        tokio::time::timeout(std::time::Duration::from_secs(60), async {
            tokio::io::AsyncBufReadExt::read_line(&mut stdout, &mut line).await
        })
        .await
        .expect("server starts within a minute")
        .unwrap();
        banner.push_str(&line);
    }
    drop(port); // it listens on the port now
    assert!(banner.contains(&format!("open {base}/demo")), "{banner}");
    assert!(
        banner.contains(idbridge::demo::DEMO_EMAIL)
            && banner.contains(idbridge::demo::DEMO_PASSWORD),
        "{banner}"
    );
    assert!(
        dir.path().join("idbridge.db").exists(),
        "./idbridge.db is created"
    );

    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::limited(5))
        .build()
        .unwrap();
    let page = page_text(&client, format!("{base}/account")).await;
    let csrf = crate::support::form_value(&page, "csrf").expect("redirected to the login form");
    let signed_in = client
        .post(format!("{base}/sso/v2/login"))
        .form(&[
            ("email", idbridge::demo::DEMO_EMAIL),
            ("password", idbridge::demo::DEMO_PASSWORD),
            ("csrf", csrf.as_str()),
            ("return_to", "/account"),
        ])
        .send()
        .await
        .unwrap();
    let next = crate::support::location(&signed_in).expect("the login moves on");
    let account = client.get(format!("{base}{next}")).send().await.unwrap();
    assert_eq!(account.url().path(), "/account");
    let page = account.text().await.unwrap();
    assert!(
        page.contains("Demo User") && page.contains("/Demo Payments/Europe/Demo Shop"),
        "{page}"
    );
    child.kill().await.ok();
}
