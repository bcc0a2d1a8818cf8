//! One-time session URLs (SPEC section 7): a backend asks for a URL with HTTP Basic credentials;
//! a browser that opens it sees a page with one button, which changes nothing (mail gateways
//! fetch links); pressing it gets the customer's profile created or updated, a session and a
//! redirect to the target without the profile parameters. A URL works once across processes,
//! expires after 72 hours, and a refused request stores nothing.
use idbridge::Clock;
use idbridge::store::tables::{customer_profile, session, user};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::oidc::{Browser, RP_SECRET, authorize_url, redeem};
use crate::support::*;
use crate::webhooks::{
    ALL_EVENTS, Answer, Receiver, WEBHOOK_SECRET, check_payload, webhook_config,
};

pub(crate) const SESSION_URLS_CONFIG: &str = r#"
[[products]]
id = "helpdesk"
format = "workspace"
allowed_domains = ["*.help.example.com"]
secrets = ["env:HELPDESK_SECRET"]

[[api_credentials]]
username = "backend"
password = "env:BACKEND_PASSWORD"
scopes = ["session_urls"]

[[api_credentials]]
username = "sso-only"
password = "env:BACKEND_PASSWORD"
scopes = ["sso_urls"]
"#;

pub(crate) const BACKEND_PASSWORD: &str = "backend password 0123456789";
const ENV: &[(&str, &str)] = &[
    (
        "HELPDESK_SECRET",
        "helpdesk-secret-1-0123456789abcdefghijklmnop",
    ),
    ("BACKEND_PASSWORD", BACKEND_PASSWORD),
];

/// What a customer's tool sends: the target URL with `&amp;` between its parameters (HTML-escaped),
/// the whole of it then percent-encoded (`encodeURIComponent`), so that the email's `%40` and the
/// street's `%20` are encoded twice. Decoded, it is
/// `https://shop.example.com/checkout?cart=42&amp;internalcustomer=C-1001&amp;billingFirstname=Jane
/// &amp;billingLastname=Doe&amp;billingEMail=jane%40example.com&amp;billingStreet1=Main%20St%201
/// &amp;billingPostalCode=1234&amp;billingCity=Vienna&amp;billingCountryId=AT&amp;language=de`.
pub(crate) const SEED_TARGET: &str = "https%3A%2F%2Fshop.example.com%2Fcheckout%3Fcart%3D42\
    %26amp%3Binternalcustomer%3DC-1001%26amp%3BbillingFirstname%3DJane\
    %26amp%3BbillingLastname%3DDoe%26amp%3BbillingEMail%3Djane%2540example.com\
    %26amp%3BbillingStreet1%3DMain%2520St%25201%26amp%3BbillingPostalCode%3D1234\
    %26amp%3BbillingCity%3DVienna%26amp%3BbillingCountryId%3DAT%26amp%3Blanguage%3Dde";

/// The environment [`SESSION_URLS_CONFIG`] reads.
pub(crate) fn session_url_env() -> Vec<(&'static str, &'static str)> {
    ENV.to_vec()
}

fn config() -> String {
    format!("{BASE_CONFIG}{SESSION_URLS_CONFIG}")
}

async fn start(backend: Backend) -> (TestDb, TestServer) {
    let db = TestDb::new(backend).await;
    let server = TestServer::start_with(&db, &config(), Clock::system(), ENV)
        .await
        .expect("server starts");
    (db, server)
}

/// Opens a session URL for `target` in a new browser and expects to be sent on.
async fn sign_in(server: &TestServer, target: &str) {
    let path = session_url(server, target).await;
    let (status, location, page) = open(&server.client(), &server.base, &path).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(location.is_some(), "{page}");
}

/// Asks for a session URL with a JSON body; returns the status, the `WWW-Authenticate` header and
/// the JSON answer.
async fn request(
    server: &TestServer,
    credentials: Option<(&str, &str)>,
    body: &str,
) -> (StatusCode, Option<String>, Value) {
    let mut request = reqwest::Client::new()
        .post(server.url("/urlgenerator/generateusersessionurl"))
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string());
    if let Some((username, password)) = credentials {
        request = request.basic_auth(username, Some(password));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_string());
    (status, challenge, response.json().await.unwrap())
}

