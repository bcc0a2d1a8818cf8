//! idbridge as the SAML IdP of a service provider that is not idbridge's code: pysaml2
//! (`tests/it/saml_sp.py`, with the xmlsec1 binary) writes the AuthnRequests and judges every
//! Response with its own checks (signatures against the IdP metadata idbridge serves,
//! Destination, InResponseTo, Recipient, NotOnOrAfter, Audience). The person signs in with a
//! local account, or at an upstream OpenID Connect provider (a second idbridge).
use std::path::{Path, PathBuf};

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use url::Url;

use crate::saml_idp::IdpKey;
use crate::support::*;
use crate::upstream_oidc::{Chain, DOMAINS, sign_in};

crate::backend_tests!(
    sp_initiated_logins_over_redirect_and_post,
    an_idp_initiated_login_reaches_the_sp,
    a_person_of_an_upstream_oidc_provider_reaches_the_sp,
    force_authn_asks_again_and_is_passive_never_asks,
    personal_attributes_need_consent,
    encrypted_assertions_and_signed_responses,
    hostile_requests_are_refused_and_change_nothing,
    a_key_rollover_lists_both_certificates_first,
    single_logout_goes_both_ways,
    service_providers_are_declared_at_run_time,
    metadata_from_a_url_is_read_and_refreshed,
);

const SP_ENTITY: &str = "https://sp.test/metadata";
const ACS: &str = "https://sp.test/acs";
const ACS2: &str = "https://sp.test/acs2";
const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";

/// The service provider: its keys (made now), its settings, and pysaml2 to act for it.
pub(crate) struct Sp {
    dir: tempfile::TempDir,
    signing: IdpKey,
    encryption: IdpKey,
}

impl Sp {
    /// `settings` beside the entity ID and ACS URLs (see `saml_sp.py`); its metadata says it
    /// signs its requests only when `settings` say `"authn_requests_signed": true`.
    pub(crate) fn new(settings: Value) -> Sp {
        let sp = Sp {
            dir: tempfile::tempdir().unwrap(),
            signing: IdpKey::generate(),
            encryption: IdpKey::generate(),
        };
        let mut all = json!({
            "entity_id": SP_ENTITY,
            "acs_urls": [ACS, ACS2],
            "authn_requests_signed": false,
        });
        all.as_object_mut()
            .unwrap()
            .extend(settings.as_object().unwrap().clone());
        sp.write("settings.json", &all.to_string());
        sp.write("sp-key.pem", &sp.signing.key_pem());
        sp.write("sp-cert.pem", &sp.signing.cert_pem());
        sp.write("sp-enc-key.pem", &sp.encryption.key_pem());
        sp.write("sp-enc-cert.pem", &sp.encryption.cert_pem());
        sp
    }

    /// Sets the SP's clock this far ahead of the system's (as idbridge's test clock is).
    fn set_clock_offset(&self, seconds: i64) {
        let path = self.path("settings.json");
        let mut settings: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        settings["clock_offset_seconds"] = json!(seconds);
        self.write("settings.json", &settings.to_string());
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(name), text).unwrap();
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Its metadata, written where a `[[service_providers]]` table can name it.
    pub(crate) fn metadata_file(&self) -> PathBuf {
        let metadata = self.run(&["metadata"]).expect("SP metadata");
        self.write("sp-metadata.xml", &metadata);
        self.path("sp-metadata.xml")
    }

    /// Takes idbridge's IdP metadata, as an SP administrator pastes it.
    pub(crate) async fn trust(&self, base: &str) {
        let response = reqwest::get(format!("{base}/saml/idp/metadata"))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        self.write("idp-metadata.xml", &response.text().await.unwrap());
    }

    /// A new AuthnRequest: `{"id", "url"}` (redirect) or `{"id", "action", "fields"}` (post).
    pub(crate) fn request(&self, args: &[&str]) -> Value {
        let mut all = vec!["request"];
        all.extend(args);
        serde_json::from_str(&self.run(&all).expect("an AuthnRequest")).unwrap()
    }

    /// What pysaml2 makes of a posted SAMLResponse, or why it refuses it.
    fn judge(&self, posted: &Posted, in_response_to: Option<&str>) -> Result<Value, String> {
        let mut args = vec!["response", posted.field("SAMLResponse")];
        if let Some(id) = in_response_to {
            args.extend(["--in-response-to", id]);
        }
        self.run(&args)
            .map(|json| serde_json::from_str(&json).unwrap())
    }

    /// A LogoutRequest of this SP's (`{"id", "url"}`, HTTP-Redirect) naming the person and
    /// session as its assertion `judged` did; `more`: `--relay-state R`, `--unsigned`.
    pub(crate) fn logout_request(&self, judged: &Value, more: &[&str]) -> Value {
        let mut args = vec![
            "logout-request",
            judged["name_id"].as_str().unwrap(),
            judged["name_id_format"].as_str().unwrap(),
            judged["session_index"].as_str().unwrap(),
        ];
        args.extend(more);
        serde_json::from_str(&self.run(&args).expect("a LogoutRequest")).unwrap()
    }

    /// What pysaml2 makes of the LogoutResponse at `url` answering `request` (as made by
    /// [`Sp::logout_request`]).
    pub(crate) fn logout_response(&self, url: &str, request: &Value) -> Value {
        let id = request["id"].as_str().unwrap();
        let answer = self.run(&["logout-response", url, "--in-response-to", id]);
        serde_json::from_str(&answer.expect("a LogoutResponse pysaml2 takes")).unwrap()
    }

    /// What pysaml2 makes of the LogoutRequest idbridge sent in a frame to `url`.
    pub(crate) fn logout_received(&self, url: &str) -> Value {
        let received = self.run(&["logout-received", url]);
        serde_json::from_str(&received.expect("a LogoutRequest pysaml2 takes")).unwrap()
    }

