//! Product SSO JWTs (SPEC section 7): the product side verifies every token with the
//! `jsonwebtoken` crate and the product's secret, checking signature, exp, nbf and aud; bad
//! destinations are refused with nothing signed; the login-URL API for backends.
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use serde_json::{Value, json};
use url::Url;

use crate::support::*;

const PRODUCTS_CONFIG: &str = r#"
[[products]]
id = "helpdesk"
format = "hub"
login_url = "https://{hub_domain}/login/sso"
allowed_domains = ["help.example.com", "*.help.example.com"]
preview_domain = "preview.help.example.net"
secrets = ["env:HELPDESK_SECRET"]
token_ttl = "5m"

[[products]]
id = "chat"
format = "workspace"
allowed_domains = ["*.chat.example.com"]
secrets = ["env:CHAT_SECRET"]
token_ttl = "2m"

[[api_credentials]]
username = "backend"
password = "env:BACKEND_PASSWORD"
scopes = ["sso_urls"]

[[api_credentials]]
username = "sessions-only"
password = "env:BACKEND_PASSWORD"
scopes = ["session_urls"]
"#;

pub(crate) const HELPDESK_SECRET: &str = "helpdesk-secret-1-0123456789abcdefghijklmnop";
const HELPDESK_SECRET_2: &str = "helpdesk-secret-2-0123456789abcdefghijklmnop";
const CHAT_SECRET: &str = "chat-secret-1-0123456789abcdefghijklmnopqrstu";
const CHAT_SECRET_2: &str = "chat-secret-2-0123456789abcdefghijklmnopqrstu";
const BACKEND_PASSWORD: &str = "backend password 0123456789";

fn env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("HELPDESK_SECRET", HELPDESK_SECRET),
        ("CHAT_SECRET", CHAT_SECRET),
        ("BACKEND_PASSWORD", BACKEND_PASSWORD),
    ]
}

async fn start_with_config(db: &TestDb, products: &str, env: &[(&str, &str)]) -> TestServer {
    TestServer::start_with(
        db,
        &format!("{BASE_CONFIG}{products}"),
        idbridge::Clock::system(),
        env,
    )
    .await
    .expect("server starts")
}

async fn start(backend: Backend) -> (TestDb, TestServer) {
    let db = TestDb::new(backend).await;
    let server = start_with_config(&db, PRODUCTS_CONFIG, &env()).await;
    (db, server)
}

/// A browser signed in as Alice.
async fn signed_in(server: &TestServer) -> reqwest::Client {
    let client = server.client();
    let response = server.login(&client, ALICE_EMAIL, ALICE_PASSWORD).await;
    assert_continues(&response);
    client
}

/// Verifies a hub token as a hub would: HS256 with its secret, exp, and aud = its own domain.
pub(crate) fn verify_hub(
    token: &str,
    secret: &str,
    hub_domain: &str,
) -> jsonwebtoken::errors::Result<Value> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[hub_domain]);
    validation.set_required_spec_claims(&["exp", "aud", "iat"]);
    jsonwebtoken::decode::<Value>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .map(|data| data.claims)
}

/// Verifies a workspace token: HS256 with its secret, exp and nbf.
fn verify_workspace(token: &str, secret: &str) -> jsonwebtoken::errors::Result<Value> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_nbf = true;
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "nbf", "sub"]);
    jsonwebtoken::decode::<Value>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .map(|data| data.claims)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Follows a product SSO URL as a person does: the first time a host is named, the person says
/// yes on the confirmation page; after that the GET goes straight there. Returns where the token
/// is sent, asserting that the answer is not cached.
async fn sso_redirect(server: &TestServer, client: &reqwest::Client, path: &str) -> Url {
    let response = client.get(server.url(path)).send().await.unwrap();
    let response = if response.status() == StatusCode::OK {
        let page = response.text().await.unwrap();
        let csrf = form_value(&page, "csrf").expect("the confirmation page");
        let confirmed = client
            .post(server.url(&form_action(&page).unwrap()))
            .form(&[("csrf", csrf)])
            .send()
            .await
            .unwrap();
        assert_continues(&confirmed);
        confirmed
    } else {
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "GET {path}");
        response
    };
    assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
    Url::parse(&location(&response).unwrap()).unwrap()
}