/// A session URL for `target`, asked for as the backend; returns its path (`/surl/<token>`).
pub(crate) async fn session_url(server: &TestServer, target: &str) -> String {
    let body = json!({"TargetUrl": target}).to_string();
    let (status, _, answer) = request(server, Some(("backend", BACKEND_PASSWORD)), &body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["ResultMessage"], "OK");
    let url = answer["Url"].as_str().unwrap();
    let path = url
        .strip_prefix(&server.base)
        .expect("the URL is on the issuer");
    let token = path.strip_prefix("/surl/").expect("a /surl/ path");
    assert_eq!(token.len(), 43, "256 bits, base64url");
    path.to_string()
}

/// Opens a session URL in `browser` (on whichever server `base` is) as a person does: the page,
/// then its button. Returns the status, where the browser is sent next, and the page: `200` with
/// the target (the page that moves on, `after_form`) once it is spent, or the error page.
pub(crate) async fn open(
    browser: &reqwest::Client,
    base: &str,
    path: &str,
) -> (StatusCode, Option<String>, String) {
    let (status, page) = look(browser, base, path).await;
    if status != StatusCode::OK {
        return (status, None, page);
    }
    assert_eq!(texts(&page, "form button"), ["Continue"], "one button");
    assert_eq!(form_action(&page).as_deref(), Some(path), "posts to itself");
    press(browser, base, path, &page).await
}

/// `GET` of a session URL: the status and the page.
async fn look(browser: &reqwest::Client, base: &str, path: &str) -> (StatusCode, String) {
    let response = browser.get(format!("{base}{path}")).send().await.unwrap();
    assert_eq!(location(&response), None, "a GET sends no one anywhere");
    assert_eq!(cookie_value(&response, "idbridge_session"), None);
    (response.status(), response.text().await.unwrap())
}

/// The `POST` of the button on `page`, with the form's CSRF token: the status, where the browser
/// is sent next, and the page.
async fn press(
    browser: &reqwest::Client,
    base: &str,
    path: &str,
    page: &str,
) -> (StatusCode, Option<String>, String) {
    let csrf = form_value(page, "csrf").expect("the form's CSRF token");
    let response = browser
        .post(format!("{base}{path}"))
        .form(&[("csrf", csrf)])
        .send()
        .await
        .unwrap();
    let status = response.status();
    let location = location(&response);
    (status, location, response.text().await.unwrap())
}

fn form_action(page: &str) -> Option<String> {
    let document = scraper::Html::parse_document(page);
    let form = scraper::Selector::parse("form[method=post]").unwrap();
    document
        .select(&form)
        .next()
        .and_then(|form| form.value().attr("action"))
        .map(str::to_string)
}

async fn profile(server: &TestServer, internal_customer: &str) -> Option<customer_profile::Model> {
    customer_profile::Entity::find()
        .all(server.state.store.connection())
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.internal_customer == internal_customer)
}

async fn find_user(server: &TestServer, id: &str) -> user::Model {
    user::Entity::find_by_id(id.to_string())
        .one(server.state.store.connection())
        .await
        .unwrap()
        .expect("the profile's user")
}

/// Rows of the tables that opening a session URL writes.
async fn counts(server: &TestServer) -> [i64; 4] {
    [
        server.count("session_urls").await,
        server.count("customer_profiles").await,
        server.count("users").await,
        server.count("sessions").await,
    ]
}

fn assert_refused_page(status: StatusCode, page: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        texts(page, "p")
            .iter()
            .any(|t| t.contains("cannot be used")),
        "{page}"
    );
}

