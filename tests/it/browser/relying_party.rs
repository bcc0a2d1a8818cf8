//! A relying party on another site than idbridge (`127.0.0.1` while idbridge is `localhost`):
//! a real HTTP server whose pages the browser lands on, so that every flow crosses sites as it
//! does in production. It also serves the pages a hostile site would.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::response::Html;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use idbridge::Clock;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use crate::support::*;

pub const CLIENT_ID: &str = "rp";
pub const VERIFIER: &str = "browser-test-verifier-0123456789abcdefghijklmnopqrstuvwxyz";

/// The relying party: its address, the idbridge it trusts, and the queries its front-channel
/// logout page was loaded with.
#[derive(Clone)]
pub struct RelyingParty {
    pub base: String,
    idp: String,
    frontchannel: Arc<Mutex<Vec<HashMap<String, String>>>>,
}

/// Idbridge on `localhost` with one relying party (`rp`) on `127.0.0.1`.
pub struct BrowserSetup {
    pub server: TestServer,
    pub rp: RelyingParty,
    _db: TestDb,
}

/// The client the browser suite's relying party is, in idbridge's config (`{rp}` is its address).
const RP_CLIENT: &str = r#"
[[clients]]
client_id = "rp"
client_secret = "env:SHOP_SECRET"
redirect_uris = ["{rp}/cb"]
post_logout_redirect_uris = ["{rp}/bye"]
allowed_scopes = ["openid", "profile", "email", "offline_access"]
frontchannel_logout_uri = "{rp}/frontchannel-logout"
frontchannel_logout_session_required = true
"#;

impl BrowserSetup {
    /// Starts the relying party and idbridge (SQLite) with `BASE_CONFIG`, the `rp` client and
    /// `extra` config (where `{rp}` also stands for the relying party's address).
    pub async fn start(extra: &str) -> BrowserSetup {
        BrowserSetup::start_with(extra, &[]).await
    }

    pub async fn start_with(extra: &str, env: &[(&str, &str)]) -> BrowserSetup {
        BrowserSetup::start_from(BASE_CONFIG, extra, env).await
    }

    /// The same on another base config than `BASE_CONFIG`.
    pub async fn start_from(base: &str, extra: &str, env: &[(&str, &str)]) -> BrowserSetup {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let rp_base = format!("http://{}", listener.local_addr().unwrap());
        let db = TestDb::new(Backend::Sqlite).await;
        let config = format!("{base}{RP_CLIENT}{extra}").replace("{rp}", &rp_base);
        let server = TestServer::start_as("localhost", &db, &config, Clock::system(), env)
            .await
            .expect("idbridge starts");
        let rp = RelyingParty {
            base: rp_base,
            idp: server.base.clone(),
            frontchannel: Arc::default(),
        };
        let app = Router::new()
            .route("/cb", get(callback_page).post(form_post_page))
            .route(
                "/bye",
                get(|| async { Html("<h1 id=bye>Signed out at the RP</h1>") }),
            )
            .route("/tracker", get(tracker_page))
            .route("/frontchannel-logout", get(frontchannel_logout_page))
            .route("/hostile/frame", get(framing_page))
            .route("/hostile/post", get(forged_post_page))
            .with_state(rp.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        BrowserSetup {
            server,
            rp,
            _db: db,
        }
    }
}

impl RelyingParty {
    /// The authorization URL a product would send the browser to, with PKCE S256.
    pub fn authorize_url(&self, scope: &str, state: &str, extra: &[(&str, &str)]) -> String {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
        let mut url = url::Url::parse(&format!("{}/sso/v2/authorize", self.idp)).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", CLIENT_ID)
            .append_pair("redirect_uri", &self.url("/cb"))
            .append_pair("scope", scope)
            .append_pair("state", state)
            .append_pair("nonce", "n-0S6_WzA2Mj")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .extend_pairs(extra.iter().copied());
        url.to_string()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The queries its front-channel logout page was loaded with, in order.
    pub fn frontchannel_loads(&self) -> Vec<HashMap<String, String>> {
        self.frontchannel.lock().unwrap().clone()
    }

    /// What the relying party's backend does with a code: the token request, as JSON.
    pub async fn redeem(&self, code: &str) -> Value {
        let response = reqwest::Client::new()
            .post(format!("{}/sso/v2/token", self.idp))
            .basic_auth(CLIENT_ID, Some(SHOP_SECRET))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.url("/cb")),
                ("code_verifier", VERIFIER),
            ])
            .send()
            .await
            .expect("token request");
        assert_eq!(response.status(), 200, "the code is redeemed");
        response.json().await.expect("token JSON")
    }
}

