//! SAML single logout with the test IdP of [`crate::saml_idp`], both ways. The IdP's side is
//! written here with samael's own signing and verifying of redirect URLs and libxmlsec1's XML
//! signatures, so idbridge's encoder and checks meet an implementation that is not theirs:
//! - a sign-out at idbridge sends the browser to the IdP with a signed LogoutRequest naming the
//!   login's NameID (and its Format) and SessionIndex; the IdP's signed LogoutResponse (Redirect
//!   or POST) brings it back, once;
//! - a LogoutRequest from the IdP (Redirect or POST) ends the sessions it names, once, and the
//!   browser takes a signed LogoutResponse back; every forgery ends nothing.
use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::pkey::{PKey, Private};
use reqwest::{Client, StatusCode};
use samael::crypto::{CertificateDer, UrlVerifier};
use url::Url;

use crate::saml_idp::*;
use crate::support::*;
use crate::upstream_saml::{ACME_EMAIL, Outstanding, acme_spec};

crate::backend_tests!(
    a_sign_out_here_signs_out_at_the_idp,
    the_idp_signs_a_person_out_here,
    forged_logout_requests_end_nothing,
    forged_logout_responses_are_refused,
    an_independent_idp_logs_out_both_ways,
);

const IDP_SLO: &str = "https://idp.acme.test/slo";
const NAME_ID_FORMAT: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// idbridge with connection `acme` (signing its messages with a key of its own) and the IdP.
struct Slo {
    server: TestServer,
    idp: IdpKey,
    sp: IdpKey,
    _db: TestDb,
}

impl Slo {
    async fn start(backend: Backend) -> Slo {
        let db = TestDb::new(backend).await;
        let idp = IdpKey::generate();
        let sp = IdpKey::generate();
        let config = format!(
            r#"{BASE_CONFIG}
[[connections]]
id = "acme"
type = "saml"
name = "Acme SSO"
entity = "e-mer-1"
domains = ["acme.test"]
idp_entity_id = "{IDP_ENTITY}"
idp_sso_url = "https://idp.acme.test/sso"
idp_slo_url = "{IDP_SLO}"
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
            &[("SP_KEY", &pem(&sp))],
        )
        .await
        .unwrap();
        Slo {
            server,
            idp,
            sp,
            _db: db,
        }
    }

    fn slo(&self) -> String {
        self.server.url("/saml/acme/slo")
    }

