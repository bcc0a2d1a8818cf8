//! Signing in through an upstream IdP on another site (`127.0.0.2`): a SAML IdP whose page posts
//! the signed response back by script, and a second idbridge as the OpenID provider. Both end at
//! the relying party with a code that redeems; then the relying party's sign-out goes through
//! the upstream (single logout) and back to the relying party.
use std::sync::Arc;

use axum::Router;
use axum::extract::{OriginalUri, State};
use axum::response::Html;
use axum::routing::get;
use tokio::net::TcpListener;

use super::relying_party::{claims, html_escape};
use super::{Browser, BrowserSetup};
use crate::saml_idp::{IdpKey, encode};
use crate::support::*;
use crate::upstream_oidc::{
    CONNECTION, DOMAINS, UPSTREAM_SECRET, partner_connection, upstream_config,
};
use crate::upstream_saml::{ACME_EMAIL, Outstanding, acme_connection, acme_spec};
use crate::upstream_saml_logout::{attribute_of, inflated, logout_response, redirect_url, text_of};

const PROFILE: &str = "openid profile";

/// The SAML IdP on `127.0.0.2`. Its sign-in page, as an IdP that already knows the person serves
/// it, reads the AuthnRequest (its ID, the ACS it names) and the RelayState from the URL
/// (HTTP-Redirect binding), signs Alice's response and posts it to the ACS by script
/// (HTTP-POST binding). Its single logout service answers a LogoutRequest with a signed
/// LogoutResponse (HTTP-Redirect) to idbridge. Returns the two URLs.
async fn saml_idp(key: Arc<IdpKey>) -> (String, String) {
    let listener = TcpListener::bind("127.0.0.2:0")
        .await
        .expect("bind 127.0.0.2");
    let sso = format!("http://{}/sso", listener.local_addr().unwrap());
    let slo = format!("http://{}/slo", listener.local_addr().unwrap());
    let page = |State(key): State<Arc<IdpKey>>, OriginalUri(uri): OriginalUri| async move {
        let url = url::Url::parse(&format!("http://idp{uri}")).expect("the page's URL");
        let request = Outstanding::read(&url);
        let idbridge = url::Url::parse(&request.acs_url).unwrap().origin();
        let spec = acme_spec(&idbridge.ascii_serialization(), Some(&request.request_id));
        assert_eq!(
            spec.recipient, request.acs_url,
            "the ACS of connection acme"
        );
        Html(format!(
            r#"<!doctype html><title>Acme IdP</title>
<form id="saml" method="post" action="{acs}">
<input type="hidden" name="SAMLResponse" value="{response}">
<input type="hidden" name="RelayState" value="{relay_state}">
</form>
<script>document.getElementById("saml").submit();</script>"#,
            acs = html_escape(&request.acs_url),
            response = encode(&key.response(&spec)),
            relay_state = html_escape(&request.relay_state),
        ))
    };
    let logout = |State(key): State<Arc<IdpKey>>, OriginalUri(uri): OriginalUri| async move {
        let url = url::Url::parse(&format!("http://idp{uri}")).expect("the page's URL");
        let request = inflated(&url, "SAMLRequest");
        assert_eq!(
            text_of(&request, "saml:NameID").as_deref(),
            Some(ACME_EMAIL),
            "{request}"
        );
        let issuer = text_of(&request, "saml:Issuer").expect("an Issuer");
        let logged_out = format!(
            "{}/saml/acme/logged-out",
            issuer.strip_suffix("/saml/acme").expect("acme's entity ID")
        );
        let answer = logout_response(&logged_out, &attribute_of(&request, "ID").unwrap());
        let back = redirect_url(
            &logged_out,
            "SAMLResponse",
            &answer,
            param(&url, "RelayState").as_deref(),
            Some(&key),
        );
        axum::response::Redirect::to(&back)
    };
    let app = Router::new()
        .route("/sso", get(page))
        .route("/slo", get(logout))
        .with_state(key);
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (sso, slo)
}

