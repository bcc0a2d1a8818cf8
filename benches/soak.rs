//! The soak run of `scripts/soak`: starts the idbridge binary on a fresh SQLite database (or the
//! empty PostgreSQL database `SOAK_DATABASE_URL` names), drives a mixed load at it from many
//! connections for a given time, and every 10 s records the server's resident memory, open files,
//! and the database's (and SQLite's write-ahead log's) sizes. What each worker
//! repeats: authorize (signed in, consented) → code exchange → refresh → userinfo →
//! client_credentials → session URL made and opened → SAML response posted to the ACS; and every
//! 20th round a password login. Each worker is its own person (a login throttle counts
//! attempts per account, and one person does not sign in 64 times at once). Any answer other than the expected one counts as an error, and
//! the run fails if there is one.
//!
//! `cargo bench --bench soak` (release build; `SOAK_SECONDS`, default 600, and
//! `SOAK_CONNECTIONS`, default 64). Run by `cargo test --all-targets` (without `--bench`), it
//! does the same against the debug binary for 5 s with 4 connections, so it cannot rot.
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use serde_json::Value;

#[allow(dead_code)] // the integration tests use more of the test IdP than this run does
#[path = "../tests/it/saml_idp.rs"]
mod saml_idp;

use saml_idp::{IDP_ENTITY, IdpKey, SUCCESS, Signed, Spec, encode};

const PASSWORD: &str = "soak user password";
const CLIENT_SECRET: &str = "soak-client-secret-0123456789abcdefghij";
const API_PASSWORD: &str = "soak api password 0123456789";
const REDIRECT: &str = "https://rp.example.com/cb";
const SAMPLE_EVERY: Duration = Duration::from_secs(10);

fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let seconds = if full {
        env_number("SOAK_SECONDS", 600)
    } else {
        5
    };
    let connections = if full {
        env_number("SOAK_CONNECTIONS", 64)
    } else {
        4
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let failed = runtime.block_on(soak(Duration::from_secs(seconds), connections as usize));
    if failed {
        std::process::exit(1);
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} must be a number"))
        })
        .unwrap_or(default)
}

/// The server under load, stopped when dropped.
struct Server {
    child: Child,
    dir: tempfile::TempDir,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

impl Server {
    fn start(idp: &IdpKey, people: usize) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let config = dir.path().join("idbridge.toml");
        let database_url = postgres_url().unwrap_or_else(|| {
            format!("sqlite://{}?mode=rwc", dir.path().join("soak.db").display())
        });
        std::fs::write(
            &config,
            config_text(&base, &database_url, &idp.cert_b64, people),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_idbridge"))
            .args(["serve", "--config"])
            .arg(&config)
            .env(
                "RUST_LOG",
                std::env::var("SOAK_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .env("SOAK_KEK", "c29hay1rZXktZW5jcnlwdGlvbi0zMi1ieXRlcy0wMDA=")
            .env("SOAK_CLIENT_SECRET", CLIENT_SECRET)
            .env("SOAK_API_PASSWORD", API_PASSWORD)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the idbridge binary starts");
        Server { child, dir, base }
    }

    /// The sizes of the database and of SQLite's write-ahead log, in MiB.
    async fn database_figures(&self, postgres: Option<&DatabaseConnection>) -> (f64, Option<f64>) {
        let Some(db) = postgres else {
            let database = self.dir.path().join("soak.db");
            let wal = self.dir.path().join("soak.db-wal");
            return (file_mib(&database), Some(file_mib(&wal)));
        };
        let size = db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT pg_database_size(current_database())::bigint AS size",
            ))
            .await
            .ok()
            .flatten()
            .and_then(|row| row.try_get::<i64>("", "size").ok())
            .unwrap_or(0);
        (size as f64 / 1_048_576.0, None)
    }

