//! SAML connections, against a test IdP ([`crate::saml_idp`]) that signs real responses with a
//! key made at test time.
use std::io::Read;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Client, StatusCode};
use serde_json::json;
use url::Url;

use crate::oidc::{PROVIDER_CONFIG, RP_SECRET, authorize_url, redeem};
use crate::saml_idp::*;
use crate::support::*;
use crate::webhooks::{
    ALL_EVENTS, Answer, Receiver, WEBHOOK_SECRET, check_payload, webhook_config,
};

const IDP_SSO: &str = "https://idp.acme.test/sso";
pub(crate) const ACME_EMAIL: &str = "alice@acme.test";
/// Of a domain no connection lists, which `acme-direct` (without `domains`) may assert.
const DIRECT_EMAIL: &str = "alice@direct.test";

/// Connection `acme`: people of `acme.test` sign in at the IdP whose sign-in page is `idp_sso`
/// and whose certificate is `cert`.
pub(crate) fn acme_connection(cert: &str, idp_sso: &str) -> String {
    format!(
        r#"
[[connections]]
id = "acme"
type = "saml"
name = "Acme SSO"
entity = "e-mer-1"
domains = ["acme.test"]
idp_entity_id = "{IDP_ENTITY}"
idp_sso_url = "{idp_sso}"
idp_certificate = "{cert}"
attributes = {{ name = "displayName" }}
"#
    )
}

/// Connections `acme` (with `acme_extra` among its keys) and `acme-direct` of the IdP whose
/// certificate is `cert`.
fn bridge_config(cert: &str, acme_extra: &str) -> String {
    format!(
        r#"{BASE_CONFIG}{PROVIDER_CONFIG}{acme}{acme_extra}
[[connections]]
id = "acme-direct"
type = "saml"
entity = "e-mer-1"
idp_entity_id = "{IDP_ENTITY}"
idp_sso_url = "{IDP_SSO}"
idp_certificate = ["{cert}"]
allow_idp_initiated = true
max_response_bytes = 1048576
"#,
        acme = acme_connection(cert, IDP_SSO),
    )
}

pub(crate) struct Setup {
    pub server: TestServer,
    pub idp: IdpKey,
    _db: TestDb,
}

impl Setup {
    pub(crate) async fn start(backend: Backend) -> Setup {
        Setup::start_with(backend, "", &[]).await
    }

    /// Starts with `extra` appended to the config and `extra_env` set.
    async fn start_with(backend: Backend, extra: &str, extra_env: &[(&str, &str)]) -> Setup {
        Setup::start_configured(backend, "", extra, extra_env).await
    }

    /// Starts with `acme_extra` among the keys of connection `acme`, `extra` appended to the
    /// config and `extra_env` set.
    pub(crate) async fn start_configured(
        backend: Backend,
        acme_extra: &str,
        extra: &str,
        extra_env: &[(&str, &str)],
    ) -> Setup {
        let db = TestDb::new(backend).await;
        let idp = IdpKey::generate();
        let mut env = vec![("RP_SECRET", RP_SECRET)];
        env.extend_from_slice(extra_env);
        let server = TestServer::start_with(
            &db,
            &format!("{}{extra}", bridge_config(&idp.cert_b64, acme_extra)),
            idbridge::Clock::system(),
            &env,
        )
        .await
        .unwrap();
        Setup {
            server,
            idp,
            _db: db,
        }
    }

    pub(crate) fn acs(&self, connection: &str) -> String {
        self.server.url(&format!("/saml/{connection}/acs"))
    }

    /// An unsolicited response for `acme-direct`, which allows IdP-initiated logins.
    fn direct_spec(&self) -> Spec {
        let mut spec = self.spec(None);
        spec.name_id = DIRECT_EMAIL.into();
        spec.audience = self.server.url("/saml/acme-direct");
        spec.recipient = self.acs("acme-direct");
        spec.destination = self.acs("acme-direct");
        spec
    }

    /// A response for a login started with `request_id`, valid for connection `acme`.
    pub(crate) fn spec(&self, request_id: Option<&str>) -> Spec {
        acme_spec(&self.server.base, request_id)
    }

    /// Users, sessions, upstream identities and spent assertions.
    pub(crate) async fn counts(&self) -> [i64; 4] {
        [
            self.server.count("users").await,
            self.server.count("sessions").await,
            self.server.count("upstream_identities").await,
            self.server.count("saml_assertions").await,
        ]
    }
}

/// Alice's answer from the IdP to idbridge at `base` for a login started with `request_id`, valid
/// for connection `acme`.
pub(crate) fn acme_spec(base: &str, request_id: Option<&str>) -> Spec {
    let acs = format!("{base}/saml/acme/acs");
    Spec {
        in_response_to: request_id.map(str::to_string),
        name_id: ACME_EMAIL.into(),
        display_name: "Alice Acme".into(),
        issuer: IDP_ENTITY.into(),
        audience: format!("{base}/saml/acme"),
        recipient: acs.clone(),
        destination: acs,
        status: SUCCESS.into(),
        not_before: -60,
        not_on_or_after: 300,
        signed: Signed::Assertion,
    }
}

/// Where the IdP was asked to sign in: the AuthnRequest's ID and where it wants the answer, and
/// the RelayState.
pub(crate) struct Outstanding {
    /// The URL of the IdP's sign-in page the browser was sent to.
    pub url: Url,
    pub request_id: String,
    pub acs_url: String,
    pub relay_state: String,
}

impl Outstanding {
    /// What an IdP reads from the URL of its sign-in page (HTTP-Redirect binding: the
    /// AuthnRequest deflated and base64-encoded in `SAMLRequest`, and `RelayState`).
    pub(crate) fn read(url: &Url) -> Outstanding {
        let query = |name: &str| param(url, name).unwrap_or_else(|| panic!("no {name} in {url}"));
        let deflated = STANDARD.decode(query("SAMLRequest")).unwrap();
        let mut request = String::new();
        flate2::read::DeflateDecoder::new(&deflated[..])
            .read_to_string(&mut request)
            .unwrap();
        let attribute = |name: &str| {
            let at = request.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            request[at..at + request[at..].find('"').unwrap()].to_string()
        };
        Outstanding {
            url: url.clone(),
            request_id: first_id(&request),
            acs_url: attribute("AssertionConsumerServiceURL"),
            relay_state: query("RelayState"),
        }
    }
}

