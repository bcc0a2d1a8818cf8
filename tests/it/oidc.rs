//! The OpenID provider driven end to end by an independent relying party (the `openidconnect`
//! crate): discovery, authorization with PKCE and nonce, login, consent, code exchange, ID token
//! validation through JWKS, userinfo, refresh, for each ID token algorithm.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJwsSigningAlgorithm,
    CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, RefreshToken, Scope, TokenResponse,
    UserInfoClaims,
};
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use crate::support::*;

/// Clients for every ID token algorithm, a public one, and the entity tree of BASE_CONFIG.
pub const PROVIDER_CONFIG: &str = r#"
[[clients]]
client_id = "rp-rs256"
client_secret = "env:RP_SECRET"
redirect_uris = ["https://rp.example.com/callback"]
post_logout_redirect_uris = ["https://rp.example.com/bye"]
allowed_scopes = ["openid", "profile", "email", "offline_access"]
id_token_alg = "RS256"
require_pkce = false

[[clients]]
client_id = "rp-es256"
client_secret = "env:RP_SECRET"
redirect_uris = ["https://rp.example.com/callback"]
allowed_scopes = ["openid", "profile", "email", "offline_access"]
id_token_alg = "ES256"
token_endpoint_auth_method = "client_secret_post"

[[clients]]
client_id = "rp-eddsa"
client_secret = "env:RP_SECRET"
redirect_uris = ["https://rp.example.com/callback"]
post_logout_redirect_uris = ["https://rp.example.com/bye"]
allowed_scopes = ["openid", "profile", "email", "offline_access"]
id_token_alg = "EdDSA"

[[clients]]
client_id = "rp-hs256"
client_secret = "env:RP_SECRET"
redirect_uris = ["https://rp.example.com/callback"]
allowed_scopes = ["openid", "profile", "email", "offline_access"]
id_token_alg = "HS256"

[[clients]]
client_id = "spa"
redirect_uris = ["https://spa.example.com/cb", "https://spa.example.com/form"]
allowed_scopes = ["openid", "profile", "email"]
"#;

pub const RP_SECRET: &str = "rp-secret-0123456789abcdefghijklmnopqrstuvwxyz";

pub const REDIRECT: &str = "https://rp.example.com/callback";
pub const VERIFIER: &str = "a-code-verifier-that-is-long-enough-for-rfc-7636-xxxxxxxxxx";

pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// An authorization URL for `client_id`: PKCE S256 with [`VERIFIER`], state `st-1`, nonce
/// `n-1`, scope `openid profile`, changed by `extra` (a value of "" drops the parameter).
pub fn authorize_url(server: &TestServer, client_id: &str, extra: &[(&str, &str)]) -> String {
    let redirect = if client_id == "spa" {
        "https://spa.example.com/cb"
    } else {
        REDIRECT
    };
    let mut params: Vec<(String, String)> = [
        ("client_id", client_id),
        ("redirect_uri", redirect),
        ("response_type", "code"),
        ("scope", "openid profile"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    params.push(("code_challenge".into(), challenge(VERIFIER)));
    for (key, value) in extra {
        params.retain(|(k, _)| k != key);
        if !value.is_empty() {
            params.push((key.to_string(), value.to_string()));
        }
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    server.url(&format!("/sso/v2/authorize?{query}"))
}

/// POSTs a form, with HTTP Basic client credentials if given; the status and the JSON answer.
pub async fn post_form(
    server: &TestServer,
    path: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, serde_json::Value) {
    let mut request = reqwest::Client::new().post(server.url(path)).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// Exchanges a code issued for an [`authorize_url`] of `client_id`.
pub async fn redeem(
    server: &TestServer,
    client_id: &str,
    code: &str,
) -> (StatusCode, serde_json::Value) {
    post_form(
        server,
        "/sso/v2/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
        Some((client_id, RP_SECRET)),
    )
    .await
}

/// Two servers on one database, both answering as the first one's issuer.
pub async fn two_servers(backend: Backend) -> (TestDb, TestServer, TestServer) {
    let db = TestDb::new(backend).await;
    let config = format!("{BASE_CONFIG}{PROVIDER_CONFIG}");
    let clock = idbridge::Clock::system();
    let a = TestServer::start_with(&db, &config, clock.clone(), &[("RP_SECRET", RP_SECRET)])
        .await
        .unwrap();
    let b = TestServer::start_with(
        &db,
        &config,
        clock,
        &[("RP_SECRET", RP_SECRET), ("IDBRIDGE_ISSUER", &a.base)],
    )
    .await
    .unwrap();
    (db, a, b)
}

pub async fn provider(backend: Backend) -> (TestDb, TestServer) {
    provider_with_clock(backend, idbridge::Clock::system()).await
}

pub async fn provider_with_clock(backend: Backend, clock: idbridge::Clock) -> (TestDb, TestServer) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(
        &db,
        &format!("{BASE_CONFIG}{PROVIDER_CONFIG}"),
        clock,
        &[("RP_SECRET", RP_SECRET)],
    )
    .await
    .unwrap();
    (db, server)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attached {
    #[serde(default)]
    pub attached_to: Vec<serde_json::Value>,
}
impl AdditionalClaims for Attached {}

/// A browser that signs in as Alice and answers the consent page.
pub struct Browser<'a> {
    pub server: &'a TestServer,
    pub http: reqwest::Client,
    email: String,
    password: String,
}

/// Where the authorization ended: at the client's redirect URI with these query parameters.
pub struct Returned {
    pub url: Url,
}

impl Returned {
    pub fn param(&self, name: &str) -> Option<String> {
        self.url
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

impl<'a> Browser<'a> {
    pub fn new(server: &'a TestServer) -> Browser<'a> {
        Browser {
            server,
            http: server.client(),
            email: ALICE_EMAIL.into(),
            password: ALICE_PASSWORD.into(),
        }
    }

    pub fn signing_in_as(mut self, email: &str, password: &str) -> Browser<'a> {
        self.email = email.into();
        self.password = password.into();
        self
    }

    /// Follows redirects from `url`, signing in and allowing consent on the way, until the browser
    /// is sent off to another site (or to the built-in demo client's callback); returns that URL.
    /// `allow` answers the consent page.
    pub async fn authorize(&self, url: &str, allow: bool) -> Returned {
        let mut next = url.to_string();
        for _ in 0..10 {
            let response = self.http.get(&next).send().await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::SEE_OTHER,
                "GET {next}: {:?}",
                response.text().await
            );
            let location = location(&response).unwrap();
            let absolute = Url::parse(&self.server.base)
                .unwrap()
                .join(&location)
                .unwrap();
            if !absolute.as_str().starts_with(&self.server.base)
                || absolute.path() == "/demo/callback"
            {
                return Returned { url: absolute };
            }
            next = match absolute.path() {
                "/sso/v2/login" => self.sign_in(&absolute).await,
                "/sso/v2/consent" => self.consent(absolute.as_str(), allow).await,
                _ => absolute.to_string(),
            };
            let parsed = Url::parse(&next).unwrap();
            if !next.starts_with(&self.server.base) || parsed.path() == "/demo/callback" {
                return Returned { url: parsed };
            }
        }
        panic!("too many redirects");
    }

    async fn sign_in(&self, login: &Url) -> String {
        let page = page_text(&self.http, login.as_str()).await;
        let csrf = form_value(&page, "csrf").expect("login form");
        let return_to = form_value(&page, "return_to").unwrap();
        let response = self
            .http
            .post(self.server.url("/sso/v2/login"))
            .form(&[
                ("email", self.email.as_str()),
                ("password", self.password.as_str()),
                ("csrf", &csrf),
                ("return_to", &return_to),
            ])
            .send()
            .await
            .unwrap();
        assert_continues(&response);
        self.server.url(&location(&response).unwrap())
    }

    async fn consent(&self, url: &str, allow: bool) -> String {
        let page = page_text(&self.http, url).await;
        let csrf = form_value(&page, "csrf").expect("consent form");
        let id = form_value(&page, "id").unwrap();
        let response = self
            .http
            .post(self.server.url("/sso/v2/consent"))
            .form(&[
                ("csrf", csrf.as_str()),
                ("id", &id),
                ("decision", if allow { "allow" } else { "deny" }),
            ])
            .send()
            .await
            .unwrap();
        assert_continues(&response);
        let location = location(&response).unwrap();
        Url::parse(&self.server.base)
            .unwrap()
            .join(&location)
            .unwrap()
            .to_string()
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The whole flow for one client, checked the way a relying party checks it.
async fn full_flow(server: &TestServer, client_id: &str, alg: CoreJwsSigningAlgorithm) {
    let http = http_client();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(server.base.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.into()),
        Some(ClientSecret::new(RP_SECRET.into())),
    )
    .set_redirect_uri(RedirectUrl::new("https://rp.example.com/callback".into()).unwrap());
    let client = if client_id == "rp-es256" {
        client.set_auth_type(openidconnect::AuthType::RequestBody)
    } else {
        client
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();

    let returned = Browser::new(server).authorize(url.as_str(), true).await;
    assert_eq!(
        returned.param("state").as_deref(),
        Some(csrf.secret().as_str())
    );
    assert_eq!(returned.param("iss").as_deref(), Some(server.base.as_str()));
    let code = returned.param("code").expect("a code");

    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client
        .id_token_verifier()
        .set_allowed_algs(vec![alg.clone()]);
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("ID token verifies");
    assert_eq!(claims.subject().as_str(), "u-alice");
    assert_eq!(claims.email().map(|e| e.as_str()), Some(ALICE_EMAIL));
    assert_eq!(*id_token.signing_alg().unwrap(), alg);

    let userinfo: UserInfoClaims<Attached, CoreGenderClaim> = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(userinfo.subject().as_str(), "u-alice");
    assert_eq!(
        userinfo.preferred_username().map(|u| u.as_str()),
        Some(ALICE_EMAIL)
    );
    assert_eq!(
        serde_json::to_value(&userinfo.additional_claims().attached_to).unwrap(),
        serde_json::json!([
            {"path": "/PSPName", "level": "PSP", "entityId": "e-psp-1"},
            {"path": "/PSPName/DivisionName/MerchantName", "level": "MERCHANT", "entityId": "e-mer-1"}
        ])
    );

    // offline_access: a refresh token, which rotates.
    let refresh = tokens.refresh_token().expect("a refresh token").clone();
    let renewed = client
        .exchange_refresh_token(&refresh)
        .unwrap()
        .request_async(&http)
        .await
        .expect("refresh");
    assert_ne!(renewed.refresh_token().unwrap().secret(), refresh.secret());
    let reused = client
        .exchange_refresh_token(&refresh)
        .unwrap()
        .request_async(&http)
        .await;
    assert!(reused.is_err(), "a spent refresh token is refused");
    // ...and the reuse revoked the whole family, the renewed token included.
    let after_reuse = client
        .exchange_refresh_token(&RefreshToken::new(
            renewed.refresh_token().unwrap().secret().clone(),
        ))
        .unwrap()
        .request_async(&http)
        .await;
    assert!(after_reuse.is_err(), "family revoked");
}

async fn full_flow_rs256(backend: Backend) {
    let (_db, server) = provider(backend).await;
    full_flow(
        &server,
        "rp-rs256",
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    )
    .await;
}

async fn full_flow_es256_with_client_secret_post(backend: Backend) {
    let (_db, server) = provider(backend).await;
    full_flow(
        &server,
        "rp-es256",
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    )
    .await;
}

async fn full_flow_eddsa(backend: Backend) {
    let (_db, server) = provider(backend).await;
    full_flow(&server, "rp-eddsa", CoreJwsSigningAlgorithm::EdDsa).await;
}

async fn full_flow_hs256(backend: Backend) {
    let (_db, server) = provider(backend).await;
    full_flow(&server, "rp-hs256", CoreJwsSigningAlgorithm::HmacSha256).await;
}

crate::backend_tests!(
    full_flow_rs256,
    full_flow_es256_with_client_secret_post,
    full_flow_eddsa,
    full_flow_hs256,
);

/// The status of a userinfo request with `access_token`, and its `WWW-Authenticate` challenge.
pub async fn userinfo_status(server: &TestServer, access_token: &str) -> (StatusCode, String) {
    let response = reqwest::Client::new()
        .get(server.url("/sso/v2/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (response.status(), challenge)
}