async fn seed_example_signs_the_customer_in(backend: Backend) {
    let (_db, server) = start(backend).await;
    let path = session_url(&server, SEED_TARGET).await;
    let token = path.strip_prefix("/surl/").unwrap();
    // Only the SHA-256 of the token is stored; nothing else happened yet.
    let stored: Vec<String> = idbridge::store::tables::session_url::Entity::find()
        .all(server.state.store.connection())
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.token_hash)
        .collect();
    assert_eq!(stored, vec![idbridge::crypto::sha256_hex(token)]);
    assert_eq!(counts(&server).await, [1, 0, 1, 0]);

    let browser = server.client();
    let (_, page) = look(&browser, &server.base, &path).await;
    let response = browser
        .post(server.url(&path))
        .form(&[("csrf", form_value(&page, "csrf").unwrap())])
        .send()
        .await
        .unwrap();
    assert_continues(&response);
    assert_eq!(
        location(&response).as_deref(),
        Some("https://shop.example.com/checkout?cart=42")
    );
    assert!(cookie_value(&response, "idbridge_session").is_some());
    assert_eq!(counts(&server).await, [0, 1, 2, 1]);

    let stored = profile(&server, "C-1001").await.expect("profile created");
    assert_eq!(
        (
            stored.billing_first_name.as_deref(),
            stored.billing_last_name.as_deref(),
            stored.billing_email.as_deref(),
            stored.billing_street1.as_deref(),
            stored.billing_postal_code.as_deref(),
            stored.billing_city.as_deref(),
            stored.billing_country_id.as_deref(),
            stored.language.as_deref(),
        ),
        (
            Some("Jane"),
            Some("Doe"),
            Some("jane@example.com"),
            Some("Main St 1"),
            Some("1234"),
            Some("Vienna"),
            Some("AT"),
            Some("de"),
        )
    );
    let user = find_user(&server, &stored.user_id).await;
    assert!(user.id.starts_with("u-"), "{}", user.id);
    assert_eq!(
        (
            user.email.as_str(),
            user.name.as_str(),
            user.source.as_str()
        ),
        ("jane@example.com", "Jane Doe", "session_url")
    );
    assert_eq!(user.password_hash, None);

    // The browser is signed in as that user.
    let account = browser.get(server.url("/account")).send().await.unwrap();
    assert_eq!(account.status(), StatusCode::OK);
    let page = account.text().await.unwrap();
    assert_eq!(texts(&page, "#page-title"), vec!["Jane Doe"]);

    // A second opening, in this browser or another, changes nothing.
    for again in [&browser, &server.client()] {
        let (status, location, page) = open(again, &server.base, &path).await;
        assert_refused_page(status, &page);
        assert_eq!(location, None);
        assert_eq!(counts(&server).await, [0, 1, 2, 1]);
    }
    assert_eq!(profile(&server, "C-1001").await, Some(stored));
}