/// Follows a browser to the IdP and reads the AuthnRequest it carries.
pub(crate) async fn to_idp(base: &str, http: &Client, url: &str) -> Outstanding {
    let mut next = url.to_string();
    loop {
        let response = http.get(&next).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "GET {next}");
        let location = Url::parse(base)
            .unwrap()
            .join(&location(&response).unwrap())
            .unwrap();
        if location.as_str().starts_with(IDP_SSO) {
            let outstanding = Outstanding::read(&location);
            assert_eq!(outstanding.acs_url, format!("{base}/saml/acme/acs"));
            return outstanding;
        }
        next = location.to_string();
    }
}

/// The first `ID` attribute's value in `xml`.
fn first_id(xml: &str) -> String {
    let at = xml.find(" ID=\"").unwrap() + 5;
    xml[at..at + xml[at..].find('"').unwrap()].to_string()
}

/// Starts a login at connection `acme` that ends at `/account`.
pub(crate) async fn start(setup: &Setup, http: &Client) -> Outstanding {
    to_idp(
        &setup.server.base,
        http,
        &setup.server.url("/saml/acme/login?return_to=/account"),
    )
    .await
}

/// Posts a SAMLResponse to an ACS as the IdP's auto-submitted form does.
pub(crate) async fn post_acs(
    http: &Client,
    acs: &str,
    saml_response: &str,
    relay_state: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![("SAMLResponse", saml_response)];
    form.extend(relay_state.map(|r| ("RelayState", r)));
    http.post(acs).form(&form).send().await.unwrap()
}

crate::backend_tests!(
    a_relying_party_signs_in_through_the_saml_idp,
    signed_on_the_response_or_on_both_is_accepted,
    a_saml_login_is_announced,
    idp_initiated_only_where_allowed,
    an_unsigned_response_is_refused,
    a_response_signed_by_another_key_is_refused,
    a_tampered_name_id_is_refused,
    a_tampered_attribute_is_refused,
    tampered_conditions_are_refused,
    an_unsigned_assertion_beside_the_signed_one_is_refused,
    an_unsigned_assertion_inside_the_signed_one_is_refused,
    a_signed_assertion_moved_aside_is_refused,
    a_comment_in_the_name_id_is_refused,
    two_assertions_are_refused,
    a_wrong_audience_is_refused,
    a_wrong_recipient_is_refused,
    a_wrong_destination_is_refused,
    a_wrong_issuer_is_refused,
    an_address_of_another_domain_is_refused,
    an_address_another_connection_claims_or_a_local_account_holds_is_refused,
    an_expired_assertion_is_refused,
    an_assertion_not_yet_valid_is_refused,
    an_external_entity_is_refused_and_not_fetched,
    an_entity_expansion_bomb_is_refused,
    an_oversize_or_malformed_body_is_refused,
    the_largest_allowed_response_fits_the_acs,
    an_assertion_signs_in_once,
    a_refused_answer_leaves_the_login_to_the_genuine_one,
    an_acs_that_fails_stores_nothing,
    a_non_success_status_is_told_plainly,
    the_sp_metadata_describes_the_connection,
    idp_metadata_with_two_certificates_verifies_either,
    authn_requests_are_signed_when_the_connection_has_a_key,
    idp_metadata_is_fetched_from_its_url_and_refreshed,
    a_costly_signature_transform_is_refused_at_once,
    signatures_of_another_shape_are_refused,
    a_response_in_another_encoding_is_refused,
    every_audience_restriction_must_name_us,
    posts_from_one_address_are_limited,
);

async fn a_relying_party_signs_in_through_the_saml_idp(backend: Backend) {
    let setup = Setup::start(backend).await;
    let server = &setup.server;
    let browser = server.client();
    let outstanding = to_idp(
        &server.base,
        &browser,
        &authorize_url(server, "rp-rs256", &[("login_hint", ACME_EMAIL)]),
    )
    .await;
    let response = setup
        .idp
        .response(&setup.spec(Some(&outstanding.request_id)));
    // The IdP's POST is cross-site: it arrives without the browser's cookies.
    let acs = post_acs(
        &Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        &setup.acs("acme"),
        &encode(&response),
        Some(&outstanding.relay_state),
    )
    .await;
    assert_eq!(acs.status(), StatusCode::SEE_OTHER);
    let resume = location(&acs).unwrap();
    assert!(resume.starts_with("/saml/acme/resume?token="), "{resume}");
    // The browser that started the login picks it up and goes on to consent and the client.
    let mut next = server.url(&resume);
    let back = loop {
        if next.starts_with("https://rp.example.com/") {
            break Url::parse(&next).unwrap();
        }
        let response = browser.get(&next).send().await.unwrap();
        if response.status() == StatusCode::OK {
            let page = response.text().await.unwrap();
            let form = [
                ("csrf", form_value(&page, "csrf").unwrap()),
                ("id", form_value(&page, "id").unwrap()),
                ("decision", "allow".to_string()),
            ];
            let decided = browser
                .post(server.url("/sso/v2/consent"))
                .form(&form)
                .send()
                .await
                .unwrap();
            let base = Url::parse(&server.base).unwrap();
            next = base.join(&location(&decided).unwrap()).unwrap().to_string();
            continue;
        }
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "GET {next}");
        let location = location(&response).unwrap();
        if location.starts_with("https://rp.example.com/") {
            break Url::parse(&location).unwrap();
        }
        next = server.url(&location);
    };
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    let (status, tokens) = redeem(server, "rp-rs256", &code).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let claims = userinfo(server, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["name"], "Alice Acme");
    assert_eq!(
        claims["attached_to"],
        json!([{
            "path": "/PSPName/DivisionName/MerchantName",
            "level": "MERCHANT",
            "entityId": "e-mer-1"
        }])
    );
}

/// Signs in at connection `acme` with a response signed as `signed`; the status of the resume.
async fn sign_in(setup: &Setup, signed: Signed) -> StatusCode {
    sign_in_with(setup, |spec| {
        let mut spec = spec.clone();
        spec.signed = signed;
        setup.idp.response(&spec)
    })
    .await
}

