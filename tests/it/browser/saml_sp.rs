//! idbridge as the SAML IdP of a service provider on another site: the SP answers on
//! `127.0.0.2` while idbridge is `localhost`. The SP sends the browser to idbridge with a signed
//! AuthnRequest (HTTP-Redirect); the person signs in, allows, and idbridge's page posts the
//! assertion to the SP's ACS by script (HTTP-POST), under its `form-action` policy. pysaml2
//! (`tests/it/saml_sp.py`) judges what arrived, as in `saml_service_providers`.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use idbridge::Clock;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::Browser;
use super::relying_party::html_escape;
use crate::saml_service_providers::{RELEASED, Sp, sp_table};
use crate::support::*;

/// The SP's entity ID (a name; pysaml2 never fetches it).
const SP_ENTITY: &str = "https://wiki.example/saml/metadata";
const RELAY_STATE: &str = "/pages/home?tab=1";

/// A form as posted: its fields in order.
type Fields = Vec<(String, String)>;

/// The SP's site: where its `/start` and `/portal` send the browser, and every form posted to
/// its `/acs`, in order.
#[derive(Clone, Default)]
struct Site {
    next: Arc<Mutex<Option<String>>>,
    /// The form `/start-post` posts to idbridge: its action and fields (HTTP-POST binding).
    form: Arc<Mutex<Option<(String, Fields)>>>,
    arrivals: Arc<Mutex<Vec<Fields>>>,
    /// Where `/acs-away` sends the browser once it has taken the form: another site.
    away: Arc<Mutex<String>>,
}

/// idbridge on `localhost` (SQLite) with the SP `wiki` declared from its metadata, and the SP's
/// site on `127.0.0.2`.
struct Setup {
    server: TestServer,
    sp: Sp,
    site: Site,
    /// The SP's address, `http://127.0.0.2:PORT`.
    base: String,
    acs: String,
    _db: TestDb,
}

