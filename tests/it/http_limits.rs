//! Bounds on what one client can hold or take: connections that deliver their headers too slowly
//! (slow loris) or sit idle are closed, a request whose body trickles in is answered 408, bodies
//! over the limit are refused before they are read, and the endpoints where clients authenticate
//! keep a rate per client address and per client.
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::oidc::{PROVIDER_CONFIG, RP_SECRET};
use crate::session_urls::{BACKEND_PASSWORD, SESSION_URLS_CONFIG, session_url_env};
use crate::support::*;

/// Short timeouts so that the tests need not wait long; `extra` goes under `[server]`.
async fn start(backend: Backend, extra: &str) -> (TestDb, TestServer) {
    let db = TestDb::new(backend).await;
    let config = format!(
        "[server]\nheader_timeout = \"1s\"\nrequest_timeout = \"2s\"\n{extra}\n\
         {BASE_CONFIG}{PROVIDER_CONFIG}{SESSION_URLS_CONFIG}"
    );
    let mut env = session_url_env();
    env.push(("RP_SECRET", RP_SECRET));
    let server = TestServer::start_with(&db, &config, idbridge::Clock::system(), &env)
        .await
        .expect("server starts");
    (db, server)
}

async fn connect(server: &TestServer) -> TcpStream {
    TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the server closes the connection (or `limit` passes: then `None`), and what it
/// sent meanwhile.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&received).into()),
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
        }
    }
}

/// A client that sends its headers a byte at a time and never finishes them is cut off after
/// `header_timeout`, while others are served all along; so is a connection left idle after an
/// answer.
async fn slow_or_idle_connections_are_closed(backend: Backend) {
    let (_db, server) = start(backend, "").await;
    let mut slow = connect(&server).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: idbridge\r\n")
        .await
        .unwrap();
    let opened = Instant::now();
    let trickle = tokio::spawn(async move {
        for byte in b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            .iter()
            .cycle()
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if slow.write_all(&[*byte]).await.is_err() {
                return opened.elapsed();
            }
        }
        unreachable!()
    });
    // Meanwhile another client is answered at once.
    let started = Instant::now();
    let healthy = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(healthy.status(), StatusCode::OK);
    assert!(started.elapsed() < Duration::from_millis(500));
    let cut_after = tokio::time::timeout(Duration::from_secs(10), trickle)
        .await
        .expect("the slow client is cut off")
        .unwrap();
    assert!(
        cut_after >= Duration::from_millis(900) && cut_after < Duration::from_secs(5),
        "cut off after {cut_after:?}"
    );

    // A kept-alive connection with nothing more to ask is closed after the same time.
    let mut idle = connect(&server).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: idbridge\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let answered = read_until_closed(&mut idle, Duration::from_secs(5))
        .await
        .expect("the idle connection is closed");
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed after {:?}, before the timeout",
        started.elapsed()
    );
}

/// A request whose body does not arrive within `request_timeout` is answered 408 and its
/// connection closed; nothing of it is acted on.
async fn a_trickled_body_is_answered_408(backend: Backend) {
    let (_db, server) = start(backend, "").await;
    let tokens_before = server.count("access_tokens").await;
    let mut stream = connect(&server).await;
    stream
        .write_all(
            b"POST /sso/v2/token HTTP/1.1\r\nHost: idbridge\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\n\
              grant_type=client_credentials",
        )
        .await
        .unwrap();
    let started = Instant::now();
    let answer = read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("the connection is closed");
    let waited = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(6),
        "answered after {waited:?}"
    );
    assert_eq!(server.count("access_tokens").await, tokens_before);
}

/// Bodies over the limit get 413 whether they announce their length or come chunked, at the token
/// endpoint (a form) and at the session-URL API (JSON); nothing is stored.
async fn oversized_bodies_are_refused(backend: Backend) {
    let (_db, server) = start(backend, "").await;
    let big_form = format!(
        "grant_type=client_credentials&scope={}",
        "openid+".repeat(40_000)
    );
    let announced = announced_answer(
        &server,
        "/sso/v2/token",
        ("rp-eddsa", RP_SECRET),
        "application/x-www-form-urlencoded",
        &big_form,
    )
    .await;
    assert!(announced.starts_with("HTTP/1.1 413"), "{announced}");

    // The same body chunked, without a length to refuse it by: cut off once the limit is read.
    let mut stream = connect(&server).await;
    let mut request = b"POST /sso/v2/token HTTP/1.1\r\nHost: idbridge\r\n\
        Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
        .to_vec();
    for chunk in big_form.as_bytes().chunks(1024) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The server may answer and close before it has read everything; a failed write is fine.
    stream.write_all(&request).await.ok();
    let answer = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .unwrap_or_default();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    let json = announced_answer(
        &server,
        "/urlgenerator/generateusersessionurl",
        ("backend", BACKEND_PASSWORD),
        "application/json",
        &format!("{{\"TargetUrl\": \"{}\"}}", "a".repeat(1 << 20)),
    )
    .await;
    assert!(json.starts_with("HTTP/1.1 413"), "{json}");
    assert_eq!(server.count("access_tokens").await, 0);
    assert_eq!(server.count("session_urls").await, 0);
}