/// Signs in at connection `acme` with the response `make` writes for a login's spec; the
/// status of the resume.
pub(crate) async fn sign_in_with(setup: &Setup, make: impl Fn(&Spec) -> String) -> StatusCode {
    let browser = setup.server.client();
    let outstanding = start(setup, &browser).await;
    let spec = setup.spec(Some(&outstanding.request_id));
    let acs = post_acs(
        &browser,
        &setup.acs("acme"),
        &encode(&make(&spec)),
        Some(&outstanding.relay_state),
    )
    .await;
    if acs.status() != StatusCode::SEE_OTHER {
        return acs.status();
    }
    let resumed = browser
        .get(setup.server.url(&location(&acs).unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&resumed).as_deref(), Some("/account"));
    resumed.status()
}

/// A first login through a SAML IdP creates the user and starts a session: webhooks hear of both,
/// the login with the connection's id.
async fn a_saml_login_is_announced(backend: Backend) {
    let receiver = Receiver::start(&[], Answer::Accept).await;
    let setup = Setup::start_with(
        backend,
        &webhook_config(&receiver.url, ALL_EVENTS, ""),
        &[("WEBHOOK_SECRET", WEBHOOK_SECRET)],
    )
    .await;
    assert_eq!(
        sign_in(&setup, Signed::Assertion).await,
        StatusCode::SEE_OTHER
    );
    receiver
        .wait_for(10, "two notifications", |r| r.len() >= 2)
        .await;
    let mut payloads = receiver.accepted_payloads();
    payloads.sort_by_key(|p| p["meta"]["type"].as_str().unwrap().to_string());
    let kinds: Vec<&str> = payloads
        .iter()
        .map(|p| p["meta"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["ProfileCreatedNotification", "UserLoginNotification"]
    );
    for payload in &payloads {
        assert_eq!(payload["user"]["email"], ACME_EMAIL);
        assert_eq!(payload["user"]["name"], "Alice Acme");
        assert_eq!(
            payload["user"]["attachedTo"],
            json!([{
                "path": "/PSPName/DivisionName/MerchantName",
                "level": "MERCHANT",
                "entityId": "e-mer-1"
            }]),
            "where the login attached her"
        );
        assert_eq!(payload["user"]["id"], payloads[0]["user"]["id"]);
        check_payload(&setup.server, payload).await;
    }
    assert_eq!(payloads[1]["connection"], "acme");
}

async fn signed_on_the_response_or_on_both_is_accepted(backend: Backend) {
    let setup = Setup::start(backend).await;
    for signed in [Signed::Assertion, Signed::Response, Signed::Both] {
        assert_eq!(
            sign_in(&setup, signed).await,
            StatusCode::SEE_OTHER,
            "{signed:?}"
        );
    }
    assert_eq!(setup.server.count("upstream_identities").await, 1);
    assert_eq!(setup.server.count("sessions").await, 3);
}

async fn idp_initiated_only_where_allowed(backend: Backend) {
    let setup = Setup::start(backend).await;
    let http = setup.server.client();
    let spec = setup.direct_spec();
    let unsolicited = encode(&setup.idp.response(&spec));
    let acs = post_acs(&http, &setup.acs("acme-direct"), &unsolicited, None).await;
    assert_eq!(acs.status(), StatusCode::SEE_OTHER);
    let resumed = http
        .get(setup.server.url(&location(&acs).unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&resumed).as_deref(), Some("/account"));
    assert_eq!(setup.server.count("sessions").await, 1);

    // Connection `acme` takes only answers to its own requests.
    let before = setup.counts().await;
    let mut spec = setup.spec(None);
    spec.not_on_or_after = 200;
    let refused = post_acs(
        &http,
        &setup.acs("acme"),
        &encode(&setup.idp.response(&spec)),
        None,
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    // Nor an answer to an unknown request, even with a RelayState of its own.
    let outstanding = start(&setup, &http).await;
    let refused = post_acs(
        &http,
        &setup.acs("acme"),
        &encode(&setup.idp.response(&setup.spec(Some("id-never-asked")))),
        Some(&outstanding.relay_state),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(setup.counts().await, before);
}

/// Posts `saml_response` for a fresh login at `acme`; asserts it is refused with `status` and
/// nothing is stored.
pub(crate) async fn assert_refused(
    setup: &Setup,
    what: &str,
    status: StatusCode,
    make: impl Fn(&Spec) -> String,
) {
    let before = setup.counts().await;
    let browser = setup.server.client();
    let outstanding = start(setup, &browser).await;
    let saml_response = make(&setup.spec(Some(&outstanding.request_id)));
    let acs = post_acs(
        &browser,
        &setup.acs("acme"),
        &saml_response,
        Some(&outstanding.relay_state),
    )
    .await;
    assert_eq!(acs.status(), status, "{what}");
    assert_eq!(setup.counts().await, before, "{what}: nothing stored");
}

/// A response for `spec` with `change` made to it first.
fn changed(idp: &IdpKey, spec: &Spec, change: impl Fn(&mut Spec)) -> String {
    let mut spec = spec.clone();
    change(&mut spec);
    encode(&idp.response(&spec))
}

/// A response signed as `spec` says, then altered: the signature no longer holds.
fn tampered(idp: &IdpKey, spec: &Spec, from: &str, to: &str) -> String {
    let signed = idp.response(spec);
    assert!(signed.contains(from), "{from}");
    encode(&signed.replacen(from, to, 1))
}

/// The signed assertion of `spec` and an unsigned one for Mallory, placed by `place`.
fn wrapped(idp: &IdpKey, spec: &Spec, place: impl Fn(&str, &str) -> String) -> String {
    let signed = idp.assertion(spec);
    let mut forged = spec.clone();
    forged.name_id = "mallory@acme.test".into();
    forged.signed = Signed::Nothing;
    let forged = idp.assertion(&forged);
    encode(&idp.response_xml(spec, &place(&signed, &forged)))
}

pub(crate) const BAD: StatusCode = StatusCode::BAD_REQUEST;

async fn an_unsigned_response_is_refused(backend: Backend) {
    let setup = Setup::start(backend).await;
    assert_refused(&setup, "unsigned", BAD, |spec| {
        changed(&setup.idp, spec, |s| s.signed = Signed::Nothing)
    })
    .await;
}

async fn a_response_signed_by_another_key_is_refused(backend: Backend) {
    let setup = Setup::start(backend).await;
    let other = IdpKey::generate();
    assert_refused(&setup, "another key", BAD, |spec| {
        encode(&other.response(spec))
    })
    .await;
}

async fn a_tampered_name_id_is_refused(backend: Backend) {
    let setup = Setup::start(backend).await;
    assert_refused(&setup, "NameID", BAD, |spec| {
        tampered(&setup.idp, spec, ACME_EMAIL, "mallory@acme.test")
    })
    .await;
}

async fn a_tampered_attribute_is_refused(backend: Backend) {
    let setup = Setup::start(backend).await;
    assert_refused(&setup, "attribute", BAD, |spec| {
        tampered(&setup.idp, spec, "Alice Acme", "Mallory")
    })
    .await;
}

async fn tampered_conditions_are_refused(backend: Backend) {
    let setup = Setup::start(backend).await;
    assert_refused(&setup, "conditions", BAD, |spec| {
        tampered(&setup.idp, spec, "/saml/acme<", "/saml/acmf<")
    })
    .await;
}

async fn an_unsigned_assertion_beside_the_signed_one_is_refused(backend: Backend) {
    let setup = Setup::start(backend).await;
    assert_refused(&setup, "forged before", BAD, |spec| {
        wrapped(&setup.idp, spec, |signed, forged| {
            format!("{forged}{signed}")
        })
    })
    .await;
    assert_refused(&setup, "forged after", BAD, |spec| {
        wrapped(&setup.idp, spec, |signed, forged| {
            format!("{signed}{forged}")
        })
    })
    .await;
}

async fn an_unsigned_assertion_inside_the_signed_one_is_refused(backend: Backend) {
    let setup = Setup::start(backend).await;
    assert_refused(&setup, "forged inside", BAD, |spec| {
        wrapped(&setup.idp, spec, |signed, forged| {
            signed.replacen("</saml:Subject>", &format!("</saml:Subject>{forged}"), 1)
        })
    })
    .await;
}

async fn a_signed_assertion_moved_aside_is_refused(backend: Backend) {
    let setup = Setup::start(backend).await;
    assert_refused(&setup, "moved", BAD, |spec| {
        wrapped(&setup.idp, spec, |signed, forged| {
            format!("<samlp:Extensions>{signed}</samlp:Extensions>{forged}")
        })
    })
    .await;
}

/// A comment splits the NameID without breaking the signature (exclusive c14n leaves it out).
async fn a_comment_in_the_name_id_is_refused(backend: Backend) {
    let setup = Setup::start(backend).await;
    assert_refused(&setup, "comment in NameID", BAD, |spec| {
        changed(&setup.idp, spec, |s| {
            s.name_id = "alice@acme.test<!---->.evil.test".into()
        })
    })
    .await;
}

async fn two_assertions_are_refused(backend: Backend) {
    let setup = Setup::start(backend).await;
    assert_refused(&setup, "two assertions", BAD, |spec| {
        let (first, second) = (setup.idp.assertion(spec), setup.idp.assertion(spec));
        encode(&setup.idp.response_xml(spec, &format!("{first}{second}")))
    })
    .await;
}

async fn a_wrong_audience_is_refused(backend: Backend) {
    let setup = Setup::start(backend).await;
    assert_refused(&setup, "wrong audience", BAD, |spec| {
        changed(&setup.idp, spec, |s| {
            s.audience = "https://someone-else.test/saml".into()
        })
    })
    .await;
}

async fn a_wrong_recipient_is_refused(backend: Backend) {
    let setup = Setup::start(backend).await;
    assert_refused(&setup, "wrong recipient", BAD, |spec| {
        changed(&setup.idp, spec, |s| {
            s.recipient = "https://someone-else.test/acs".into()
        })
    })
    .await;
}

async fn a_wrong_destination_is_refused(backend: Backend) {
    let setup = Setup::start(backend).await;
    assert_refused(&setup, "wrong destination", BAD, |spec| {
        changed(&setup.idp, spec, |s| {
            s.destination = "https://someone-else.test/acs".into();
            s.signed = Signed::Both;
        })
    })
    .await;
}

async fn a_wrong_issuer_is_refused(backend: Backend) {
    let setup = Setup::start(backend).await;
    assert_refused(&setup, "wrong issuer", BAD, |spec| {
        changed(&setup.idp, spec, |s| {
            s.issuer = "https://idp.evil.test".into()
        })
    })
    .await;
}

/// Connection `acme` has `domains = ["acme.test"]`: its IdP's guests are not its people.
async fn an_address_of_another_domain_is_refused(backend: Backend) {
    let setup = Setup::start(backend).await;
    assert_refused(&setup, "guest of the IdP", StatusCode::FORBIDDEN, |spec| {
        changed(&setup.idp, spec, |s| s.name_id = "guest@other.test".into())
    })
    .await;
}

/// `acme-direct` lists no domains, so it may assert addresses of domains no connection lists;
/// but `acme.test` is `acme`'s, and only `acme`'s IdP speaks for its people; and Alice's address
/// is her local account's, which no such connection may take over.
async fn an_address_another_connection_claims_or_a_local_account_holds_is_refused(
    backend: Backend,
) {
    let setup = Setup::start(backend).await;
    let http = setup.server.client();
    let before = setup.counts().await;
    for claimed in [
        ACME_EMAIL,
        "Ceo@ACME.test",
        ALICE_EMAIL,
        "ALICE@Example.com",
    ] {
        let mut spec = setup.direct_spec();
        spec.name_id = claimed.into();
        let acs = post_acs(
            &http,
            &setup.acs("acme-direct"),
            &encode(&setup.idp.response(&spec)),
            None,
        )
        .await;
        assert_eq!(acs.status(), StatusCode::FORBIDDEN, "{claimed}");
        assert_eq!(texts(&acs.text().await.unwrap(), "h1"), ["Sign-in refused"]);
        assert_eq!(setup.counts().await, before, "{claimed}: nothing stored");
    }
    // The same response with an address of an unlisted domain signs in.
    let acs = post_acs(
        &http,
        &setup.acs("acme-direct"),
        &encode(&setup.idp.response(&setup.direct_spec())),
        None,
    )
    .await;
    assert_eq!(acs.status(), StatusCode::SEE_OTHER);
}

async fn an_expired_assertion_is_refused(backend: Backend) {
    let setup = Setup::start(backend).await;
    assert_refused(&setup, "expired", BAD, |spec| {
        changed(&setup.idp, spec, |s| s.not_on_or_after = -600)
    })
    .await;
}

async fn an_assertion_not_yet_valid_is_refused(backend: Backend) {
    let setup = Setup::start(backend).await;
    assert_refused(&setup, "not yet valid", BAD, |spec| {
        changed(&setup.idp, spec, |s| s.not_before = 600)
    })
    .await;
    // Within the 2-minute skew it passes.
    let browser = setup.server.client();
    let outstanding = start(&setup, &browser).await;
    let mut spec = setup.spec(Some(&outstanding.request_id));
    spec.not_before = 60;
    let acs = post_acs(
        &browser,
        &setup.acs("acme"),
        &encode(&setup.idp.response(&spec)),
        Some(&outstanding.relay_state),
    )
    .await;
    assert_eq!(acs.status(), StatusCode::SEE_OTHER);
}

async fn an_external_entity_is_refused_and_not_fetched(backend: Backend) {
    let setup = Setup::start(backend).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    assert_refused(&setup, "external entity", BAD, |spec| {
        let signed = setup.idp.response(spec);
        let doctype = format!(
            r#"<!DOCTYPE samlp:Response [<!ENTITY x SYSTEM "http://127.0.0.1:{port}/x">]>"#
        );
        encode(&format!(
            "{doctype}{}",
            signed.replacen("Alice Acme", "&x;", 1)
        ))
    })
    .await;
    let fetched = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
    assert!(fetched.is_err(), "the external entity was fetched");
}

async fn an_entity_expansion_bomb_is_refused(backend: Backend) {
    let setup = Setup::start(backend).await;
    assert_refused(&setup, "entity expansion", BAD, |spec| {
        let signed = setup.idp.response(spec);
        let bomb = r#"<!DOCTYPE samlp:Response [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>"#;
        encode(&format!("{bomb}{}", signed.replacen("Alice Acme", "&d;", 1)))
    })
    .await;
}

async fn an_oversize_or_malformed_body_is_refused(backend: Backend) {
    let setup = Setup::start(backend).await;
    assert_refused(&setup, "oversize", BAD, |_| "A".repeat(300 * 1024)).await;
    assert_refused(
        &setup,
        "far oversize",
        StatusCode::PAYLOAD_TOO_LARGE,
        |_| "A".repeat(4 * 1024 * 1024),
    )
    .await;
    assert_refused(&setup, "not XML", BAD, |_| encode("<samlp:Response")).await;
}

/// `acme-direct` accepts responses of up to 1 MiB, the most a connection may: the ACS reads a
/// body large enough for one however the IdP encodes it. Here line breaks, which base64 readers
/// skip, fill it up; percent-encoded they take three bytes each.
async fn the_largest_allowed_response_fits_the_acs(backend: Backend) {
    let setup = Setup::start(backend).await;
    let http = setup.server.client();
    let padded = |extra: usize| {
        let response = encode(&setup.idp.response(&setup.direct_spec()));
        format!(
            "{response}{}",
            "\n".repeat(1024 * 1024 - response.len() + extra)
        )
    };
    let over = post_acs(&http, &setup.acs("acme-direct"), &padded(1), None).await;
    assert_eq!(
        over.status(),
        StatusCode::BAD_REQUEST,
        "refused by the connection's max_response_bytes, not by the body limit"
    );
    let largest = post_acs(&http, &setup.acs("acme-direct"), &padded(0), None).await;
    assert_eq!(largest.status(), StatusCode::SEE_OTHER);
}

async fn an_assertion_signs_in_once(backend: Backend) {
    let setup = Setup::start(backend).await;
    let http = setup.server.client();
    let spec = setup.direct_spec();
    let response = encode(&setup.idp.response(&spec));
    let first = post_acs(&http, &setup.acs("acme-direct"), &response, None).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let before = setup.counts().await;
    let again = post_acs(&http, &setup.acs("acme-direct"), &response, None).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    assert_eq!(setup.counts().await, before);
    // A solicited response posted twice: the second finds its request spent.
    let outstanding = start(&setup, &http).await;
    let response = encode(
        &setup
            .idp
            .response(&setup.spec(Some(&outstanding.request_id))),
    );
    let first = post_acs(
        &http,
        &setup.acs("acme"),
        &response,
        Some(&outstanding.relay_state),
    )
    .await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let again = post_acs(
        &http,
        &setup.acs("acme"),
        &response,
        Some(&outstanding.relay_state),
    )
    .await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
}

/// A forged post with the RelayState of a person's login (seen in a URL, say) is refused and
/// spends nothing: the IdP's genuine answer still signs the person in.
async fn a_refused_answer_leaves_the_login_to_the_genuine_one(backend: Backend) {
    let setup = Setup::start(backend).await;
    let http = setup.server.client();
    let outstanding = start(&setup, &http).await;
    let spec = setup.spec(Some(&outstanding.request_id));
    let forged = changed(&setup.idp, &spec, |s| s.signed = Signed::Nothing);
    let acs = setup.acs("acme");
    let refused = post_acs(
        &setup.server.client(),
        &acs,
        &forged,
        Some(&outstanding.relay_state),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        setup.server.count("upstream_logins").await,
        1,
        "the login is still waiting"
    );
    let genuine = encode(&setup.idp.response(&spec));
    let accepted = post_acs(&http, &acs, &genuine, Some(&outstanding.relay_state)).await;
    assert_eq!(accepted.status(), StatusCode::SEE_OTHER);
    let resumed = http
        .get(setup.server.url(&location(&accepted).unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&resumed).as_deref(), Some("/account"));
    assert!(cookie_value(&resumed, "idbridge_session").is_some());
}

/// The spent assertion ID, the user and the login to resume are stored together or not at all:
/// when the last of them cannot be stored, the ID is not spent, so the same response is
/// accepted once the database takes writes again.
async fn an_acs_that_fails_stores_nothing(backend: Backend) {
    let setup = Setup::start(backend).await;
    let http = setup.server.client();
    let spec = setup.direct_spec();
    let response = encode(&setup.idp.response(&spec));
    let before = (setup.counts().await, setup.server.count("outbox").await);
    setup.server.refuse_inserts("upstream_logins").await;
    let failed = post_acs(&http, &setup.acs("acme-direct"), &response, None).await;
    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        (setup.counts().await, setup.server.count("outbox").await),
        before,
        "no user, identity, spent assertion or notification"
    );
    setup.server.allow_inserts("upstream_logins").await;
    let retried = post_acs(&http, &setup.acs("acme-direct"), &response, None).await;
    assert_eq!(retried.status(), StatusCode::SEE_OTHER);
    assert_eq!(setup.server.count("saml_assertions").await, before.0[3] + 1);
}

async fn a_non_success_status_is_told_plainly(backend: Backend) {
    let setup = Setup::start(backend).await;
    let idp = &setup.idp;
    let before = setup.counts().await;
    let browser = setup.server.client();
    let outstanding = start(&setup, &browser).await;
    let mut spec = setup.spec(Some(&outstanding.request_id));
    spec.status = "urn:oasis:names:tc:SAML:2.0:status:Responder".into();
    let acs = post_acs(
        &browser,
        &setup.acs("acme"),
        &encode(&idp.response(&spec)),
        Some(&outstanding.relay_state),
    )
    .await;
    assert_eq!(acs.status(), StatusCode::FORBIDDEN);
    assert_eq!(texts(&acs.text().await.unwrap(), "h1"), ["Sign-in refused"]);
    assert_eq!(setup.counts().await, before);
}

async fn the_sp_metadata_describes_the_connection(backend: Backend) {
    let setup = Setup::start(backend).await;
    let response = Client::new()
        .get(setup.server.url("/saml/acme/metadata"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/samlmetadata+xml"
    );
    let xml = response.text().await.unwrap();
    let metadata: samael::metadata::EntityDescriptor = xml.parse().unwrap();
    assert_eq!(
        metadata.entity_id.as_deref(),
        Some(setup.server.url("/saml/acme").as_str())
    );
    let sp = &metadata.sp_sso_descriptors.unwrap()[0];
    assert_eq!(
        sp.assertion_consumer_services[0].location,
        setup.acs("acme")
    );
    assert_eq!(
        sp.assertion_consumer_services[0].binding,
        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    );
    let unknown = Client::new()
        .get(setup.server.url("/saml/nope/metadata"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

/// IdP metadata as an IdP publishes it during a key rollover: two signing certificates.
pub(crate) fn idp_metadata(certs: &[&str], encryption: &str) -> String {
    let keys: String = certs
        .iter()
        .map(|cert| {
            format!(
                r#"<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#
            )
        })
        .collect();
    format!(
        r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{IDP_ENTITY}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    {keys}
    <md:KeyDescriptor use="encryption"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{encryption}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.acme.test/post"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{IDP_SSO}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#,
    )
}

async fn idp_metadata_with_two_certificates_verifies_either(backend: Backend) {
    let db = TestDb::new(backend).await;
    let (old, new, stranger) = (IdpKey::generate(), IdpKey::generate(), IdpKey::generate());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acme-idp.xml");
    std::fs::write(
        &file,
        idp_metadata(&[&old.cert_b64, &new.cert_b64], &stranger.cert_b64),
    )
    .unwrap();
    let config = format!(
        r#"{BASE_CONFIG}
[[connections]]
id = "acme"
type = "saml"
entity = "e-mer-1"
idp_metadata = "{}"
"#,
        file.display()
    );
    let server = TestServer::start(&db, &config).await;
    let setup = Setup {
        server,
        idp: old,
        _db: db,
    };
    assert_eq!(
        sign_in(&setup, Signed::Assertion).await,
        StatusCode::SEE_OTHER
    );
    let setup = Setup { idp: new, ..setup };
    assert_eq!(
        sign_in(&setup, Signed::Response).await,
        StatusCode::SEE_OTHER
    );
    // Only the metadata's signing keys count, not its encryption key.
    let setup = Setup {
        idp: IdpKey {
            key_der: stranger.key_der.clone(),
            cert_b64: stranger.cert_b64.clone(),
        },
        ..setup
    };
    assert_eq!(
        sign_in(&setup, Signed::Assertion).await,
        StatusCode::BAD_REQUEST
    );

    // Metadata without a signing certificate is refused when the config is read.
    std::fs::write(&file, idp_metadata(&[], &stranger.cert_b64)).unwrap();
    let refused = idbridge::Config::from_toml(&config, &|name| {
        (name == "SHOP_SECRET").then(|| SHOP_SECRET.to_string())
    })
    .unwrap_err()
    .to_string();
    assert!(refused.contains("has no signing certificate"), "{refused}");
}

async fn authn_requests_are_signed_when_the_connection_has_a_key(backend: Backend) {
    let db = TestDb::new(backend).await;
    let idp = IdpKey::generate();
    let sp = IdpKey::generate();
    let sp_key_pem = String::from_utf8(
        openssl::rsa::Rsa::private_key_from_der(&sp.key_der)
            .unwrap()
            .private_key_to_pem()
            .unwrap(),
    )
    .unwrap();
    let config = format!(
        r#"{BASE_CONFIG}
[[connections]]
id = "acme"
type = "saml"
entity = "e-mer-1"
idp_entity_id = "{IDP_ENTITY}"
idp_sso_url = "{IDP_SSO}"
idp_certificate = "{}"
sp_private_key = "env:SP_KEY"
sp_certificate = "{}"
"#,
        idp.cert_b64, sp.cert_b64
    );
    let server = TestServer::start_with(
        &db,
        &config,
        idbridge::Clock::system(),
        &[("SP_KEY", &sp_key_pem)],
    )
    .await
    .unwrap();
    let response = server
        .client()
        .get(server.url("/saml/acme/login?return_to=/account"))
        .send()
        .await
        .unwrap();
    let to_idp = Url::parse(&location(&response).unwrap()).unwrap();
    assert!(to_idp.query_pairs().any(|(k, _)| k == "Signature"));
    let cert = samael::crypto::CertificateDer::from(STANDARD.decode(&sp.cert_b64).unwrap());
    let verifier = samael::crypto::UrlVerifier::from_x509(&cert).unwrap();
    assert!(verifier.verify_signed_request_url(&to_idp).unwrap());
    // Verified with another key, it fails: the check above can fail.
    let stranger = samael::crypto::CertificateDer::from(STANDARD.decode(&idp.cert_b64).unwrap());
    let stranger = samael::crypto::UrlVerifier::from_x509(&stranger).unwrap();
    assert!(!stranger.verify_signed_request_url(&to_idp).unwrap_or(false));

    let metadata = Client::new()
        .get(server.url("/saml/acme/metadata"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metadata.contains(r#"AuthnRequestsSigned="true""#));
    assert!(metadata.contains(&sp.cert_b64));

    // A certificate that is not the key's is refused when the config is read.
    let mismatched = config.replace(&sp.cert_b64, &idp.cert_b64);
    let refused = idbridge::Config::from_toml(&mismatched, &|name| match name {
        "SP_KEY" => Some(sp_key_pem.clone()),
        "SHOP_SECRET" => Some(SHOP_SECRET.to_string()),
        _ => None,
    })
    .unwrap_err()
    .to_string();
    assert!(
        refused.contains("is not the certificate of sp_private_key"),
        "{refused}"
    );
}

/// Serves `body` (changeable) at `/metadata` on an ephemeral port; the URL.
pub(crate) async fn metadata_server(body: std::sync::Arc<std::sync::Mutex<String>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metadata", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/metadata",
        axum::routing::get(move || {
            let body = body.lock().unwrap().clone();
            async move { body }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn idp_metadata_is_fetched_from_its_url_and_refreshed(backend: Backend) {
    let db = TestDb::new(backend).await;
    let (old, new) = (IdpKey::generate(), IdpKey::generate());
    let served = std::sync::Arc::new(std::sync::Mutex::new(idp_metadata(
        &[&old.cert_b64],
        &new.cert_b64,
    )));
    let url = metadata_server(served.clone()).await;
    // Another customer's IdP, whose metadata is refreshed first (connections go by id).
    let other_served = std::sync::Arc::new(std::sync::Mutex::new(idp_metadata(
        &[&IdpKey::generate().cert_b64],
        &new.cert_b64,
    )));
    let other_url = metadata_server(other_served.clone()).await;
    let config = |url: &str| {
        format!(
            r#"{BASE_CONFIG}
[[connections]]
id = "acme"
type = "saml"
entity = "e-mer-1"
idp_metadata_url = "{url}"

[[connections]]
id = "a-down"
type = "saml"
entity = "e-mer-1"
idp_metadata_url = "{other_url}"
"#
        )
    };
    let server = TestServer::start(&db, &config(&url)).await;
    let setup = Setup {
        server,
        idp: old,
        _db: db,
    };
    assert_eq!(
        sign_in(&setup, Signed::Assertion).await,
        StatusCode::SEE_OTHER
    );
    let new_key = IdpKey {
        key_der: new.key_der.clone(),
        cert_b64: new.cert_b64.clone(),
    };
    let setup = Setup {
        idp: new_key,
        ..setup
    };
    assert_eq!(
        sign_in(&setup, Signed::Assertion).await,
        StatusCode::BAD_REQUEST
    );
    // The IdP rolls its key over while the other customer's IdP is down; the next refresh
    // picks the rollover up all the same, and reports the other connection alone.
    *served.lock().unwrap() = idp_metadata(&[&new.cert_b64], &IdpKey::generate().cert_b64);
    *other_served.lock().unwrap() = "down for maintenance".into();
    let failed: Vec<String> = setup
        .server
        .state
        .directory()
        .connectors
        .fetch_metadata()
        .await
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains("connection a-down"), "{failed:?}");
    assert_eq!(
        sign_in(&setup, Signed::Assertion).await,
        StatusCode::SEE_OTHER
    );
    *other_served.lock().unwrap() = idp_metadata(&[&new.cert_b64], &new.cert_b64);

    // A start without the metadata fails, naming the connection: unreachable, too large.
    // Refuses connections: a port held by this test, where nothing listens.
    let closed = ReservedPort::new();
    let unreachable = format!("{}/metadata", closed.base());
    *served.lock().unwrap() = "x".repeat(2 * 1024 * 1024);
    for bad in [unreachable, url] {
        let db = TestDb::new(backend).await;
        let refused = TestServer::start_with(&db, &config(&bad), idbridge::Clock::system(), &[])
            .await
            .err()
            .expect("refused");
        assert!(refused.contains("connection acme"), "{refused}");
    }
    drop(closed);
}

/// The assertion of `spec`, unsigned, changed by `edit` (given the assertion's ID; it places a
/// signature template), in an unsigned response; then the template is signed, in place (what an
/// inclusive canonicalization signs depends on the namespaces around it).
fn assertion_signed_as(idp: &IdpKey, spec: &Spec, edit: impl Fn(&str, &str) -> String) -> String {
    let mut unsigned = spec.clone();
    unsigned.signed = Signed::Nothing;
    let assertion = idp.assertion(&unsigned);
    let edited = edit(&assertion, &first_id(&assertion));
    encode(&idp.sign(&idp.response_xml(&unsigned, &edited)))
}

/// `assertion` with `signature` where IdPs put it: after the Issuer.
fn after_issuer(assertion: &str, signature: &str) -> String {
    assertion.replacen("</saml:Issuer>", &format!("</saml:Issuer>{signature}"), 1)
}

/// The attack of the security review: libxmlsec1 runs a Reference's transforms before it checks
/// the SignatureValue, and this XPath is cubic in the ~1,500 elements of a 70 KB response. It
/// took minutes of CPU; refused before any signature work, it takes milliseconds.
async fn a_costly_signature_transform_is_refused_at_once(backend: Backend) {
    let setup = Setup::start(backend).await;
    let before = setup.counts().await;
    let browser = setup.server.client();
    let outstanding = start(&setup, &browser).await;
    let mut spec = setup.spec(Some(&outstanding.request_id));
    spec.signed = Signed::Nothing;
    let filler: String = (0..1500).map(|i| format!("<i>{i:040}</i>")).collect();
    let assertion = setup.idp.assertion(&spec).replacen(
        "</saml:AttributeStatement>",
        &format!(
            r#"<saml:Attribute Name="filler"><saml:AttributeValue>{filler}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>"#
        ),
        1,
    );
    let xpath = r#"<ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xpath-19991116"><ds:XPath>count(//*) &gt; count(//*[local-name()='i'][.=string(count(//*))])</ds:XPath></ds:Transform>"#;
    let signature = signature_template(&first_id(&assertion), &setup.idp.cert_b64)
        .replacen("<ds:Transforms>", &format!("<ds:Transforms>{xpath}"), 1)
        .replace("Value></ds:", "Value>AAAA</ds:");
    let response = setup
        .idp
        .response_xml(&spec, &after_issuer(&assertion, &signature));
    assert!(response.len() > 70_000, "{}", response.len());
    let posted = std::time::Instant::now();
    let acs = browser
        .post(setup.acs("acme"))
        .form(&[
            ("SAMLResponse", encode(&response).as_str()),
            ("RelayState", &outstanding.relay_state),
        ])
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("an answer within 30 s");
    assert_eq!(acs.status(), BAD);
    assert!(
        posted.elapsed() < Duration::from_secs(5),
        "{:?}",
        posted.elapsed()
    );
    assert_eq!(setup.counts().await, before);
}

/// Each is validly signed by the IdP's key, in a shape SAML does not use: refused all the same.
async fn signatures_of_another_shape_are_refused(backend: Backend) {
    let setup = Setup::start(backend).await;
    let idp = &setup.idp;
    let template = |id: &str| signature_template(id, &idp.cert_b64);
    assert_refused(&setup, "an extra Reference", BAD, |spec| {
        assertion_signed_as(idp, spec, |assertion, id| {
            let signature = template(id);
            let start = signature.find("<ds:Reference").unwrap();
            let end = signature.find("</ds:Reference>").unwrap() + "</ds:Reference>".len();
            let reference = &signature[start..end];
            after_issuer(
                assertion,
                &signature.replacen(reference, &reference.repeat(2), 1),
            )
        })
    })
    .await;
    assert_refused(&setup, "a signature in the Subject", BAD, |spec| {
        assertion_signed_as(idp, spec, |assertion, id| {
            assertion.replacen(
                "<saml:Subject>",
                &format!("<saml:Subject>{}", template(id)),
                1,
            )
        })
    })
    .await;
    assert_refused(&setup, "inclusive canonicalization", BAD, |spec| {
        assertion_signed_as(idp, spec, |assertion, id| {
            let inclusive = template(id).replacen(
                r#"CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#""#,
                r#"CanonicalizationMethod Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315""#,
                1,
            );
            after_issuer(assertion, &inclusive)
        })
    })
    .await;
    // A signature in the Response over the assertion only: its Reference is not to its parent.
    assert_refused(&setup, "a Reference to another element", BAD, |spec| {
        let mut unsigned = spec.clone();
        unsigned.signed = Signed::Nothing;
        let assertion = idp.assertion(&unsigned);
        let response = idp.response_xml(&unsigned, &assertion);
        encode(&idp.sign(&after_issuer(&response, &template(&first_id(&assertion)))))
    })
    .await;
}

/// libxml2 obeys the XML declaration: in UTF-7, `+ADw-` is `<`, so what a reader of UTF-8 takes
/// for text before the root is a DOCTYPE to libxml2 (and `+-` is the `+` of the base64 values,
/// so the signature still holds). Every rule of the strict reading could be slipped past so.
async fn a_response_in_another_encoding_is_refused(backend: Backend) {
    let setup = Setup::start(backend).await;
    assert_refused(&setup, "UTF-7 with a DOCTYPE", BAD, |spec| {
        let signed = setup.idp.response(spec).replace('+', "+-");
        encode(&format!(
            r#"<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE samlp:Response +AFs-+ADw-!ENTITY x +ACI-y+ACI-+AD4-+AF0-+AD4-{signed}"#
        ))
    })
    .await;
    assert_refused(&setup, "UTF-16", BAD, |spec| {
        let xml = format!(
            r#"<?xml version="1.0" encoding="UTF-16"?>{}"#,
            setup.idp.response(spec)
        );
        let utf16: Vec<u8> = [0xff, 0xfe]
            .into_iter()
            .chain(xml.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        STANDARD.encode(utf16)
    })
    .await;
    // UTF-8, declared so in any case, signs in.
    let browser = setup.server.client();
    let outstanding = start(&setup, &browser).await;
    let signed = setup
        .idp
        .response(&setup.spec(Some(&outstanding.request_id)));
    let acs = post_acs(
        &browser,
        &setup.acs("acme"),
        &encode(&format!(
            r#"<?xml version="1.0" encoding="utf-8"?>{signed}"#
        )),
        Some(&outstanding.relay_state),
    )
    .await;
    assert_eq!(acs.status(), StatusCode::SEE_OTHER);
}

/// An assertion is addressed to the audiences every AudienceRestriction names, not any one.
async fn every_audience_restriction_must_name_us(backend: Backend) {
    let setup = Setup::start(backend).await;
    let idp = &setup.idp;
    let with_restriction = |spec: &Spec, audiences: &str| {
        assertion_signed_as(idp, spec, |assertion, id| {
            let restriction =
                format!("<saml:AudienceRestriction>{audiences}</saml:AudienceRestriction>");
            let assertion = assertion.replacen(
                "</saml:Conditions>",
                &format!("{restriction}</saml:Conditions>"),
                1,
            );
            after_issuer(&assertion, &signature_template(id, &idp.cert_b64))
        })
    };
    let other = "<saml:Audience>https://someone-else.test/saml</saml:Audience>";
    assert_refused(&setup, "a second restriction without us", BAD, |spec| {
        with_restriction(spec, other)
    })
    .await;
    // A second restriction that names us among others still lets the assertion through.
    let browser = setup.server.client();
    let outstanding = start(&setup, &browser).await;
    let spec = setup.spec(Some(&outstanding.request_id));
    let ours = format!("{other}<saml:Audience>{}</saml:Audience>", spec.audience);
    let acs = post_acs(
        &browser,
        &setup.acs("acme"),
        &with_restriction(&spec, &ours),
        Some(&outstanding.relay_state),
    )
    .await;
    assert_eq!(acs.status(), StatusCode::SEE_OTHER);
}

/// 120 posts per address and minute (docs/saml.md#limits); past that, a post is refused before
/// it is read, valid or not, and changes nothing.
async fn posts_from_one_address_are_limited(backend: Backend) {
    let setup = Setup::start(backend).await;
    let http = setup.server.client();
    for _ in 0..120 {
        let refused = post_acs(&http, &setup.acs("acme"), "bm90IFNBTUw=", None).await;
        assert_eq!(refused.status(), BAD);
    }
    let before = setup.counts().await;
    let outstanding = start(&setup, &http).await;
    let response = setup
        .idp
        .response(&setup.spec(Some(&outstanding.request_id)));
    let limited = post_acs(
        &http,
        &setup.acs("acme"),
        &encode(&response),
        Some(&outstanding.relay_state),
    )
    .await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        texts(&limited.text().await.unwrap(), "h1"),
        ["Too many sign-ins"]
    );
    assert_eq!(setup.counts().await, before);
}
