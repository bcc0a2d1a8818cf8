//! An upstream OpenID provider's word, as the back-channel logout endpoint takes it
//! (`POST /oidc/{connection}/backchannel-logout`), through the whole application: the provider's
//! discovery document and key set are fetched from a small provider this target runs, then the
//! token is read as a JWS (header, `alg`, `kid`, key choice, signature) and its claims checked
//! (iss, aud, iat, events, sub/sid, nonce, jti) the way ID tokens are. The first byte picks what
//! the rest is: the token as sent (reading and signature), or a payload that the target signs with
//! the provider's real key (the claim checks; `{iss}` and `{now}` in it become the issuer and the
//! time). Whatever comes, the answer is not a server error, and a token is taken only when it
//! names the provider and this client.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, header};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idbridge_fuzz::App;
use libfuzzer_sys::fuzz_target;
use ring::rand::SystemRandom;
use ring::signature::EcdsaKeyPair;

struct Target {
    app: App,
    key: EcdsaKeyPair,
    issuer: String,
}

/// Serves the provider's discovery document and key set on a thread of its own.
fn start_provider(jwk: serde_json::Value) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let discovery = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    });
    let keys = serde_json::json!({ "keys": [jwk] });
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let provider = Router::new()
                .route(
                    "/.well-known/openid-configuration",
                    get(move || async move { Json(discovery) }),
                )
                .route("/jwks", get(move || async move { Json(keys) }));
            axum::serve(listener, provider).await.unwrap();
        });
    });
    issuer
}

fn target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        let (key, jwk) = idbridge_fuzz::provider_key();
        let issuer = start_provider(jwk);
        let app = App::start(&format!(
            r#"[server]
issuer = "https://id.example.com"
[keys]
encryption_key = "env:FUZZ_KEK"
[[entities]]
id = "psp"
name = "PSP"
level = "PSP"
[[connections]]
id = "up"
type = "oidc"
entity = "psp"
issuer = "{issuer}"
client_id = "bridge"
client_secret = "env:FUZZ_SECRET"
"#
        ));
        Target { app, key, issuer }
    })
}

/// `payload` as a logout token signed with the provider's key.
fn signed(target: &Target, payload: &str) -> String {
    let head = URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","kid":"k1","typ":"logout+jwt"}"#);
    let body = URL_SAFE_NO_PAD.encode(payload);
    let input = format!("{head}.{body}");
    let signature = target
        .key
        .sign(&SystemRandom::new(), input.as_bytes())
        .unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
}

/// Sends `data` as the first byte says (see the module's documentation).
fn send(data: &[u8]) {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(rest) = std::str::from_utf8(rest) else {
        return;
    };
    let target = target();
    let (token, payload) = if mode % 2 == 0 {
        (rest.to_string(), None)
    } else {
        let now = chrono::Utc::now().timestamp().to_string();
        let payload = rest.replace("{iss}", &target.issuer).replace("{now}", &now);
        (signed(target, &payload), Some(payload))
    };
    let form: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("logout_token", &token)
        .finish();
    let request = Request::post("/oidc/up/backchannel-logout")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap();
    let response = target.app.send(request);
    let status = response.status();
    assert!(!status.is_server_error(), "{status} for {token:?}");
    if status.is_success() {
        let payload = payload.expect("only a token signed with the provider's key is taken");
        let claims: serde_json::Value = serde_json::from_str(&payload).expect("a JSON payload");
        assert_eq!(claims["iss"], target.issuer.as_str(), "{payload}");
        let aud = &claims["aud"];
        assert!(
            aud == "bridge"
                || aud
                    .as_array()
                    .is_some_and(|a| a.iter().any(|v| v == "bridge")),
            "{payload}"
        );
    }
}

// The application started and one signed token sent before the first input: the first use of the
// provider (discovery, key set, the HTTP client's set-up) takes seconds in this build, and would
// count against that input's timeout.
fuzz_target!(init: { send(b"\x01{}"); }, |data: &[u8]| send(data));