/// The relying party's sign-out at idbridge, with its ID token as hint, back to its `/bye`.
fn rp_logout(setup: &BrowserSetup, id_token: &str) -> String {
    let mut logout = url::Url::parse(&setup.server.url("/sso/v2/logout")).unwrap();
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", &setup.rp.url("/bye"))
        .append_pair("state", "st-bye");
    logout.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test installs it"]
async fn a_saml_idp_on_another_site_signs_in_to_the_relying_party() {
    let key = Arc::new(IdpKey::generate());
    let (sso, slo) = saml_idp(key.clone()).await;
    let setup = BrowserSetup::start(&format!(
        "{}idp_slo_url = \"{slo}\"\n",
        acme_connection(&key.cert_b64, &sso)
    ))
    .await;
    let browser = Browser::start().await;

    // Home-realm discovery: the relying party names an address of acme.test, and the browser
    // goes to the IdP, whose page posts the response straight back to idbridge.
    browser
        .goto(
            &setup
                .rp
                .authorize_url(PROFILE, "st-saml", &[("login_hint", ACME_EMAIL)]),
        )
        .await;
    browser.find("button[value=allow]").await;
    let consent = browser.url().await;
    assert_eq!(
        consent.origin().ascii_serialization(),
        setup.server.base,
        "consent at idbridge, after the IdP: {consent}"
    );
    browser.click("button[value=allow]").await;

    let url = browser.wait_at(&setup.rp.base, "/cb").await;
    assert_eq!(param(&url, "state").as_deref(), Some("st-saml"));
    let code = param(&url, "code").expect("a code at the relying party");
    let tokens = setup.rp.redeem(&code).await;
    let id_token = claims(tokens["id_token"].as_str().expect("an ID token"));
    assert_eq!(id_token["name"], "Alice Acme", "the name the IdP asserted");
    assert_ne!(id_token["sub"], "u-alice", "a user of the connection's own");
    assert_eq!(setup.server.count("upstream_identities").await, 1);

    // The relying party signs her out: idbridge ends its session, the browser takes a
    // LogoutRequest to the IdP, whose signed LogoutResponse brings it back, and on to the
    // relying party.
    browser
        .goto(&rp_logout(&setup, tokens["id_token"].as_str().unwrap()))
        .await;
    let back = browser.wait_at(&setup.rp.base, "/bye").await;
    assert_eq!(param(&back, "state").as_deref(), Some("st-bye"));
    assert_eq!(setup.server.count("sessions").await, 0);
    assert_eq!(
        setup.server.count("upstream_logouts").await,
        0,
        "the IdP's answer was taken"
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Chromium: scripts/test installs it"]
async fn an_upstream_idbridge_on_another_site_signs_in_to_the_relying_party() {
    // B, the upstream, answers on 127.0.0.2; A is the browser suite's idbridge on localhost.
    let b_port = ReservedPort::on([127, 0, 0, 2]);
    let b_issuer = b_port.base();
    let setup = BrowserSetup::start_with(
        &partner_connection(&b_issuer, "5s", DOMAINS),
        &[("UPSTREAM_SECRET", UPSTREAM_SECRET)],
    )
    .await;
    let b_db = TestDb::new(Backend::Sqlite).await;
    let _b = ServerProcess::spawn_on(
        b_port,
        &b_db,
        &upstream_config(&setup.server.url(&format!("/oidc/{CONNECTION}/callback"))),
        &b_issuer,
        &[("UPSTREAM_SECRET", UPSTREAM_SECRET)],
    )
    .await;
    let browser = Browser::start().await;

    // The person picks the connection's button on A's login page.
    browser
        .goto(&setup.rp.authorize_url(PROFILE, "st-oidc", &[]))
        .await;
    browser.click(".connections a").await;
    // B's own login page, on B's site.
    browser.wait_at(&b_issuer, "/sso/v2/login").await;
    browser.sign_in(ALICE_EMAIL, ALICE_PASSWORD).await;
    // B asks whether A may know who she is, then A asks for the relying party.
    browser.wait_at(&b_issuer, "/sso/v2/consent").await;
    browser.click("button[value=allow]").await;
    browser.wait_at(&setup.server.base, "/sso/v2/consent").await;
    browser.click("button[value=allow]").await;

    let url = browser.wait_at(&setup.rp.base, "/cb").await;
    assert_eq!(param(&url, "state").as_deref(), Some("st-oidc"));
    let code = param(&url, "code").expect("a code at the relying party");
    let tokens = setup.rp.redeem(&code).await;
    let id_token = claims(tokens["id_token"].as_str().expect("an ID token"));
    assert_eq!(id_token["name"], "Alice Example", "the name B released");
    assert_ne!(
        id_token["sub"], "u-alice",
        "a user of the connection's own at A"
    );
    assert_eq!(setup.server.count("upstream_identities").await, 1);
    browser.goto(&format!("{b_issuer}/account")).await;
    browser.wait_at(&b_issuer, "/account").await;

    // The relying party signs her out: A ends its session, then B's (RP-Initiated Logout with
    // the ID token B gave A), and the browser comes back through A to the relying party.
    browser
        .goto(&rp_logout(&setup, tokens["id_token"].as_str().unwrap()))
        .await;
    let back = browser.wait_at(&setup.rp.base, "/bye").await;
    assert_eq!(param(&back, "state").as_deref(), Some("st-bye"));
    assert_eq!(setup.server.count("sessions").await, 0);
    browser.goto(&format!("{b_issuer}/account")).await;
    browser.wait_at(&b_issuer, "/sso/v2/login").await;
    browser.close().await;
}
