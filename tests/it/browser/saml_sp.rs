//! idbridge as the SAML IdP of a service provider on another site: the SP answers on
//! `127.0.0.2` while idbridge is `localhost`. The SP sends the browser to idbridge with a signed
//! AuthnRequest (HTTP-Redirect); the person signs in, allows, and idbridge's page posts the
//! assertion to the SP's ACS by script (HTTP-POST), under its `form-action` policy. pysaml2
//! (`tests/it/saml_sp.py`) judges what arrived, as in `saml_service_providers`.
//!
//! Single logout crosses sites too: idbridge's sign-out page loads each SP's SingleLogoutService
//! in a hidden frame (under a `frame-src` of exactly those origins), and an SP's LogoutRequest
//! is answered by the same page, which tells the session's other SPs in frames, then sends the
//! browser back with the LogoutResponse. A second SP, `crm`, answers on `127.0.0.3`.
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Form, OriginalUri, State};
use axum::http::{HeaderMap, StatusCode, header};
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
/// The second SP's, in the single logout tests.
const CRM_ENTITY: &str = "https://crm.example/saml/metadata";
const RELAY_STATE: &str = "/pages/home?tab=1";

/// A form as posted: its fields in order.
type Fields = Vec<(String, String)>;

/// The SP's site: where its `/start`, `/portal` and `/account` send the browser, every form
/// posted to its `/acs` and every request to its `/slo`, in order.
#[derive(Clone, Default)]
struct Site {
    next: Arc<Mutex<Option<String>>>,
    /// The form `/start-post` posts to idbridge: its action and fields (HTTP-POST binding).
    form: Arc<Mutex<Option<(String, Fields)>>>,
    arrivals: Arc<Mutex<Vec<Fields>>>,
    /// Where `/acs-away` sends the browser once it has taken the form: another site.
    away: Arc<Mutex<String>>,
    /// The address its site answers on, `http://127.0.0.2:PORT`.
    base: String,
    slo: Arc<Mutex<Vec<SloHit>>>,
}

/// A request to the SP's SingleLogoutService, as its site received it.
#[derive(Clone, Debug)]
struct SloHit {
    /// The URL asked for, with its query (`SAMLRequest` or `SAMLResponse`, `SigAlg`, ...).
    url: String,
    /// How the browser says it loads the page (`Sec-Fetch-Dest`: `iframe`, `document`).
    dest: Option<String>,
    user_agent: Option<String>,
    /// The cookies that came along (the SP's session cookie, set at its ACS).
    cookie: Option<String>,
    at: Instant,
}

impl SloHit {
    fn has(&self, parameter: &str) -> bool {
        url::Url::parse(&self.url)
            .unwrap()
            .query_pairs()
            .any(|(name, _)| name == parameter)
    }
}

/// The SP's session cookie, set at its ACS: `SameSite=Lax`, as most SPs' are.
const SP_COOKIE: &str = "sp_session=signed-in";

/// Binds an SP's site on `ip`, before idbridge starts: its address goes in the SP's metadata.
async fn bind(ip: [u8; 4]) -> (TcpListener, Site) {
    let listener = TcpListener::bind((std::net::Ipv4Addr::from(ip), 0))
        .await
        .unwrap_or_else(|e| panic!("bind {ip:?}: {e}"));
    let site = Site {
        base: format!("http://{}", listener.local_addr().unwrap()),
        ..Site::default()
    };
    (listener, site)
}