/// Mail gateways and link previews fetch the links in an email: a GET shows the page with the
/// button and spends nothing, however often; the button's POST then works once.
async fn fetching_the_link_spends_nothing(backend: Backend) {
    let (_db, server) = start(backend).await;
    let path = session_url(&server, SEED_TARGET).await;
    let gateway = server.client();
    let mut seen = String::new();
    for _ in 0..2 {
        let (status, page) = look(&gateway, &server.base, &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(texts(&page, "form button"), ["Continue"]);
        assert_eq!(form_action(&page).as_deref(), Some(path.as_str()));
        assert_eq!(counts(&server).await, [1, 0, 1, 0], "nothing changed");
        seen = page;
    }

    let person = server.client();
    let (status, location, _) = open(&person, &server.base, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        location.as_deref(),
        Some("https://shop.example.com/checkout?cart=42")
    );
    assert_eq!(counts(&server).await, [0, 1, 2, 1]);

    // Spent: the page and the button both refuse now, and change nothing.
    let (status, page) = look(&person, &server.base, &path).await;
    assert_refused_page(status, &page);
    let (status, location, page) = press(&gateway, &server.base, &path, &seen).await;
    assert_refused_page(status, &page);
    assert_eq!(location, None);
    assert_eq!(counts(&server).await, [0, 1, 2, 1]);
}

/// Whoever holds a link for their own profile cannot post it from their site to sign a
/// visitor's browser in as themselves: the post needs the form's CSRF token, which only a page of
/// idbridge shown to that browser carries.
async fn a_post_from_another_site_signs_no_one_in(backend: Backend) {
    let (_db, server) = start(backend).await;
    let path = session_url(&server, SEED_TARGET).await;
    let attacker = server.client();
    let (_, attackers_page) = look(&attacker, &server.base, &path).await;
    let attackers_token = form_value(&attackers_page, "csrf").unwrap();

    let victim = server.client();
    for form in [vec![], vec![("csrf", attackers_token.as_str())]] {
        let response = victim
            .post(server.url(&path))
            .header("Origin", "https://attacker.example")
            .header("Sec-Fetch-Site", "cross-site")
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{form:?}");
        assert_eq!(location(&response), None);
        assert_eq!(cookie_value(&response, "idbridge_session"), None);
        assert!(response.text().await.unwrap().contains("Form expired"));
        assert_eq!(counts(&server).await, [1, 0, 1, 0], "nothing changed");
    }

    // The link is still good for the person it was made for.
    let (status, location, _) = open(&server.client(), &server.base, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        location.as_deref(),
        Some("https://shop.example.com/checkout?cart=42")
    );
}

async fn expired_and_unknown_urls_are_refused(backend: Backend) {
    let db = TestDb::new(backend).await;
    let clock = Clock::system();
    let server = TestServer::start_with(&db, &config(), clock.clone(), ENV)
        .await
        .unwrap();
    let target = "https://shop.example.com/?internalcustomer=C-9&billingCity=Linz";
    let first = session_url(&server, target).await;
    let second = session_url(&server, target).await;
    let third = session_url(&server, target).await;

    // Still good just before 72 hours have passed.
    clock.advance(72 * 3600 - 10);
    let (status, location, _) = open(&server.client(), &server.base, &first).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(location.as_deref(), Some("https://shop.example.com/"));
    assert_eq!(counts(&server).await, [2, 1, 2, 1]);

    // Past 72 hours: refused, and nothing changes.
    clock.advance(11);
    let (status, _, page) = open(&server.client(), &server.base, &second).await;
    assert_refused_page(status, &page);
    let unknown = format!("/surl/{}", idbridge::crypto::random_token());
    for path in [unknown.as_str(), "/surl/x"] {
        let (status, _, page) = open(&server.client(), &server.base, path).await;
        assert_refused_page(status, &page);
    }
    assert_eq!(counts(&server).await, [2, 1, 2, 1]);

    // The sweep removes the expired ones.
    idbridge::sweep::sweep_expired(&server.state).await.unwrap();
    assert_eq!(server.count("session_urls").await, 0);
    let (status, _, page) = open(&server.client(), &server.base, &third).await;
    assert_refused_page(status, &page);
}

async fn an_existing_customer_is_updated_and_signed_in_again(backend: Backend) {
    let (_db, server) = start(backend).await;
    let first = session_url(&server, SEED_TARGET).await;
    let (status, _, _) = open(&server.client(), &server.base, &first).await;
    assert_eq!(status, StatusCode::OK);
    let created = profile(&server, "C-1001").await.unwrap();

    // Plain, unencoded this time, on a product's domain; only the city and first name change.
    let second = session_url(
        &server,
        "https://acme.help.example.com/inbox?internalcustomer=C-1001&billingCity=Graz&billingFirstname=Janet&tab=open",
    )
    .await;
    let browser = server.client();
    let (status, location, _) = open(&browser, &server.base, &second).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        location.as_deref(),
        Some("https://acme.help.example.com/inbox?tab=open")
    );
    let updated = profile(&server, "C-1001").await.unwrap();
    assert_eq!(updated.user_id, created.user_id, "the same user");
    assert_eq!(updated.billing_city.as_deref(), Some("Graz"));
    assert_eq!(updated.billing_first_name.as_deref(), Some("Janet"));
    assert_eq!(updated.billing_street1.as_deref(), Some("Main St 1"));
    assert_eq!(updated.billing_email.as_deref(), Some("jane@example.com"));
    assert_eq!(counts(&server).await, [0, 1, 2, 2]);
    let user = find_user(&server, &updated.user_id).await;
    assert_eq!(user.name, "Janet Doe");
    let page = page_text(&browser, server.url("/account")).await;
    assert_eq!(texts(&page, "#page-title"), vec!["Janet Doe"]);
}