    pub(crate) fn run(&self, args: &[&str]) -> Result<String, String> {
        let output = python_script("saml_sp.py")
            .arg(self.dir.path())
            .args(args)
            .output()
            .expect("the test python runs");
        if output.status.success() {
            Ok(String::from_utf8(output.stdout).unwrap())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
        }
    }
}

/// A `[[service_providers]]` table for the SP's metadata file, with `more` keys.
pub(crate) fn sp_table(metadata: &Path, more: &str) -> String {
    format!(
        r#"
[[service_providers]]
id = "wiki"
name = "Team wiki"
metadata = "{}"
name_id_format = "persistent"
{more}
"#,
        metadata.display()
    )
}

/// The email and the organisations, released to every SP of these tests.
pub(crate) const RELEASED: &str = r#"
[[service_providers.attributes]]
name = "urn:oid:0.9.2342.19200300.100.1.3"
value = "email"
format = "uri"
[[service_providers.attributes]]
name = "attached_to"
value = "attached_to.path"
"#;

/// The name, which needs the person's consent.
const RELEASED_NAME: &str = r#"
[[service_providers.attributes]]
name = "displayName"
value = "name"
"#;

/// What idbridge posted to an ACS.
#[derive(Debug)]
struct Posted {
    action: String,
    fields: Vec<(String, String)>,
}

impl Posted {
    fn field(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} posted"))
    }

    fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|(n, _)| n == name)
    }
}

/// Where a walk ended.
#[derive(Debug)]
enum End {
    Posted(Posted),
    Page(StatusCode, String),
}

impl End {
    fn posted(self) -> Posted {
        match self {
            End::Posted(posted) => posted,
            End::Page(status, page) => panic!("no post to the SP: {status} {page}"),
        }
    }
}

/// Follows the browser from `start` through idbridge (and an upstream), until idbridge posts to
/// an ACS or shows a page. Alice signs in at the login page of `home` (a base URL); at another
/// login page the link to the connection `partner` is followed. Consent pages are answered with
/// `allow`.
async fn walk(http: &Client, start: &str, home: &str, allow: bool) -> End {
    let mut next = Url::parse(start).unwrap();
    for _ in 0..20 {
        let response = http.get(next.as_str()).send().await.unwrap();
        let status = response.status();
        if status.is_redirection() {
            next = next.join(&location(&response).unwrap()).unwrap();
            continue;
        }
        let page = response.text().await.unwrap();
        if let Some(posted) = form_post(&page) {
            return End::Posted(posted);
        }
        let at_home = next.as_str().starts_with(home);
        next = match next.path() {
            "/sso/v2/login" if status == StatusCode::OK && at_home => {
                sign_in(http, &next, &page).await
            }
            "/sso/v2/login" if status == StatusCode::OK && page.contains("/oidc/partner/login") => {
                let link = texts_attr(&page, "a[href*='/oidc/partner/login']", "href");
                next.join(&link).unwrap()
            }
            "/sso/v2/consent" | "/saml/idp/consent" if status == StatusCode::OK => {
                match decide(http, &next, &page, allow).await {
                    Ok(url) => url,
                    Err(end) => return end,
                }
            }
            _ => return End::Page(status, page),
        };
    }
    panic!("too many steps");
}

fn texts_attr(html: &str, selector: &str, attribute: &str) -> String {
    let document = scraper::Html::parse_document(html);
    let selector = scraper::Selector::parse(selector).unwrap();
    document
        .select(&selector)
        .next()
        .and_then(|element| element.value().attr(attribute))
        .unwrap_or_else(|| panic!("no {selector:?} on the page"))
        .to_string()
}

/// The auto-posting form idbridge answers with, if the page is one.
fn form_post(page: &str) -> Option<Posted> {
    let document = scraper::Html::parse_document(page);
    let form = document
        .select(&scraper::Selector::parse("form#form-post").unwrap())
        .next()?;
    let inputs = scraper::Selector::parse("input").unwrap();
    Some(Posted {
        action: form.value().attr("action").unwrap().to_string(),
        fields: form
            .select(&inputs)
            .map(|input| {
                let value = input.value();
                (
                    value.attr("name").unwrap().to_string(),
                    value.attr("value").unwrap_or_default().to_string(),
                )
            })
            .collect(),
    })
}

/// Answers a consent page; a post that answers at once (a refusal to the SP) ends the walk.
async fn decide(http: &Client, page_url: &Url, page: &str, allow: bool) -> Result<Url, End> {
    let response = http
        .post(page_url.join(page_url.path()).unwrap())
        .form(&[
            ("csrf", form_value(page, "csrf").unwrap().as_str()),
            ("id", &form_value(page, "id").unwrap()),
            ("decision", if allow { "allow" } else { "deny" }),
        ])
        .send()
        .await
        .unwrap();
    if response.status() == StatusCode::OK && !response.headers().contains_key("refresh") {
        let page = response.text().await.unwrap();
        return Err(form_post(&page).map_or(End::Page(StatusCode::OK, page), End::Posted));
    }
    assert_continues(&response);
    Ok(page_url.join(&location(&response).unwrap()).unwrap())
}