impl Setup {
    async fn start() -> Setup {
        let listener = TcpListener::bind("127.0.0.2:0")
            .await
            .expect("bind 127.0.0.2");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let acs = format!("{base}/acs");
        let sp = Sp::new(json!({
            "entity_id": SP_ENTITY,
            "acs_urls": [acs, format!("{base}/acs-away")],
            "authn_requests_signed": true,
        }));
        let db = TestDb::new(Backend::Sqlite).await;
        let more = format!("allow_idp_initiated = true\n{RELEASED}");
        let config = format!("{BASE_CONFIG}{}", sp_table(&sp.metadata_file(), &more));
        let server = TestServer::start_as("localhost", &db, &config, Clock::system(), &[])
            .await
            .unwrap_or_else(|e| panic!("idbridge takes an http ACS on 127.0.0.2: {e}"));
        sp.trust(&server.base).await;
        let site = Site::default();
        let app = Router::new()
            .route("/start", get(start_page))
            .route("/portal", get(portal_page))
            .route("/acs", post(acs_page))
            .route("/start-post", get(start_post_page))
            .route("/acs-away", post(acs_away))
            .with_state(site.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Setup {
            server,
            sp,
            site,
            base,
            acs,
            _db: db,
        }
    }

    /// Where the SP's `/start` (a redirect) and `/portal` (a link) send the browser next.
    fn send_to(&self, url: &str) {
        *self.site.next.lock().unwrap() = Some(url.to_string());
    }

    fn arrivals(&self) -> usize {
        self.site.arrivals.lock().unwrap().len()
    }

    /// Waits until the browser has posted `count` forms to the SP's ACS and shows the SP's page
    /// there; returns the last form.
    async fn arrival(&self, browser: &Browser, count: usize) -> Fields {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while self.arrivals() < count {
            if tokio::time::Instant::now() > deadline {
                let url = browser.url().await;
                browser.screenshot("saml-sp-no-arrival").await;
                let text = browser.text("body").await.unwrap_or_default();
                panic!("nothing posted to the SP's ACS; the browser is at {url}, showing:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        browser.wait_at(&self.base, "/acs").await;
        assert_eq!(
            browser.text("#arrived").await.as_deref(),
            Some("arrived at the SP")
        );
        assert_eq!(self.arrivals(), count, "one post to the ACS");
        self.site.arrivals.lock().unwrap().last().unwrap().clone()
    }

    /// What pysaml2 makes of a SAMLResponse posted to the ACS, as the answer to `in_response_to`
    /// or unsolicited.
    fn judge(&self, fields: &[(String, String)], in_response_to: Option<&str>) -> Value {
        let response = field(fields, "SAMLResponse").expect("a SAMLResponse posted");
        let mut args = vec!["response", response, "--acs", &self.acs];
        if let Some(id) = in_response_to {
            args.extend(["--in-response-to", id]);
        }
        let judged = self
            .sp
            .run(&args)
            .unwrap_or_else(|refusal| panic!("pysaml2 refuses the response: {refusal}"));
        serde_json::from_str(&judged).unwrap()
    }

    /// What every Response from idbridge to this SP must say.
    fn assert_for_the_sp(&self, judged: &Value) {
        let issuer = format!("{}/saml/idp/metadata", self.server.base);
        assert!(issuer.starts_with("http://localhost:"), "{issuer}");
        assert_eq!(judged["issuer"], issuer);
        assert_eq!(judged["destination"], self.acs);
        assert_eq!(judged["audience"], json!([SP_ENTITY]));
        assert_eq!(judged["assertion_signed"], true);
        let email: Vec<&Value> = judged["raw_attributes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["name"] == "urn:oid:0.9.2342.19200300.100.1.3")
            .collect();
        assert_eq!(email.len(), 1, "{judged}");
        assert_eq!(email[0]["values"], json!([ALICE_EMAIL]));
    }
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The SP's "Sign in" button: a redirect to idbridge with the AuthnRequest.
async fn start_page(State(site): State<Site>) -> Response {
    match site.next.lock().unwrap().clone() {
        Some(url) => Redirect::to(&url).into_response(),
        None => (StatusCode::NOT_FOUND, "nothing to start").into_response(),
    }
}

/// The SP's "Sign in" over the HTTP-POST binding: a page whose script posts the AuthnRequest
/// to idbridge, a cross-site POST (which carries no `SameSite=Lax` cookie).
async fn start_post_page(State(site): State<Site>) -> Html<String> {
    let (action, fields) = site.form.lock().unwrap().clone().unwrap_or_default();
    let inputs: String = fields
        .iter()
        .map(|(name, value)| {
            format!(
                r#"<input type="hidden" name="{}" value="{}">"#,
                html_escape(name),
                html_escape(value)
            )
        })
        .collect();
    Html(format!(
        r#"<!doctype html><title>Team wiki</title>
<form id="saml" method="post" action="{}">{inputs}</form>
<script>document.getElementById("saml").submit();</script>"#,
        html_escape(&action)
    ))
}

/// An ACS that takes the form and sends the browser on to another of the SP's hosts, as many
/// SPs do.
async fn acs_away(State(site): State<Site>, Form(fields): Form<Fields>) -> Response {
    site.arrivals.lock().unwrap().push(fields);
    let away = site.away.lock().unwrap().clone();
    Redirect::to(&away).into_response()
}

/// A page of the SP's site with a link to idbridge.
async fn portal_page(State(site): State<Site>) -> Html<String> {
    let next = site.next.lock().unwrap().clone().unwrap_or_default();
    Html(format!(
        r#"<!doctype html><title>Team wiki</title>
<p><a id="go" href="{}">Sign in with idbridge</a></p>"#,
        html_escape(&next)
    ))
}

/// The SP's assertion consumer service: records the form and says where the browser is.
async fn acs_page(State(site): State<Site>, Form(fields): Form<Fields>) -> Html<String> {
    let relay_state = field(&fields, "RelayState").unwrap_or_default().to_string();
    site.arrivals.lock().unwrap().push(fields);
    Html(format!(
        r#"<!doctype html><title>Team wiki</title>
<h1 id="arrived">arrived at the SP</h1><p id="relay-state">{}</p>"#,
        html_escape(&relay_state)
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test installs it"]
async fn a_service_provider_on_another_site_gets_a_signed_assertion() {
    let setup = Setup::start().await;
    let request = setup.sp.request(&[
        "redirect",
        "--sign",
        "--acs",
        &setup.acs,
        "--relay-state",
        RELAY_STATE,
    ]);
    let id = request["id"].as_str().expect("a request ID");
    let url = request["url"].as_str().expect("a redirect URL");
    assert!(
        url.starts_with(&format!("{}/saml/idp/sso?", setup.server.base)),
        "{url}"
    );
    setup.send_to(url);
    let browser = Browser::start().await;

    // The SP sends the browser to idbridge, which asks who she is, then whether the SP may
    // know more than her address.
    browser.goto(&format!("{}/start", setup.base)).await;
    browser.wait_at(&setup.server.base, "/sso/v2/login").await;
    browser.sign_in(ALICE_EMAIL, ALICE_PASSWORD).await;
    browser
        .wait_at(&setup.server.base, "/saml/idp/consent")
        .await;
    assert!(
        browser
            .text("#page-title")
            .await
            .is_some_and(|title| title.contains("Team wiki")),
        "the consent page names the SP"
    );
    browser.click("button[value=allow]").await;

    // idbridge's page posts the response across sites, to the ACS the request named.
    let posted = setup.arrival(&browser, 1).await;
    assert_eq!(field(&posted, "RelayState"), Some(RELAY_STATE));
    assert_eq!(
        browser.text("#relay-state").await.as_deref(),
        Some(RELAY_STATE)
    );
    let judged = setup.judge(&posted, Some(id));
    assert_eq!(judged["in_response_to"], id);
    setup.assert_for_the_sp(&judged);
    let name_id = judged["name_id"].clone();
    assert!(name_id.as_str().is_some_and(|n| !n.is_empty()));
    assert_eq!(setup.server.count("consents").await, 1);

    // Signed in at idbridge now: its IdP-initiated link goes straight to the SP, no page on the
    // way.
    browser.goto(&setup.server.url("/account")).await;
    browser.wait_at(&setup.server.base, "/account").await;
    browser
        .goto(
            &setup
                .server
                .url("/saml/idp/sso/wiki?RelayState=%2Fpages%2Fnews"),
        )
        .await;
    let posted = setup.arrival(&browser, 2).await;
    assert_eq!(field(&posted, "RelayState"), Some("/pages/news"));
    let judged = setup.judge(&posted, None);
    assert_eq!(judged["in_response_to"], Value::Null);
    setup.assert_for_the_sp(&judged);
    assert_eq!(judged["name_id"], name_id, "the same person for the SP");
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test installs it"]
async fn an_idp_initiated_link_on_the_service_providers_site_signs_in_and_posts_back() {
    let setup = Setup::start().await;
    setup.send_to(
        &setup
            .server
            .url("/saml/idp/sso/wiki?RelayState=%2Fpages%2Fhome"),
    );
    let browser = Browser::start().await;

    // A link on the SP's own site to idbridge's IdP-initiated URL: not signed in yet, so
    // login and consent first, then the post back across sites.
    browser.goto(&format!("{}/portal", setup.base)).await;
    browser.click("#go").await;
    browser.wait_at(&setup.server.base, "/sso/v2/login").await;
    browser.sign_in(ALICE_EMAIL, ALICE_PASSWORD).await;
    browser
        .wait_at(&setup.server.base, "/saml/idp/consent")
        .await;
    browser.click("button[value=allow]").await;
    let posted = setup.arrival(&browser, 1).await;
    assert_eq!(field(&posted, "RelayState"), Some("/pages/home"));
    let judged = setup.judge(&posted, None);
    assert_eq!(judged["in_response_to"], Value::Null);
    setup.assert_for_the_sp(&judged);

    // Signed in: the same link again reaches the SP with no page on the way, the session
    // cookie going along on the cross-site navigation (SameSite=Lax).
    browser.goto(&format!("{}/portal", setup.base)).await;
    browser.click("#go").await;
    let again = setup.arrival(&browser, 2).await;
    let judged_again = setup.judge(&again, None);
    assert_eq!(judged_again["name_id"], judged["name_id"]);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test installs it"]
async fn a_post_binding_request_sees_the_session_and_the_sp_may_send_the_browser_on() {
    let setup = Setup::start().await;
    let elsewhere = super::Trap::start([127, 0, 0, 3], 0).await;
    *setup.site.away.lock().unwrap() = format!("{}/landed", elsewhere.base);
    let post_request = |args: &[&str]| {
        let request = setup.sp.request(args);
        let fields: Fields = request["fields"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let action = request["action"].as_str().unwrap().to_string();
        *setup.site.form.lock().unwrap() = Some((action, fields));
        request["id"].as_str().unwrap().to_string()
    };
    let browser = Browser::start().await;

    // Signed in at idbridge first.
    browser.goto(&setup.server.url("/sso/v2/login")).await;
    browser.sign_in(ALICE_EMAIL, ALICE_PASSWORD).await;
    browser.wait_at(&setup.server.base, "/account").await;

    // A POST-binding request naming the ACS that sends the browser on to another host: the
    // session is seen (no login page), consent is asked, and after the post the SP's redirect
    // to another origin is not held to idbridge's form-action.
    let away = format!("{}/acs-away", setup.base);
    let id = post_request(&["post", "--sign", "--acs", &away]);
    browser.goto(&format!("{}/start-post", setup.base)).await;
    browser
        .wait_at(&setup.server.base, "/saml/idp/consent")
        .await;
    browser.click("button[value=allow]").await;
    browser
        .wait_for_url("the SP's other host", |url| {
            url.as_str().starts_with(&elsewhere.base)
        })
        .await;
    assert_eq!(setup.arrivals(), 1);
    let posted = setup.site.arrivals.lock().unwrap()[0].clone();
    let response = field(&posted, "SAMLResponse").expect("a SAMLResponse posted");
    let judged = setup
        .sp
        .run(&[
            "response",
            response,
            "--acs",
            &away,
            "--in-response-to",
            &id,
        ])
        .unwrap_or_else(|refusal| panic!("pysaml2 refuses the response: {refusal}"));
    let judged: Value = serde_json::from_str(&judged).unwrap();
    assert_eq!(judged["in_response_to"], id.as_str());

    // A passive POST-binding request of a signed-in person gets the assertion, not NoPassive.
    let id = post_request(&["post", "--sign", "--passive", "--acs", &setup.acs]);
    browser.goto(&format!("{}/start-post", setup.base)).await;
    let posted = setup.arrival(&browser, 2).await;
    let judged = setup.judge(&posted, Some(&id));
    setup.assert_for_the_sp(&judged);
    browser.close().await;
}