/// Webhooks hear of the profile a session URL creates or changes and of each login by session
/// URL, all with the `internalCustomer`; an opening that changes nothing is only a login.
async fn profiles_and_logins_are_announced(backend: Backend) {
    let db = TestDb::new(backend).await;
    let receiver = Receiver::start(&[], Answer::Accept).await;
    let webhook = webhook_config(&receiver.url, ALL_EVENTS, "");
    let mut env = ENV.to_vec();
    env.push(("WEBHOOK_SECRET", WEBHOOK_SECRET));
    let server = TestServer::start_with(
        &db,
        &format!("{}{webhook}", config()),
        Clock::system(),
        &env,
    )
    .await
    .expect("server starts");
    let update = "https://shop.example.com/?internalcustomer=C-1001&billingCity=Graz";
    sign_in(&server, SEED_TARGET).await;
    sign_in(&server, update).await;
    sign_in(&server, update).await;
    receiver
        .wait_for(10, "five notifications", |r| r.len() >= 5)
        .await;
    // Each opening's notifications are written in one transaction and may be delivered in any
    // order; the profile events by their content, the logins by their number.
    let payloads = receiver.accepted_payloads();
    let of = |kind: &str| -> Vec<&Value> {
        payloads
            .iter()
            .filter(|p| p["meta"]["type"] == kind)
            .collect()
    };
    let user_id = profile(&server, "C-1001").await.unwrap().user_id;
    let created = of("ProfileCreatedNotification");
    let updated = of("ProfileUpdatedNotification");
    let logins = of("UserLoginNotification");
    assert_eq!((created.len(), updated.len(), logins.len()), (1, 1, 3));
    assert_eq!(
        created[0]["user"],
        json!({
            "id": user_id, "email": "jane@example.com", "name": "Jane Doe",
            "givenName": "Jane", "familyName": "Doe", "locale": "de",
            "address": {
                "streetAddress": "Main St 1", "postalCode": "1234",
                "locality": "Vienna", "country": "AT"
            },
            "attachedTo": []
        })
    );
    assert_eq!(updated[0]["user"]["address"]["locality"], "Graz");
    assert_eq!(updated[0]["user"]["id"], user_id.as_str());
    for payload in created.iter().chain(&updated).chain(&logins) {
        assert_eq!(payload["internalCustomer"], "C-1001", "{payload}");
        check_payload(&server, payload).await;
    }
    for login in &logins {
        assert_eq!(login["connection"], "session_url");
        assert_eq!(login["user"]["id"], user_id.as_str());
    }
}

async fn refused_requests_store_nothing(backend: Backend) {
    let (_db, server) = start(backend).await;
    let backend_login = Some(("backend", BACKEND_PASSWORD));
    let target = |url: &str| json!({"TargetUrl": url}).to_string();
    let before = counts(&server).await;

    // Credentials: 401 with a Basic challenge, the same for an unknown username; 403 without the
    // scope.
    let unauthorized = json!({
        "ResultMessage": "HTTP Basic credentials of an API credential are required"
    });
    let seed = target(SEED_TARGET);
    for credentials in [
        None,
        Some(("backend", "wrong password")),
        Some(("nobody", BACKEND_PASSWORD)),
    ] {
        let (status, challenge, answer) = request(&server, credentials, &seed).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{credentials:?}");
        assert!(challenge.unwrap().starts_with("Basic "));
        assert_eq!(answer, unauthorized);
    }
    let (status, challenge, answer) =
        request(&server, Some(("sso-only", BACKEND_PASSWORD)), &seed).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(challenge, None);
    assert_eq!(
        answer,
        json!({"ResultMessage": "this API credential is not allowed to use this API"})
    );

    // Bodies and targets: 400 with what is wrong.
    let cases = [
        (
            "{not json".to_string(),
            "the body must be a JSON object with a TargetUrl string",
        ),
        (
            "{}".to_string(),
            "the body must be a JSON object with a TargetUrl string",
        ),
        (
            json!({"TargetUrl": 42}).to_string(),
            "the body must be a JSON object with a TargetUrl string",
        ),
        (
            target("https://shop.example.com.evil.com/?internalcustomer=C-1"),
            "TargetUrl does not lead to a registered client or product",
        ),
        (
            target("https://evil.com/shop.example.com?internalcustomer=C-1"),
            "TargetUrl does not lead to a registered client or product",
        ),
        (
            target("evil.com/shop.example.com?internalcustomer=C-1"),
            "TargetUrl is not an absolute URL",
        ),
        (
            target("https%3A%2F%2Fevil.com%2F%3Finternalcustomer%3DC-1"),
            "TargetUrl does not lead to a registered client or product",
        ),
        (
            target("https://shop.example.com@evil.com/?internalcustomer=C-1"),
            "TargetUrl must not carry user information",
        ),
        (
            target("javascript:alert(document.cookie)//?internalcustomer=C-1"),
            "TargetUrl must be an https URL",
        ),
        (
            target("https://shop.example.com/checkout?cart=42&billingCity=Vienna"),
            "TargetUrl has no internalcustomer parameter",
        ),
        (
            target("https://shop.example.com/?internalcustomer=C-1&billingEMail=jane"),
            "the billingEMail parameter of TargetUrl is not an email address",
        ),
    ];
    for (body, message) in cases {
        let (status, _, answer) = request(&server, backend_login, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer, json!({"ResultMessage": message}), "{body}");
    }
    assert_eq!(counts(&server).await, before, "nothing stored");
}