async fn hub_token_for_a_signed_in_user(backend: Backend) {
    let (_db, server) = start(backend).await;
    let client = signed_in(&server).await;
    let url = sso_redirect(
        &server,
        &client,
        "/sso/jwt/helpdesk?hub_domain=ACME.help.example.com&hub_id=acme-1&return_to=%2Ftickets%2F42%3Ftab%3Dopen%26x%3D1",
    )
    .await;
    assert_eq!(url.scheme(), "https");
    assert_eq!(url.host_str(), Some("acme.help.example.com"));
    assert_eq!(url.path(), "/login/sso");
    assert_eq!(
        param(&url, "return_to").as_deref(),
        Some("/tickets/42?tab=open&x=1")
    );
    let token = param(&url, "jwt").unwrap();
    let claims = verify_hub(&token, HELPDESK_SECRET, "acme.help.example.com").unwrap();
    let iat = claims["iat"].as_i64().unwrap();
    assert!((iat - now()).abs() < 30, "iat {iat}");
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 300);
    assert_eq!(claims["aud"], "acme.help.example.com");
    assert_eq!(claims["iss"], server.base.as_str());
    assert_eq!(claims["hub_id"], "acme-1");
    assert_eq!(claims["jti"].as_str().unwrap().len(), 43);
    assert_eq!(
        claims["user"],
        json!({
            "id": "u-alice",
            "email": "alice@example.com",
            "name": "Alice Example",
            "custom_data": {},
            "organization": {
                "id": "e-mer-1",
                "name": "MerchantName",
                "custom_data": {
                    "level": "MERCHANT",
                    "path": "/PSPName/DivisionName/MerchantName"
                }
            }
        })
    );

    // Another tenant of the wildcard cannot replay it; another secret cannot verify it.
    let replayed = verify_hub(&token, HELPDESK_SECRET, "globex.help.example.com").unwrap_err();
    assert_eq!(replayed.kind(), &ErrorKind::InvalidAudience);
    let forged = verify_hub(&token, CHAT_SECRET, "acme.help.example.com").unwrap_err();
    assert_eq!(forged.kind(), &ErrorKind::InvalidSignature);

    // Each token is new; the preview domain is accepted too; return_to is optional.
    let url = sso_redirect(
        &server,
        &client,
        "/sso/jwt/helpdesk?hub_domain=preview.help.example.net",
    )
    .await;
    assert_eq!(url.host_str(), Some("preview.help.example.net"));
    assert_eq!(param(&url, "return_to"), None);
    let preview = verify_hub(
        &param(&url, "jwt").unwrap(),
        HELPDESK_SECRET,
        "preview.help.example.net",
    )
    .unwrap();
    assert_ne!(preview["jti"], claims["jti"]);
    assert!(preview.get("hub_id").is_none());
}

async fn workspace_token_for_a_signed_in_user(backend: Backend) {
    let (_db, server) = start(backend).await;
    let client = signed_in(&server).await;
    let url = sso_redirect(
        &server,
        &client,
        "/sso/jwt/chat?domain=acme.chat.example.com&redirect_to=https%3A%2F%2Facme.chat.example.com%2Finbox%3Fa%3D1%26b%3D2",
    )
    .await;
    assert_eq!(url.scheme(), "https");
    assert_eq!(url.host_str(), Some("acme.chat.example.com"));
    assert_eq!(url.path(), "/sso");
    assert_eq!(param(&url, "identifier").as_deref(), Some(ALICE_EMAIL));
    assert_eq!(param(&url, "strategy").as_deref(), Some("email"));
    let claims = verify_workspace(&param(&url, "token").unwrap(), CHAT_SECRET).unwrap();
    assert_eq!(claims["sub"], "alice@example.com:acme.chat.example.com");
    let iat = claims["iat"].as_i64().unwrap();
    assert!((iat - now()).abs() < 30, "iat {iat}");
    assert_eq!(claims["nbf"].as_i64(), Some(iat));
    assert_eq!(claims["exp"].as_i64(), Some(iat + 120));
    assert_eq!(
        claims["redirect_to"],
        "https://acme.chat.example.com/inbox?a=1&b=2"
    );
    assert!(
        url.as_str().starts_with(
            "https://acme.chat.example.com/sso?identifier=alice%40example.com&strategy=email&token="
        ),
        "{url}"
    );

    // A token issued by a clock two hours ahead is not valid yet: nbf is checked.
    server.clock.advance(7200);
    let url = sso_redirect(
        &server,
        &client,
        "/sso/jwt/chat?domain=acme.chat.example.com",
    )
    .await;
    let early = verify_workspace(&param(&url, "token").unwrap(), CHAT_SECRET).unwrap_err();
    assert_eq!(early.kind(), &ErrorKind::ImmatureSignature);
}

