//! `GET /metrics`: served only with `server.metrics_token`, to a scraper that presents it; what it
//! serves parses as Prometheus text, and counts what the server did (requests by route pattern,
//! logins by outcome, tokens by grant, the webhook backlog, the database pools).
use reqwest::StatusCode;

use crate::oidc::{Browser, PROVIDER_CONFIG, RP_SECRET, authorize_url, redeem};
use crate::support::*;

crate::backend_tests!(
    metrics_need_the_token_and_count_what_happened,
    no_metrics_without_a_token,
);

const METRICS_TOKEN: &str = "metrics-token-0123456789abcdefghijklmnop";

async fn scrape(server: &TestServer, token: Option<&str>) -> reqwest::Response {
    let request = reqwest::Client::new().get(server.url("/metrics"));
    match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    }
    .send()
    .await
    .unwrap()
}

/// One sample of a scrape: its name, its labels and its value.
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// Scrapes with the token, and parses what comes back as an OpenMetrics exposition (the format
/// Prometheus asks for first; it must end with `# EOF`).
async fn parsed(server: &TestServer) -> Vec<Sample> {
    let response = scrape(server, Some(METRICS_TOKEN)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(content_type.contains("openmetrics-text"), "{content_type}");
    let text = response.text().await.unwrap();
    let (rest, families) =
        nom_openmetrics::parser::openmetrics(&text).unwrap_or_else(|e| panic!("{e:?}\n{text}"));
    assert!(rest.is_empty(), "{rest}");
    families
        .into_iter()
        .flat_map(|family| family.samples)
        .map(|sample| Sample {
            name: sample.name().to_string(),
            labels: sample
                .labels()
                .iter()
                .map(|label| (label.name.to_string(), label.value.to_string()))
                .collect(),
            value: sample.number(),
        })
        .collect()
}

/// The value of the sample `name` whose labels include all of `labels`, if there is one.
fn sample(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(name, value)| name == k && value == v))
        })
        .map(|s| s.value)
}

async fn metrics_need_the_token_and_count_what_happened(backend: Backend) {
    let db = TestDb::new(backend).await;
    let config = format!(
        "{BASE_CONFIG}{PROVIDER_CONFIG}\n[server]\nmetrics_token = \"env:METRICS_TOKEN\"\n"
    );
    let server = TestServer::start_with(
        &db,
        &config,
        idbridge::Clock::system(),
        &[("RP_SECRET", RP_SECRET), ("METRICS_TOKEN", METRICS_TOKEN)],
    )
    .await
    .unwrap();

    for token in [None, Some("wrong"), Some(&METRICS_TOKEN[1..])] {
        let response = scrape(&server, token).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert!(!response.text().await.unwrap().contains("idbridge_"));
    }

    // A wrong password, then a sign-in and a code redeemed; a path with a made-up value in it is
    // counted by its route's pattern.
    let http = server.client();
    let csrf = csrf_token_at(&server.base, &http, "/sso/v2/login").await;
    let wrong = http
        .post(server.url("/sso/v2/login"))
        .form(&[
            ("email", ALICE_EMAIL),
            ("password", "not her password"),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::SEE_OTHER);
    let code = Browser::new(&server)
        .authorize(&authorize_url(&server, "rp-rs256", &[]), true)
        .await
        .param("code")
        .unwrap();
    let (status, tokens) = redeem(&server, "rp-rs256", &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let secret_path = "/branding/secret-looking-token-123/logo.png";
    server
        .client()
        .get(server.url(secret_path))
        .send()
        .await
        .unwrap();

    let metrics = parsed(&server).await;
    let count = |name: &str, labels: &[(&str, &str)]| sample(&metrics, name, labels);
    assert_eq!(
        count(
            "idbridge_logins_total",
            &[("connection", "local"), ("outcome", "invalid_credentials")]
        ),
        Some(1.0)
    );
    assert_eq!(
        count(
            "idbridge_logins_total",
            &[("connection", "local"), ("outcome", "verified")]
        ),
        Some(1.0)
    );
    assert_eq!(
        count(
            "idbridge_tokens_issued_total",
            &[("grant_type", "authorization_code")]
        ),
        Some(1.0)
    );
    assert_eq!(
        count(
            "idbridge_http_requests_total",
            &[
                ("method", "POST"),
                ("route", "/sso/v2/token"),
                ("status", "200")
            ]
        ),
        Some(1.0)
    );
    assert!(
        count(
            "idbridge_http_requests_total",
            &[("route", "/branding/{entity}/{file}")]
        )
        .is_some()
    );
    assert!(
        metrics
            .iter()
            .all(|s| s.labels.iter().all(|(_, v)| !v.contains("secret-looking"))),
        "a path's value in a label"
    );
    assert_eq!(
        count(
            "idbridge_http_request_duration_seconds_count",
            &[("route", "/sso/v2/token")]
        ),
        Some(1.0)
    );
    assert_eq!(
        count(
            "idbridge_http_request_duration_seconds_bucket",
            &[("route", "/sso/v2/token"), ("le", "+Inf")]
        ),
        Some(1.0)
    );
    assert_eq!(count("idbridge_webhook_queue_depth", &[]), Some(0.0));
    assert_eq!(
        count("idbridge_webhook_queue_oldest_age_seconds", &[]),
        Some(0.0)
    );
    let pool = if backend == Backend::Sqlite {
        "reader"
    } else {
        "main"
    };
    assert!(
        count(
            "idbridge_database_connections",
            &[("pool", pool), ("state", "idle")]
        )
        .is_some()
    );
    assert_eq!(count("idbridge_database_writer_queue", &[]), Some(0.0));
}

async fn no_metrics_without_a_token(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, BASE_CONFIG, idbridge::Clock::system(), &[])
        .await
        .unwrap();
    for token in [None, Some(METRICS_TOKEN)] {
        assert_eq!(scrape(&server, token).await.status(), StatusCode::NOT_FOUND);
    }
}
