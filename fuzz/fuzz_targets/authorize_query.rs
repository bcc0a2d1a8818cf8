//! The authorize query (`GET /sso/v2/authorize?...`), through the real application on a real
//! SQLite file: whatever the query, the answer is not a server error, and a redirect goes only to
//! the client's registered redirect URI or to idbridge's own pages.
#![no_main]

use std::net::SocketAddr;
use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, header};
use idbridge::{AppState, Clock, Config};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

const CONFIG: &str = r#"
[server]
issuer = "https://id.example.com"
pending_logins_per_minute = 100000
max_pending_logins = 100000000
[keys]
encryption_key = "env:FUZZ_KEK"
[[entities]]
id = "psp"
name = "PSP"
level = "PSP"
[[clients]]
client_id = "rp"
client_secret = "env:FUZZ_SECRET"
redirect_uris = ["https://rp.example.com/callback"]
allowed_scopes = ["openid", "profile", "email", "offline_access"]
[[clients]]
client_id = "spa"
redirect_uris = ["https://spa.example.com/cb"]
allowed_scopes = ["openid", "email"]
"#;

struct Target {
    runtime: tokio::runtime::Runtime,
    app: Router,
    _dir: tempfile::TempDir,
}

fn target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let env = |name: &str| match name {
            "FUZZ_KEK" => Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_string()),
            "FUZZ_SECRET" => Some("fuzz-secret-0123456789abcdefghijklmnop".to_string()),
            _ => None,
        };
        let text = format!(
            "{CONFIG}\n[database]\nurl = \"sqlite://{}?mode=rwc\"\n",
            dir.path().join("fuzz.db").display()
        );
        let config = Config::from_toml(&text, &env).expect("the fuzz config is valid");
        let state = runtime
            .block_on(AppState::prepare(config, Clock::system()))
            .expect("the application starts");
        Target {
            runtime,
            app: idbridge::app(state),
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut request) = Request::get(format!("/sso/v2/authorize?{query}")).body(Body::empty())
    else {
        return;
    };
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([198, 51, 100, 7], 40000))));
    let target = target();
    let response = target
        .runtime
        .block_on(target.app.clone().oneshot(request))
        .unwrap();
    let status = response.status();
    assert!(!status.is_server_error(), "{status} for {query:?}");
    if status.is_redirection() {
        let location = response.headers()[header::LOCATION].to_str().unwrap();
        assert!(
            location.starts_with("/") && !location.starts_with("//")
                || location.starts_with("https://rp.example.com/callback?")
                || location.starts_with("https://spa.example.com/cb?")
                || location.starts_with("https://id.example.com/"),
            "redirected to {location} for {query:?}"
        );
    }
});