/// The same URL opened at the same moment in two processes on one database: one browser is
/// signed in, the other gets the error page, and exactly one session and one profile result.
async fn racing_openings_across_processes_succeed_once(backend: Backend) {
    let (db, a) = start(backend).await;
    let b = ServerProcess::spawn(&db, &config(), &a.base, ENV).await;
    for round in 0..4 {
        let customer = format!("C-race-{round}");
        let path = session_url(
            &a,
            &format!("https://shop.example.com/r?internalcustomer={customer}&billingCity=Wien"),
        )
        .await;
        let sessions_before = a.count("sessions").await;
        let (browser_1, browser_2) = (a.client(), a.client());
        let (here, there) = tokio::join!(
            open(&browser_1, &a.base, &path),
            open(&browser_2, &b.base, &path)
        );
        let mut statuses = [here.0, there.0];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::BAD_REQUEST],
            "round {round}"
        );
        assert_eq!(
            a.count("sessions").await,
            sessions_before + 1,
            "round {round}"
        );
        assert_eq!(
            a.count("customer_profiles").await,
            round + 1,
            "round {round}"
        );
        assert!(profile(&a, &customer).await.is_some());
    }
}

/// Two different URLs of one new customer opened at the same moment in two processes: both sign
/// in, as the one user of one profile (on PostgreSQL one creation loses on the unique
/// `internal_customer` and is retried as an update).
async fn two_urls_of_a_new_customer_at_once_make_one_profile(backend: Backend) {
    let (db, a) = start(backend).await;
    let b = ServerProcess::spawn(&db, &config(), &a.base, ENV).await;
    for round in 0..8 {
        let customer = format!("C-twice-{round}");
        let target = format!("https://shop.example.com/?internalcustomer={customer}");
        let first = session_url(&a, &target).await;
        let second = session_url(&a, &target).await;
        let (browser_1, browser_2) = (a.client(), a.client());
        let (here, there) = tokio::join!(
            open(&browser_1, &a.base, &first),
            open(&browser_2, &b.base, &second)
        );
        assert_eq!(
            (here.0, there.0),
            (StatusCode::OK, StatusCode::OK),
            "round {round}: {} / {}",
            here.2,
            there.2
        );
        assert_eq!(a.count("customer_profiles").await, round + 1);
        let user_id = profile(&a, &customer).await.expect("a profile").user_id;
        let sessions = session::Entity::find()
            .filter(session::Column::UserId.eq(&user_id))
            .count(a.state.store.connection())
            .await
            .unwrap();
        assert_eq!(
            sessions, 2,
            "round {round}: both browsers signed in as {user_id}"
        );
    }
    assert_eq!(a.count("users").await, 9, "Alice and one user per customer");
}

