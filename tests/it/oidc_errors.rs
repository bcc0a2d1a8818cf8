//! The provider's error paths (RFC 6749, RFC 7636, OIDC Core), each refused without changing
//! what it must not change.
use reqwest::StatusCode;
use serde_json::Value;

use crate::oidc::{
    Browser, REDIRECT, RP_SECRET, VERIFIER, post_form, provider, two_servers, userinfo_status,
};
use crate::support::*;

/// An authorization URL for `rp-eddsa`, asking for a refresh token too.
fn authorize_url(server: &TestServer, extra: &[(&str, &str)]) -> String {
    let offline = [("scope", "openid profile offline_access")];
    crate::oidc::authorize_url(server, "rp-eddsa", &[offline.as_slice(), extra].concat())
}

async fn token(
    server: &TestServer,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (StatusCode, Value) {
    post_form(server, "/sso/v2/token", form, basic).await
}

/// A code for `rp-eddsa`, obtained through login and consent.
async fn code(server: &TestServer, browser: &Browser<'_>) -> String {
    browser
        .authorize(&authorize_url(server, &[]), true)
        .await
        .param("code")
        .expect("code")
}

async fn redeem(server: &TestServer, code: &str) -> (StatusCode, Value) {
    crate::oidc::redeem(server, "rp-eddsa", code).await
}

async fn unregistered_redirect_uri_gets_an_html_page_and_no_redirect(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let client = server.client();
    for uri in [
        "https://evil.example/callback",
        "https://rp.example.com/callback/../evil",
        "https://rp.example.com/callbackx",
        "https://rp.example.com/Callback",
        "https://rp.example.com/callback?x=1",
        "https://rp.example.com@evil.example/callback",
        "",
    ] {
        let response = client
            .get(authorize_url(&server, &[("redirect_uri", uri)]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri}");
        assert!(location(&response).is_none(), "never redirected to {uri}");
        assert!(
            response.text().await.unwrap().contains("not registered"),
            "{uri}"
        );
    }
    let response = client
        .get(authorize_url(&server, &[("client_id", "nobody")]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(location(&response).is_none());
    assert_eq!(server.count("pending_authorizations").await, 0);
}

async fn pkce_is_required_and_plain_refused(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let client = server.client();
    for (extra, description) in [
        (
            vec![("code_challenge", ""), ("code_challenge_method", "")],
            "code_challenge is required",
        ),
        (
            vec![("code_challenge_method", "plain")],
            "plain is not accepted",
        ),
        (vec![("code_challenge_method", "")], "plain is not accepted"),
    ] {
        let response = client
            .get(authorize_url(&server, &extra))
            .send()
            .await
            .unwrap();
        let to =
            url::Url::parse(&location(&response).expect("error goes back to the client")).unwrap();
        assert!(to.as_str().starts_with(REDIRECT));
        let params: std::collections::HashMap<_, _> = to.query_pairs().into_owned().collect();
        assert_eq!(params["error"], "invalid_request");
        assert!(
            params["error_description"].contains(description),
            "{params:?}"
        );
        assert_eq!(params["state"], "st-1");
    }
    assert_eq!(server.count("pending_authorizations").await, 0);

    // A code bound to a challenge needs the matching verifier.
    let browser = Browser::new(&server);
    let code = code(&server, &browser).await;
    let (status, body) = token(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            (
                "code_verifier",
                "wrong-verifier-wrong-verifier-wrong-verifier-xx",
            ),
        ],
        Some(("rp-eddsa", RP_SECRET)),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

async fn a_replayed_code_fails_and_revokes_what_it_issued(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let browser = Browser::new(&server);
    let code = code(&server, &browser).await;
    let (status, first) = redeem(&server, &code).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(userinfo_status(&server, access).await.0, StatusCode::OK);

    let (status, second) = redeem(&server, &code).await;
    assert_eq!(
        (status, second["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(
        userinfo_status(&server, access).await.0,
        StatusCode::UNAUTHORIZED,
        "revoked"
    );
    let (status, _) = token(
        &server,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
        ],
        Some(("rp-eddsa", RP_SECRET)),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "its refresh token is revoked too"
    );
}

/// A code whose user was deleted before it was redeemed issues nothing that works: what the
/// redemption stored is revoked again.
async fn a_code_of_a_deleted_user_issues_nothing(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let (_db, server) = provider(backend).await;
    let browser = Browser::new(&server);
    let code = code(&server, &browser).await;
    let db = server.state.store.connection();
    let deleted = db
        .execute_unprepared(&format!(
            "DELETE FROM users WHERE email = '{}'",
            ALICE_EMAIL
        ))
        .await
        .unwrap();
    assert_eq!(deleted.rows_affected(), 1);
    let (status, body) = redeem(&server, &code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant")),
        "{body}"
    );
    let live = |table: &str| format!("SELECT COUNT(*) AS n FROM {table} WHERE revoked_at IS NULL");
    for table in ["access_tokens", "refresh_tokens"] {
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                live(table),
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.try_get::<i64>("", "n").unwrap(), 0, "{table}");
    }
    assert_eq!(
        server.count("access_tokens").await,
        1,
        "issued, then revoked"
    );
}

async fn wrong_client_credentials_get_invalid_client(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let browser = Browser::new(&server);
    let code = code(&server, &browser).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    for basic in [
        Some(("rp-eddsa", "wrong")),
        Some(("nobody", RP_SECRET)),
        None,
        Some(("rp-es256", RP_SECRET)),
    ] {
        let response = reqwest::Client::new()
            .post(server.url("/sso/v2/token"))
            .form(&form);
        let response = match basic {
            Some((id, secret)) => response.basic_auth(id, Some(secret)),
            None => response,
        };
        let response = response.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{basic:?}");
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client", "{basic:?}");
    }
    // The code was not spent by those attempts.
    assert_eq!(redeem(&server, &code).await.0, StatusCode::OK);
}

async fn redirect_uri_must_match_at_the_token_endpoint(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let browser = Browser::new(&server);
    let code = code(&server, &browser).await;
    let (status, body) = token(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://rp.example.com/other"),
            ("code_verifier", VERIFIER),
        ],
        Some(("rp-eddsa", RP_SECRET)),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

async fn an_expired_code_is_refused(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let browser = Browser::new(&server);
    let code = code(&server, &browser).await;
    server.clock.advance(61);
    let (status, body) = redeem(&server, &code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
}

async fn prompt_none_without_session_or_consent(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let client = server.client();
    let response = client
        .get(authorize_url(&server, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    let to = location(&response).unwrap();
    assert!(
        to.starts_with(REDIRECT)
            && to.contains("error=login_required")
            && to.contains("state=st-1"),
        "{to}"
    );

    server.login(&client, ALICE_EMAIL, ALICE_PASSWORD).await;
    let response = client
        .get(authorize_url(&server, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    let to = location(&response).unwrap();
    assert!(to.contains("error=consent_required"), "{to}");
    assert_eq!(server.count("authorization_codes").await, 0);
}

async fn consent_deny_returns_access_denied(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let browser = Browser::new(&server);
    let returned = browser.authorize(&authorize_url(&server, &[]), false).await;
    assert_eq!(returned.param("error").as_deref(), Some("access_denied"));
    assert_eq!(returned.param("state").as_deref(), Some("st-1"));
    assert_eq!(server.count("consents").await, 0);
    assert_eq!(server.count("authorization_codes").await, 0);
}

async fn logout_refuses_an_unregistered_post_logout_redirect_uri(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let browser = Browser::new(&server);
    let (_, tokens) = redeem(&server, &code(&server, &browser).await).await;
    let hint = tokens["id_token"].as_str().unwrap();
    let sessions = server.count("sessions").await;
    let url = |target: &str| {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("id_token_hint", hint),
                ("post_logout_redirect_uri", target),
                ("state", "bye-1"),
            ])
            .finish();
        server.url(&format!("/sso/v2/logout?{query}"))
    };
    for target in [
        "https://evil.example/",
        "https://rp.example.com/bye/x",
        "https://rp.example.com/callback",
    ] {
        let response = browser.http.get(url(target)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{target}");
        assert!(location(&response).is_none());
    }
    assert_eq!(server.count("sessions").await, sessions, "still signed in");

    // The registered one, with a hint for the signed-in user: signed out and sent back with state.
    let response = browser
        .http
        .get(url("https://rp.example.com/bye"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        location(&response).as_deref(),
        Some("https://rp.example.com/bye?state=bye-1")
    );
    assert_eq!(server.count("sessions").await, sessions - 1);

    // A forged hint is refused outright.
    let forged = forged(hint);
    let response = browser
        .http
        .get(format!(
            "{}?id_token_hint={forged}",
            server.url("/sso/v2/logout")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

async fn bearer_tokens_garbage_expired_revoked(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let (status, challenge) = userinfo_status(&server, "garbage").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    let missing = reqwest::Client::new()
        .get(server.url("/sso/v2/userinfo"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert!(
        missing.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );

    let browser = Browser::new(&server);
    let (_, first) = redeem(&server, &code(&server, &browser).await).await;
    let access = first["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        userinfo_status(&server, &access).await.0,
        StatusCode::OK,
        "answered, and so remembered by this process's userinfo cache"
    );
    let revoke = reqwest::Client::new()
        .post(server.url("/sso/v2/revoke"))
        .basic_auth("rp-eddsa", Some(RP_SECRET))
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::OK);
    assert_eq!(
        userinfo_status(&server, &access).await.0,
        StatusCode::UNAUTHORIZED,
        "revoked"
    );

    let (_, second) = redeem(&server, &code(&server, &browser).await).await;
    let access = second["access_token"].as_str().unwrap();
    assert_eq!(userinfo_status(&server, access).await.0, StatusCode::OK);
    server.clock.advance(3601);
    assert_eq!(
        userinfo_status(&server, access).await.0,
        StatusCode::UNAUTHORIZED,
        "expired"
    );
}

/// The error sent back to the client for an authorization URL.
async fn authorization_error(server: &TestServer, url: &str) -> (String, String) {
    let response = server.client().get(url).send().await.unwrap();
    let to = url::Url::parse(&location(&response).expect("a redirect to the client")).unwrap();
    let params: std::collections::HashMap<_, _> = to.query_pairs().into_owned().collect();
    (params["error"].clone(), params["error_description"].clone())
}

async fn hostile_parameters_are_bounded(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let huge_scope = format!(
        "openid {}",
        (0..400)
            .map(|i| format!("s{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let (error, description) =
        authorization_error(&server, &authorize_url(&server, &[("scope", &huge_scope)])).await;
    assert_eq!(
        (error.as_str(), description.as_str()),
        ("invalid_request", "scope is too long")
    );
    let (error, _) = authorization_error(
        &server,
        &authorize_url(&server, &[("nonce", &"n".repeat(600))]),
    )
    .await;
    assert_eq!(error, "invalid_request");
    let (error, _) = authorization_error(
        &server,
        &authorize_url(&server, &[("scope", "openid admin")]),
    )
    .await;
    assert_eq!(error, "invalid_scope");
    let (error, _) = authorization_error(
        &server,
        &authorize_url(&server, &[("response_type", "token")]),
    )
    .await;
    assert_eq!(error, "unsupported_response_type");
    let (error, _) = authorization_error(
        &server,
        &authorize_url(&server, &[("prompt", "none login")]),
    )
    .await;
    assert_eq!(error, "invalid_request");
    let (error, _) =
        authorization_error(&server, &authorize_url(&server, &[("max_age", "-1")])).await;
    assert_eq!(error, "invalid_request");
    assert_eq!(server.count("pending_authorizations").await, 0);
}

async fn without_pkce_a_nonce_is_required(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let no_pkce = [
        ("client_id", "rp-rs256"),
        ("code_challenge", ""),
        ("code_challenge_method", ""),
    ];
    let (error, description) = authorization_error(
        &server,
        &authorize_url(&server, &[no_pkce.as_slice(), &[("nonce", "")]].concat()),
    )
    .await;
    assert_eq!(error, "invalid_request");
    assert!(description.contains("nonce is required"), "{description}");
    // With a nonce, a confidential client that opted out of PKCE gets its code.
    let browser = Browser::new(&server);
    let returned = browser
        .authorize(&authorize_url(&server, &no_pkce), true)
        .await;
    assert!(returned.param("code").is_some());
}

async fn offline_access_needs_consent(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let client = server.client();
    server.login(&client, ALICE_EMAIL, ALICE_PASSWORD).await;
    let response = client
        .get(authorize_url(
            &server,
            &[("scope", "openid email offline_access")],
        ))
        .send()
        .await
        .unwrap();
    assert!(
        location(&response).unwrap().starts_with("/sso/v2/consent?"),
        "no silent refresh tokens"
    );
    let response = client
        .get(authorize_url(&server, &[("scope", "openid email")]))
        .send()
        .await
        .unwrap();
    assert!(
        location(&response).unwrap().starts_with(REDIRECT),
        "no personal data, no consent page"
    );
}

async fn logout_refuses_an_unregistered_client_id(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let client = server.client();
    server.login(&client, ALICE_EMAIL, ALICE_PASSWORD).await;
    let response = client
        .get(server.url("/sso/v2/logout?client_id=Your+account+is+locked.+Call+us"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        !response
            .text()
            .await
            .unwrap()
            .contains("Your account is locked")
    );
    assert_eq!(server.count("sessions").await, 1);
}

async fn a_refresh_family_ends_with_its_first_token(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let browser = Browser::new(&server);
    let (_, first) = redeem(&server, &code(&server, &browser).await).await;
    let refresh = |token: String| {
        let server = &server;
        async move {
            token_request(
                server,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", token.as_str()),
                ],
            )
            .await
        }
    };
    server.clock.advance(20 * 86_400);
    let (status, second) = refresh(first["refresh_token"].as_str().unwrap().to_string()).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    server.clock.advance(11 * 86_400);
    let (status, _) = refresh(second["refresh_token"].as_str().unwrap().to_string()).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "rotation does not extend the family past 30 days"
    );
}

/// `rp-rs256` presenting a code issued to `rp-eddsa` (same redirect URI and verifier) is refused
/// without spending it: the code's own client redeems it afterwards, and nothing is revoked.
async fn another_clients_code_is_refused_and_left_unspent(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let browser = Browser::new(&server);
    let code = code(&server, &browser).await;
    let (status, body) = crate::oidc::redeem(&server, "rp-rs256", &code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, own) = redeem(&server, &code).await;
    assert_eq!(status, StatusCode::OK, "{own}");
    let access = own["access_token"].as_str().unwrap();
    assert_eq!(userinfo_status(&server, access).await.0, StatusCode::OK);

    let (status, _) = crate::oidc::redeem(&server, "rp-rs256", &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        userinfo_status(&server, access).await.0,
        StatusCode::OK,
        "another client replaying the spent code revokes nothing"
    );
}

/// `rp-rs256` presenting `rp-eddsa`'s refresh tokens, spent or live, is refused and neither
/// rotates nor revokes them: `rp-eddsa` goes on refreshing.
async fn another_clients_refresh_token_is_refused_and_left_alone(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let browser = Browser::new(&server);
    let (_, first) = redeem(&server, &code(&server, &browser).await).await;
    let spent = first["refresh_token"].as_str().unwrap();
    let refresh = |client: &'static str, presented: String| {
        let server = &server;
        async move {
            token(
                server,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &presented),
                ],
                Some((client, RP_SECRET)),
            )
            .await
        }
    };
    let (status, second) = refresh("rp-eddsa", spent.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let live = second["refresh_token"].as_str().unwrap();

    for foreign in [spent, live] {
        let (status, body) = refresh("rp-rs256", foreign.to_string()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_grant"))
        );
    }
    assert_eq!(
        userinfo_status(&server, second["access_token"].as_str().unwrap())
            .await
            .0,
        StatusCode::OK,
        "the family is not revoked"
    );
    let (status, third) = refresh("rp-eddsa", live.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{third}");
}

async fn token_request(server: &TestServer, form: &[(&str, &str)]) -> (StatusCode, Value) {
    token(server, form, Some(("rp-eddsa", RP_SECRET))).await
}

/// A refresh token raced at two servers: one wins, the reuse is detected, and whichever order the
/// writes land in, every token of the family ends up revoked, the winner's new ones included.
async fn a_raced_refresh_token_revokes_the_whole_family(backend: Backend) {
    let (_db, a, b) = two_servers(backend).await;
    let browser = Browser::new(&a);
    for round in 0..20 {
        let (_, first) = redeem(&a, &code(&a, &browser).await).await;
        let stolen = first["refresh_token"].as_str().unwrap().to_string();
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", stolen.as_str()),
        ];
        let ((at_a, body_a), (at_b, body_b)) =
            tokio::join!(token_request(&a, &form), token_request(&b, &form));
        let winners: Vec<&Value> = [(at_a, &body_a), (at_b, &body_b)]
            .into_iter()
            .filter(|(status, _)| *status == StatusCode::OK)
            .map(|(_, body)| body)
            .collect();
        assert!(winners.len() <= 1, "round {round}: both won");
        for winner in winners {
            let (status, _) = token_request(
                &a,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", winner["refresh_token"].as_str().unwrap()),
                ],
            )
            .await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "round {round}: the winner's refresh token is revoked"
            );
            assert_eq!(
                userinfo_status(&a, winner["access_token"].as_str().unwrap())
                    .await
                    .0,
                StatusCode::UNAUTHORIZED
            );
        }
        assert_eq!(
            userinfo_status(&a, first["access_token"].as_str().unwrap())
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
    }
}

async fn an_id_token_from_an_earlier_session_asks_before_signing_out(backend: Backend) {
    let (_db, server) = provider(backend).await;
    let browser = Browser::new(&server);
    let (_, old) = redeem(&server, &code(&server, &browser).await).await;
    let old_hint = old["id_token"].as_str().unwrap().to_string();
    // Signed out, then signed in again: a new session, with a new sid.
    let csrf = server.csrf_token(&browser.http, "/account").await;
    browser
        .http
        .post(server.url("/sso/v2/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    server
        .login(&browser.http, ALICE_EMAIL, ALICE_PASSWORD)
        .await;
    let response = browser
        .http
        .get(server.url(&format!("/sso/v2/logout?id_token_hint={old_hint}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "a confirmation page, not a silent sign-out"
    );
    assert_eq!(
        texts(&response.text().await.unwrap(), "h1"),
        ["Sign out of idbridge?"]
    );
    assert_eq!(server.count("sessions").await, 1);
    // The hint of the current session signs out at once.
    let (_, fresh) = redeem(&server, &code(&server, &browser).await).await;
    let response = browser
        .http
        .get(server.url(&format!(
            "/sso/v2/logout?id_token_hint={}",
            fresh["id_token"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(server.count("sessions").await, 0);
}

crate::backend_tests!(
    a_code_of_a_deleted_user_issues_nothing,
    another_clients_code_is_refused_and_left_unspent,
    another_clients_refresh_token_is_refused_and_left_alone,
    an_id_token_from_an_earlier_session_asks_before_signing_out,
    hostile_parameters_are_bounded,
    without_pkce_a_nonce_is_required,
    offline_access_needs_consent,
    logout_refuses_an_unregistered_client_id,
    a_refresh_family_ends_with_its_first_token,
    a_raced_refresh_token_revokes_the_whole_family,
    unregistered_redirect_uri_gets_an_html_page_and_no_redirect,
    pkce_is_required_and_plain_refused,
    a_replayed_code_fails_and_revokes_what_it_issued,
    wrong_client_credentials_get_invalid_client,
    redirect_uri_must_match_at_the_token_endpoint,
    an_expired_code_is_refused,
    prompt_none_without_session_or_consent,
    consent_deny_returns_access_denied,
    logout_refuses_an_unregistered_post_logout_redirect_uri,
    bearer_tokens_garbage_expired_revoked,
);
