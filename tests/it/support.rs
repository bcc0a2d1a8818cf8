//! Test support: fresh databases, the real server on an ephemeral port, and an HTTP client with
//! a cookie jar.
use std::collections::HashMap;
use std::sync::Arc;

use idbridge::{AppState, Clock, Config};
use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const ALICE_EMAIL: &str = "alice@example.com";
pub const ALICE_PASSWORD: &str = "correct horse battery staple";

/// A config with an entity tree, one local user and one client. EdDSA keys are quick to make.
pub const BASE_CONFIG: &str = r#"
[keys]
id_token_alg = "EdDSA"

[[entities]]
id = "e-psp-1"
name = "PSPName"
level = "PSP"

[[entities]]
id = "e-div-1"
name = "DivisionName"
level = "DIVISION"
parent = "e-psp-1"

[[entities]]
id = "e-mer-1"
name = "MerchantName"
level = "MERCHANT"
parent = "e-div-1"

[[users]]
id = "u-alice"
email = "alice@example.com"
name = "Alice Example"
password = "correct horse battery staple"
attached_to = ["e-psp-1", "e-mer-1"]

[[clients]]
client_id = "shop"
client_secret = "env:SHOP_SECRET"
redirect_uris = ["https://shop.example.com/callback"]
"#;

pub const SHOP_SECRET: &str = "shop-secret-0123456789abcdefghijklmnopqrstuvwxyz";

/// The environment variable that holds [`TEST_KEK`] for the servers and configs of the tests.
pub const TEST_KEK_VAR: &str = "IDBRIDGE_TEST_KEK";
/// The `keys.encryption_key` of test configs that set none themselves: a fixed 32-byte AES key,
/// test-only (it protects nothing but throwaway test databases).
pub const TEST_KEK: &str = "dGVzdC1vbmx5IGtleSBlbmNyeXB0aW9uIGtleSAzMiE=";

/// `text` with `keys.encryption_key` read from [`TEST_KEK_VAR`], unless it sets one itself:
/// idbridge refuses an operator's config without one.
pub fn with_test_kek(text: &str) -> String {
    // A line of its own: a SAML connection's `sp_encryption_key` is another key.
    let sets_one = text
        .lines()
        .any(|line| line.trim_start().starts_with("encryption_key"));
    if sets_one {
        return text.to_string();
    }
    let line = format!("encryption_key = \"env:{TEST_KEK_VAR}\"\n");
    match text.find("[keys]\n") {
        Some(at) => {
            let after = at + "[keys]\n".len();
            format!("{}{line}{}", &text[..after], &text[after..])
        }
        None => format!("{text}\n[keys]\n{line}"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database of its own for one test: a SQLite file in a temporary directory, or a new
/// database on the PostgreSQL server named by `IDBRIDGE_TEST_POSTGRES_URL`.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("idbridge.db").display()
                );
                TestDb {
                    url,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let admin = std::env::var("IDBRIDGE_TEST_POSTGRES_URL").expect(
                    "IDBRIDGE_TEST_POSTGRES_URL must name a PostgreSQL server (scripts/test starts one)",
                );
                let name = format!("idbridge_test_{}", hex_id());
                let db = Database::connect(&admin)
                    .await
                    .expect("connect to PostgreSQL");
                db.execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                db.close().await.ok();
                let (server, _) = admin.rsplit_once('/').expect("URL with a database path");
                TestDb {
                    url: format!("{server}/{name}"),
                    _dir: None,
                }
            }
        }
    }
}

impl TestDb {
    /// The PostgreSQL server's address (`host:port`) in this database's URL.
    pub fn server_address(&self) -> String {
        let url = url::Url::parse(&self.url).expect("a database URL");
        format!(
            "{}:{}",
            url.host_str().expect("a host"),
            url.port().expect("a port")
        )
    }