/// The claims of a JWT, unverified (the provider tests verify signatures; here the question is
/// what reached the relying party).
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("JSON")
}

async fn callback_page(Query(query): Query<HashMap<String, String>>) -> Html<String> {
    Html(format!(
        "<h1 id=callback>Callback</h1><p id=params>{}</p>",
        html_escape(&format!("{query:?}"))
    ))
}

async fn form_post_page(Form(form): Form<HashMap<String, String>>) -> Html<String> {
    let fields: String = form
        .iter()
        .map(|(k, v)| format!("<p id=\"posted-{}\">{}</p>", html_escape(k), html_escape(v)))
        .collect();
    Html(format!("<h1 id=posted>Form post</h1>{fields}"))
}

/// The page idbridge loads in a frame when the person signs out: it would end the relying
/// party's own session of that `sid`.
async fn frontchannel_logout_page(
    State(rp): State<RelyingParty>,
    Query(query): Query<HashMap<String, String>>,
) -> Html<&'static str> {
    rp.frontchannel.lock().unwrap().push(query);
    Html("<p>Signed out at the RP</p>")
}

/// A product page that embeds idbridge's session tracker and shows what it reports.
async fn tracker_page(
    State(rp): State<RelyingParty>,
    Query(query): Query<HashMap<String, String>>,
) -> Html<String> {
    let sid = query.get("sid").cloned().unwrap_or_default();
    let interval = query.get("interval").cloned().unwrap_or("5000".into());
    Html(format!(
        r#"<!doctype html><title>Product</title>
<p id="tracker">watching</p>
<script src="{idp}/sso/sessionTracker/oasm.js"></script>
<script>
  window.trackerStarted = Date.now();
  oasm.start({{
    issuer: "{idp}", clientId: "rp", sessionId: "{sid}", interval: {interval},
    onExpired: function () {{
      window.expiredAfter = Date.now() - window.trackerStarted;
      document.getElementById("tracker").textContent = "expired";
    }}
  }});
</script>"#,
        idp = rp.idp,
        sid = html_escape(&sid),
    ))
}

/// An attacker's page that frames idbridge's login page.
async fn framing_page(State(rp): State<RelyingParty>) -> Html<String> {
    Html(format!(
        r#"<!doctype html><title>Win a prize</title>
<iframe id="victim" src="{}/sso/v2/login" width="600" height="400"></iframe>"#,
        rp.idp
    ))
}

/// An attacker's page that submits a consent (`Allow`) for a pending authorization it names,
/// with a CSRF token it made up.
async fn forged_post_page(
    State(rp): State<RelyingParty>,
    Query(query): Query<HashMap<String, String>>,
) -> Html<String> {
    let id = query.get("id").cloned().unwrap_or_default();
    let csrf = query.get("csrf").cloned().unwrap_or_default();
    Html(format!(
        r#"<!doctype html><title>Loading</title>
<form id="forged" method="post" action="{}/sso/v2/consent">
<input type="hidden" name="id" value="{}">
<input type="hidden" name="csrf" value="{}">
<input type="hidden" name="decision" value="allow">
</form>
<script>document.getElementById("forged").submit();</script>"#,
        rp.idp,
        html_escape(&id),
        html_escape(&csrf)
    ))
}

pub fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