    /// Signs Alice in at connection `acme` in `http` for the IdP's session `session_index`.
    async fn sign_in(&self, http: &Client, session_index: &str) {
        let response = http
            .get(self.server.url("/saml/acme/login?return_to=/account"))
            .send()
            .await
            .unwrap();
        let to_idp = Url::parse(&location(&response).unwrap()).unwrap();
        let outstanding = Outstanding::read(&to_idp);
        let mut spec = acme_spec(&self.server.base, Some(&outstanding.request_id));
        spec.signed = Signed::Nothing;
        let assertion = self.idp.assertion(&spec).replacen(
            "<saml:AuthnStatement ",
            &format!(r#"<saml:AuthnStatement SessionIndex="{session_index}" "#),
            1,
        );
        let id = first_id(&assertion);
        let assertion = assertion.replacen(
            "</saml:Issuer>",
            &format!(
                "</saml:Issuer>{}",
                signature_template(&id, &self.idp.cert_b64)
            ),
            1,
        );
        let response = self.idp.response_xml(&spec, &self.idp.sign(&assertion));
        let acs = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(self.server.url("/saml/acme/acs"))
            .form(&[
                ("SAMLResponse", encode(&response).as_str()),
                ("RelayState", &outstanding.relay_state),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(acs.status(), StatusCode::SEE_OTHER);
        let resumed = http
            .get(self.server.url(&location(&acs).unwrap()))
            .send()
            .await
            .unwrap();
        assert_eq!(location(&resumed).as_deref(), Some("/account"));
    }

    /// A LogoutRequest from the IdP for `name_id`'s session `session_index` (all of theirs
    /// when `None`), as the IdP writes it before it signs, changed by `change`.
    fn logout_request(
        &self,
        name_id: &str,
        session_index: Option<&str>,
        change: impl Fn(String) -> String,
    ) -> (String, String) {
        let id = format!(
            "lr-{}",
            &idbridge::crypto::random_token()[..16].replace(['-', '_'], "x")
        );
        let session_index = session_index
            .map(|index| format!("<samlp:SessionIndex>{index}</samlp:SessionIndex>"))
            .unwrap_or_default();
        let xml = format!(
            r#"<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}" Destination="{destination}"><saml:Issuer>{IDP_ENTITY}</saml:Issuer><saml:NameID Format="{NAME_ID_FORMAT}">{name_id}</saml:NameID>{session_index}</samlp:LogoutRequest>"#,
            now = instant(0),
            destination = self.slo(),
        );
        (id, change(xml))
    }

    /// `xml` signed by the IdP in place (enveloped, after its Issuer), as the POST binding has it.
    fn signed_xml(&self, xml: &str) -> String {
        let id = first_id(xml);
        self.idp.sign(&xml.replacen(
            "</saml:Issuer>",
            &format!(
                "</saml:Issuer>{}",
                signature_template(&id, &self.idp.cert_b64)
            ),
            1,
        ))
    }

    /// Sessions and spent one-time IDs.
    async fn counts(&self) -> [i64; 2] {
        [
            self.server.count("sessions").await,
            self.server.count("saml_assertions").await,
        ]
    }
}

/// The PEM (PKCS#8) of a test key, as idbridge's config takes it.
pub(crate) fn pem(key: &IdpKey) -> String {
    String::from_utf8(private_key(key).private_key_to_pem_pkcs8().unwrap()).unwrap()
}

fn private_key(key: &IdpKey) -> PKey<Private> {
    PKey::from_rsa(openssl::rsa::Rsa::private_key_from_der(&key.key_der).unwrap()).unwrap()
}

fn verifier(key: &IdpKey) -> UrlVerifier {
    UrlVerifier::from_x509(&CertificateDer::from(
        STANDARD.decode(&key.cert_b64).unwrap(),
    ))
    .unwrap()
}

fn instant(offset: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(offset))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn first_id(xml: &str) -> String {
    let at = xml.find(" ID=\"").unwrap() + 5;
    xml[at..at + xml[at..].find('"').unwrap()].to_string()
}

/// The URL of `endpoint` carrying `xml` in `field` by the HTTP-Redirect binding, signed with
/// `key` (by samael) unless `None`.
pub(crate) fn redirect_url(
    endpoint: &str,
    field: &str,
    xml: &str,
    relay_state: Option<&str>,
    key: Option<&IdpKey>,
) -> String {
    let mut deflated = Vec::new();
    {
        let mut encoder =
            flate2::write::DeflateEncoder::new(&mut deflated, flate2::Compression::default());
        encoder.write_all(xml.as_bytes()).unwrap();
    }
    let mut url = Url::parse(endpoint).unwrap();
    url.query_pairs_mut()
        .append_pair(field, &STANDARD.encode(&deflated));
    if let Some(relay_state) = relay_state {
        url.query_pairs_mut().append_pair("RelayState", relay_state);
    }
    match key {
        Some(key) => samael::crypto::sign_url(url, &private_key(key))
            .unwrap()
            .to_string(),
        None => url.to_string(),
    }
}

/// The message in `field` of a redirect URL, inflated.
pub(crate) fn inflated(url: &Url, field: &str) -> String {
    let deflated = STANDARD.decode(param(url, field).unwrap()).unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

/// The text of the element `name` (with its prefix) in `xml`.
pub(crate) fn text_of(xml: &str, name: &str) -> Option<String> {
    let start = xml.find(&format!("<{name}"))?;
    let open_end = start + xml[start..].find('>')? + 1;
    let close = open_end + xml[open_end..].find(&format!("</{name}>"))?;
    Some(xml[open_end..close].to_string())
}

/// The value of the attribute `name` of the first element that has it in `xml`.
pub(crate) fn attribute_of(xml: &str, name: &str) -> Option<String> {
    let at = xml.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(xml[at..at + xml[at..].find('"')?].to_string())
}

/// `xml` with the first attribute `name` set to `value`.
fn with_attribute(xml: &str, name: &str, value: &str) -> String {
    let old = attribute_of(xml, name).unwrap();
    xml.replacen(
        &format!(" {name}=\"{old}\""),
        &format!(" {name}=\"{value}\""),
        1,
    )
}

/// Where the browser goes after a sign-out form: the page that moves on by itself names it.
fn moved_on_to(response: &reqwest::Response) -> Url {
    let refresh = response
        .headers()
        .get("refresh")
        .expect("a page that moves on")
        .to_str()
        .unwrap();
    Url::parse(refresh.split_once("url=").unwrap().1).unwrap()
}

/// Signs out at idbridge in `http` with the sign-out form; where the browser is sent next.
async fn sign_out(slo: &Slo, http: &Client) -> Url {
    let csrf = slo.server.csrf_token(http, "/account").await;
    let response = http
        .post(slo.server.url("/sso/v2/logout"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_continues(&response);
    moved_on_to(&response)
}

/// The IdP's LogoutResponse to the LogoutRequest `request_id`, unsigned, changed by `change`.
fn idp_logout_response(slo: &Slo, request_id: &str, change: impl Fn(String) -> String) -> String {
    change(logout_response(
        &slo.server.url("/saml/acme/logged-out"),
        request_id,
    ))
}

/// The IdP's LogoutResponse (Success) to `destination`, answering `request_id`, unsigned.
pub(crate) fn logout_response(destination: &str, request_id: &str) -> String {
    let id = format!(
        "lp-{}",
        &idbridge::crypto::random_token()[..16].replace(['-', '_'], "x")
    );
    format!(
        r#"<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}" Destination="{destination}" InResponseTo="{request_id}"><saml:Issuer>{IDP_ENTITY}</saml:Issuer><samlp:Status><samlp:StatusCode Value="{SUCCESS}"/></samlp:Status></samlp:LogoutResponse>"#,
        now = instant(0),
    )
}

async fn a_sign_out_here_signs_out_at_the_idp(backend: Backend) {
    let slo = Slo::start(backend).await;
    let http = slo.server.client();
    slo.sign_in(&http, "s-1").await;
    assert_eq!(slo.server.count("sessions").await, 1);

    let to_idp = sign_out(&slo, &http).await;
    assert!(
        to_idp.as_str().starts_with(&format!("{IDP_SLO}?")),
        "{to_idp}"
    );
    assert_eq!(slo.server.count("sessions").await, 0, "ended here first");
    assert!(
        verifier(&slo.sp)
            .verify_signed_request_url(&to_idp)
            .unwrap(),
        "signed with the connection's key"
    );
    assert!(
        !verifier(&slo.idp)
            .verify_signed_request_url(&to_idp)
            .unwrap_or(false),
        "the check above can fail"
    );
    let request = inflated(&to_idp, "SAMLRequest");
    assert!(request.contains("<samlp:LogoutRequest "), "{request}");
    assert_eq!(
        attribute_of(&request, "Destination").as_deref(),
        Some(IDP_SLO)
    );
    assert_eq!(
        text_of(&request, "saml:Issuer").as_deref(),
        Some(slo.server.url("/saml/acme").as_str())
    );
    assert_eq!(
        text_of(&request, "saml:NameID").as_deref(),
        Some(ACME_EMAIL)
    );
    assert_eq!(
        attribute_of(&request, "Format").as_deref(),
        Some(NAME_ID_FORMAT),
        "the NameID as the IdP named it"
    );
    assert_eq!(
        text_of(&request, "samlp:SessionIndex").as_deref(),
        Some("s-1")
    );
    // SAML core 3.7.1: the NameID comes before the SessionIndex.
    assert!(request.find("NameID").unwrap() < request.find("SessionIndex").unwrap());
    let request_id = attribute_of(&request, "ID").unwrap();
    let relay_state = param(&to_idp, "RelayState").unwrap();

    // The IdP answers by HTTP-Redirect, signed; idbridge shows that the sign-out is done.
    let back = redirect_url(
        &slo.server.url("/saml/acme/logged-out"),
        "SAMLResponse",
        &idp_logout_response(&slo, &request_id, |xml| xml),
        Some(&relay_state),
        Some(&slo.idp),
    );
    let done = http.get(&back).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&done).as_deref(),
        Some("/sso/v2/login"),
        "the login page, which says so"
    );
    assert_eq!(slo.server.count("upstream_logouts").await, 0);
    // Taken once.
    let again = http.get(&back).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);

    // Signed in again (another IdP session), a sign-out answered by HTTP-POST to the
    // SingleLogoutService (some IdPs ignore its ResponseLocation) is taken too.
    slo.sign_in(&http, "s-2").await;
    let to_idp = sign_out(&slo, &http).await;
    let request = inflated(&to_idp, "SAMLRequest");
    assert_eq!(
        text_of(&request, "samlp:SessionIndex").as_deref(),
        Some("s-2")
    );
    let answer = slo.signed_xml(&idp_logout_response(
        &slo,
        &attribute_of(&request, "ID").unwrap(),
        |xml| xml,
    ));
    let done = http
        .post(slo.slo())
        .form(&[
            ("SAMLResponse", encode(&answer).as_str()),
            ("RelayState", &param(&to_idp, "RelayState").unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&done).as_deref(), Some("/sso/v2/login"));
    assert_eq!(slo.server.count("upstream_logouts").await, 0);

    // The SP metadata tells the IdP where logout messages go.
    let metadata = page_text(&http, slo.server.url("/saml/acme/metadata")).await;
    for binding in ["HTTP-Redirect", "HTTP-POST"] {
        assert!(
            metadata.contains(&format!(
                r#"<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:{binding}" Location="{}" ResponseLocation="{}"/>"#,
                slo.slo(),
                slo.server.url("/saml/acme/logged-out")
            )),
            "{metadata}"
        );
    }
}

/// Follows `url` (the IdP's LogoutRequest reaching idbridge) in `http`; the answer.
async fn deliver(http: &Client, url: &str) -> reqwest::Response {
    http.get(url).send().await.unwrap()
}

async fn the_idp_signs_a_person_out_here(backend: Backend) {
    let slo = Slo::start(backend).await;
    let first = slo.server.client();
    let second = slo.server.client();
    slo.sign_in(&first, "s-1").await;
    slo.sign_in(&second, "s-2").await;
    let local = slo.server.client();
    slo.server.login(&local, ALICE_EMAIL, ALICE_PASSWORD).await;
    assert_eq!(slo.counts().await, [3, 2]);

    // The IdP ends its session s-1: by HTTP-Redirect, signed, with a RelayState of its own.
    let (request_id, request) = slo.logout_request(ACME_EMAIL, Some("s-1"), |xml| xml);
    let url = redirect_url(
        &slo.slo(),
        "SAMLRequest",
        &request,
        Some("idp-state 1"),
        Some(&slo.idp),
    );
    let answered = deliver(&first, &url).await;
    assert_eq!(answered.status(), StatusCode::SEE_OTHER);
    let back = Url::parse(&location(&answered).unwrap()).unwrap();
    assert!(back.as_str().starts_with(&format!("{IDP_SLO}?")), "{back}");
    assert!(
        verifier(&slo.sp).verify_signed_response_url(&back).unwrap(),
        "signed with the connection's key"
    );
    assert_eq!(param(&back, "RelayState").as_deref(), Some("idp-state 1"));
    let response = inflated(&back, "SAMLResponse");
    assert_eq!(
        attribute_of(&response, "InResponseTo").as_deref(),
        Some(request_id.as_str())
    );
    assert_eq!(
        attribute_of(&response, "Destination").as_deref(),
        Some(IDP_SLO)
    );
    assert!(response.contains(&format!(r#"Value="{SUCCESS}""#)));
    assert_eq!(slo.counts().await, [2, 3], "s-1 ended, its ID spent");
    let account = |http: &Client| {
        let http = http.clone();
        let url = slo.server.url("/account");
        async move { http.get(url).send().await.unwrap().status() }
    };
    assert_eq!(account(&first).await, StatusCode::SEE_OTHER, "signed out");
    assert_eq!(account(&second).await, StatusCode::OK, "s-2 lives on");

    // The same request once more ends nothing, even after she signs in again.
    slo.sign_in(&first, "s-1").await;
    let replayed = deliver(&first, &url).await;
    assert_eq!(replayed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(slo.counts().await, [3, 4]);

    // By HTTP-POST, naming no session: all of her sessions from the IdP end; her local
    // account's lives on.
    let (_, request) = slo.logout_request(ACME_EMAIL, None, |xml| xml);
    let answered = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(slo.slo())
        .form(&[("SAMLRequest", encode(&slo.signed_xml(&request)).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(answered.status(), StatusCode::SEE_OTHER);
    assert_eq!(slo.counts().await, [1, 5]);
    assert_eq!(account(&second).await, StatusCode::SEE_OTHER);
    assert_eq!(account(&local).await, StatusCode::OK);
}

/// Delivers `url` and checks that it was refused and changed nothing.
async fn assert_refused(slo: &Slo, http: &Client, what: &str, response: reqwest::Response) {
    let before = slo.counts().await;
    let status = response.status();
    let page = response.text().await.unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {page}");
    assert_eq!(slo.counts().await, before, "{what} changed nothing");
    let account = http.get(slo.server.url("/account")).send().await.unwrap();
    assert_eq!(account.status(), StatusCode::OK, "{what}: still signed in");
}

async fn forged_logout_requests_end_nothing(backend: Backend) {
    let slo = Slo::start(backend).await;
    let http = slo.server.client();
    slo.sign_in(&http, "s-1").await;
    let stranger = IdpKey::generate();
    let counts = slo.counts().await;
    let redirect =
        |xml: &str, key: Option<&IdpKey>| redirect_url(&slo.slo(), "SAMLRequest", xml, None, key);
    let request =
        |change: &dyn Fn(String) -> String| slo.logout_request(ACME_EMAIL, Some("s-1"), change).1;
    let genuine = request(&|xml| xml);
    let redirected: Vec<(&str, String)> = vec![
        ("unsigned", redirect(&genuine, None)),
        ("signed by another key", redirect(&genuine, Some(&stranger))),
        (
            "another message under the signature",
            redirect(&genuine, Some(&slo.idp)).replacen(
                "SAMLRequest=",
                &format!(
                    "SAMLRequest={}&x=",
                    url::form_urlencoded::byte_serialize(
                        param(
                            &Url::parse(&redirect(
                                &genuine.replace(ACME_EMAIL, "bob@acme.test"),
                                None
                            ))
                            .unwrap(),
                            "SAMLRequest"
                        )
                        .unwrap()
                        .as_bytes()
                    )
                    .collect::<String>()
                ),
                1,
            ),
        ),
        (
            "another issuer",
            redirect(
                &request(&|xml| xml.replace(IDP_ENTITY, "https://evil.test/idp")),
                Some(&slo.idp),
            ),
        ),
        (
            "another destination",
            redirect(
                &request(&|xml| xml.replace(&slo.slo(), "https://elsewhere.test/slo")),
                Some(&slo.idp),
            ),
        ),
        (
            "issued an hour ago",
            redirect(
                &request(&|xml| with_attribute(&xml, "IssueInstant", &instant(-3600))),
                Some(&slo.idp),
            ),
        ),
        (
            "issued in the future",
            redirect(
                &request(&|xml| with_attribute(&xml, "IssueInstant", &instant(3600))),
                Some(&slo.idp),
            ),
        ),
        (
            "past its NotOnOrAfter",
            redirect(
                &request(&|xml| {
                    xml.replacen(
                        " Destination=",
                        &format!(" NotOnOrAfter=\"{}\" Destination=", instant(-600)),
                        1,
                    )
                }),
                Some(&slo.idp),
            ),
        ),
        (
            "no NameID",
            redirect(
                &request(&|xml| {
                    let start = xml.find("<saml:NameID").unwrap();
                    let end = xml.find("</saml:NameID>").unwrap() + "</saml:NameID>".len();
                    format!("{}{}", &xml[..start], &xml[end..])
                }),
                Some(&slo.idp),
            ),
        ),
        (
            "a DOCTYPE",
            redirect(
                &format!("<!DOCTYPE x [<!ENTITY e \"e\">]>{genuine}"),
                Some(&slo.idp),
            ),
        ),
        (
            "a LogoutResponse in its place",
            redirect(
                &genuine.replace("LogoutRequest", "LogoutResponse"),
                Some(&slo.idp),
            ),
        ),
    ];
    for (what, url) in &redirected {
        assert_refused(&slo, &http, what, deliver(&http, url).await).await;
    }

    let poster = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = |xml: String| {
        let poster = poster.clone();
        let url = slo.slo();
        async move {
            poster
                .post(url)
                .form(&[("SAMLRequest", encode(&xml).as_str())])
                .send()
                .await
                .unwrap()
        }
    };
    let signed = slo.signed_xml(&genuine);
    let posted: Vec<(&str, String)> = vec![
        ("posted unsigned", genuine.clone()),
        (
            "posted, then changed",
            signed.replace("<samlp:SessionIndex>s-1", "<samlp:SessionIndex>s-9"),
        ),
        (
            "posted, signed by another key",
            stranger.sign(&genuine.replacen(
                "</saml:Issuer>",
                &format!(
                    "</saml:Issuer>{}",
                    signature_template(&first_id(&genuine), &stranger.cert_b64)
                ),
                1,
            )),
        ),
        (
            "posted with a comment",
            signed.replacen(ACME_EMAIL, &format!("<!---->{ACME_EMAIL}"), 1),
        ),
    ];
    for (what, xml) in posted {
        assert_refused(&slo, &http, what, post(xml).await).await;
    }
    let oversized = poster
        .post(slo.slo())
        .form(&[("SAMLRequest", "A".repeat(300 * 1024))])
        .send()
        .await
        .unwrap();
    assert_eq!(oversized.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Another person's NameID with her SessionIndex is a genuine request that ends nothing of hers.
    let (_, bobs) = slo.logout_request("bob@acme.test", Some("s-1"), |xml| xml);
    let answered = deliver(&http, &redirect(&bobs, Some(&slo.idp))).await;
    assert_eq!(answered.status(), StatusCode::SEE_OTHER);
    assert_eq!(slo.server.count("sessions").await, counts[0]);

    // The genuine request, untouched, ends her session: the refusals were the forgeries' doing.
    let answered = deliver(&http, &redirect(&genuine, Some(&slo.idp))).await;
    assert_eq!(answered.status(), StatusCode::SEE_OTHER);
    assert_eq!(slo.server.count("sessions").await, counts[0] - 1);
}

async fn forged_logout_responses_are_refused(backend: Backend) {
    let slo = Slo::start(backend).await;
    let stranger = IdpKey::generate();
    type Forge = fn(&Slo, &IdpKey, &str, &str) -> String;
    let forgeries: [(&str, Forge); 5] = [
        ("unsigned", |slo, _, request_id, relay| {
            redirect_url(
                &slo.server.url("/saml/acme/logged-out"),
                "SAMLResponse",
                &idp_logout_response(slo, request_id, |xml| xml),
                Some(relay),
                None,
            )
        }),
        (
            "signed by another key",
            |slo, stranger, request_id, relay| {
                redirect_url(
                    &slo.server.url("/saml/acme/logged-out"),
                    "SAMLResponse",
                    &idp_logout_response(slo, request_id, |xml| xml),
                    Some(relay),
                    Some(stranger),
                )
            },
        ),
        ("answering another request", |slo, _, _, relay| {
            redirect_url(
                &slo.server.url("/saml/acme/logged-out"),
                "SAMLResponse",
                &idp_logout_response(slo, "id-another", |xml| xml),
                Some(relay),
                Some(&slo.idp),
            )
        }),
        ("from another issuer", |slo, _, request_id, relay| {
            redirect_url(
                &slo.server.url("/saml/acme/logged-out"),
                "SAMLResponse",
                &idp_logout_response(slo, request_id, |xml| {
                    xml.replace(IDP_ENTITY, "https://evil.test/idp")
                }),
                Some(relay),
                Some(&slo.idp),
            )
        }),
        ("to another destination", |slo, _, request_id, relay| {
            redirect_url(
                &slo.server.url("/saml/acme/logged-out"),
                "SAMLResponse",
                &idp_logout_response(slo, request_id, |xml| {
                    xml.replace("/saml/acme/logged-out", "/saml/other/logged-out")
                }),
                Some(relay),
                Some(&slo.idp),
            )
        }),
    ];
    for (what, forge) in forgeries {
        let http = slo.server.client();
        slo.sign_in(&http, "s-1").await;
        let to_idp = sign_out(&slo, &http).await;
        let request_id = attribute_of(&inflated(&to_idp, "SAMLRequest"), "ID").unwrap();
        let relay = param(&to_idp, "RelayState").unwrap();
        let url = forge(&slo, &stranger, &request_id, &relay);
        let response = http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{what}");
        assert_eq!(location(&response), None, "{what}: goes nowhere");
    }
}

/// A folder for the pysaml2 IdP of `tests/it/saml_peer.py`: the IdP's key and certificate, and
/// the metadata of connection `acme` that `server` serves.
pub(crate) async fn pysaml2_folder(
    server: &TestServer,
    http: &Client,
    idp: &IdpKey,
) -> tempfile::TempDir {
    let folder = tempfile::tempdir().unwrap();
    let lines: Vec<&str> = idp
        .cert_b64
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap())
        .collect();
    let cert = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    );
    std::fs::write(folder.path().join("idp-key.pem"), idp.key_pem()).unwrap();
    std::fs::write(folder.path().join("idp-cert.pem"), cert).unwrap();
    let metadata = page_text(http, server.url("/saml/acme/metadata")).await;
    std::fs::write(folder.path().join("sp-metadata.xml"), metadata).unwrap();
    folder
}

/// Runs the pysaml2 IdP of `tests/it/saml_peer.py` in `folder` with `args`; what it printed.
pub(crate) fn pysaml2(folder: &std::path::Path, args: &[&str]) -> String {
    let output = python_script("saml_peer.py")
        .arg(folder)
        .args(args)
        .output()
        .expect("the test python runs");
    assert!(
        output.status.success(),
        "saml_peer.py {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// pysaml2, an IdP implementation of its own, reads idbridge's signed LogoutRequest and answers
/// it; and its own signed LogoutRequest ends the session it names at idbridge.
async fn an_independent_idp_logs_out_both_ways(backend: Backend) {
    let slo = Slo::start(backend).await;
    let http = slo.server.client();
    let folder = pysaml2_folder(&slo.server, &http, &slo.idp).await;

    // A sign-out at idbridge: pysaml2 verifies the request and reads it.
    slo.sign_in(&http, "s-1").await;
    let to_idp = sign_out(&slo, &http).await;
    let read: serde_json::Value =
        serde_json::from_str(&pysaml2(folder.path(), &["answer", to_idp.as_str()])).unwrap();
    assert_eq!(read["issuer"], slo.server.url("/saml/acme"));
    assert_eq!(read["destination"], IDP_SLO);
    assert_eq!(read["name_id"], ACME_EMAIL);
    assert_eq!(read["name_id_format"], NAME_ID_FORMAT);
    assert_eq!(read["session_indexes"], serde_json::json!(["s-1"]));
    // Its signed answer comes back to idbridge, which takes it.
    let answer = read["answer"].as_str().unwrap();
    assert!(
        answer.starts_with(&slo.server.url("/saml/acme/logged-out?")),
        "{answer}"
    );
    let done = http.get(answer).send().await.unwrap();
    assert_eq!(location(&done).as_deref(), Some("/sso/v2/login"));
    assert_eq!(slo.server.count("upstream_logouts").await, 0);

    // pysaml2 ends the IdP's session s-2: idbridge ends hers and answers, signed.
    slo.sign_in(&http, "s-2").await;
    let other = slo.server.client();
    slo.sign_in(&other, "s-3").await;
    let url = pysaml2(
        folder.path(),
        &["request", ACME_EMAIL, NAME_ID_FORMAT, "s-2", "relay-1"],
    );
    assert!(url.starts_with(&slo.slo()), "{url}");
    let answered = http.get(&url).send().await.unwrap();
    assert_eq!(answered.status(), StatusCode::SEE_OTHER);
    let back = Url::parse(&location(&answered).unwrap()).unwrap();
    assert!(verifier(&slo.sp).verify_signed_response_url(&back).unwrap());
    assert_eq!(param(&back, "RelayState").as_deref(), Some("relay-1"));
    assert_eq!(slo.server.count("sessions").await, 1, "s-3 lives on");
}