/// The answer to a POST of `body` with its Content-Length, as raw HTTP: the server may answer
/// 413 and close before it has read the body, which an HTTP client reports as a failed request
/// rather than the answer.
async fn announced_answer(
    server: &TestServer,
    path: &str,
    (user, password): (&str, &str),
    content_type: &str,
    body: &str,
) -> String {
    use base64::Engine;
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut stream = connect(server).await;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: idbridge\r\nAuthorization: Basic {credentials}\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    // A failed (or stalled) write is fine: the server may have answered already.
    let request = format!("{head}{body}");
    tokio::time::timeout(Duration::from_secs(5), stream.write_all(request.as_bytes()))
        .await
        .ok();
    read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .unwrap_or_default()
}

async fn client_credentials(
    server: &TestServer,
    client: &str,
    secret: &str,
    from: &str,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url("/sso/v2/token"))
        .basic_auth(client, Some(secret))
        .header("x-forwarded-for", from)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
}

/// Asserts the answer of a request over its rate: 429, an OAuth error, and when to try again.
async fn assert_over_rate(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()[RETRY_AFTER], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
}

/// One address may make `token_requests_per_second_per_address` requests a second to the token,
/// introspection and revocation endpoints together, malformed ones included; another address is
/// not held up, and after a second the address may ask again.
async fn the_token_endpoint_keeps_a_rate_per_address(backend: Backend) {
    let (_db, server) = start(
        backend,
        "trusted_proxies = [\"127.0.0.1\"]\ntoken_requests_per_second_per_address = 4",
    )
    .await;
    let from = "198.51.100.7";
    let http = reqwest::Client::new();
    let malformed = http
        .post(server.url("/sso/v2/token"))
        .header("x-forwarded-for", from)
        .body("not a form")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let wrong = client_credentials(&server, "rp-eddsa", "wrong secret", from).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let introspected = http
        .post(server.url("/sso/v2/introspect"))
        .basic_auth("rp-eddsa", Some(RP_SECRET))
        .header("x-forwarded-for", from)
        .form(&[("token", "unknown")])
        .send()
        .await
        .unwrap();
    assert_eq!(introspected.status(), StatusCode::OK);
    let granted = client_credentials(&server, "rp-eddsa", RP_SECRET, from).await;
    assert_eq!(granted.status(), StatusCode::OK);
    let tokens = server.count("access_tokens").await;

    assert_over_rate(client_credentials(&server, "rp-eddsa", RP_SECRET, from).await).await;
    assert_over_rate(
        http.post(server.url("/sso/v2/revoke"))
            .basic_auth("rp-eddsa", Some(RP_SECRET))
            .header("x-forwarded-for", from)
            .form(&[("token", "unknown")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        server.count("access_tokens").await,
        tokens,
        "nothing issued"
    );

    let neighbour = client_credentials(&server, "rp-eddsa", RP_SECRET, "198.51.100.8").await;
    assert_eq!(neighbour.status(), StatusCode::OK);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = client_credentials(&server, "rp-eddsa", RP_SECRET, from).await;
    assert_eq!(later.status(), StatusCode::OK);
}

/// An authenticated client may make `token_requests_per_second_per_client` requests a second,
/// from whatever addresses; requests with its id and a wrong secret do not spend its rate, and
/// other clients are not held up.
async fn the_token_endpoint_keeps_a_rate_per_client(backend: Backend) {
    let (_db, server) = start(
        backend,
        "trusted_proxies = [\"127.0.0.1\"]\ntoken_requests_per_second_per_client = 3",
    )
    .await;
    for i in 0..10 {
        let forged =
            client_credentials(&server, "rp-eddsa", "wrong", &format!("203.0.113.{i}")).await;
        assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    }
    for i in 0..3 {
        let granted =
            client_credentials(&server, "rp-eddsa", RP_SECRET, &format!("198.51.100.{i}")).await;
        assert_eq!(granted.status(), StatusCode::OK, "request {i}");
    }
    assert_over_rate(client_credentials(&server, "rp-eddsa", RP_SECRET, "198.51.100.9").await)
        .await;
    let other = client_credentials(&server, "rp-rs256", RP_SECRET, "198.51.100.9").await;
    assert_eq!(other.status(), StatusCode::OK);
    assert_eq!(server.count("access_tokens").await, 4);
}

crate::backend_tests!(
    slow_or_idle_connections_are_closed,
    a_trickled_body_is_answered_408,
    oversized_bodies_are_refused,
    the_token_endpoint_keeps_a_rate_per_address,
    the_token_endpoint_keeps_a_rate_per_client,
);