/// The request sent to idbridge: its redirect URL fetched, or its form posted.
async fn submit(http: &Client, request: &Value) -> reqwest::Response {
    if let Some(url) = request["url"].as_str() {
        return http.get(url).send().await.unwrap();
    }
    let fields: Vec<(String, String)> = request["fields"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let action = request["action"].as_str().unwrap();
    http.post(action).form(&fields).send().await.unwrap()
}

/// Sends `request` and walks on (see [`walk`]).
async fn login(http: &Client, request: &Value, home: &str, allow: bool) -> End {
    let response = submit(http, request).await;
    // A POST-binding request is answered with the page that moves on (see `sso_post`).
    if response.status().is_redirection() || response.headers().contains_key("refresh") {
        let next = response.url().join(&location(&response).unwrap()).unwrap();
        return walk(http, next.as_str(), home, allow).await;
    }
    let status = response.status();
    let page = response.text().await.unwrap();
    form_post(&page).map_or(End::Page(status, page), End::Posted)
}

async fn start(db: &TestDb, sp: &Sp, more: &str) -> TestServer {
    let config = format!("{BASE_CONFIG}{}", sp_table(&sp.metadata_file(), more));
    let server = TestServer::start(db, &config).await;
    sp.trust(&server.base).await;
    server
}

fn raw_attribute(judged: &Value, name: &str) -> Vec<String> {
    judged["raw_attributes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["name"] == name)
        .flat_map(|a| a["values"].as_array().unwrap().clone())
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

async fn sp_initiated_logins_over_redirect_and_post(backend: Backend) {
    let db = TestDb::new(backend).await;
    let sp = Sp::new(json!({"name_id_format": PERSISTENT, "authn_requests_signed": true}));
    let server = start(&db, &sp, RELEASED).await;
    let mut name_ids = Vec::new();
    for (binding, acs) in [("redirect", ACS), ("post", ACS2)] {
        let http = browser();
        let request = sp.request(&[
            binding,
            "--sign",
            "--acs",
            acs,
            "--relay-state",
            "back/to?x=1",
        ]);
        let id = request["id"].as_str().unwrap();
        let posted = login(&http, &request, &server.base, true).await.posted();
        assert_eq!(posted.action, acs, "{binding}: the ACS the request named");
        assert_eq!(posted.field("RelayState"), "back/to?x=1", "{binding}");
        let judged = sp.judge(&posted, Some(id)).unwrap();
        assert_eq!(judged["in_response_to"], id);
        assert_eq!(judged["assertion_signed"], true);
        assert_eq!(judged["name_id_format"], PERSISTENT);
        assert_eq!(judged["audience"], json!([SP_ENTITY]));
        assert_eq!(
            judged["issuer"],
            format!("{}/saml/idp/metadata", server.base)
        );
        assert_eq!(
            raw_attribute(&judged, "urn:oid:0.9.2342.19200300.100.1.3"),
            [ALICE_EMAIL]
        );
        assert_eq!(
            raw_attribute(&judged, "attached_to"),
            ["/PSPName", "/PSPName/DivisionName/MerchantName"]
        );
        assert!(
            judged["session_index"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
        let name_id = judged["name_id"].as_str().unwrap().to_string();
        assert!(!name_id.contains("alice") && !name_id.contains("u-alice"));
        name_ids.push(name_id);

        // The same request again is a replay: a page, no post.
        let again = submit(&http, &request).await;
        assert_eq!(again.status(), StatusCode::BAD_REQUEST, "{binding}");
        assert!(form_post(&again.text().await.unwrap()).is_none());
    }
    assert_eq!(name_ids[0], name_ids[1], "a persistent NameID stays");
}

async fn an_idp_initiated_login_reaches_the_sp(backend: Backend) {
    let db = TestDb::new(backend).await;
    let sp = Sp::new(json!({}));
    let server = start(&db, &sp, &format!("allow_idp_initiated = true\n{RELEASED}")).await;
    let http = browser();
    let start = server.url("/saml/idp/sso/wiki?RelayState=%2Fpages%2Fhome");
    let posted = walk(&http, &start, &server.base, true).await.posted();
    assert_eq!(posted.action, ACS, "the default ACS");
    assert_eq!(posted.field("RelayState"), "/pages/home");
    let judged = sp.judge(&posted, None).unwrap();
    assert_eq!(judged["in_response_to"], Value::Null);
    // Signed in now: the next one goes straight to the SP, and is as good.
    let again = walk(&http, &server.url("/saml/idp/sso/wiki"), &server.base, true)
        .await
        .posted();
    assert!(!again.has("RelayState"));
    let judged_again = sp.judge(&again, None).unwrap();
    assert_eq!(judged_again["name_id"], judged["name_id"]);
    // As a request: pysaml2 refuses an unsolicited response where it waits for an answer.
    let refused = sp.judge(&posted, Some("_never-asked")).unwrap_err();
    assert!(refused.contains("Unsolicited"), "{refused}");

    // Unknown SPs and SPs that do not take them: a page.
    for path in ["/saml/idp/sso/nobody", "/saml/idp/sso/..%2Fwiki"] {
        let response = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
    }
}

async fn a_person_of_an_upstream_oidc_provider_reaches_the_sp(backend: Backend) {
    let sp = Sp::new(json!({"name_id_format": PERSISTENT}));
    let keys = format!("{DOMAINS}\n{}", sp_table(&sp.metadata_file(), RELEASED));
    let chain = Chain::start_with(backend, false, &keys, "").await;
    sp.trust(&chain.a.base).await;
    let http = browser();
    let request = sp.request(&["redirect", "--sign"]);
    let posted = login(&http, &request, &chain.b_base, true).await.posted();
    let judged = sp.judge(&posted, request["id"].as_str()).unwrap();
    assert_eq!(
        raw_attribute(&judged, "urn:oid:0.9.2342.19200300.100.1.3"),
        [ALICE_EMAIL]
    );
    // The connection attaches its people to the division.
    assert_eq!(
        raw_attribute(&judged, "attached_to"),
        ["/PSPName/DivisionName"]
    );
}

async fn force_authn_asks_again_and_is_passive_never_asks(backend: Backend) {
    let db = TestDb::new(backend).await;
    let sp = Sp::new(json!({}));
    let server = start(&db, &sp, RELEASED).await;
    let http = browser();
    const NOWHERE: &str = "http://nowhere.test";

    // Not signed in: a passive request is answered NoPassive, at once.
    let passive = sp.request(&["redirect", "--passive"]);
    let posted = login(&http, &passive, NOWHERE, true).await.posted();
    let refused = sp.judge(&posted, passive["id"].as_str()).unwrap_err();
    assert!(refused.starts_with("StatusNoPassive"), "{refused}");

    let request = sp.request(&["post"]);
    login(&http, &request, &server.base, true).await.posted();
    // Signed in: a passive request is answered with the assertion, and no page on the way.
    let passive = sp.request(&["redirect", "--passive"]);
    let posted = login(&http, &passive, NOWHERE, true).await.posted();
    let judged = sp.judge(&posted, passive["id"].as_str()).unwrap();

    // ForceAuthn: the password again, although signed in.
    let forced = sp.request(&["redirect", "--force"]);
    let End::Page(StatusCode::OK, page) = login(&http, &forced, NOWHERE, true).await else {
        panic!("ForceAuthn shows the login page");
    };
    assert!(page.contains("name=\"password\""), "the login page");
    let forced = sp.request(&["post", "--force"]);
    let posted = login(&http, &forced, &server.base, true).await.posted();
    let again = sp.judge(&posted, forced["id"].as_str()).unwrap();
    assert_eq!(again["name_id"], judged["name_id"]);
}

async fn personal_attributes_need_consent(backend: Backend) {
    let db = TestDb::new(backend).await;
    let sp = Sp::new(json!({}));
    let server = start(&db, &sp, &format!("{RELEASED}{RELEASED_NAME}")).await;
    let http = browser();
    let deny = false;
    let request = sp.request(&["redirect"]);
    let posted = login(&http, &request, &server.base, deny).await.posted();
    let refused = sp.judge(&posted, request["id"].as_str()).unwrap_err();
    assert!(refused.starts_with("StatusRequestDenied"), "{refused}");
    assert_eq!(server.count("consents").await, 0);

    let request = sp.request(&["redirect"]);
    let posted = login(&http, &request, &server.base, true).await.posted();
    let judged = sp.judge(&posted, request["id"].as_str()).unwrap();
    assert_eq!(raw_attribute(&judged, "displayName"), ["Alice Example"]);
    assert_eq!(server.count("consents").await, 1);
    // Given once: not asked again.
    let request = sp.request(&["redirect"]);
    let posted = login(&http, &request, "http://nowhere.test", deny)
        .await
        .posted();
    sp.judge(&posted, request["id"].as_str()).unwrap();
}

async fn encrypted_assertions_and_signed_responses(backend: Backend) {
    let db = TestDb::new(backend).await;
    let sp = Sp::new(json!({"want_response_signed": true}));
    let server = start(
        &db,
        &sp,
        &format!("encrypt_assertions = true\nsign = \"both\"\nsignature_algorithm = \"ecdsa-sha256\"\n{RELEASED}"),
    )
    .await;
    let http = browser();
    let request = sp.request(&["post", "--sign"]);
    let posted = login(&http, &request, &server.base, true).await.posted();
    assert!(!posted.field("SAMLResponse").is_empty());
    let judged = sp.judge(&posted, request["id"].as_str()).unwrap();
    assert_eq!(judged["encrypted"], true);
    assert_eq!(judged["response_signed"], true);
    assert_eq!(judged["assertion_signed"], true);
    assert_eq!(
        raw_attribute(&judged, "urn:oid:0.9.2342.19200300.100.1.3"),
        [ALICE_EMAIL]
    );
    // Encrypted to the SP's encryption key, not its signing key.
    sp.write("sp-enc-key.pem", &sp.signing.key_pem());
    let refused = sp.judge(&posted, request["id"].as_str()).unwrap_err();
    assert!(refused.contains("Refused"), "{refused}");
}

async fn hostile_requests_are_refused_and_change_nothing(backend: Backend) {
    let db = TestDb::new(backend).await;
    let sp = Sp::new(json!({}));
    let server = start(&db, &sp, &format!("requests_signed = true\n{RELEASED}")).await;
    let http = browser();
    let signed = sp.request(&["redirect", "--sign", "--relay-state", "r"]);
    let url = Url::parse(signed["url"].as_str().unwrap()).unwrap();
    let query = url.query().unwrap().to_string();
    let sso = server.url("/saml/idp/sso");
    let unsigned = sp.request(&["redirect"]);
    let unsigned_post = sp.request(&["post"]);
    let other_acs = sp.request(&["redirect", "--sign", "--acs", "https://evil.test/acs"]);
    let bad_xml: Vec<(&str, String)> = vec![
        ("not base64", "SAMLRequest=%%%".into()),
        ("nothing", String::new()),
        (
            "a DTD",
            format!(
                "SAMLRequest={}",
                pages_deflate(
                    r#"<!DOCTYPE x [<!ENTITY a "aaaa">]><samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_x" Version="2.0"/>"#
                )
            ),
        ),
        (
            "too large",
            format!("SAMLRequest={}", pages_deflate(&"<a>".repeat(40_000))),
        ),
    ];
    let mut attempts: Vec<(String, String)> = vec![
        (
            "a changed RelayState".into(),
            format!("{sso}?{}", query.replace("RelayState=r", "RelayState=s")),
        ),
        (
            "no signature".into(),
            unsigned["url"].as_str().unwrap().to_string(),
        ),
        (
            "an unregistered ACS".into(),
            other_acs["url"].as_str().unwrap().to_string(),
        ),
    ];
    attempts.extend(
        bad_xml
            .into_iter()
            .map(|(why, query)| (why.to_string(), format!("{sso}?{query}"))),
    );
    for (why, url) in attempts {
        let response = http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{why}");
        let page = response.text().await.unwrap();
        assert!(form_post(&page).is_none(), "{why}: nothing is posted");
    }
    // An unsigned POST from an SP that must sign.
    let fields: Vec<(String, String)> = unsigned_post["fields"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let response = http.post(&sso).form(&fields).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "unsigned POST");
    // IdP-initiated logins are for the SPs declared to take them.
    let response = http
        .get(server.url("/saml/idp/sso/wiki"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "not unsolicited"
    );
    // An SP no one declared.
    let stranger = Sp::new(json!({}));
    stranger.trust(&server.base).await;
    let foreign = stranger.request(&["redirect"]);
    let response = http
        .get(foreign["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "unknown SP");
    // Refusals store nothing: no spent request ID, no session.
    assert_eq!(server.count("saml_assertions").await, 0);
    assert_eq!(server.count("sessions").await, 0);
    // The genuine request still goes through, once.
    let posted = login(&http, &signed, &server.base, true).await.posted();
    sp.judge(&posted, signed["id"].as_str()).unwrap();
    assert_eq!(server.count("saml_assertions").await, 1);
}

/// `xml` as the HTTP-Redirect binding carries it (deflated, base64, URL-encoded).
fn pages_deflate(xml: &str) -> String {
    use std::io::Write;
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(xml.as_bytes()).unwrap();
    let deflated = encoder.finish().unwrap();
    url::form_urlencoded::byte_serialize(
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, deflated).as_bytes(),
    )
    .collect()
}

/// The certificates `metadata` lists for signing.
fn signing_certificates(metadata: &str) -> Vec<String> {
    metadata
        .split("<ds:X509Certificate>")
        .skip(1)
        .map(|rest| rest.split('<').next().unwrap().to_string())
        .collect()
}

async fn a_key_rollover_lists_both_certificates_first(backend: Backend) {
    let db = TestDb::new(backend).await;
    let sp = Sp::new(json!({}));
    let config = format!(
        "{}{}",
        BASE_CONFIG.replace(
            "id_token_alg = \"EdDSA\"",
            "id_token_alg = \"EdDSA\"\nrotate_after = \"1h\"\nsaml_rotate_after = \"3h\"\nsaml_publish_before = \"2h\""
        ),
        sp_table(&sp.metadata_file(), "allow_idp_initiated = true")
    );
    let server = TestServer::start(&db, &config).await;
    let metadata = || async {
        reqwest::get(server.url("/saml/idp/metadata"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let before = metadata().await;
    assert_eq!(signing_certificates(&before).len(), 1);
    // An SP that imported the metadata once, and one that imports it again after a change.
    let pinned = Sp::new(json!({}));
    pinned.write("idp-metadata.xml", &before);
    sp.write("idp-metadata.xml", &before);
    let http = browser();
    let sign_in_at = |offset: i64| {
        let (sp, pinned, http, base) = (&sp, &pinned, &http, server.base.clone());
        async move {
            sp.set_clock_offset(offset);
            pinned.set_clock_offset(offset);
            let posted = walk(http, &format!("{base}/saml/idp/sso/wiki"), &base, true)
                .await
                .posted();
            (sp.judge(&posted, None), pinned.judge(&posted, None))
        }
    };
    let (fresh, old) = sign_in_at(0).await;
    fresh.unwrap();
    old.unwrap();

    // The ID-token keys rotate on their own: the SAML key stays, and is not in JWKS. (The SP's
    // clock follows idbridge's only within a day: pysaml2 reads the system time in places.)
    server.clock.advance(3600 + 1);
    idbridge::rotate_keys(&server.state).await.unwrap();
    assert_eq!(metadata().await, before);
    let jwks: Value = reqwest::get(server.url("/sso/v2/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["kty"] == "OKP"),
        "only the EdDSA ID-token keys: {jwks}"
    );

    // Past saml_rotate_after: the successor is listed, after the key that still signs.
    let rotated = 3 * 3600 + 1;
    server.clock.advance(rotated - 3601);
    idbridge::rotate_keys(&server.state).await.unwrap();
    let during = metadata().await;
    let certificates = signing_certificates(&during);
    assert_eq!(certificates.len(), 2);
    assert_eq!(certificates[0], signing_certificates(&before)[0]);
    sp.write("idp-metadata.xml", &during);
    let (fresh, old) = sign_in_at(rotated).await;
    fresh.unwrap();
    old.unwrap();

    // saml_publish_before on, the successor signs: listed first; the SP that took the metadata
    // again verifies it, the one that kept the old certificate does not.
    server.clock.advance(2 * 3600 + 1);
    idbridge::rotate_keys(&server.state).await.unwrap();
    let after = signing_certificates(&metadata().await);
    assert_eq!(after[0], certificates[1]);
    let (fresh, old) = sign_in_at(rotated + 2 * 3600 + 1).await;
    fresh.unwrap();
    assert!(old.unwrap_err().contains("SignatureError"));
}

async fn service_providers_are_declared_at_run_time(backend: Backend) {
    use crate::admin::{ADMIN_CONFIG, OPS_SECRET, ops};
    let db = TestDb::new(backend).await;
    let sp = Sp::new(json!({}));
    let server = TestServer::start_with(
        &db,
        &format!("{BASE_CONFIG}{ADMIN_CONFIG}"),
        idbridge::Clock::system(),
        &[("OPS_SECRET", OPS_SECRET), ("SHOP_SECRET", SHOP_SECRET)],
    )
    .await
    .unwrap();
    // No service provider, no IdP (and no key for it yet).
    let response = reqwest::get(server.url("/saml/idp/metadata"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let metadata = std::fs::read_to_string(sp.metadata_file()).unwrap();
    // Each refused, named by its field, and nothing stored.
    let refusals = [
        (json!({"id": "wiki", "metadata": "/etc/passwd"}), "metadata"),
        (json!({"id": "shop", "metadata_xml": metadata}), "id"),
        (
            json!({"id": "wiki", "metadata_xml": "<not-metadata/>"}),
            "metadata_xml",
        ),
        (
            json!({"id": "wiki", "metadata_xml": metadata, "name_id_format": "x500"}),
            "name_id_format",
        ),
    ];
    for (body, field) in refusals {
        let answer = ops(&server)
            .post("/admin/v1/service_providers", Some(body))
            .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{field}: {}",
            answer.json
        );
        assert_eq!(answer.json["field"], field, "{}", answer.json);
    }
    assert_eq!(server.count("declarations").await, 0);
    let declared = json!({
        "id": "wiki",
        "name": "Team wiki",
        "metadata_xml": metadata,
        "attributes": [{"name": "mail", "value": "email"}],
    });
    let answer = ops(&server)
        .post("/admin/v1/service_providers", Some(declared))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.json);
    let listed = ops(&server).get("/admin/v1/service_providers").await;
    assert_eq!(listed.status, StatusCode::OK);
    assert!(
        listed.json.to_string().contains(SP_ENTITY),
        "{}",
        listed.json
    );
    sp.trust(&server.base).await;

    let http = browser();
    let request = sp.request(&["redirect"]);
    let posted = login(&http, &request, &server.base, true).await.posted();
    let judged = sp.judge(&posted, request["id"].as_str()).unwrap();
    assert_eq!(raw_attribute(&judged, "mail"), [ALICE_EMAIL]);

    // A consent holds for the SP and what it is given: a change of either asks again, a new
    // display name does not.
    let redeclare = |change: Value, etag: Option<String>| {
        let mut body = json!({"id": "wiki", "name": "Team wiki", "metadata_xml": metadata});
        body.as_object_mut()
            .unwrap()
            .extend(change.as_object().unwrap().clone());
        let server = &server;
        async move {
            let answer = ops(server)
                .put("/admin/v1/service_providers/wiki", body, etag.as_deref())
                .await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.json);
            answer.etag
        }
    };
    let named =
        json!([{"name": "mail", "value": "email"}, {"name": "displayName", "value": "name"}]);
    let etag = redeclare(json!({"attributes": named}), answer.etag.clone()).await;
    let request = sp.request(&["redirect"]);
    login(&http, &request, &server.base, true).await.posted();
    assert_eq!(server.count("consents").await, 1);
    let etag = redeclare(json!({"attributes": named, "name": "The wiki"}), etag).await;
    assert_eq!(
        server.count("consents").await,
        1,
        "the same SP, given the same"
    );
    let more = json!([{"name": "mail", "value": "email"}, {"name": "displayName", "value": "name"}, {"name": "sn", "value": "family_name"}]);
    redeclare(json!({"attributes": more}), etag).await;
    assert_eq!(server.count("consents").await, 0, "given more: asked again");

    let answer = ops(&server)
        .delete("/admin/v1/service_providers/wiki")
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.json);
    let request = sp.request(&["redirect"]);
    let End::Page(status, _) = login(&http, &request, &server.base, true).await else {
        panic!("a deleted SP gets no post");
    };
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// A signed request of `sp`'s walked to its ACS, where pysaml2 takes the answer.
async fn signed_login(http: &Client, sp: &Sp, base: &str) {
    let request = sp.request(&["redirect", "--sign"]);
    let posted = login(http, &request, base, true).await.posted();
    sp.judge(&posted, request["id"].as_str()).unwrap();
}

/// The status of the page a refused redirect-binding `request` gets; nothing is posted.
async fn refused(http: &Client, request: &Value) -> StatusCode {
    let response = http
        .get(request["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert!(form_post(&response.text().await.unwrap()).is_none());
    status
}

async fn metadata_from_a_url_is_read_and_refreshed(backend: Backend) {
    use crate::admin::{ADMIN_CONFIG, OPS_SECRET, ops};
    use crate::upstream_saml::metadata_server;
    use std::sync::{Arc, Mutex};
    let db = TestDb::new(backend).await;
    // Its metadata says it signs its requests, and carries the certificate they verify with.
    let sp = Sp::new(json!({"authn_requests_signed": true}));
    let served = Arc::new(Mutex::new(sp.run(&["metadata"]).unwrap()));
    let url = metadata_server(served.clone()).await;
    let config = |url: &str| {
        format!(
            "{BASE_CONFIG}{ADMIN_CONFIG}\n[[service_providers]]\nid = \"wiki\"\nmetadata_url = \"{url}\"\nentity_id = \"{SP_ENTITY}\"\n{RELEASED}"
        )
    };
    let env = [("OPS_SECRET", OPS_SECRET), ("SHOP_SECRET", SHOP_SECRET)];
    // An SP of the file whose metadata cannot be read does not stop the start (one application
    // must not take the IdP down): it takes no request, and nothing is stored.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/metadata", listener.local_addr().unwrap())
    };
    let unread = TestServer::start_with(&db, &config(&closed), idbridge::Clock::system(), &env)
        .await
        .unwrap();
    sp.trust(&unread.base).await;
    let http = browser();
    let request = sp.request(&["redirect", "--sign"]);
    assert_eq!(
        refused(&http, &request).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(unread.count("saml_assertions").await, 0);
    unread.stop().await;
    let server = TestServer::start_with(&db, &config(&url), idbridge::Clock::system(), &env)
        .await
        .unwrap();
    sp.trust(&server.base).await;
    // Read at start: its certificate verifies its requests, and unsigned ones are refused.
    signed_login(&http, &sp, &server.base).await;
    let unsigned = sp.request(&["redirect"]);
    assert_eq!(refused(&http, &unsigned).await, StatusCode::BAD_REQUEST);

    // The SP rolls its key over. What was read holds until the metadata is read again.
    let rolled = Sp::new(json!({"authn_requests_signed": true}));
    rolled.trust(&server.base).await;
    *served.lock().unwrap() = rolled.run(&["metadata"]).unwrap();
    let early = rolled.request(&["redirect", "--sign"]);
    assert_eq!(refused(&http, &early).await, StatusCode::BAD_REQUEST);
    let answer = ops(&server)
        .post("/admin/v1/service_providers/wiki/refresh", None)
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.json);
    signed_login(&http, &rolled, &server.base).await;
    let old_key = sp.request(&["redirect", "--sign"]);
    assert_eq!(refused(&http, &old_key).await, StatusCode::BAD_REQUEST);

    // Metadata of another SP, or none: refused, and what was read before stays.
    let stranger = Sp::new(json!({"entity_id": "https://other.test/metadata"}));
    for (metadata, why) in [
        (stranger.run(&["metadata"]).unwrap(), "names the entity ID"),
        ("<not-metadata/>".to_string(), "has no entityID"),
    ] {
        *served.lock().unwrap() = metadata;
        let answer = ops(&server)
            .post("/admin/v1/service_providers/wiki/refresh", None)
            .await;
        assert_eq!(answer.status, StatusCode::BAD_GATEWAY, "{why}");
        assert!(
            answer.json["message"].as_str().unwrap().contains(why),
            "{}",
            answer.json
        );
    }
    signed_login(&http, &rolled, &server.base).await;
    let spent = server.count("saml_assertions").await;

    // A run-time SP whose metadata cannot be read yet: made, with a warning, and it takes no
    // request (a page, nothing stored) until its metadata is read.
    let crm = Sp::new(json!({"entity_id": "https://crm.test/metadata"}));
    let crm_served = Arc::new(Mutex::new(String::new()));
    let crm_url = metadata_server(crm_served.clone()).await;
    let answer = ops(&server)
        .post(
            "/admin/v1/service_providers",
            Some(json!({"id": "crm", "metadata_url": crm_url, "entity_id": "https://crm.test/metadata"})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.json);
    assert_eq!(answer.json["metadata_url"], crm_url.as_str());
    let crm_etag = answer.etag.clone();
    assert!(
        answer.json["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("not SAML metadata")),
        "{}",
        answer.json
    );
    crm.trust(&server.base).await;
    let unread = crm.request(&["redirect"]);
    assert_eq!(
        refused(&http, &unread).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(server.count("saml_assertions").await, spent);
    *crm_served.lock().unwrap() = crm.run(&["metadata"]).unwrap();
    let answer = ops(&server)
        .post("/admin/v1/service_providers/crm/refresh", None)
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.json);
    let request = crm.request(&["redirect"]);
    let posted = login(&http, &request, &server.base, true).await.posted();
    crm.judge(&posted, request["id"].as_str()).unwrap();
    // A change of its declaration that keeps its URL and entity ID keeps what was read, even
    // while the metadata cannot be read again.
    *crm_served.lock().unwrap() = String::new();
    let renamed = json!({"id": "crm", "name": "CRM", "metadata_url": crm_url, "entity_id": "https://crm.test/metadata"});
    let changed = ops(&server)
        .put(
            "/admin/v1/service_providers/crm",
            renamed,
            crm_etag.as_deref(),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.json);
    let request = crm.request(&["redirect"]);
    let posted = login(&http, &request, &server.base, true).await.posted();
    crm.judge(&posted, request["id"].as_str()).unwrap();
    let answer = ops(&server)
        .post("/admin/v1/service_providers/nobody/refresh", None)
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
}

/// A self-signed certificate (PEM) of a new P-256 key.
fn ec_certificate_pem() -> String {
    use openssl::{asn1::Asn1Time, ec, hash::MessageDigest, nid::Nid, pkey::PKey, x509};
    let group = ec::EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(ec::EcKey::generate(&group).unwrap()).unwrap();
    let mut builder = x509::X509Builder::new().unwrap();
    builder.set_pubkey(&key).unwrap();
    builder
        .set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    builder.sign(&key, MessageDigest::sha256()).unwrap();
    String::from_utf8(builder.build().to_pem().unwrap()).unwrap()
}

#[test]
fn service_provider_problems_name_their_keys() {
    let rsa = IdpKey::generate().cert_pem();
    let ec = ec_certificate_pem();
    let cases = [
        (
            format!("id = \"Shop\"\nentity_id = \"https://a.test\"\nacs_urls = [\"{ACS}\"]"),
            "service_providers[0].id: a client has this id",
        ),
        (
            format!(
                "id = \"a\"\nentity_id = \"https://a.test\"\nacs_urls = [\"{ACS}\"]\nrequests_signed = true"
            ),
            "service_providers[0].requests_signed: needs the SP's signing certificate",
        ),
        (
            format!(
                "id = \"a\"\nentity_id = \"https://a.test\"\nacs_urls = [\"{ACS}\"]\nencryption_certificate = '''{ec}'''\nencrypt_assertions = true"
            ),
            "service_providers[0].encrypt_assertions: the SP's encryption certificate must hold an RSA key",
        ),
        (
            format!(
                "id = \"a\"\nentity_id = \"https://a.test\"\nacs_urls = [\"{ACS}\"]\nencrypt_assertions = true"
            ),
            "service_providers[0].encrypt_assertions: needs the SP's encryption certificate",
        ),
        (
            "id = \"a\"\nentity_id = \"https://a.test\"\nacs_urls = [\"javascript:alert(1)\"]"
                .into(),
            "service_providers[0].acs_urls[0]:",
        ),
        (
            "id = \"a\"\nacs_urls = [\"https://a.test/acs\"]".into(),
            "service_providers[0].entity_id: required",
        ),
        (
            format!(
                "id = \"a\"\nmetadata_xml = \"<x/>\"\nentity_id = \"https://a.test\"\ncertificate = '''{rsa}'''"
            ),
            "service_providers[0]: give one of metadata",
        ),
        (
            "id = \"a\"\nmetadata_url = \"https://a.test/metadata\"".into(),
            "service_providers[0].entity_id: required with metadata_url",
        ),
        (
            "id = \"a\"\nmetadata_url = \"http://a.test/metadata\"\nentity_id = \"https://a.test\""
                .into(),
            "service_providers[0].metadata_url: must be an https URL",
        ),
        (
            "id = \"a\"\nmetadata_url = \"https://u:p@a.test/metadata\"\nentity_id = \"https://a.test\""
                .into(),
            "service_providers[0].metadata_url: must not carry user information",
        ),
        (
            format!(
                "id = \"a\"\nmetadata_url = \"https://a.test/metadata\"\nentity_id = \"https://a.test\"\nacs_urls = [\"{ACS}\"]"
            ),
            "service_providers[0]: give one of metadata",
        ),
        (
            format!(
                "id = \"a\"\nentity_id = \"https://a.test\"\nacs_urls = [\"{ACS}\"]\nsign = \"nothing\"\nsignature_algorithm = \"rsa-sha1\"\nname_id_format = \"x500\"\n[[service_providers.attributes]]\nname = \"n\"\nvalue = \"password\"\nformat = \"weird\""
            ),
            "service_providers[0].attributes[0].value: must be one of email",
        ),
    ];
    for (table, expected) in cases {
        let text = format!("{BASE_CONFIG}\n[[service_providers]]\n{table}\n");
        let problems = config_problems(&text, &[("SHOP_SECRET", SHOP_SECRET)]);
        assert!(
            problems.iter().any(|p| p.starts_with(expected)),
            "{expected}: {problems:?}"
        );
    }
}

/// The `src` of every front-channel frame on a sign-out page.
fn frame_sources(page: &str) -> Vec<String> {
    let document = scraper::Html::parse_document(page);
    let frames = scraper::Selector::parse("iframe.frontchannel").unwrap();
    document
        .select(&frames)
        .filter_map(|frame| frame.value().attr("src"))
        .map(str::to_string)
        .collect()
}

async fn single_logout_goes_both_ways(backend: Backend) {
    let db = TestDb::new(backend).await;
    let sp = Sp::new(json!({"slo_url": "https://sp.test/slo", "name_id_format": PERSISTENT}));
    // A second SP, which shares the person's session in the last part.
    let crm = Sp::new(json!({
        "entity_id": "https://crm.test/metadata",
        "acs_urls": ["https://crm.test/acs"],
        "slo_url": "https://crm.test/slo",
    }));
    let crm_table = format!(
        "{RELEASED}\n[[service_providers]]\nid = \"crm\"\nmetadata = \"{}\"\n",
        crm.metadata_file().display()
    );
    let server = start(&db, &sp, &crm_table).await;
    crm.trust(&server.base).await;
    let http = browser();
    let sign_in = || async {
        let request = sp.request(&["redirect"]);
        let posted = login(&http, &request, &server.base, true).await.posted();
        sp.judge(&posted, request["id"].as_str()).unwrap()
    };

    // The SP asks: the session it names ends, and the browser goes back with the answer.
    let judged = sign_in().await;
    let logout = sp.logout_request(&judged, &["--relay-state", "bye"]);
    let unsigned = sp.logout_request(&judged, &["--unsigned"]);
    let refused = http
        .get(unsigned["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "unsigned");
    assert_eq!(
        server.count("sessions").await,
        1,
        "an unsigned request ends nothing"
    );
    let response = http
        .get(logout["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let back = location(&response).unwrap();
    assert!(back.starts_with("https://sp.test/slo?"), "{back}");
    let answer = sp.logout_response(&back, &logout);
    assert_eq!(
        answer["status"],
        "urn:oasis:names:tc:SAML:2.0:status:Success"
    );
    assert_eq!(answer["relay_state"], "bye");
    assert_eq!(server.count("sessions").await, 0);
    let account = http.get(server.url("/account")).send().await.unwrap();
    assert!(account.status().is_redirection(), "signed out at idbridge");
    // The same request again is a replay.
    let again = http
        .get(logout["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);

    // A sign-out at idbridge: its page tells the SP, in a frame, with a signed request naming
    // the person and the session as the assertion did.
    let judged = sign_in().await;
    let csrf = server.csrf_token(&http, "/account").await;
    let response = http
        .post(server.url("/sso/v2/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let frames = frame_sources(&response.text().await.unwrap());
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert!(frames[0].starts_with("https://sp.test/slo?SAMLRequest="));
    let received = sp.logout_received(&frames[0]);
    assert_eq!(received["name_id"], judged["name_id"]);
    assert_eq!(received["session_index"], judged["session_index"]);
    assert_eq!(
        received["issuer"],
        format!("{}/saml/idp/metadata", server.base)
    );
    assert_eq!(server.count("sessions").await, 0);

    // The SP asks while another SP shares the session: the other is told in a frame of a page
    // that then takes the browser back to the SP that asked, with its answer.
    let judged = sign_in().await;
    let crm_request = crm.request(&["redirect"]);
    let crm_posted = login(&http, &crm_request, &server.base, true)
        .await
        .posted();
    let crm_judged = crm.judge(&crm_posted, crm_request["id"].as_str()).unwrap();
    let logout = sp.logout_request(&judged, &["--relay-state", "later"]);
    let response = http
        .get(logout["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    let frames = frame_sources(&page);
    assert_eq!(frames.len(), 1, "only the other SP: {frames:?}");
    assert!(frames[0].starts_with("https://crm.test/slo?SAMLRequest="));
    let received = crm.logout_received(&frames[0]);
    assert_eq!(received["name_id"], crm_judged["name_id"]);
    assert_eq!(received["session_index"], judged["session_index"]);
    let back = texts_attr(&page, "#continue", "href");
    assert!(back.starts_with("https://sp.test/slo?"), "{back}");
    let answer = sp.logout_response(&back, &logout);
    assert_eq!(answer["relay_state"], "later");
    assert_eq!(server.count("sessions").await, 0);
}
