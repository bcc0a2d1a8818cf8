//! What the fuzz targets share: the environment their configs read, and the whole application
//! started on a fresh SQLite file, for the targets that send it requests.
use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::Response;
use idbridge::{AppState, Clock, Config};
use tower::ServiceExt;

/// The environment of the targets' configs: `env:FUZZ_KEK` (a keys.encryption_key) and
/// `env:FUZZ_SECRET` (a client or product secret).
pub fn env(name: &str) -> Option<String> {
    match name {
        "FUZZ_KEK" => Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".to_string()),
        "FUZZ_SECRET" => Some("fuzz-secret-0123456789abcdefghijklmnop".to_string()),
        _ => None,
    }
}

/// `text` read as a config with [`env`]; the targets' own configs are valid.
pub fn config(text: &str) -> Config {
    Config::from_toml(text, &env).expect("the fuzz config is valid")
}

/// The application, started with a config on a SQLite file of its own.
pub struct App {
    runtime: tokio::runtime::Runtime,
    router: Router,
    _dir: tempfile::TempDir,
}

impl App {
    /// Starts the application with `config` (which gives `keys.encryption_key =
    /// "env:FUZZ_KEK"` and no `[database]`).
    pub fn start(config_text: &str) -> App {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "{config_text}\n[database]\nurl = \"sqlite://{}?mode=rwc\"\n",
            dir.path().join("fuzz.db").display()
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let state = runtime
            .block_on(AppState::prepare(config(&text), Clock::system()))
            .expect("the application starts");
        App {
            runtime,
            router: idbridge::app(state),
            _dir: dir,
        }
    }

    /// The application's answer to `request`, sent from a client address as a connection
    /// would give it.
    pub fn send(&self, mut request: Request<Body>) -> Response {
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([198, 51, 100, 7], 40000))));
        self.runtime
            .block_on(self.router.clone().oneshot(request))
            .unwrap()
    }
}

/// A provider's ES256 signing key, made at start, and its public JWK (`kid` `k1`).
pub fn provider_key() -> (ring::signature::EcdsaKeyPair, serde_json::Value) {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    let random = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random).unwrap();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &random)
        .unwrap();
    let point = key.public_key().as_ref();
    let jwk = serde_json::json!({
        "kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    (key, jwk)
}