    /// The same database reached at `address` instead, such as a proxy in front of its server.
    pub fn reached_at(&self, address: std::net::SocketAddr) -> TestDb {
        let mut url = url::Url::parse(&self.url).expect("a database URL");
        url.set_ip_host(address.ip()).expect("a URL with a host");
        url.set_port(Some(address.port()))
            .expect("a URL with a host");
        TestDb {
            url: url.to_string(),
            _dir: None,
        }
    }
}

fn hex_id() -> String {
    idbridge::crypto::sha256_hex(&idbridge::crypto::random_token())[..16].to_string()
}

/// The real server, in-process, on 127.0.0.1 and an ephemeral port.
pub struct TestServer {
    pub base: String,
    pub clock: Clock,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts with `config` (TOML, where `{test_base}` stands for the server's address), the
    /// issuer set to that address, the database set to `db`, and `SHOP_SECRET` in its environment.
    pub async fn start(db: &TestDb, config: &str) -> TestServer {
        TestServer::start_with(db, config, Clock::system(), &[])
            .await
            .expect("server starts")
    }

    pub async fn start_with(
        db: &TestDb,
        config: &str,
        clock: Clock,
        env: &[(&str, &str)],
    ) -> Result<TestServer, String> {
        TestServer::start_as("127.0.0.1", db, config, clock, env).await
    }

    /// The same, with the issuer named by `host` (which must resolve to 127.0.0.1): the browser
    /// tests put idbridge on `localhost` and its relying parties on other sites.
    pub async fn start_as(
        host: &str,
        db: &TestDb,
        config: &str,
        clock: Clock,
        env: &[(&str, &str)],
    ) -> Result<TestServer, String> {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let base = format!("http://{host}:{port}");
        let mut vars: HashMap<String, String> = HashMap::from([
            ("IDBRIDGE_ISSUER".into(), base.clone()),
            ("IDBRIDGE_DATABASE_URL".into(), db.url.clone()),
            ("SHOP_SECRET".into(), SHOP_SECRET.into()),
            (TEST_KEK_VAR.into(), TEST_KEK.into()),
        ]);
        vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let lookup = move |name: &str| vars.get(name).cloned();
        // `{test_base}` in a config stands for this server's own address.
        let config = with_test_kek(&config.replace("{test_base}", &base));
        let config = Config::from_toml(&config, &lookup).map_err(|e| e.to_string())?;
        let state = AppState::prepare(config, clock.clone())
            .await
            .map_err(|e| e.to_string())?;
        let (shutdown, signal) = oneshot::channel::<()>();
        let serving = state.clone();
        let task = tokio::spawn(async move {
            idbridge::serve(listener, serving, async {
                signal.await.ok();
            })
            .await;
        });
        Ok(TestServer {
            base,
            clock,
            state,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A browser-like client: its own cookie jar, and redirects left to the test to follow.
    pub fn client(&self) -> Client {
        browser()
    }

    /// Stops the server and waits until it has.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            shutdown.send(()).ok();
        }
        if let Some(task) = self.task.take() {
            task.await.ok();
        }
    }

    /// Fetches the login page and returns the CSRF token of its form.
    pub async fn csrf_token(&self, client: &Client, path: &str) -> String {
        csrf_token_at(&self.base, client, path).await
    }

    /// Posts the login form (with a valid CSRF token) and returns the response, not followed.
    pub async fn login(&self, client: &Client, email: &str, password: &str) -> Response {
        login_at(&self.base, client, email, password).await
    }

    /// Follows one redirect (to a path on this server) and returns the page text.
    pub async fn follow(&self, client: &Client, response: &Response) -> (StatusCode, String) {
        let location = location(response).expect("a redirect");
        let next = client.get(self.url(&location)).send().await.expect("GET");
        (next.status(), next.text().await.unwrap())
    }

    /// How many rows a table has.
    pub async fn count(&self, table: &str) -> i64 {
        let db = self.state.store.connection();
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .expect("count")
            .expect("a row");
        row.try_get::<i64>("", "n").expect("count column")
    }
}

impl TestServer {
    /// Makes every insert into `table` fail from now on, as a full disk or a lost database
    /// would, so that a test can see what a failed write leaves behind.
    pub async fn refuse_inserts(&self, table: &str) {
        let db = self.state.store.connection();
        let statements = match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => vec![
                "CREATE OR REPLACE FUNCTION refuse_insert() RETURNS trigger AS $$ \
                 BEGIN RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql"
                    .to_string(),
                format!(
                    "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} \
                     FOR EACH ROW EXECUTE FUNCTION refuse_insert()"
                ),
            ],
            _ => vec![format!(
                "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} \
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )],
        };
        for statement in statements {
            db.execute_unprepared(&statement)
                .await
                .expect("create the trigger");
        }
    }

    /// Undoes [`TestServer::refuse_inserts`].
    pub async fn allow_inserts(&self, table: &str) {
        let db = self.state.store.connection();
        let statement = match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => format!("DROP TRIGGER refuse_{table} ON {table}"),
            _ => format!("DROP TRIGGER refuse_{table}"),
        };
        db.execute_unprepared(&statement)
            .await
            .expect("drop the trigger");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            shutdown.send(()).ok();
        }
    }
}

/// The real `idbridge` binary in a process of its own, on `db`, answering as `issuer`: a second
/// server beside an in-process one, for what several processes on one database must guarantee.
pub struct ServerProcess {
    pub base: String,
    child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl ServerProcess {
    pub async fn spawn(
        db: &TestDb,
        config: &str,
        issuer: &str,
        env: &[(&str, &str)],
    ) -> ServerProcess {
        ServerProcess::spawn_on(ReservedPort::new(), db, config, issuer, env).await
    }

    /// Spawns on a reserved port, for a server whose address others must know first. The
    /// reservation is let go once the process listens on the port.
    pub async fn spawn_on(
        port: ReservedPort,
        db: &TestDb,
        config: &str,
        issuer: &str,
        env: &[(&str, &str)],
    ) -> ServerProcess {
        use tokio::io::AsyncBufReadExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("idbridge.toml");
        std::fs::write(&file, with_test_kek(config)).unwrap();
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_idbridge"))
            .args(["serve", "--config"])
            .arg(&file)
            .env("IDBRIDGE_BIND", format!("{}:{}", port.ip, port.port))
            .env("IDBRIDGE_ISSUER", issuer)
            .env("IDBRIDGE_DATABASE_URL", &db.url)
            .env("SHOP_SECRET", SHOP_SECRET)
            .env(TEST_KEK_VAR, TEST_KEK)
            .envs(env.iter().copied())
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn idbridge");
        // Ready once it says it is running (it prints that after binding).
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(std::time::Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("idbridge is running") {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(ready.ok(), Some(true), "the idbridge process did not start");
        let base = port.base();
        drop(port); // it listens on the port now
        ServerProcess {
            base,
            child,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Asks the process to stop as a service manager does (SIGTERM); whether it exited, and how,
    /// within `seconds`.
    pub async fn terminate(mut self, seconds: u64) -> Option<std::process::ExitStatus> {
        let pid = self.child.id().expect("a running process") as libc::pid_t;
        // SAFETY: kill(2) with a pid this test started and still owns.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        tokio::time::timeout(std::time::Duration::from_secs(seconds), self.child.wait())
            .await
            .ok()
            .map(|status| status.expect("wait for idbridge"))
    }

    /// Kills the process as `kill -9` does (SIGKILL: no chance to finish anything), and waits
    /// for it to be gone.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("kill idbridge");
    }
}

/// A run of the Python script `tests/it/{script}` with the tests' Python: pysaml2 and PyJWT from
/// PyPI, at the versions `tests/python-requirements.txt` pins, in the virtual environment
/// `scripts/lib/deps.sh` (install_test_tools, which `scripts/test` runs) makes; or the python
/// `IDBRIDGE_TEST_PYTHON` names.
pub fn python_script(script: &str) -> std::process::Command {
    let python = std::env::var_os("IDBRIDGE_TEST_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-python/bin/python3")
        });
    assert!(
        python.exists(),
        "no test python at {}: run scripts/test, or `source scripts/lib/deps.sh && install_test_tools`",
        python.display()
    );
    let mut command = std::process::Command::new(python);
    command.arg(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/it")
            .join(script),
    );
    command
}

/// A browser-like client: its own cookie jar, and redirects left to the test to follow.
pub fn browser() -> Client {
    Client::builder()
        .cookie_provider(Arc::new(reqwest::cookie::Jar::default()))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Fetches a page of the server at `base` and returns the CSRF token of its form.
pub async fn csrf_token_at(base: &str, client: &Client, path: &str) -> String {
    let page = client
        .get(format!("{base}{path}"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .unwrap();
    form_value(&page, "csrf").expect("page has a CSRF token")
}

/// Posts the login form of the server at `base` (with a valid CSRF token) and returns the
/// response, not followed.
pub async fn login_at(base: &str, client: &Client, email: &str, password: &str) -> Response {
    let csrf = csrf_token_at(base, client, "/sso/v2/login").await;
    client
        .post(format!("{base}/sso/v2/login"))
        .form(&[
            ("email", email),
            ("password", password),
            ("csrf", &csrf),
            ("return_to", "/account"),
        ])
        .send()
        .await
        .expect("POST login")
}

/// Reads a config file's text with the environment variables `env` (and no others but
/// [`TEST_KEK_VAR`], which keys it unless it sets its own `keys.encryption_key`).
pub fn parse_config(
    text: &str,
    env: &[(&str, &str)],
) -> Result<Config, idbridge::config::ConfigError> {
    let mut vars: HashMap<&str, &str> = env.iter().copied().collect();
    vars.entry(TEST_KEK_VAR).or_insert(TEST_KEK);
    Config::from_toml(&with_test_kek(text), &|name| {
        vars.get(name).map(|v| v.to_string())
    })
}

/// The problems of a config that must be refused, as `path: message` lines.
pub fn config_problems(text: &str, env: &[(&str, &str)]) -> Vec<String> {
    match parse_config(text, env) {
        Ok(_) => panic!("config should be refused:\n{text}"),
        Err(error) => {
            assert!(!error.problems().is_empty(), "{error}");
            error.problems().iter().map(ToString::to_string).collect()
        }
    }
}

/// `token` with its middle character changed. A middle character of base64 carries six whole
/// bits, so the decoded bytes always change; the last one may carry padding bits only.
pub fn forged(token: &str) -> String {
    let middle = token.len() / 2;
    let replacement = if &token[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    format!("{}{replacement}{}", &token[..middle], &token[middle + 1..])
}

/// The decoded value of a query parameter of `url`.
pub fn param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A port of a loopback address kept from everyone else while held: a socket bound to it with
/// `SO_REUSEADDR` that never listens. A server process given the port binds and listens on it
/// while the reservation is held (tokio's `TcpListener::bind`, which `idbridge serve` uses, sets
/// `SO_REUSEADDR` too, and on Linux two such sockets conflict only once one listens); drop the
/// reservation once the server says it is running. Meanwhile no other bind to port 0 and no
/// outgoing connection is given the port, as they could be one that was merely free a moment
/// ago. Held with nothing listening, the address refuses connections.
pub struct ReservedPort {
    _socket: tokio::net::TcpSocket,
    pub ip: std::net::Ipv4Addr,
    pub port: u16,
}

impl ReservedPort {
    pub fn new() -> ReservedPort {
        ReservedPort::on([127, 0, 0, 1])
    }

    /// A port of another loopback address (`127.0.0.2`): another site to a browser.
    pub fn on(ip: [u8; 4]) -> ReservedPort {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket
            .bind((ip, 0).into())
            .expect("bind a loopback address");
        let port = socket.local_addr().expect("address").port();
        ReservedPort {
            _socket: socket,
            ip: ip.into(),
            port,
        }
    }

    /// `http://{ip}:{port}`.
    pub fn base(&self) -> String {
        format!("http://{}:{}", self.ip, self.port)
    }
}

/// What [`ReservedPort`] relies on: while it is held, nothing answers at the address, and a server
/// can still bind and listen on the port as `idbridge serve` does.
#[tokio::test]
async fn a_reserved_port_is_left_to_its_server() {
    let reserved = ReservedPort::new();
    let address = ("127.0.0.1", reserved.port);
    assert!(tokio::net::TcpStream::connect(address).await.is_err());
    let server = TcpListener::bind(address)
        .await
        .expect("a server binds the reserved port");
    tokio::net::TcpStream::connect(address)
        .await
        .expect("connects to the server");
    drop(reserved);
    tokio::net::TcpStream::connect(address)
        .await
        .expect("connects to the server after the reservation is let go");
    drop(server);
}

/// Where a response sends the browser next: a redirect's `Location`, or the `Refresh` of the
/// page that answers a person's form post (`web::pages::after_form`).
/// The claims userinfo at `server` answers for `access_token`, which it must take.
pub async fn userinfo(server: &TestServer, access_token: &str) -> serde_json::Value {
    let response = Client::new()
        .get(server.url("/sso/v2/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// The body of `http`'s GET of `url`.
pub async fn page_text(http: &Client, url: impl reqwest::IntoUrl) -> String {
    http.get(url).send().await.unwrap().text().await.unwrap()
}

pub fn location(response: &Response) -> Option<String> {
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_string())
    };
    header(LOCATION.as_str()).or_else(|| {
        header("refresh").and_then(|refresh| refresh.strip_prefix("0;url=").map(str::to_string))
    })
}

/// Asserts that a person's form post was answered with the page that moves on by itself (and
/// not with a redirect, which Chromium would hold to the form page's `form-action`).
pub fn assert_continues(response: &Response) {
    assert_eq!(response.status(), StatusCode::OK, "the page that moves on");
    assert!(
        response.headers().contains_key("refresh"),
        "the page moves on by itself"
    );
}

/// The `Set-Cookie` header for `name`, if the response sets it.
pub fn set_cookie(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with(&format!("{name}=")))
}

/// The value of the cookie `name` that a response sets.
pub fn cookie_value(response: &Response, name: &str) -> Option<String> {
    let header = set_cookie(response, name)?;
    let value = header.split(';').next()?.split_once('=')?.1.to_string();
    Some(value).filter(|v| !v.is_empty())
}

/// The `value` of the form input called `name`.
pub fn form_value(html: &str, name: &str) -> Option<String> {
    let document = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse(&format!("input[name=\"{name}\"]")).unwrap();
    document
        .select(&selector)
        .next()
        .and_then(|input| input.value().attr("value"))
        .map(str::to_string)
}

/// The text of the elements matching a CSS selector.
pub fn texts(html: &str, selector: &str) -> Vec<String> {
    let document = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse(selector).unwrap();
    document
        .select(&selector)
        .map(|e| e.text().collect::<String>().trim().to_string())
        .collect()
}

/// A TCP proxy in front of the database server that the test can cut, as when the database goes
/// away (every connection through it is closed, and each new one as soon as it is made), and
/// restore.
pub struct DatabaseProxy {
    pub address: std::net::SocketAddr,
    cut: Arc<tokio::sync::watch::Sender<bool>>,
    task: JoinHandle<()>,
}

impl DatabaseProxy {
    pub async fn start(server: String) -> DatabaseProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let cut = Arc::new(tokio::sync::watch::channel(false).0);
        let cuts = cut.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if *cuts.borrow() {
                    continue; // dropped: closed at once
                }
                let mut cut = cuts.subscribe();
                let server = server.clone();
                tokio::spawn(async move {
                    let Ok(mut database) = tokio::net::TcpStream::connect(&server).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut database) => {}
                        _ = cut.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        DatabaseProxy { address, cut, task }
    }

    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    pub fn restore(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for DatabaseProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
