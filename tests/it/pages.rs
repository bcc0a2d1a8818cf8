//! What every page carries (security headers), health checks, the stylesheet, errors, the demo.
use reqwest::StatusCode;

use crate::support::*;

async fn pages_carry_the_security_headers(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, BASE_CONFIG).await;
    let client = server.client();
    server.login(&client, ALICE_EMAIL, ALICE_PASSWORD).await;
    for path in ["/sso/v2/login?return_to=/x", "/account", "/no/such/page"] {
        let response = client.get(server.url(path)).send().await.unwrap();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default()
        };
        let csp = header("content-security-policy");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("cache-control"), "no-store", "{path}");
    }
}

async fn unknown_paths_get_an_html_error_page(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, BASE_CONFIG).await;
    let response = server
        .client()
        .get(server.url("/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let page = response.text().await.unwrap();
    assert_eq!(texts(&page, "h1"), ["Page not found"]);
}

async fn health_and_readiness(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, BASE_CONFIG).await;
    let client = server.client();
    let live = client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    let ready = client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(ready.text().await.unwrap(), "ready");

    server
        .state
        .store
        .connection()
        .clone()
        .close()
        .await
        .unwrap();
    let ready = client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(
        ready.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "database closed"
    );
    let live = client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(
        live.status(),
        StatusCode::OK,
        "liveness does not depend on the database"
    );
}

async fn the_stylesheet_is_served_by_idbridge(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, BASE_CONFIG).await;
    let client = server.client();
    let page = page_text(&client, server.url("/sso/v2/login")).await;
    assert!(page.contains(r#"<link rel="stylesheet" href="/static/idbridge.css">"#));
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no third-party assets"
    );
    let css = client
        .get(server.url("/static/idbridge.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(css.text().await.unwrap().contains(":focus-visible"));
}

async fn the_login_form_is_labelled(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, BASE_CONFIG).await;
    let page = server
        .client()
        .get(server.url("/sso/v2/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let document = scraper::Html::parse_document(&page);
    for id in ["email", "password"] {
        let label = scraper::Selector::parse(&format!("label[for=\"{id}\"]")).unwrap();
        assert_eq!(document.select(&label).count(), 1, "label for {id}");
    }
    assert!(page.contains(r#"name="viewport""#));
}

async fn the_demo_lets_a_person_sign_in(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server =
        TestServer::start(&db, &idbridge::demo::config_text("http://127.0.0.1:8080")).await;
    let client = server.client();
    let response = server
        .login(
            &client,
            idbridge::demo::DEMO_EMAIL,
            idbridge::demo::DEMO_PASSWORD,
        )
        .await;
    assert_eq!(location(&response).as_deref(), Some("/account"));
    let (_, page) = server.follow(&client, &response).await;
    assert_eq!(texts(&page, "h1"), ["Demo User"]);
    assert!(page.contains("/Demo Payments/Europe/Demo Shop"), "{page}");
    assert_eq!(server.count("clients").await, 1);
    assert_eq!(server.count("signing_keys").await, 1);
}

async fn login_hint_naming_an_entity_brands_the_login_page(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("division.css"),
        "/* division-brand */ h1 { color: teal; }",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("logo.svg"),
        "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
    )
    .unwrap();
    let branded = BASE_CONFIG.replace(
        "level = \"DIVISION\"\nparent = \"e-psp-1\"",
        &format!(
            "level = \"DIVISION\"\nparent = \"e-psp-1\"\nbranding = {{ css = \"{}\", logo = \"{}\", title = \"Division Login\" }}",
            dir.path().join("division.css").display(),
            dir.path().join("logo.svg").display()
        ),
    );
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, &branded).await;
    let client = server.client();

    // The merchant has no branding of its own: it inherits its division's.
    let page = page_text(&client, server.url("/sso/v2/login?login_hint=e-mer-1")).await;
    assert_eq!(texts(&page, "h1"), ["Division Login"]);
    assert!(
        page.contains(r#"<link rel="stylesheet" href="/branding/e-div-1/style.css">"#),
        "{page}"
    );
    assert!(page.contains(r#"src="/branding/e-div-1/logo""#));
    assert_eq!(form_value(&page, "login_hint").as_deref(), Some("e-mer-1"));

    let css = client
        .get(server.url("/branding/e-div-1/style.css"))
        .send()
        .await
        .unwrap();
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(css.text().await.unwrap().contains("division-brand"));
    let logo = client
        .get(server.url("/branding/e-div-1/logo"))
        .send()
        .await
        .unwrap();
    assert_eq!(logo.headers()["content-type"], "image/svg+xml");
    assert!(
        logo.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    for missing in [
        "/branding/e-div-1/script.js",
        "/branding/e-mer-1/style.css",
        "/branding/nobody/logo",
    ] {
        assert_eq!(
            client
                .get(server.url(missing))
                .send()
                .await
                .unwrap()
                .status(),
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }

    // The PSP above has none, nor has an unknown id: the plain page.
    for hint in ["e-psp-1", "nobody", "alice@example.com"] {
        let page = page_text(
            &client,
            server.url(&format!("/sso/v2/login?login_hint={hint}")),
        )
        .await;
        assert_eq!(texts(&page, "h1"), ["Sign in"], "{hint}");
        assert!(!page.contains("/branding/"), "{hint}");
    }

    // A failed attempt comes back to the same branded page.
    let csrf = server.csrf_token(&client, "/sso/v2/login").await;
    let response = client
        .post(server.url("/sso/v2/login"))
        .form(&[
            ("email", ALICE_EMAIL),
            ("password", "wrong"),
            ("csrf", csrf.as_str()),
            ("login_hint", "e-mer-1"),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        location(&response)
            .unwrap()
            .ends_with("&login_hint=e-mer-1")
    );
}

crate::backend_tests!(
    login_hint_naming_an_entity_brands_the_login_page,
    pages_carry_the_security_headers,
    unknown_paths_get_an_html_error_page,
    health_and_readiness,
    the_stylesheet_is_served_by_idbridge,
    the_login_form_is_labelled,
    the_demo_lets_a_person_sign_in,
);