/// Serves the SP's pages on its listener.
fn serve(listener: TcpListener, site: &Site) {
    let app = Router::new()
        .route("/start", get(start_page))
        .route("/account", get(account_page))
        .route("/portal", get(portal_page))
        .route("/acs", post(acs_page))
        .route("/start-post", get(start_post_page))
        .route("/acs-away", post(acs_away))
        .route("/slo", get(slo_page))
        .with_state(site.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
}

impl Site {
    /// Where its `/start` (a redirect), `/portal` and `/account` (links) send the browser next.
    fn send_to(&self, url: &str) {
        *self.next.lock().unwrap() = Some(url.to_string());
    }

    fn arrivals(&self) -> usize {
        self.arrivals.lock().unwrap().len()
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
        self.arrivals.lock().unwrap().last().unwrap().clone()
    }

    /// Every request its `/slo` received, in order.
    fn slo_hits(&self) -> Vec<SloHit> {
        self.slo.lock().unwrap().clone()
    }
}

/// A second SP, `crm`, on its own site.
struct Crm {
    sp: Sp,
    site: Site,
    acs: String,
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
    /// The second SP, in the single logout tests.
    crm: Option<Crm>,
    _db: TestDb,
}

impl Setup {
    async fn start() -> Setup {
        Setup::start_with(false).await
    }

    /// Both SPs with a SingleLogoutService (HTTP-Redirect) at their site's `/slo`: `wiki` on
    /// `127.0.0.2` and `crm` on `127.0.0.3`.
    async fn with_single_logout() -> Setup {
        Setup::start_with(true).await
    }

    async fn start_with(single_logout: bool) -> Setup {
        let (listener, site) = bind([127, 0, 0, 2]).await;
        let base = site.base.clone();
        let acs = format!("{base}/acs");
        let mut settings = json!({
            "entity_id": SP_ENTITY,
            "acs_urls": [acs, format!("{base}/acs-away")],
            "authn_requests_signed": true,
        });
        let mut more = format!("allow_idp_initiated = true\n{RELEASED}");
        let mut crm = None;
        if single_logout {
            settings["slo_url"] = json!(format!("{base}/slo"));
            let (crm_listener, crm_site) = bind([127, 0, 0, 3]).await;
            let crm_acs = format!("{}/acs", crm_site.base);
            let crm_sp = Sp::new(json!({
                "entity_id": CRM_ENTITY,
                "acs_urls": [crm_acs],
                "authn_requests_signed": true,
                "slo_url": format!("{}/slo", crm_site.base),
            }));
            // Persistent NameIDs: idbridge tells no SP given transient ones (it does not keep
            // them).
            more.push_str(&format!(
                "\n[[service_providers]]\nid = \"crm\"\nname = \"CRM\"\nmetadata = \"{}\"\n\
                 name_id_format = \"persistent\"\n",
                crm_sp.metadata_file().display()
            ));
            serve(crm_listener, &crm_site);
            crm = Some(Crm {
                sp: crm_sp,
                site: crm_site,
                acs: crm_acs,
            });
        }
        let sp = Sp::new(settings);
        let db = TestDb::new(Backend::Sqlite).await;
        let config = format!("{BASE_CONFIG}{}", sp_table(&sp.metadata_file(), &more));
        let server = TestServer::start_as("localhost", &db, &config, Clock::system(), &[])
            .await
            .unwrap_or_else(|e| panic!("idbridge takes http SP URLs on 127.0.0.2/3: {e}"));
        sp.trust(&server.base).await;
        if let Some(crm) = &crm {
            crm.sp.trust(&server.base).await;
        }
        serve(listener, &site);
        Setup {
            server,
            sp,
            site,
            base,
            acs,
            crm,
            _db: db,
        }
    }

    fn crm(&self) -> &Crm {
        self.crm.as_ref().expect("a setup with single logout")
    }

    /// Where the SP's `/start` (a redirect), `/portal` and `/account` (links) send the browser
    /// next.
    fn send_to(&self, url: &str) {
        self.site.send_to(url);
    }

    fn arrivals(&self) -> usize {
        self.site.arrivals()
    }

    /// Waits until the browser has posted `count` forms to the SP's ACS and shows the SP's page
    /// there; returns the last form.
    async fn arrival(&self, browser: &Browser, count: usize) -> Fields {
        self.site.arrival(browser, count).await
    }

    /// What pysaml2 makes of a SAMLResponse posted to the ACS, as the answer to `in_response_to`
    /// or unsolicited.
    fn judge(&self, fields: &[(String, String)], in_response_to: Option<&str>) -> Value {
        judge(&self.sp, &self.acs, fields, in_response_to)
    }

    /// Alice signs in to the SP from its site (a signed AuthnRequest, HTTP-Redirect) and allows
    /// it her data; what pysaml2 makes of the assertion that reached its ACS.
    async fn sign_in_to_wiki(&self, browser: &Browser) -> Value {
        let request = self.sp.request(&["redirect", "--sign", "--acs", &self.acs]);
        self.send_to(request["url"].as_str().unwrap());
        browser.goto(&format!("{}/start", self.base)).await;
        browser.wait_at(&self.server.base, "/sso/v2/login").await;
        browser.sign_in(ALICE_EMAIL, ALICE_PASSWORD).await;
        browser
            .wait_at(&self.server.base, "/saml/idp/consent")
            .await;
        browser.click("button[value=allow]").await;
        let posted = self.arrival(browser, 1).await;
        let judged = self.judge(&posted, request["id"].as_str());
        self.assert_for_the_sp(&judged);
        judged
    }

    /// idbridge's entity ID, the Issuer of its messages.
    fn idp_entity(&self) -> String {
        format!("{}/saml/idp/metadata", self.server.base)
    }

    /// The browser's session at idbridge is over: none is left, and the account page sends it
    /// to the login page.
    async fn assert_signed_out(&self, browser: &Browser) {
        assert_eq!(self.server.count("sessions").await, 0);
        browser.goto(&self.server.url("/account")).await;
        browser.wait_at(&self.server.base, "/sso/v2/login").await;
        assert!(browser.has("#email").await, "the login form");
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

/// What the SP `sp`'s pysaml2 makes of a SAMLResponse posted to its ACS `acs`.
fn judge(sp: &Sp, acs: &str, fields: &[(String, String)], in_response_to: Option<&str>) -> Value {
    let response = field(fields, "SAMLResponse").expect("a SAMLResponse posted");
    let mut args = vec!["response", response, "--acs", acs];
    if let Some(id) = in_response_to {
        args.extend(["--in-response-to", id]);
    }
    let judged = sp
        .run(&args)
        .unwrap_or_else(|refusal| panic!("pysaml2 refuses the response: {refusal}"));
    serde_json::from_str(&judged).unwrap()
}

/// Runs the SP's pysaml2 `command` and reads its JSON, or fails with its refusal.
fn pysaml2(sp: &Sp, command: &[&str]) -> Value {
    let out = sp
        .run(command)
        .unwrap_or_else(|refusal| panic!("pysaml2 refuses ({}): {refusal}", command[0]));
    serde_json::from_str(&out).unwrap()
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

/// The SP's own account page, with a "Sign out" link to idbridge: following it is a cross-site
/// navigation (the SP's origin its initiator), unlike a redirect from an address typed in.
async fn account_page(State(site): State<Site>) -> Html<String> {
    let next = site.next.lock().unwrap().clone().unwrap_or_default();
    Html(format!(
        r#"<!doctype html><title>Team wiki</title>
<p><a id="sign-out" href="{}">Sign out</a></p>"#,
        html_escape(&next)
    ))
}

/// The SP's assertion consumer service: records the form, starts the SP's own session (a
/// cookie) and says where the browser is.
async fn acs_page(State(site): State<Site>, Form(fields): Form<Fields>) -> impl IntoResponse {
    let relay_state = field(&fields, "RelayState").unwrap_or_default().to_string();
    site.arrivals.lock().unwrap().push(fields);
    (
        [(
            header::SET_COOKIE,
            format!("{SP_COOKIE}; Path=/; HttpOnly; SameSite=Lax"),
        )],
        Html(format!(
            r#"<!doctype html><title>Team wiki</title>
<h1 id="arrived">arrived at the SP</h1><p id="relay-state">{}</p>"#,
            html_escape(&relay_state)
        )),
    )
}

/// The SP's SingleLogoutService (HTTP-Redirect): records what came and how, and says so. A real
/// SP would end its session of the NameID and SessionIndex the request names.
async fn slo_page(
    State(site): State<Site>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Html<&'static str> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    site.slo.lock().unwrap().push(SloHit {
        url: format!("{}{uri}", site.base),
        dest: header("sec-fetch-dest"),
        user_agent: header("user-agent"),
        cookie: header("cookie"),
        at: Instant::now(),
    });
    Html(r#"<!doctype html><title>Team wiki</title><h1 id="slo">signed out at the SP</h1>"#)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test installs it"]
async fn a_sign_out_at_idbridge_tells_the_service_provider_in_a_frame() {
    let setup = Setup::with_single_logout().await;
    let browser = Browser::start().await;
    let judged = setup.sign_in_to_wiki(&browser).await;

    // She signs out on idbridge's account page. Its answer is a page that loads the SP's
    // logout service in a hidden frame (another site: allowed by the page's `frame-src`), and
    // then moves on to the login page, which says she is signed out.
    browser.goto(&setup.server.url("/account")).await;
    browser.click("form[action='/sso/v2/logout'] button").await;
    browser.wait_at(&setup.server.base, "/sso/v2/login").await;
    assert_eq!(
        browser.text("p.notice").await.as_deref(),
        Some("You are signed out.")
    );
    let hits = setup.site.slo_hits();
    assert_eq!(
        hits.len(),
        1,
        "the SP's logout service loaded once: {hits:?}"
    );
    let hit = &hits[0];
    assert!(
        hit.url
            .starts_with(&format!("{}/slo?SAMLRequest=", setup.base)),
        "{hit:?}"
    );
    // Loaded by Chromium, in a frame.
    assert_eq!(hit.dest.as_deref(), Some("iframe"), "{hit:?}");
    assert!(
        hit.user_agent
            .as_deref()
            .is_some_and(|agent| agent.contains("HeadlessChrome")),
        "{hit:?}"
    );
    // A frame of another site gets none of the SP's `SameSite=Lax` cookies: the SP can find the
    // session only by what the request names.
    assert_eq!(hit.cookie, None, "{hit:?}");
    let received = pysaml2(&setup.sp, &["logout-received", &hit.url]);
    assert_eq!(received["name_id"], judged["name_id"]);
    assert_eq!(received["name_id_format"], judged["name_id_format"]);
    assert_eq!(received["session_index"], judged["session_index"]);
    assert_eq!(received["issuer"], setup.idp_entity());
    assert_eq!(received["destination"], format!("{}/slo", setup.base));
    // The other SP had no part in the session: it is told nothing.
    assert!(setup.crm().site.slo_hits().is_empty());
    setup.assert_signed_out(&browser).await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test installs it"]
async fn a_logout_request_tells_the_other_service_provider_in_a_frame_and_answers() {
    let setup = Setup::with_single_logout().await;
    let crm = setup.crm();
    let browser = Browser::start().await;
    let judged = setup.sign_in_to_wiki(&browser).await;

    // Then the CRM, on a third site: signed in at idbridge already, and given only her address
    // (no consent), the browser goes straight back to its ACS.
    let request = crm.sp.request(&["redirect", "--sign", "--acs", &crm.acs]);
    crm.site.send_to(request["url"].as_str().unwrap());
    browser.goto(&format!("{}/start", crm.site.base)).await;
    let posted = crm.site.arrival(&browser, 1).await;
    let crm_judged = judge(&crm.sp, &crm.acs, &posted, request["id"].as_str());
    assert_eq!(crm_judged["audience"], json!([CRM_ENTITY]));
    assert_eq!(
        crm_judged["session_index"], judged["session_index"],
        "one session at idbridge"
    );
    assert_ne!(
        crm_judged["name_id"], judged["name_id"],
        "a persistent NameID of her own for each SP"
    );

    // The wiki's "Sign out" link takes the browser to idbridge with its LogoutRequest: a
    // cross-site navigation, which carries idbridge's `SameSite=Lax` session cookie (a `Strict`
    // one would stay behind, and idbridge would not know the browser's session and its other
    // SPs). idbridge ends the session, tells the CRM in a frame of its page, then sends the
    // browser back to the wiki with the LogoutResponse.
    let relay_state = "/pages/signed-out?from=wiki";
    let logout = pysaml2(
        &setup.sp,
        &[
            "logout-request",
            judged["name_id"].as_str().unwrap(),
            judged["name_id_format"].as_str().unwrap(),
            judged["session_index"].as_str().unwrap(),
            "--relay-state",
            relay_state,
        ],
    );
    let logout_id = logout["id"].as_str().unwrap();
    setup.send_to(logout["url"].as_str().unwrap());
    browser.goto(&format!("{}/account", setup.base)).await;
    browser.click("#sign-out").await;
    let back = browser.wait_at(&setup.base, "/slo").await;
    assert_eq!(
        browser.text("#slo").await.as_deref(),
        Some("signed out at the SP")
    );

    // The CRM's logout service was loaded by Chromium in a frame, with a LogoutRequest for the
    // person as the CRM knows her, and the session.
    let crm_hits = crm.site.slo_hits();
    assert_eq!(crm_hits.len(), 1, "{crm_hits:?}");
    let told = &crm_hits[0];
    assert!(told.has("SAMLRequest"), "{told:?}");
    assert_eq!(told.dest.as_deref(), Some("iframe"), "{told:?}");
    assert_eq!(told.cookie, None, "a cross-site frame: {told:?}");
    let received = pysaml2(&crm.sp, &["logout-received", &told.url]);
    assert_eq!(received["name_id"], crm_judged["name_id"]);
    assert_eq!(received["session_index"], judged["session_index"]);
    assert_eq!(received["issuer"], setup.idp_entity());
    assert_eq!(received["destination"], format!("{}/slo", crm.site.base));

    // The wiki, which asked, is not sent a LogoutRequest: it gets its answer, at the top level
    // (with its own session cookie, so that it can end its session), after the CRM's frame.
    let hits = setup.site.slo_hits();
    assert_eq!(hits.len(), 1, "only the answer: {hits:?}");
    let answer = &hits[0];
    assert_eq!(answer.url, back.as_str());
    assert!(answer.has("SAMLResponse"), "{answer:?}");
    assert_eq!(answer.dest.as_deref(), Some("document"), "{answer:?}");
    assert_eq!(answer.cookie.as_deref(), Some(SP_COOKIE), "{answer:?}");
    assert!(
        told.at < answer.at,
        "the frame loaded before the page moved on"
    );
    let judged_answer = pysaml2(
        &setup.sp,
        &[
            "logout-response",
            &answer.url,
            "--in-response-to",
            logout_id,
        ],
    );
    assert_eq!(
        judged_answer["status"],
        "urn:oasis:names:tc:SAML:2.0:status:Success"
    );
    assert_eq!(judged_answer["relay_state"], relay_state);
    assert_eq!(judged_answer["issuer"], setup.idp_entity());
    assert_eq!(judged_answer["destination"], format!("{}/slo", setup.base));
    setup.assert_signed_out(&browser).await;
    browser.close().await;
}
