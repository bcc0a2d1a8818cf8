//! The authorize query (`GET /sso/v2/authorize?...`), through the real application on a real
//! SQLite file: whatever the query, the answer is not a server error, and a redirect goes only to
//! the client's registered redirect URI or to idbridge's own pages.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, header};
use idbridge_fuzz::App;
use libfuzzer_sys::fuzz_target;

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

fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| App::start(CONFIG))
}

// Started before the first input, so that the start does not count against its timeout.
fuzz_target!(init: { app(); }, |data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(request) = Request::get(format!("/sso/v2/authorize?{query}")).body(Body::empty()) else {
        return;
    };
    let response = app().send(request);
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