    async fn wait_ready(&self) {
        for _ in 0..300 {
            if let Ok(r) = reqwest::get(format!("{}/readyz", self.base)).await
                && r.status() == StatusCode::OK
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        panic!("the server did not become ready:\n{log}");
    }

    /// Resident memory in KiB and open file descriptors of the server process.
    fn process_figures(&self) -> (u64, usize) {
        let pid = self.child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rss = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        let files = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
        (rss, files)
    }
}

/// The email address of the person worker `number` signs in as.
fn email(number: usize) -> String {
    format!("soak-{number}@example.com")
}

/// The PostgreSQL database to run on instead of a new SQLite file.
fn postgres_url() -> Option<String> {
    std::env::var("SOAK_DATABASE_URL").ok()
}

fn config_text(base: &str, database_url: &str, idp_cert: &str, people: usize) -> String {
    let port = base.rsplit(':').next().unwrap();
    let users: String = (0..people)
        .map(|n| {
            format!(
                "[[users]]\nid = \"soak-{n}\"\nemail = \"{}\"\nname = \"Soak {n}\"\n\
                 password = \"{PASSWORD}\"\nattached_to = [\"psp\", \"merchant\"]\n",
                email(n)
            )
        })
        .collect();
    format!(
        r#"[server]
bind = "127.0.0.1:{port}"
issuer = "{base}"
userinfo_cache = "0s"
# The ACS counts posts per address; the workers post from many (X-Forwarded-For).
trusted_proxies = ["127.0.0.1"]
token_requests_per_second_per_address = 1000000
token_requests_per_second_per_client = 1000000
pending_logins_per_minute = 100000
[database]
url = "{database_url}"
[keys]
id_token_alg = "ES256"
encryption_key = "env:SOAK_KEK"
[[entities]]
id = "psp"
name = "Soak PSP"
level = "PSP"
[[entities]]
id = "merchant"
name = "Soak Merchant"
level = "MERCHANT"
parent = "psp"
{users}
[[clients]]
client_id = "soak"
client_secret = "env:SOAK_CLIENT_SECRET"
redirect_uris = ["{REDIRECT}"]
allowed_scopes = ["openid", "profile", "email", "offline_access"]
require_pkce = false
[[products]]
id = "shop"
format = "workspace"
allowed_domains = ["*.shop.example.com"]
secrets = ["soak-product-secret-0123456789abcdefghijklmn"]
[[api_credentials]]
username = "soak-backend"
password = "env:SOAK_API_PASSWORD"
scopes = ["session_urls"]
[[connections]]
id = "acme"
type = "saml"
entity = "merchant"
idp_entity_id = "{IDP_ENTITY}"
idp_sso_url = "https://idp.acme.test/sso"
idp_certificate = ["{idp_cert}"]
allow_idp_initiated = true
attributes = {{ name = "displayName" }}
"#,
    )
}

/// Answers counted by step: how many as expected, and the unexpected ones by what they were.
#[derive(Default)]
struct Tally {
    ok: BTreeMap<&'static str, u64>,
    errors: BTreeMap<String, u64>,
}

type Shared = Arc<Mutex<Tally>>;

fn count(tally: &Shared, step: &'static str, outcome: Result<(), String>) {
    let mut tally = tally.lock().unwrap();
    match outcome {
        Ok(()) => *tally.ok.entry(step).or_default() += 1,
        Err(e) => *tally.errors.entry(format!("{step}: {e}")).or_default() += 1,
    }
}

fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn form_value(page: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker)? + marker.len();
    let end = page[start..].find('"')?;
    Some(
        page[start..start + end]
            .replace("&#x2D;", "-")
            .replace("&amp;", "&"),
    )
}

/// Where an answer sends the browser: its redirect, or the page that moves on after a form
/// (`Refresh: 0;url=...`).
fn location(response: &reqwest::Response) -> Option<String> {
    let header = |name| response.headers().get(name)?.to_str().ok();
    header("location")
        .or_else(|| header("refresh")?.strip_prefix("0;url="))
        .map(str::to_string)
}

fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn expect(status: StatusCode, wanted: StatusCode) -> Result<(), String> {
    if status == wanted {
        Ok(())
    } else {
        Err(format!("status {status}"))
    }
}

/// The page at `url`, as `http` sees it.
async fn page_text(http: &Client, url: &str) -> Result<String, String> {
    let response = http.get(url).send().await.map_err(|e| e.to_string())?;
    response.text().await.map_err(|e| e.to_string())
}

/// A password login in a fresh browser, which then holds the session.
async fn sign_in(base: &str, email: &str, address: &str) -> Result<Client, String> {
    let http = browser();
    let page = page_text(&http, &format!("{base}/sso/v2/login")).await?;
    let csrf = form_value(&page, "csrf").ok_or("no CSRF token")?;
    let response = http
        .post(format!("{base}/sso/v2/login"))
        // Each person from an address of their own: the login throttle also counts per address.
        .header("x-forwarded-for", address)
        .form(&[
            ("email", email),
            ("password", PASSWORD),
            ("csrf", csrf.as_str()),
            ("return_to", "/account"),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    // Signed in, the login form moves on to where it was asked to; a refusal (this process's
    // password checks all busy, say) leads back to the form.
    match location(&response) {
        Some(to) if !to.contains("/sso/v2/login") => Ok(http),
        to => Err(format!("login answered {} to {to:?}", response.status())),
    }
}

/// Signs in, trying again a few times when the server is too busy checking passwords.
async fn sign_in_patiently(base: &str, number: usize) -> Result<Client, String> {
    let (email, address) = (email(number), format!("10.{}.255.1", number % 256));
    let mut last = String::new();
    for _ in 0..10 {
        match sign_in(base, &email, &address).await {
            Ok(http) => return Ok(http),
            Err(e) => last = e,
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(last)
}

fn authorize_url(base: &str) -> String {
    format!(
        "{base}/sso/v2/authorize?client_id=soak&redirect_uri={}&response_type=code\
         &scope=openid%20email%20offline_access&nonce=soak",
        urlencoding(REDIRECT)
    )
}

fn urlencoding(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Asks for a code; the first time, consents.
async fn authorize(base: &str, http: &Client) -> Result<String, String> {
    let response = http
        .get(authorize_url(base))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let mut to = location(&response).ok_or(format!("authorize answered {}", response.status()))?;
    if to.contains("/sso/v2/consent") {
        let page = page_text(http, &format!("{base}{to}")).await?;
        let csrf = form_value(&page, "csrf").ok_or("no CSRF token on consent")?;
        let id = form_value(&page, "id").ok_or("no id on consent")?;
        let response = http
            .post(format!("{base}/sso/v2/consent"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("id", id.as_str()),
                ("decision", "allow"),
            ])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        to = location(&response).ok_or("consent did not redirect")?;
    }
    param(&to, "code").ok_or(format!("no code in {to}"))
}

async fn token(api: &Client, base: &str, form: &[(&str, &str)]) -> Result<Value, String> {
    let response = api
        .post(format!("{base}/sso/v2/token"))
        .basic_auth("soak", Some(CLIENT_SECRET))
        .form(form)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    expect(response.status(), StatusCode::OK)?;
    response.json().await.map_err(|e| e.to_string())
}

/// One round of every step; the result of each goes to the tally.
async fn round(base: &str, http: &Client, api: &Client, idp: &IdpKey, from: &str, tally: &Shared) {
    let code = authorize(base, http).await;
    let code = match code {
        Ok(code) => {
            count(tally, "authorize", Ok(()));
            code
        }
        Err(e) => return count(tally, "authorize", Err(e)),
    };
    let tokens = token(
        api,
        base,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    count(
        tally,
        "code exchange",
        tokens.as_ref().map(|_| ()).map_err(Clone::clone),
    );
    if let Ok(tokens) = tokens {
        let refresh = tokens["refresh_token"].as_str().unwrap_or_default();
        let refreshed = token(
            api,
            base,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
        count(
            tally,
            "refresh",
            refreshed.as_ref().map(|_| ()).map_err(Clone::clone),
        );
        let access = refreshed
            .ok()
            .and_then(|t| t["access_token"].as_str().map(str::to_string))
            .unwrap_or_default();
        let userinfo = api
            .get(format!("{base}/sso/v2/userinfo"))
            .bearer_auth(access)
            .send()
            .await;
        count(
            tally,
            "userinfo",
            userinfo
                .map_err(|e| e.to_string())
                .and_then(|r| expect(r.status(), StatusCode::OK)),
        );
    }
    let machine = token(api, base, &[("grant_type", "client_credentials")]).await;
    count(tally, "client_credentials", machine.map(|_| ()));

    let made = api
        .post(format!("{base}/urlgenerator/generateusersessionurl"))
        .basic_auth("soak-backend", Some(API_PASSWORD))
        .json(&serde_json::json!({
            "TargetUrl": "https://acme.shop.example.com/?internalcustomer=C-1&billingEMail=c1@example.com"
        }))
        .send()
        .await;
    let url = match made {
        Ok(r) if r.status() == StatusCode::OK => r
            .json::<Value>()
            .await
            .ok()
            .and_then(|v| v["Url"].as_str().map(str::to_string)),
        Ok(r) => {
            count(
                tally,
                "session URL made",
                Err(format!("status {}", r.status())),
            );
            None
        }
        Err(e) => {
            count(tally, "session URL made", Err(e.to_string()));
            None
        }
    };
    if let Some(url) = url {
        count(tally, "session URL made", Ok(()));
        let opened = browser().get(url).send().await;
        // Sent on at once, or through the page that posts the customer's data on.
        count(
            tally,
            "session URL opened",
            opened
                .map_err(|e| e.to_string())
                .and_then(|r| match r.status() {
                    StatusCode::SEE_OTHER | StatusCode::OK => Ok(()),
                    status => Err(format!("status {status}")),
                }),
        );
    }

    let acs = format!("{base}/saml/acme/acs");
    let response = encode(&idp.response(&Spec {
        in_response_to: None,
        name_id: "alice@acme.test".into(),
        display_name: "Alice Acme".into(),
        issuer: IDP_ENTITY.into(),
        audience: format!("{base}/saml/acme"),
        recipient: acs.clone(),
        destination: acs.clone(),
        status: SUCCESS.into(),
        not_before: -60,
        not_on_or_after: 300,
        signed: Signed::Assertion,
    }));
    let posted = browser()
        .post(&acs)
        .header("x-forwarded-for", from)
        .form(&[("SAMLResponse", response.as_str())])
        .send()
        .await;
    count(
        tally,
        "SAML ACS",
        posted.map_err(|e| e.to_string()).and_then(|r| {
            if r.status().is_success() || r.status().is_redirection() {
                Ok(())
            } else {
                Err(format!("status {}", r.status()))
            }
        }),
    );
}

async fn worker(number: usize, base: String, idp: Arc<IdpKey>, tally: Shared, until: Instant) {
    let api = Client::new();
    let mut http = match sign_in_patiently(&base, number).await {
        Ok(http) => http,
        Err(e) => return count(&tally, "login", Err(e)),
    };
    count(&tally, "login", Ok(()));
    let mut rounds = 0u64;
    while Instant::now() < until {
        let from = format!(
            "10.{}.{}.{}",
            number % 256,
            rounds / 256 % 256,
            rounds % 256
        );
        round(&base, &http, &api, &idp, &from, &tally).await;
        rounds += 1;
        if rounds.is_multiple_of(20) {
            match sign_in_patiently(&base, number).await {
                Ok(fresh) => {
                    http = fresh;
                    count(&tally, "login", Ok(()));
                }
                Err(e) => count(&tally, "login", Err(e)),
            }
        }
    }
}

fn file_mib(path: &Path) -> f64 {
    std::fs::metadata(path).map_or(0.0, |m| m.len() as f64 / 1_048_576.0)
}

async fn soak(duration: Duration, connections: usize) -> bool {
    let idp = Arc::new(IdpKey::generate());
    let server = Server::start(&idp, connections);
    server.wait_ready().await;
    let tally: Shared = Arc::default();
    let started = Instant::now();
    let until = started + duration;
    let workers: Vec<_> = (0..connections)
        .map(|number| {
            tokio::spawn(worker(
                number,
                server.base.clone(),
                idp.clone(),
                tally.clone(),
                until,
            ))
        })
        .collect();
    let postgres = match postgres_url() {
        Some(url) => Some(Database::connect(url).await.expect("the soak database")),
        None => None,
    };
    println!(
        "soak: {connections} connections for {} s against {} ({})",
        duration.as_secs(),
        server.base,
        if postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    );
    println!("| time | requests answered | RSS | open files | database | WAL |");
    println!("|---|---|---|---|---|---|");
    let sample = async |tally: &Shared| {
        let (rss, files) = server.process_figures();
        let answered: u64 = {
            let t = tally.lock().unwrap();
            t.ok.values().sum::<u64>() + t.errors.values().sum::<u64>()
        };
        let (database, wal) = server.database_figures(postgres.as_ref()).await;
        println!(
            "| {:>4} s | {answered} | {:.1} MiB | {files} | {database:.1} MiB | {} |",
            started.elapsed().as_secs(),
            rss as f64 / 1024.0,
            wal.map_or("-".to_string(), |wal| format!("{wal:.1} MiB")),
        );
    };
    sample(&tally).await;
    let mut next = started + SAMPLE_EVERY;
    while Instant::now() < until {
        tokio::time::sleep_until(next.min(until).into()).await;
        if Instant::now() >= next {
            sample(&tally).await;
            next += SAMPLE_EVERY;
        }
    }
    for worker in workers {
        worker.await.unwrap();
    }
    sample(&tally).await;
    tokio::time::sleep(SAMPLE_EVERY).await;
    println!("After 10 s without load:");
    sample(&tally).await;
    let tally = tally.lock().unwrap();
    let seconds = started.elapsed().as_secs_f64() - SAMPLE_EVERY.as_secs_f64();
    println!("\n| step | answered as expected | per second |");
    println!("|---|---|---|");
    for (step, n) in &tally.ok {
        println!("| {step} | {n} | {:.0} |", *n as f64 / seconds);
    }
    if tally.errors.is_empty() {
        println!("\nNo unexpected answer.");
        false
    } else {
        println!("\nUnexpected answers:");
        for (error, n) in tally.errors.iter().take(20) {
            println!("- {error}: {n}");
        }
        let log = std::fs::read_to_string(server.dir.path().join("server.log")).unwrap_or_default();
        if let Ok(keep) = std::env::var("SOAK_KEEP_LOG") {
            std::fs::write(keep, &log).ok();
        }
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        println!(
            "\nThe server's log ends:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
        true
    }
}