/// SPEC section 7: every product takes `hub_domain`; a workspace also takes its older name
/// `domain`, and both at once only when they agree.
async fn workspace_takes_hub_domain_like_every_product(backend: Backend) {
    let (_db, server) = start(backend).await;
    let client = signed_in(&server).await;
    for path in [
        "/sso/jwt/chat?hub_domain=acme.chat.example.com",
        "/sso/jwt/chat?domain=acme.chat.example.com",
        "/sso/jwt/chat?hub_domain=acme.chat.example.com&domain=ACME.chat.example.com",
    ] {
        let url = sso_redirect(&server, &client, path).await;
        assert_eq!(url.host_str(), Some("acme.chat.example.com"), "{path}");
        let claims = verify_workspace(&param(&url, "token").unwrap(), CHAT_SECRET).unwrap();
        assert_eq!(claims["sub"], "alice@example.com:acme.chat.example.com");
    }
    let conflicting = "/sso/jwt/chat?hub_domain=acme.chat.example.com&domain=evil.chat.example.com";
    let response = client.get(server.url(conflicting)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(location(&response), None);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("hub_domain and domain name different hosts"),
        "{page}"
    );

    let good = Some(("backend", BACKEND_PASSWORD));
    for body in [
        json!({"user_id": "u-alice", "hub_domain": "acme.chat.example.com", "redirect_to": "https://acme.chat.example.com/x"}),
        json!({"user_id": "u-alice", "domain": "acme.chat.example.com", "redirect_to": "https://acme.chat.example.com/x"}),
    ] {
        let (status, _, answer) = login_url_api(&server, "chat", good, body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}: {answer}");
        let url = Url::parse(answer["url"].as_str().unwrap()).unwrap();
        let claims = verify_workspace(&param(&url, "token").unwrap(), CHAT_SECRET).unwrap();
        assert_eq!(claims["sub"], "alice@example.com:acme.chat.example.com");
        assert_eq!(claims["redirect_to"], "https://acme.chat.example.com/x");
    }
    let (status, _, answer) = login_url_api(
        &server,
        "chat",
        good,
        json!({"user_id": "u-alice", "hub_domain": "acme.chat.example.com", "domain": "evil.chat.example.com"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|m| m.contains("hub_domain and domain name different hosts")),
        "{answer}"
    );
    assert!(answer.get("url").is_none());
}

async fn not_signed_in_goes_through_login_and_back(backend: Backend) {
    let (_db, server) = start(backend).await;
    let client = server.client();
    let requested =
        "/sso/jwt/helpdesk?hub_domain=help.example.com&hub_id=h1&return_to=%2Fdocs%3Fq%3Da%2Bb";
    let response = client.get(server.url(requested)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let login = Url::parse(&server.url(&location(&response).unwrap())).unwrap();
    assert_eq!(login.path(), "/sso/v2/login");
    assert_eq!(param(&login, "return_to").as_deref(), Some(requested));

    // The login form carries the request, and signing in returns to it unchanged.
    let page = client.get(login.as_str()).send().await.unwrap();
    let page = page.text().await.unwrap();
    assert_eq!(form_value(&page, "return_to").as_deref(), Some(requested));
    let response = client
        .post(server.url("/sso/v2/login"))
        .form(&[
            ("email", ALICE_EMAIL),
            ("password", ALICE_PASSWORD),
            ("csrf", &form_value(&page, "csrf").unwrap()),
            ("return_to", requested),
        ])
        .send()
        .await
        .unwrap();
    assert_continues(&response);
    assert_eq!(location(&response).as_deref(), Some(requested));

    // Back at the request (same-origin, as the browser sees it), the person is still asked once
    // before the token goes: the login page did not say where it would go.
    let back = client
        .get(server.url(requested))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), StatusCode::OK);
    assert_eq!(
        texts(&back.text().await.unwrap(), "h1"),
        ["Continue to help.example.com as alice@example.com?"]
    );
    let url = sso_redirect(&server, &client, requested).await;
    assert_eq!(url.host_str(), Some("help.example.com"));
    assert_eq!(param(&url, "return_to").as_deref(), Some("/docs?q=a+b"));
    let claims = verify_hub(
        &param(&url, "jwt").unwrap(),
        HELPDESK_SECRET,
        "help.example.com",
    )
    .unwrap();
    assert_eq!(claims["user"]["id"], "u-alice");
    assert_eq!(claims["hub_id"], "h1");
}

/// The `action` of the page's form.
fn form_action(html: &str) -> Option<String> {
    let document = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse("form").unwrap();
    document
        .select(&selector)
        .next()
        .and_then(|form| form.value().attr("action"))
        .map(str::to_string)
}