/// A backend with many connections, its credential not verified yet (a fresh process, or its
/// cache entry just expired): parallel requests wait for one verification instead of each
/// counting an attempt against the address, which would have throttled the backend itself.
async fn a_busy_backend_is_verified_once_not_throttled(backend: Backend) {
    let (_db, server) = start(backend).await;
    let body = json!({"TargetUrl": "https://shop.example.com/?internalcustomer=C-1"}).to_string();
    let server = std::sync::Arc::new(server);
    let asked: Vec<_> = (0..40)
        .map(|_| {
            let (server, body) = (server.clone(), body.clone());
            tokio::spawn(async move {
                request(&server, Some(("backend", BACKEND_PASSWORD)), &body)
                    .await
                    .0
            })
        })
        .collect();
    for answer in asked {
        assert_eq!(answer.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(server.count("session_urls").await, 40);
}

crate::backend_tests!(
    a_busy_backend_is_verified_once_not_throttled,
    seed_example_signs_the_customer_in,
    fetching_the_link_spends_nothing,
    every_seed_field_reaches_the_claims_the_account_and_product_tokens,
    a_post_from_another_site_signs_no_one_in,
    expired_and_unknown_urls_are_refused,
    an_existing_customer_is_updated_and_signed_in_again,
    profiles_and_logins_are_announced,
    refused_requests_store_nothing,
    racing_openings_across_processes_succeed_once,
    two_urls_of_a_new_customer_at_once_make_one_profile,
);

/// A relying party that may ask for the postal address, and a hub product.
const PROFILE_READERS: &str = r#"
[[clients]]
client_id = "rp-profile"
client_secret = "env:RP_SECRET"
redirect_uris = ["https://rp.example.com/callback"]
allowed_scopes = ["openid", "profile", "email", "address"]

[[products]]
id = "hub"
format = "hub"
login_url = "https://{hub_domain}/login/sso"
allowed_domains = ["*.hub.example.com"]
secrets = ["env:HUB_SECRET"]
"#;

const HUB_SECRET: &str = "hub-secret-1-0123456789abcdefghijklmnopqrstuv";

async fn every_seed_field_reaches_the_claims_the_account_and_product_tokens(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut env = ENV.to_vec();
    env.extend([("RP_SECRET", RP_SECRET), ("HUB_SECRET", HUB_SECRET)]);
    let server = TestServer::start_with(
        &db,
        &format!("{}{PROFILE_READERS}", config()),
        Clock::system(),
        &env,
    )
    .await
    .expect("server starts");
    let browser = Browser::new(&server);
    let path = session_url(&server, SEED_TARGET).await;
    let (status, location, page) = open(&browser.http, &server.base, &path).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(location.is_some(), "{page}");

    let account = page_text(&browser.http, server.url("/account")).await;
    for fact in ["Jane", "Doe", "de", "Main St 1, 1234, Vienna, AT"] {
        assert!(
            account.contains(&format!("<dd>{fact}</dd>")),
            "{fact} in {account}"
        );
    }

    let address = json!({
        "formatted": "Main St 1\n1234 Vienna\nAT",
        "street_address": "Main St 1",
        "postal_code": "1234",
        "locality": "Vienna",
        "country": "AT",
    });
    for (scope, with_address) in [
        ("openid profile email address", true),
        ("openid profile email", false),
    ] {
        let url = authorize_url(&server, "rp-profile", &[("scope", scope)]);
        let code = browser.authorize(&url, true).await.param("code").unwrap();
        let (status, tokens) = redeem(&server, "rp-profile", &code).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        let id_token = jsonwebtoken::dangerous::insecure_decode_claims::<Value>(
            tokens["id_token"].as_str().unwrap(),
        )
        .unwrap();
        let userinfo = userinfo(&server, tokens["access_token"].as_str().unwrap()).await;
        for claims in [&id_token, &userinfo] {
            assert_eq!(claims["given_name"], "Jane", "{scope}: {claims}");
            assert_eq!(claims["family_name"], "Doe");
            assert_eq!(claims["locale"], "de");
            assert_eq!(claims["email"], "jane@example.com");
            match with_address {
                true => assert_eq!(claims["address"], address, "{scope}"),
                false => assert!(claims.get("address").is_none(), "{scope}: {claims}"),
            }
        }
    }

    let response = reqwest::Client::new()
        .post(server.url("/api/v1/products/hub/login-url"))
        .basic_auth("sso-only", Some(BACKEND_PASSWORD))
        .json(&json!({"internal_customer": "C-1001", "hub_domain": "acme.hub.example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    let url = url::Url::parse(answer["url"].as_str().unwrap()).unwrap();
    let jwt = url
        .query_pairs()
        .find(|(name, _)| name == "jwt")
        .unwrap()
        .1
        .into_owned();
    let claims = crate::products::verify_hub(&jwt, HUB_SECRET, "acme.hub.example.com").unwrap();
    assert_eq!(claims["user"]["given_name"], "Jane");
    assert_eq!(claims["user"]["family_name"], "Doe");
}
