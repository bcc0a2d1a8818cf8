//! Entity rules and profile mapping of a SAML connection: what the IdP says of each person (an
//! attribute's value, a group) attaches them to the entities the rules name, at every login, and
//! fills their profile. (The OpenID Connect side is in `upstream_oidc`.)
use reqwest::{Client, StatusCode};
use url::Url;

use crate::saml_idp::*;
use crate::support::*;
use crate::upstream_saml::{Outstanding, acme_spec};
use crate::webhooks::{Answer, Receiver, WEBHOOK_SECRET, webhook_config};

crate::backend_tests!(
    attributes_attach_each_person_where_the_rules_say,
    a_connection_without_default_refuses_whom_no_rule_places,
    a_move_is_announced,
);

/// Connection `acme`: East's people belong to the merchant, members of `cn=div` to the
/// division; `entity` (if any) takes the rest.
fn config(idp: &IdpKey, entity: &str) -> String {
    format!(
        r#"{BASE_CONFIG}
[[connections]]
id = "acme"
type = "saml"
{entity}
domains = ["acme.test"]
idp_entity_id = "{IDP_ENTITY}"
idp_sso_url = "https://idp.acme.test/sso"
idp_certificate = "{}"
attributes = {{ name = "displayName", given_name = "givenName", family_name = "sn", locale = "lang" }}

[[connections.entity_rules]]
attribute = "division"
equals = "East"
entity = "e-mer-1"

[[connections.entity_rules]]
attribute = "memberOf"
equals = "cn=div"
entity = "e-div-1"
"#,
        idp.cert_b64
    )
}

