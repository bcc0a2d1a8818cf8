//! Local login at /sso/v2/login: sessions, CSRF, the same answer for unknown users and wrong
//! passwords, rate limits, body limits, session rotation and sign-out.
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::support::*;

async fn right_password_signs_in(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, BASE_CONFIG).await;
    let client = server.client();

    let response = server.login(&client, ALICE_EMAIL, ALICE_PASSWORD).await;
    assert_continues(&response);
    assert_eq!(location(&response).as_deref(), Some("/account"));
    let cookie = set_cookie(&response, "idbridge_session").expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "the test issuer is http: {cookie}"
    );

    let (status, page) = server.follow(&client, &response).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(texts(&page, "h1"), ["Alice Example"]);
    let entities = texts(&page, ".entities li");
    assert_eq!(entities.len(), 2, "{entities:?}");
    assert!(entities[0].contains("/PSPName") && entities[0].contains("PSP"));
    assert!(entities[1].contains("/PSPName/DivisionName/MerchantName"));
    assert_eq!(server.count("sessions").await, 1);
}

async fn email_is_case_insensitive_and_trimmed(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, BASE_CONFIG).await;
    let response = server
        .login(&server.client(), "  ALICE@Example.com ", ALICE_PASSWORD)
        .await;
    assert_eq!(location(&response).as_deref(), Some("/account"));
}

async fn wrong_password_and_unknown_user_get_the_same_answer(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, BASE_CONFIG).await;

    let mut answers = Vec::new();
    let (mut fastest_known, mut fastest_unknown) = (Duration::MAX, Duration::MAX);
    // Four rounds: one fewer wrong password than locks Alice's account.
    for i in 0..4 {
        for (email, known) in [
            (ALICE_EMAIL.to_string(), true),
            (format!("nobody{i}@example.com"), false),
        ] {
            let client = server.client();
            let csrf = server.csrf_token(&client, "/sso/v2/login").await;
            let started = Instant::now();
            let response = client
                .post(server.url("/sso/v2/login"))
                .form(&[
                    ("email", email.as_str()),
                    ("password", "wrong password"),
                    ("csrf", &csrf),
                ])
                .send()
                .await
                .unwrap();
            let took = started.elapsed();
            let fastest = if known {
                &mut fastest_known
            } else {
                &mut fastest_unknown
            };
            *fastest = (*fastest).min(took);
            assert_eq!(response.status(), StatusCode::SEE_OTHER);
            assert!(set_cookie(&response, "idbridge_session").is_none());
            let (status, page) = server.follow(&client, &response).await;
            assert_eq!(status, StatusCode::OK);
            answers.push((location(&response), texts(&page, ".error")));
        }
    }
    let first = answers[0].clone();
    assert_eq!(first.1, ["Incorrect email or password."]);
    assert!(answers.iter().all(|a| *a == first), "{answers:?}");
    assert_eq!(server.count("sessions").await, 0);

    // An unknown account costs an argon2 verification too, so its answer comes no faster than
    // one about a known account. Compared are the fastest of interleaved answers, which load
    // slows alike; without the dummy hash an unknown account's answer takes a few milliseconds,
    // several times less than a verification (20-40 ms here), and fails this.
    assert!(
        fastest_unknown * 2 >= fastest_known,
        "unknown account answered in {fastest_unknown:?}, a known one in {fastest_known:?}"
    );
}