/// A page on another site links a signed-in person to a tenant of the wildcard: no token goes
/// anywhere until the person says yes on idbridge's page, whose form only a page of idbridge
/// can post (CSRF), whatever the browser says of where the request came from. The yes is
/// remembered for that host of that product only.
/// The account page lists the product hosts the person said yes to; one forgotten there asks
/// again at the next sign-in, and a form without the page's token forgets nothing.
async fn the_account_page_lists_and_forgets_confirmed_hosts(backend: Backend) {
    let (_db, server) = start(backend).await;
    let client = signed_in(&server).await;
    let path = "/sso/jwt/helpdesk?hub_domain=acme.help.example.com";
    sso_redirect(&server, &client, path).await;
    let account = |client: &reqwest::Client| {
        let url = server.url("/account");
        let client = client.clone();
        async move { page_text(&client, url).await }
    };
    let page = account(&client).await;
    assert!(page.contains("acme.help.example.com"), "{page}");
    let csrf = form_value(&page, "csrf").unwrap();
    let forget = |csrf: String| {
        client
            .post(server.url("/account/products/forget"))
            .form(&[
                ("csrf", csrf),
                ("product", "helpdesk".to_string()),
                ("host", "acme.help.example.com".to_string()),
            ])
            .send()
    };
    let refused = forget(forged(&csrf)).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(server.count("product_confirmations").await, 1);
    // Another person's browser, signed in as no one, forgets nothing either.
    let stranger = server
        .client()
        .post(server.url("/account/products/forget"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("product", "helpdesk"),
            ("host", "acme.help.example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), StatusCode::FORBIDDEN);
    assert_eq!(server.count("product_confirmations").await, 1);

    let forgotten = forget(csrf).await.unwrap();
    assert_eq!(location(&forgotten).as_deref(), Some("/account"));
    assert_eq!(server.count("product_confirmations").await, 0);
    assert!(!account(&client).await.contains("acme.help.example.com"));
    let again = client.get(server.url(path)).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::OK, "asked again");
    assert_eq!(
        texts(&again.text().await.unwrap(), "h1"),
        ["Continue to acme.help.example.com as alice@example.com?"]
    );
}

async fn a_new_host_needs_the_persons_confirmation(backend: Backend) {
    let (_db, server) = start(backend).await;
    let client = signed_in(&server).await;
    let path = "/sso/jwt/helpdesk?hub_domain=evil-tenant.help.example.com&return_to=%2Fx%3Fa%3D1";
    let get = |fetch_site: Option<&'static str>| {
        let mut request = client.get(server.url(path));
        if let Some(site) = fetch_site {
            request = request.header("sec-fetch-site", site);
        }
        request.send()
    };
    let mut page = String::new();
    for fetch_site in [
        Some("cross-site"),
        Some("same-site"),
        Some("same-origin"),
        Some("none"),
        None,
    ] {
        let response = get(fetch_site).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{fetch_site:?}");
        assert_eq!(location(&response), None, "{fetch_site:?}");
        let policy = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(policy.contains("form-action 'self';"), "{policy}");
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        page = response.text().await.unwrap();
        assert!(!page.contains("jwt=") && !page.contains("token="), "{page}");
        assert_eq!(
            texts(&page, "h1"),
            ["Continue to evil-tenant.help.example.com as alice@example.com?"]
        );
    }
    assert_eq!(form_action(&page).as_deref(), Some(path));

    // A forged or missing CSRF token is refused, with nothing signed or remembered.
    let csrf = form_value(&page, "csrf").unwrap();
    for bad in [forged(&csrf), String::new()] {
        let response = client
            .post(server.url(path))
            .form(&[("csrf", bad.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(location(&response), None);
    }
    // Another browser (the other site's own) cannot use this page's token either.
    let stranger = server.client();
    let response = stranger
        .post(server.url(path))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(server.count("product_confirmations").await, 0);

    // The person continues: the token goes to the tenant by the page that moves on.
    let response = client
        .post(server.url(&form_action(&page).unwrap()))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_continues(&response);
    assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
    let url = Url::parse(&location(&response).unwrap()).unwrap();
    assert_eq!(url.host_str(), Some("evil-tenant.help.example.com"));
    assert_eq!(param(&url, "return_to").as_deref(), Some("/x?a=1"));
    let claims = verify_hub(
        &param(&url, "jwt").unwrap(),
        HELPDESK_SECRET,
        "evil-tenant.help.example.com",
    )
    .unwrap();
    assert_eq!(claims["user"]["id"], "u-alice");

    // Remembered: this host of this product goes straight through from now on.
    for fetch_site in [Some("cross-site"), None] {
        let response = get(fetch_site).await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{fetch_site:?}");
        let url = Url::parse(&location(&response).unwrap()).unwrap();
        assert_eq!(url.host_str(), Some("evil-tenant.help.example.com"));
    }

    // Another tenant of the same wildcard is asked about again, and so is a workspace, by its
    // domain.
    for (path, host) in [
        (
            "/sso/jwt/helpdesk?hub_domain=other-tenant.help.example.com",
            "other-tenant.help.example.com",
        ),
        (
            "/sso/jwt/chat?domain=acme.chat.example.com",
            "acme.chat.example.com",
        ),
    ] {
        let response = client.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(
            texts(&response.text().await.unwrap(), "h1"),
            [format!("Continue to {host} as alice@example.com?")]
        );
    }
    assert_eq!(server.count("product_confirmations").await, 1);
}

/// Requests that must get an error page and no token, signed in or not.
const REFUSED: &[(&str, u16)] = &[
    ("/sso/jwt/helpdesk?hub_domain=evilhelp.example.com", 400),
    (
        "/sso/jwt/helpdesk?hub_domain=help.example.com.evil.com",
        400,
    ),
    ("/sso/jwt/helpdesk?hub_domain=allowed.com%40evil.com", 400),
    (
        "/sso/jwt/helpdesk?hub_domain=help.example.com%40evil.com",
        400,
    ),
    ("/sso/jwt/helpdesk?hub_domain=help.example.com:444", 400),
    ("/sso/jwt/helpdesk?hub_domain=help.example.com%2Fevil", 400),
    ("/sso/jwt/helpdesk?hub_domain=help.example.com.", 400),
    ("/sso/jwt/helpdesk?hub_domain=a.b.help.example.com", 400),
    ("/sso/jwt/helpdesk?hub_domain=", 400),
    ("/sso/jwt/helpdesk", 400),
    (
        "/sso/jwt/helpdesk?hub_domain=help.example.com&return_to=%2F%2Fevil.com",
        400,
    ),
    (
        "/sso/jwt/helpdesk?hub_domain=help.example.com&return_to=%2F%5Cevil.com",
        400,
    ),
    (
        "/sso/jwt/helpdesk?hub_domain=help.example.com&return_to=https%3A%2F%2Fevil.com",
        400,
    ),
    (
        "/sso/jwt/helpdesk?hub_domain=help.example.com&return_to=%2Fa%0D%0ASet-Cookie%3Ax",
        400,
    ),
    (
        "/sso/jwt/helpdesk?hub_domain=help.example.com&redirect_to=https%3A%2F%2Fhelp.example.com%2F",
        400,
    ),
    ("/sso/jwt/unknown?hub_domain=help.example.com", 404),
    ("/sso/jwt/chat?domain=evil.com", 400),
    ("/sso/jwt/chat?hub_domain=evil.com", 400),
    (
        "/sso/jwt/chat?hub_domain=acme.chat.example.com&hub_id=acme",
        400,
    ),
    ("/sso/jwt/chat?domain=chat.example.com", 400),
    (
        "/sso/jwt/chat?domain=acme.chat.example.com&redirect_to=https%3A%2F%2Fevil.com%2F",
        400,
    ),
    (
        "/sso/jwt/chat?domain=acme.chat.example.com&redirect_to=https%3A%2F%2Facme.chat.example.com%40evil.com%2F",
        400,
    ),
    (
        "/sso/jwt/chat?domain=acme.chat.example.com&redirect_to=http%3A%2F%2Facme.chat.example.com%2F",
        400,
    ),
    (
        "/sso/jwt/chat?domain=acme.chat.example.com&return_to=%2Finbox",
        400,
    ),
];

async fn refused_with_nothing_signed(backend: Backend) {
    let (_db, server) = start(backend).await;
    let signed_in = signed_in(&server).await;
    let anonymous = server.client();
    for client in [&signed_in, &anonymous] {
        for (path, status) in REFUSED {
            let response = client.get(server.url(path)).send().await.unwrap();
            assert_eq!(response.status().as_u16(), *status, "GET {path}");
            assert_eq!(location(&response), None, "GET {path}");
            assert!(
                response.headers()[CONTENT_TYPE]
                    .to_str()
                    .unwrap()
                    .starts_with("text/html"),
                "GET {path}"
            );
            let page = response.text().await.unwrap();
            assert!(!page.contains("jwt") && !page.contains("token="), "{page}");
        }
    }
}

async fn secret_rotation(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hub_path = "/sso/jwt/helpdesk?hub_domain=help.example.com";
    let workspace_path = "/sso/jwt/chat?domain=acme.chat.example.com";

    let before = start_with_config(&db, PRODUCTS_CONFIG, &env()).await;
    let client = signed_in(&before).await;
    let url = sso_redirect(&before, &client, hub_path).await;
    let old_hub_token = param(&url, "jwt").unwrap();
    verify_hub(&old_hub_token, HELPDESK_SECRET, "help.example.com").unwrap();
    before.stop().await;

    // The operator prepends a new secret to each product; the old one is only kept.
    let rotated = PRODUCTS_CONFIG
        .replace(
            r#"secrets = ["env:HELPDESK_SECRET"]"#,
            r#"secrets = ["env:HELPDESK_SECRET_2", "env:HELPDESK_SECRET"]"#,
        )
        .replace(
            r#"secrets = ["env:CHAT_SECRET"]"#,
            r#"secrets = ["env:CHAT_SECRET_2", "env:CHAT_SECRET"]"#,
        );
    let mut rotated_env = env();
    rotated_env.extend([
        ("HELPDESK_SECRET_2", HELPDESK_SECRET_2),
        ("CHAT_SECRET_2", CHAT_SECRET_2),
    ]);
    let after = start_with_config(&db, &rotated, &rotated_env).await;
    let client = signed_in(&after).await;

    let hub_token = param(&sso_redirect(&after, &client, hub_path).await, "jwt").unwrap();
    let claims = verify_hub(&hub_token, HELPDESK_SECRET_2, "help.example.com").unwrap();
    assert_eq!(claims["user"]["id"], "u-alice");
    let old = verify_hub(&hub_token, HELPDESK_SECRET, "help.example.com").unwrap_err();
    assert_eq!(old.kind(), &ErrorKind::InvalidSignature);

    let workspace_token = param(
        &sso_redirect(&after, &client, workspace_path).await,
        "token",
    )
    .unwrap();
    let claims = verify_workspace(&workspace_token, CHAT_SECRET_2).unwrap();
    assert_eq!(claims["sub"], "alice@example.com:acme.chat.example.com");
    let old = verify_workspace(&workspace_token, CHAT_SECRET).unwrap_err();
    assert_eq!(old.kind(), &ErrorKind::InvalidSignature);

    // A token signed before the rotation still verifies with the old secret the hub keeps.
    verify_hub(&old_hub_token, HELPDESK_SECRET, "help.example.com").unwrap();
}

/// POSTs to the login-URL API; the status, the `WWW-Authenticate` header and the JSON answer.
async fn login_url_api(
    server: &TestServer,
    product: &str,
    basic: Option<(&str, &str)>,
    body: Value,
) -> (StatusCode, Option<String>, Value) {
    let mut request = reqwest::Client::new()
        .post(server.url(&format!("/api/v1/products/{product}/login-url")))
        .json(&body);
    if let Some((user, password)) = basic {
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_string());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, challenge, body)
}

async fn login_url_api_for_backends(backend: Backend) {
    let (_db, server) = start(backend).await;
    let good = Some(("backend", BACKEND_PASSWORD));
    let hub_body =
        json!({"user_id": "u-alice", "hub_domain": "acme.help.example.com", "return_to": "/start"});

    let (status, _, body) = login_url_api(&server, "helpdesk", good, hub_body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = Url::parse(body["url"].as_str().unwrap()).unwrap();
    assert_eq!(url.host_str(), Some("acme.help.example.com"));
    assert_eq!(url.path(), "/login/sso");
    assert_eq!(param(&url, "return_to").as_deref(), Some("/start"));
    let claims = verify_hub(
        &param(&url, "jwt").unwrap(),
        HELPDESK_SECRET,
        "acme.help.example.com",
    )
    .unwrap();
    assert_eq!(claims["user"]["email"], ALICE_EMAIL);
    assert_eq!(claims["user"]["organization"]["id"], "e-mer-1");

    // Again, now answered from the verified-credential cache.
    let (status, _, body) = login_url_api(&server, "helpdesk", good, hub_body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, _, body) = login_url_api(
        &server,
        "chat",
        good,
        json!({"user_id": "u-alice", "domain": "acme.chat.example.com", "redirect_to": "https://acme.chat.example.com/x"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = Url::parse(body["url"].as_str().unwrap()).unwrap();
    let claims = verify_workspace(&param(&url, "token").unwrap(), CHAT_SECRET).unwrap();
    assert_eq!(claims["sub"], "alice@example.com:acme.chat.example.com");
    assert_eq!(claims["redirect_to"], "https://acme.chat.example.com/x");

    // Wrong password, unknown username, no credentials: 401 with a Basic challenge, same body.
    for basic in [
        Some(("backend", "wrong password")),
        Some(("nobody", BACKEND_PASSWORD)),
        None,
    ] {
        let (status, challenge, body) =
            login_url_api(&server, "helpdesk", basic, hub_body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{basic:?}");
        assert!(challenge.unwrap().starts_with("Basic "), "{basic:?}");
        assert_eq!(body["error"], "unauthorized");
        assert!(body.get("url").is_none());
    }
    // Unauthenticated callers do not learn which products exist.
    let (status, _, _) = login_url_api(&server, "nope", None, hub_body.clone()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A credential without scope sso_urls.
    let (status, challenge, body) = login_url_api(
        &server,
        "helpdesk",
        Some(("sessions-only", BACKEND_PASSWORD)),
        hub_body.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(challenge, None);
    assert_eq!(body["error"], "forbidden");

    for (product, request, status) in [
        (
            "helpdesk",
            json!({"user_id": "u-nobody", "hub_domain": "help.example.com"}),
            StatusCode::NOT_FOUND,
        ),
        (
            "nope",
            json!({"user_id": "u-alice", "hub_domain": "help.example.com"}),
            StatusCode::NOT_FOUND,
        ),
        (
            "helpdesk",
            json!({"user_id": "u-alice", "hub_domain": "evilhelp.example.com"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "helpdesk",
            json!({"user_id": "u-alice", "hub_domain": "help.example.com", "return_to": "//evil.com"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "chat",
            json!({"user_id": "u-alice", "domain": "acme.chat.example.com", "redirect_to": "https://evil.com/"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "helpdesk",
            json!({"hub_domain": "help.example.com"}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (got, _, body) = login_url_api(&server, product, good, request.clone()).await;
        assert_eq!(got, status, "{request}: {body}");
        assert!(body["error"].is_string(), "{body}");
        assert!(body.get("url").is_none(), "{body}");
    }
}

/// Thirty wrong API passwords from one address, sent at once: each is counted before it is
/// checked, so only the address rule's twenty are checked (401) and the rest are refused
/// unchecked (429).
async fn parallel_api_guesses_get_no_more_checks_than_the_limit(backend: Backend) {
    let (_db, server) = start(backend).await;
    let body = json!({"user_id": "u-alice", "hub_domain": "help.example.com"});
    let http = reqwest::Client::new();
    let sent: Vec<_> = (0..30)
        .map(|_| {
            tokio::spawn(
                http.post(server.url("/api/v1/products/helpdesk/login-url"))
                    .basic_auth("backend", Some("wrong password"))
                    .json(&body)
                    .send(),
            )
        })
        .collect();
    let mut statuses = Vec::new();
    for answer in sent {
        statuses.push(answer.await.unwrap().unwrap().status());
    }
    let count = |status| statuses.iter().filter(|s| **s == status).count();
    assert_eq!(
        (
            count(StatusCode::UNAUTHORIZED),
            count(StatusCode::TOO_MANY_REQUESTS)
        ),
        (20, 10),
        "{statuses:?}"
    );
}

async fn api_failures_are_throttled_per_address(backend: Backend) {
    let (_db, server) = start(backend).await;
    let body = json!({"user_id": "u-alice", "hub_domain": "help.example.com"});
    // 20 failures per 15 minutes from one address, whatever usernames they name.
    for i in 0..20 {
        let basic = if i % 2 == 0 {
            ("backend", "wrong password")
        } else {
            ("nobody", "wrong password")
        };
        let (status, _, _) = login_url_api(&server, "helpdesk", Some(basic), body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/products/helpdesk/login-url"))
        .basic_auth("backend", Some(BACKEND_PASSWORD))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: i64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    let body_json: Value = response.json().await.unwrap();
    assert_eq!(body_json["error"], "too_many_requests");

    server.clock.advance(15 * 60 + 1);
    let (status, _, _) = login_url_api(
        &server,
        "helpdesk",
        Some(("backend", BACKEND_PASSWORD)),
        body,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

/// `internal_customer` instead of `user_id`: the user of the profile a session URL made.
async fn login_url_api_by_internal_customer(backend: Backend) {
    let (_db, server) = start(backend).await;
    let made = reqwest::Client::new()
        .post(server.url("/urlgenerator/generateusersessionurl"))
        .basic_auth("sessions-only", Some(BACKEND_PASSWORD))
        .json(&json!({"TargetUrl": "https://shop.example.com/?internalcustomer=C-77&billingEMail=c77%40example.com&billingFirstname=Cee"}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::OK);
    let session_url: Value = made.json().await.unwrap();
    // The page's button spends the URL and makes the customer's profile.
    let customer = server.client();
    let link = session_url["Url"].as_str().unwrap();
    let page = page_text(&customer, link).await;
    let opened = customer
        .post(link)
        .form(&[("csrf", form_value(&page, "csrf").unwrap())])
        .send()
        .await
        .unwrap();
    assert_continues(&opened);

    let good = Some(("backend", BACKEND_PASSWORD));
    let (status, _, body) = login_url_api(
        &server,
        "helpdesk",
        good,
        json!({"internal_customer": "C-77", "hub_domain": "acme.help.example.com"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = Url::parse(body["url"].as_str().unwrap()).unwrap();
    let claims = verify_hub(
        &param(&url, "jwt").unwrap(),
        HELPDESK_SECRET,
        "acme.help.example.com",
    )
    .unwrap();
    assert_eq!(claims["user"]["email"], "c77@example.com");
    assert_eq!(claims["user"]["name"], "Cee");
    assert!(claims["user"]["id"].as_str().unwrap().starts_with("u-"));

    for (request, status) in [
        (
            json!({"internal_customer": "C-78", "hub_domain": "help.example.com"}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"internal_customer": "C-77", "user_id": "u-alice", "hub_domain": "help.example.com"}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (got, _, body) = login_url_api(&server, "helpdesk", good, request.clone()).await;
        assert_eq!(got, status, "{request}: {body}");
        assert!(body.get("url").is_none(), "{body}");
    }
}

/// A token as PyJWT reads it against its documented format (`product_token_check.py`): the
/// claims, or the reason it fails.
fn pyjwt_claims(kind: &str, token: &str, secret: &str, expected: &str) -> Value {
    let output = python_script("product_token_check.py")
        .args([kind, token, secret, expected])
        .output()
        .expect("the test python runs");
    assert!(
        output.status.success(),
        "PyJWT refuses the {kind} token: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Makes and opens a session URL, which creates the profile of a customer without an email.
async fn customer_without_email(server: &TestServer, internal_customer: &str) -> reqwest::Client {
    let target = format!(
        "https://shop.example.com/?internalcustomer={internal_customer}\
         &billingFirstname=Jane&billingLastname=Doe"
    );
    let made: Value = reqwest::Client::new()
        .post(server.url("/urlgenerator/generateusersessionurl"))
        .basic_auth("sessions-only", Some(BACKEND_PASSWORD))
        .json(&json!({ "TargetUrl": target }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let link = made["Url"].as_str().expect("a session URL");
    let customer = server.client();
    let page = page_text(&customer, link).await;
    let opened = customer
        .post(link)
        .form(&[("csrf", form_value(&page, "csrf").unwrap())])
        .send()
        .await
        .unwrap();
    assert_continues(&opened);
    customer
}

crate::backend_tests!(
    hub_token_for_a_signed_in_user,
    a_new_host_needs_the_persons_confirmation,
    the_account_page_lists_and_forgets_confirmed_hosts,
    workspace_token_for_a_signed_in_user,
    workspace_takes_hub_domain_like_every_product,
    not_signed_in_goes_through_login_and_back,
    refused_with_nothing_signed,
    secret_rotation,
    login_url_api_for_backends,
    login_url_api_by_internal_customer,
    api_failures_are_throttled_per_address,
    parallel_api_guesses_get_no_more_checks_than_the_limit,
    tokens_keep_to_their_format_as_an_independent_library_reads_them,
);

/// Config problems of `[[products]]`, each under its key path.
fn product_problems(products: &str) -> Vec<String> {
    config_problems(
        &format!("{BASE_CONFIG}{products}"),
        &[("SHOP_SECRET", SHOP_SECRET), ("SHORT", "too short")],
    )
}

#[test]
fn product_config_problems_name_their_key() {
    let found = product_problems(
        r#"
[[products]]
id = "helpdesk"
format = "hub"
login_url = "https://{hub_domain}/login"
allowed_domains = ["help.example.com"]
secrets = ["0123456789abcdef0123456789abcdef", "env:SHORT", "env:MISSING"]

[[products]]
id = "HelpDesk"
format = "workspace"
login_url = "https://x.example.com/"
allowed_domains = ["*.com", "help.example.com:443", "ok.example.com"]
preview_domain = "https://preview.example.com"
secrets = []
token_ttl = "5 minutes"

[[products]]
id = "hub2"
format = "hub"
login_url = "https://hub.example.com/login"
allowed_domains = []
secrets = ["0123456789abcdef0123456789abcdef"]

[[products]]
id = "a/b"
format = "portal"
allowed_domains = ["x.example.com"]
secrets = ["0123456789abcdef0123456789abcdef"]
"#,
    );
    let expected = [
        "products[0].secrets[1]: shorter than 32 bytes",
        "products[0].secrets[2]: environment variable MISSING is not set",
        "products[1].id: duplicate id \"HelpDesk\"",
        "products[1].login_url: only for format hub",
        "products[1].allowed_domains[0]: a wildcard needs at least two labels",
        "products[1].allowed_domains[1]: not a DNS hostname",
        "products[1].preview_domain: not a DNS hostname",
        "products[1].secrets: at least one is required",
        "products[1].token_ttl: not a duration",
        "products[2].login_url: must contain {hub_domain}",
        "products[2].allowed_domains: at least one is required",
        "products[3].id: only letters, digits",
        "products[3].format: must be hub or workspace",
    ];
    for line in expected {
        assert!(
            found.iter().any(|p| p.starts_with(line)),
            "expected `{line}…` in {found:#?}"
        );
    }
    assert_eq!(found.len(), expected.len(), "{found:#?}");
}

#[test]
fn unknown_keys_under_products_are_refused() {
    let found = product_problems(
        r#"
[[products]]
id = "helpdesk"
format = "hub"
login_url = "https://{hub_domain}/login"
allowed_domains = ["help.example.com"]
secrets = ["0123456789abcdef0123456789abcdef"]
secret = "0123456789abcdef0123456789abcdef"
"#,
    );
    assert_eq!(found, vec!["products[0].secret: unknown key".to_string()]);
}

async fn tokens_keep_to_their_format_as_an_independent_library_reads_them(backend: Backend) {
    let (_db, server) = start(backend).await;
    let good = Some(("backend", BACKEND_PASSWORD));
    let token_of = |body: &Value, name: &str| {
        let url = Url::parse(body["url"].as_str().expect("a URL")).unwrap();
        param(&url, name).expect("the token")
    };

    // Alice: attached to a merchant, no given or family name known.
    let hub = json!({"user_id": "u-alice", "hub_domain": "acme.help.example.com"});
    let (status, _, body) = login_url_api(&server, "helpdesk", good, hub).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let claims = pyjwt_claims(
        "hub",
        &token_of(&body, "jwt"),
        HELPDESK_SECRET,
        "acme.help.example.com",
    );
    assert_eq!(claims["user"]["organization"]["id"], "e-mer-1");
    assert!(claims["user"].get("given_name").is_none(), "{claims}");
    let workspace = json!({"user_id": "u-alice", "hub_domain": "acme.chat.example.com"});
    let (status, _, body) = login_url_api(&server, "chat", good, workspace).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    pyjwt_claims(
        "workspace",
        &token_of(&body, "token"),
        CHAT_SECRET,
        &format!("{ALICE_EMAIL}:acme.chat.example.com"),
    );

    // A session URL's customer: names from the billing fields, no entity, no email.
    let customer = customer_without_email(&server, "C-90").await;
    let hub = json!({"internal_customer": "C-90", "hub_domain": "acme.help.example.com"});
    let (status, _, body) = login_url_api(&server, "helpdesk", good, hub).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let claims = pyjwt_claims(
        "hub",
        &token_of(&body, "jwt"),
        HELPDESK_SECRET,
        "acme.help.example.com",
    );
    let user = &claims["user"];
    assert!(
        user.get("organization").is_none(),
        "absent, not null: {claims}"
    );
    assert_eq!(
        (&user["given_name"], &user["family_name"]),
        (&json!("Jane"), &json!("Doe"))
    );

    // A workspace knows people by address: none, no token, and a reason.
    let workspace = json!({"internal_customer": "C-90", "hub_domain": "acme.chat.example.com"});
    let (status, _, body) = login_url_api(&server, "chat", good, workspace).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "no_email");
    assert!(body.get("url").is_none());
    let response = customer
        .get(server.url("/sso/jwt/chat?hub_domain=acme.chat.example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(location(&response), None, "sent nowhere");
    let page = response.text().await.unwrap();
    assert!(
        page.contains("signs people in by their email address"),
        "{page}"
    );
}