/// Signs `email` in at connection `acme` in a new browser, the IdP saying `attributes` (name,
/// values) besides the display name; the browser, or the status of the refusal.
async fn sign_in(
    server: &TestServer,
    idp: &IdpKey,
    email: &str,
    attributes: &[(&str, &[&str])],
) -> Result<Client, StatusCode> {
    let http = server.client();
    let response = http
        .get(server.url("/saml/acme/login?return_to=/account"))
        .send()
        .await
        .unwrap();
    let outstanding = Outstanding::read(&Url::parse(&location(&response).unwrap()).unwrap());
    let mut spec = acme_spec(&server.base, Some(&outstanding.request_id));
    spec.name_id = email.to_string();
    spec.signed = Signed::Nothing;
    let said: String = attributes
        .iter()
        .map(|(name, values)| {
            let values: String = values
                .iter()
                .map(|v| format!("<saml:AttributeValue>{v}</saml:AttributeValue>"))
                .collect();
            format!(r#"<saml:Attribute Name="{name}">{values}</saml:Attribute>"#)
        })
        .collect();
    let assertion = idp.assertion(&spec).replacen(
        "</saml:AttributeStatement>",
        &format!("{said}</saml:AttributeStatement>"),
        1,
    );
    let at = assertion.find(" ID=\"").unwrap() + 5;
    let id = &assertion[at..at + assertion[at..].find('"').unwrap()];
    let signed = idp.sign(&assertion.replacen(
        "</saml:Issuer>",
        &format!("</saml:Issuer>{}", signature_template(id, &idp.cert_b64)),
        1,
    ));
    let acs = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(server.url("/saml/acme/acs"))
        .form(&[
            (
                "SAMLResponse",
                encode(&idp.response_xml(&spec, &signed)).as_str(),
            ),
            ("RelayState", &outstanding.relay_state),
        ])
        .send()
        .await
        .unwrap();
    if acs.status() != StatusCode::SEE_OTHER {
        return Err(acs.status());
    }
    let resumed = http
        .get(server.url(&location(&acs).unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&resumed).as_deref(), Some("/account"));
    Ok(http)
}

/// The entities the account page of `http` lists, and its profile facts.
async fn account(server: &TestServer, http: &Client) -> (Vec<String>, Vec<String>) {
    let page = page_text(http, server.url("/account")).await;
    (texts(&page, ".entities code"), texts(&page, ".facts dd"))
}

async fn attributes_attach_each_person_where_the_rules_say(backend: Backend) {
    let db = TestDb::new(backend).await;
    let idp = IdpKey::generate();
    let server = TestServer::start(&db, &config(&idp, r#"entity = "e-psp-1""#)).await;

    let alice = sign_in(
        &server,
        &idp,
        "alice@acme.test",
        &[
            ("division", &["East"]),
            ("givenName", &["Alice"]),
            ("sn", &["Acme"]),
            ("lang", &["de-AT"]),
        ],
    )
    .await
    .unwrap();
    let (entities, facts) = account(&server, &alice).await;
    assert_eq!(entities, ["e-mer-1"]);
    for fact in ["Alice", "Acme", "de-AT"] {
        assert!(facts.iter().any(|f| f == fact), "{fact} in {facts:?}");
    }

    // Bob is in two groups, one of which a rule names.
    let bob = sign_in(
        &server,
        &idp,
        "bob@acme.test",
        &[("memberOf", &["cn=staff", "cn=div"])],
    )
    .await
    .unwrap();
    assert_eq!(account(&server, &bob).await.0, ["e-div-1"]);

    // Carol matches no rule: the connection's entity.
    let carol = sign_in(
        &server,
        &idp,
        "carol@acme.test",
        &[("division", &["north"])],
    )
    .await
    .unwrap();
    assert_eq!(account(&server, &carol).await.0, ["e-psp-1"]);

    // Alice moves: West (no rule) and a member of cn=div. Her merchant is gone, and so is the
    // language her IdP no longer says.
    let alice = sign_in(
        &server,
        &idp,
        "alice@acme.test",
        &[
            ("division", &["West"]),
            ("memberOf", &["cn=div"]),
            ("givenName", &["Alice"]),
        ],
    )
    .await
    .unwrap();
    let (entities, facts) = account(&server, &alice).await;
    assert_eq!(entities, ["e-div-1"]);
    assert!(!facts.iter().any(|f| f == "de-AT"), "{facts:?}");
    // In both: both entities.
    let both = sign_in(
        &server,
        &idp,
        "alice@acme.test",
        &[("division", &["East"]), ("memberOf", &["cn=div"])],
    )
    .await
    .unwrap();
    let mut entities = account(&server, &both).await.0;
    entities.sort();
    assert_eq!(entities, ["e-div-1", "e-mer-1"]);
    assert_eq!(
        server.count("users").await,
        1 + 3,
        "config's Alice and three people"
    );
}

async fn a_connection_without_default_refuses_whom_no_rule_places(backend: Backend) {
    let db = TestDb::new(backend).await;
    let idp = IdpKey::generate();
    let server = TestServer::start(&db, &config(&idp, "")).await;
    let users = server.count("users").await;
    let refused = sign_in(&server, &idp, "dave@acme.test", &[("division", &["North"])]).await;
    assert_eq!(refused.err(), Some(StatusCode::FORBIDDEN));
    assert_eq!(server.count("users").await, users, "no user made");
    assert_eq!(
        server.count("saml_assertions").await,
        0,
        "the assertion not spent"
    );
    let placed = sign_in(&server, &idp, "dave@acme.test", &[("division", &["East"])])
        .await
        .unwrap();
    assert_eq!(account(&server, &placed).await.0, ["e-mer-1"]);
}

/// A person whose provider moves them is announced where they are now.
async fn a_move_is_announced(backend: Backend) {
    let receiver = Receiver::start(&[], Answer::Accept).await;
    let db = TestDb::new(backend).await;
    let idp = IdpKey::generate();
    let config = format!(
        "{}{}",
        config(&idp, r#"entity = "e-psp-1""#),
        webhook_config(
            &receiver.url,
            r#"["ProfileCreatedNotification", "ProfileUpdatedNotification"]"#,
            ""
        )
    );
    let server = TestServer::start_with(
        &db,
        &config,
        idbridge::Clock::system(),
        &[("WEBHOOK_SECRET", WEBHOOK_SECRET)],
    )
    .await
    .unwrap();
    let email = "alice@acme.test";
    sign_in(&server, &idp, email, &[("division", &["East"])])
        .await
        .unwrap();
    // The same again changes nothing, and is not announced.
    sign_in(&server, &idp, email, &[("division", &["East"])])
        .await
        .unwrap();
    sign_in(&server, &idp, email, &[("memberOf", &["cn=div"])])
        .await
        .unwrap();
    receiver
        .wait_for(10, "two notifications", |r| r.len() >= 2)
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let payloads = receiver.accepted_payloads();
    // Notifications come in no particular order: by their type.
    let mut seen: Vec<(&str, &str)> = payloads
        .iter()
        .map(|p| {
            (
                p["meta"]["type"].as_str().unwrap(),
                p["user"]["attachedTo"][0]["entityId"].as_str().unwrap(),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("ProfileCreatedNotification", "e-mer-1"),
            ("ProfileUpdatedNotification", "e-div-1")
        ]
    );
}

#[test]
fn entity_rules_are_checked_with_their_key_paths() {
    let idp = IdpKey::generate();
    let config = config(&idp, "")
        .replace(r#"entity = "e-div-1""#, r#"entity = "e-nowhere""#)
        .replace(r#"equals = "East""#, r#"equals = """#)
        .replace(
            r#"attribute = "memberOf""#,
            "attribute = \"member\\u0007Of\"",
        );
    let problems = config_problems(&config, &[]);
    for expected in [
        "connections[0].entity_rules[0].equals",
        "connections[0].entity_rules[1].attribute",
        "connections[0].entity_rules[1].entity: unknown entity \"e-nowhere\"",
    ] {
        assert!(
            problems.iter().any(|p| p.starts_with(expected)),
            "{expected} in {problems:?}"
        );
    }
    let without_any = format!(
        "{BASE_CONFIG}\n[[connections]]\nid = \"acme\"\ntype = \"saml\"\nidp_entity_id = \"{IDP_ENTITY}\"\nidp_sso_url = \"https://idp.acme.test/sso\"\nidp_certificate = \"{}\"\n",
        idp.cert_b64
    );
    let problems = config_problems(&without_any, &[]);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("connections[0]: give entity")),
        "{problems:?}"
    );
}