async fn missing_fields_are_reported_next_to_the_field(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, BASE_CONFIG).await;
    let client = server.client();
    for (email, password, field, message) in [
        ("", "x", "#email-error", "Enter your email address."),
        (ALICE_EMAIL, "", "#password-error", "Enter your password."),
    ] {
        let csrf = server.csrf_token(&client, "/sso/v2/login").await;
        let response = client
            .post(server.url("/sso/v2/login"))
            .form(&[("email", email), ("password", password), ("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let (_, page) = server.follow(&client, &response).await;
        assert_eq!(texts(&page, field), [message]);
        // The email typed is kept, so the person does not have to type it again.
        assert_eq!(form_value(&page, "email").as_deref(), Some(email));
    }
}

async fn missing_or_forged_csrf_token_is_refused(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, BASE_CONFIG).await;
    let client = server.client();
    let good = server.csrf_token(&client, "/sso/v2/login").await;

    // A token made for another browser's seed.
    let other = server.client();
    let foreign = server.csrf_token(&other, "/sso/v2/login").await;
    let forged = forged(&good);
    for token in [
        None,
        Some(""),
        Some(forged.as_str()),
        Some(foreign.as_str()),
    ] {
        let mut form = vec![("email", ALICE_EMAIL), ("password", ALICE_PASSWORD)];
        if let Some(token) = token {
            form.push(("csrf", token));
        }
        let response = client
            .post(server.url("/sso/v2/login"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "token {token:?}");
        assert!(set_cookie(&response, "idbridge_session").is_none());
        assert!(response.text().await.unwrap().contains("Form expired"));
    }
    // A valid token without the cookie it was made for (a cross-site form post).
    let fresh = server.client();
    let response = fresh
        .post(server.url("/sso/v2/login"))
        .form(&[
            ("email", ALICE_EMAIL),
            ("password", ALICE_PASSWORD),
            ("csrf", good.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(server.count("sessions").await, 0);
    assert_eq!(
        server.count("login_throttle").await,
        0,
        "refused forms count nothing"
    );
}

async fn rate_limit_blocks_an_account_and_recovers(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, BASE_CONFIG).await;
    let client = server.client();
    for _ in 0..5 {
        let response = server.login(&client, ALICE_EMAIL, "guess").await;
        assert!(set_cookie(&response, "idbridge_session").is_none());
    }
    // Blocked now, even with the right password.
    let response = server.login(&client, ALICE_EMAIL, ALICE_PASSWORD).await;
    assert!(set_cookie(&response, "idbridge_session").is_none());
    let (_, page) = server.follow(&client, &response).await;
    let errors = texts(&page, "#password-error");
    assert_eq!(
        errors,
        ["Too many failed sign-in attempts. Try again in 15 minutes."]
    );
    assert_eq!(server.count("sessions").await, 0);

    // Other accounts from elsewhere are not affected by this account's block... and once the
    // window has passed, the right password works again.
    server.clock.advance(15 * 60);
    let response = server.login(&client, ALICE_EMAIL, ALICE_PASSWORD).await;
    assert_eq!(location(&response).as_deref(), Some("/account"));
    assert!(set_cookie(&response, "idbridge_session").is_some());
}

async fn rate_limit_blocks_an_address(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, BASE_CONFIG).await;
    let client = server.client();
    // 20 failures spread over 20 accounts, so no single account is blocked.
    for i in 0..20 {
        server
            .login(&client, &format!("user{i}@example.com"), "guess")
            .await;
    }
    let response = server.login(&client, ALICE_EMAIL, ALICE_PASSWORD).await;
    assert!(
        set_cookie(&response, "idbridge_session").is_none(),
        "address is blocked"
    );

    server.clock.advance(15 * 60);
    let response = server.login(&client, ALICE_EMAIL, ALICE_PASSWORD).await;
    assert!(
        set_cookie(&response, "idbridge_session").is_some(),
        "block has passed"
    );
}

/// Twenty wrong guesses for one account, sent at once. Each is counted before its password is
/// checked, so only the rule's five are checked ("Incorrect email or password.", an answer
/// given only after argon2 ran); the others are refused as throttled without a check.
async fn parallel_guesses_get_no_more_checks_than_the_limit(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, BASE_CONFIG).await;
    // Each guess from a browser of its own, its form ready, so that all are sent together.
    let mut browsers = Vec::new();
    for _ in 0..20 {
        let client = server.client();
        let csrf = server.csrf_token(&client, "/sso/v2/login").await;
        browsers.push((client, csrf));
    }
    let sent: Vec<_> = browsers
        .iter()
        .map(|(client, csrf)| {
            tokio::spawn(
                client
                    .post(server.url("/sso/v2/login"))
                    .form(&[
                        ("email", ALICE_EMAIL),
                        ("password", "guess"),
                        ("csrf", csrf),
                        ("return_to", "/account"),
                    ])
                    .send(),
            )
        })
        .collect();
    let mut answers = Vec::new();
    for (answer, (client, _)) in sent.into_iter().zip(&browsers) {
        let response = answer.await.unwrap().unwrap();
        assert!(set_cookie(&response, "idbridge_session").is_none());
        let (_, page) = server.follow(client, &response).await;
        answers.extend(texts(&page, "#password-error"));
    }
    let checked = answers
        .iter()
        .filter(|a| *a == "Incorrect email or password.")
        .count();
    let throttled = answers
        .iter()
        .filter(|a| a.starts_with("Too many failed sign-in attempts."))
        .count();
    assert_eq!((checked, throttled), (5, 15), "{answers:?}");
    // The right password now is blocked as well, until the window has passed.
    let response = server
        .login(&server.client(), ALICE_EMAIL, ALICE_PASSWORD)
        .await;
    assert!(set_cookie(&response, "idbridge_session").is_none());
    server.clock.advance(15 * 60);
    let response = server
        .login(&server.client(), ALICE_EMAIL, ALICE_PASSWORD)
        .await;
    assert!(set_cookie(&response, "idbridge_session").is_some());
}

/// `X-Forwarded-For` from a peer that is not a trusted proxy must not let a client pick a fresh
/// address for every attempt.
async fn forwarded_for_is_believed_only_from_trusted_proxies(backend: Backend) {
    async fn attempts_with_rotating_forwarded_for(server: &TestServer) -> bool {
        let client = server.client();
        for i in 0..20 {
            let csrf = server.csrf_token(&client, "/sso/v2/login").await;
            client
                .post(server.url("/sso/v2/login"))
                .header("x-forwarded-for", format!("198.51.100.{i}"))
                .form(&[
                    ("email", format!("user{i}@example.com").as_str()),
                    ("password", "x"),
                    ("csrf", &csrf),
                ])
                .send()
                .await
                .unwrap();
        }
        let csrf = server.csrf_token(&client, "/sso/v2/login").await;
        let response = client
            .post(server.url("/sso/v2/login"))
            .header("x-forwarded-for", "198.51.100.99")
            .form(&[
                ("email", ALICE_EMAIL),
                ("password", ALICE_PASSWORD),
                ("csrf", &csrf),
            ])
            .send()
            .await
            .unwrap();
        set_cookie(&response, "idbridge_session").is_some()
    }

    let db = TestDb::new(backend).await;
    let untrusting = TestServer::start(&db, BASE_CONFIG).await;
    assert!(
        !attempts_with_rotating_forwarded_for(&untrusting).await,
        "header ignored: blocked"
    );
    untrusting.stop().await;

    let db = TestDb::new(backend).await;
    let behind_proxy = format!("[server]\ntrusted_proxies = [\"127.0.0.1/32\"]\n{BASE_CONFIG}");
    let trusting = TestServer::start(&db, &behind_proxy).await;
    assert!(
        attempts_with_rotating_forwarded_for(&trusting).await,
        "distinct clients: not blocked"
    );
}

async fn oversized_form_body_is_refused(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, BASE_CONFIG).await;
    let client = server.client();
    let csrf = server.csrf_token(&client, "/sso/v2/login").await;
    let huge = "x".repeat(64 * 1024);
    let response = client
        .post(server.url("/sso/v2/login"))
        .form(&[
            ("email", ALICE_EMAIL),
            ("password", huge.as_str()),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(server.count("sessions").await, 0);
    assert_eq!(server.count("login_throttle").await, 0);
}

async fn session_id_is_rotated_at_login(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, BASE_CONFIG).await;
    let client = server.client();
    let first = server.login(&client, ALICE_EMAIL, ALICE_PASSWORD).await;
    let first_id = cookie_value(&first, "idbridge_session").unwrap();
    let second = server.login_again(&client).await;
    let second_id = cookie_value(&second, "idbridge_session").unwrap();
    assert_ne!(first_id, second_id);
    assert_eq!(
        server.count("sessions").await,
        1,
        "the pre-login session is gone"
    );

    // The old id no longer opens the account page.
    let response = server
        .client()
        .get(server.url("/account"))
        .header("cookie", format!("idbridge_session={first_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        location(&response).as_deref(),
        Some("/sso/v2/login?return_to=%2Faccount")
    );

    // A session id planted by an attacker before login is never adopted.
    let planted = "planted-by-attacker";
    let bare = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = bare.get(server.url("/sso/v2/login")).send().await.unwrap();
    let seed = cookie_value(&page, "idbridge_csrf").unwrap();
    let csrf = form_value(&page.text().await.unwrap(), "csrf").unwrap();
    let response = bare
        .post(server.url("/sso/v2/login"))
        .header(
            "cookie",
            format!("idbridge_session={planted}; idbridge_csrf={seed}"),
        )
        .form(&[
            ("email", ALICE_EMAIL),
            ("password", ALICE_PASSWORD),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    let issued = cookie_value(&response, "idbridge_session").expect("a new session");
    assert_ne!(issued, planted);
}

/// The sid a session is watched by stays when its person signs in again in the same browser
/// (a fresh login for `prompt=login` or `max_age` is no new session to the products), and is new
/// when someone else signs in there.
async fn a_new_login_keeps_the_sid_only_for_the_same_person(backend: Backend) {
    let db = TestDb::new(backend).await;
    let config = format!(
        "{BASE_CONFIG}\n[[users]]\nid = \"u-bob\"\nemail = \"bob@example.com\"\nname = \"Bob\"\npassword = \"{ALICE_PASSWORD}\"\n"
    );
    let server = TestServer::start(&db, &config).await;
    let sids = |user: &'static str| {
        let server = &server;
        async move {
            let now = server.clock.now();
            let sessions = server.state.store.sessions_of(user, now).await.unwrap();
            sessions.into_iter().map(|s| s.sid).collect::<Vec<_>>()
        }
    };
    let client = server.client();
    server.login(&client, ALICE_EMAIL, ALICE_PASSWORD).await;
    let first = sids("u-alice").await;
    assert_eq!(first.len(), 1);
    server.login_again(&client).await;
    assert_eq!(sids("u-alice").await, first, "Alice again: the same sid");
    // Bob signs in at the same browser (the login form, shown again as `prompt=login` does).
    let csrf = server.csrf_token(&client, "/account").await;
    let bob_login = client
        .post(server.url("/sso/v2/login"))
        .form(&[
            ("email", "bob@example.com"),
            ("password", ALICE_PASSWORD),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert!(
        cookie_value(&bob_login, "idbridge_session").is_some(),
        "Bob is signed in"
    );
    assert_eq!(
        sids("u-alice").await,
        Vec::<String>::new(),
        "Alice's session ended"
    );
    let bob = sids("u-bob").await;
    assert_eq!(bob.len(), 1);
    assert_ne!(bob, first, "Bob's session is another one");
    // Alice in another browser is another session too.
    server
        .login(&server.client(), ALICE_EMAIL, ALICE_PASSWORD)
        .await;
    let other_browser = sids("u-alice").await;
    assert_eq!(other_browser.len(), 1);
    assert_ne!(other_browser, first);
}

async fn sign_out_ends_the_session(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, BASE_CONFIG).await;
    let client = server.client();
    let login = server.login(&client, ALICE_EMAIL, ALICE_PASSWORD).await;
    let session = cookie_value(&login, "idbridge_session").unwrap();
    let csrf = server.csrf_token(&client, "/account").await;

    // Sign-out is a form like the others: without the token it is refused.
    let refused = client
        .post(server.url("/sso/v2/logout"))
        .form(&[("csrf", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(server.count("sessions").await, 1);

    let response = client
        .post(server.url("/sso/v2/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_continues(&response);
    let (_, page) = server.follow(&client, &response).await;
    assert_eq!(texts(&page, ".notice"), ["You are signed out."]);
    assert_eq!(server.count("sessions").await, 0);
    let replay = server
        .client()
        .get(server.url("/account"))
        .header("cookie", format!("idbridge_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
}

async fn sessions_expire(backend: Backend) {
    let db = TestDb::new(backend).await;
    let config = format!("[server]\nsession_ttl = \"1h\"\n{BASE_CONFIG}");
    let server = TestServer::start(&db, &config).await;
    let client = server.client();
    server.login(&client, ALICE_EMAIL, ALICE_PASSWORD).await;
    assert_eq!(
        client
            .get(server.url("/account"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    server.clock.advance(3601);
    let response = client.get(server.url("/account")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

async fn return_to_only_goes_to_local_paths(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start(&db, BASE_CONFIG).await;
    for hostile in [
        "//evil.example",
        "/\\evil.example",
        "https://evil.example/",
        "javascript:alert(1)",
    ] {
        let client = server.client();
        let csrf = server.csrf_token(&client, "/sso/v2/login").await;
        let response = client
            .post(server.url("/sso/v2/login"))
            .form(&[
                ("email", ALICE_EMAIL),
                ("password", ALICE_PASSWORD),
                ("csrf", &csrf),
                ("return_to", hostile),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(
            location(&response).as_deref(),
            Some("/account"),
            "{hostile}"
        );
        // The login page does not carry it into its form either.
        let page = client
            .get(server.url(&format!("/sso/v2/login?return_to={}", urlencode(hostile))))
            .send()
            .await
            .unwrap();
        assert_eq!(
            location(&page).as_deref(),
            Some("/account"),
            "signed in: sent home, {hostile}"
        );
    }
}

async fn secure_cookies_when_the_issuer_is_https(backend: Backend) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(
        &db,
        BASE_CONFIG,
        idbridge::Clock::system(),
        &[("IDBRIDGE_ISSUER", "https://id.example.test")],
    )
    .await
    .unwrap();
    let client = server.client();
    let page = client
        .get(server.url("/sso/v2/login"))
        .send()
        .await
        .unwrap();
    assert!(
        set_cookie(&page, "idbridge_csrf").is_none(),
        "only the prefixed name"
    );
    let cookie = set_cookie(&page, "__Host-idbridge_csrf").expect("a __Host- cookie");
    assert!(
        cookie.contains("; Secure") && cookie.contains("Path=/;"),
        "{cookie}"
    );
    // A cookie without the prefix (planted by a sibling subdomain) is not taken for ours.
    let seed = cookie_value(&page, "__Host-idbridge_csrf").unwrap();
    let csrf = form_value(&page.text().await.unwrap(), "csrf").unwrap();
    let response = reqwest::Client::new()
        .post(server.url("/sso/v2/login"))
        .header("cookie", format!("idbridge_csrf={seed}"))
        .form(&[
            ("email", ALICE_EMAIL),
            ("password", ALICE_PASSWORD),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

crate::backend_tests!(
    right_password_signs_in,
    email_is_case_insensitive_and_trimmed,
    wrong_password_and_unknown_user_get_the_same_answer,
    missing_fields_are_reported_next_to_the_field,
    missing_or_forged_csrf_token_is_refused,
    rate_limit_blocks_an_account_and_recovers,
    rate_limit_blocks_an_address,
    parallel_guesses_get_no_more_checks_than_the_limit,
    forwarded_for_is_believed_only_from_trusted_proxies,
    oversized_form_body_is_refused,
    session_id_is_rotated_at_login,
    a_new_login_keeps_the_sid_only_for_the_same_person,
    sign_out_ends_the_session,
    sessions_expire,
    return_to_only_goes_to_local_paths,
    secure_cookies_when_the_issuer_is_https,
);

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

impl TestServer {
    /// Logs in again in a browser that is already signed in (the login page itself would send it
    /// straight on, so the form is posted with the token of the account page).
    async fn login_again(&self, client: &reqwest::Client) -> reqwest::Response {
        let csrf = self.csrf_token(client, "/account").await;
        client
            .post(self.url("/sso/v2/login"))
            .form(&[
                ("email", ALICE_EMAIL),
                ("password", ALICE_PASSWORD),
                ("csrf", csrf.as_str()),
            ])
            .send()
            .await
            .unwrap()
    }
}
