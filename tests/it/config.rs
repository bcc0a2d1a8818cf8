//! Config validation: every class of error is reported with its key path, all at once.

use std::time::Duration;

use idbridge::Config;
use idbridge::config::{ConfigError, Problem};

use crate::support::{BASE_CONFIG, config_problems, parse_config};

fn check(text: &str) -> Result<Config, ConfigError> {
    parse_config(text, &[])
}

fn problems(text: &str) -> Vec<String> {
    config_problems(text, &[])
}

fn assert_problem(found: &[String], path: &str, fragment: &str) {
    assert!(
        found
            .iter()
            .any(|p| p.starts_with(&format!("{path}: ")) && p.contains(fragment)),
        "expected `{path}: …{fragment}…` in {found:#?}"
    );
}

const SHOP_SECRET_ENV: (&str, &str) = ("SHOP_SECRET", crate::support::SHOP_SECRET);

#[test]
fn the_base_config_is_valid() {
    let config = parse_config(BASE_CONFIG, &[SHOP_SECRET_ENV]).unwrap();
    assert_eq!(config.entities.len(), 3);
    assert_eq!(config.server.session_ttl, 8 * 3600);
    assert_eq!(config.server.audit_retention, 365 * 86_400);
    assert_eq!(config.server.userinfo_cache, Duration::from_secs(1));
    assert_eq!(
        config.clients[0].token_endpoint_auth_method.as_str(),
        "client_secret_basic"
    );
}

#[test]
fn the_spec_example_sections_are_valid() {
    // SPEC section 3, the sections this version implements.
    let text = r#"
[server]
issuer = "https://id.example.com"
bind = "0.0.0.0:8080"
session_ttl = "8h"
trusted_proxies = []

[database]
url = "sqlite://idbridge.db?mode=rwc"

[keys]
id_token_alg = "RS256"
rotate_after = "90d"
encryption_key = "env:IDBRIDGE_KEY_KEY"

[[entities]]
id = "e-psp-1"
name = "PSPName"
level = "PSP"

[[users]]
id = "u-alice"
email = "alice@example.com"
name = "Alice Example"
password = "env:ALICE_PASSWORD"
attached_to = ["e-psp-1"]

[[clients]]
client_id = "shop"
client_secret = "env:SHOP_SECRET"
redirect_uris = ["https://shop.example.com/callback"]
post_logout_redirect_uris = ["https://shop.example.com/"]
allowed_scopes = ["openid", "profile", "email", "offline_access"]
id_token_alg = "RS256"
require_pkce = true
token_endpoint_auth_method = "client_secret_basic"

[[api_credentials]]
username = "backend"
password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$hBSRn2aS0xJAgSZ0h6N8F4a6E3v1v3ZsNvYJc1W2Qy8"
scopes = ["session_urls"]

[[products]]
id = "helpdesk"
format = "hub"
login_url = "https://{hub_domain}/login/sso"
allowed_domains = ["help.example.com", "*.help.example.com"]
preview_domain = "preview.help.example.com"
secrets = ["env:HELPDESK_SECRET_2", "env:HELPDESK_SECRET_1"]
token_ttl = "5m"
"#;
    let config = parse_config(
        text,
        &[
            (
                "IDBRIDGE_KEY_KEY",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            ),
            ("ALICE_PASSWORD", "alice's password"),
            SHOP_SECRET_ENV,
            (
                "HELPDESK_SECRET_2",
                "helpdesk-secret-2-0123456789abcdefghijkl",
            ),
            (
                "HELPDESK_SECRET_1",
                "helpdesk-secret-1-0123456789abcdefghijkl",
            ),
        ],
    )
    .unwrap();
    assert_eq!(config.server.issuer, "https://id.example.com");
    let product = &config.products[0];
    assert_eq!(
        product.signing_secret().expose(),
        "helpdesk-secret-2-0123456789abcdefghijkl"
    );
    assert_eq!((product.secrets.len(), product.token_ttl), (2, 300));
    assert!(config.keys.encryption_key.is_some());
}

#[test]
fn unknown_keys_are_named_each_with_its_path() {
    let found = problems(&format!(
        "colour = \"blue\"\n[database]\nurll = \"x\"\n{}",
        BASE_CONFIG.replace(
            "redirect_uris = [",
            "redirect_urls = [\"x\"]\nredirect_uris = ["
        )
    ));
    assert_problem(&found, "colour", "unknown key");
    assert_problem(&found, "database.urll", "unknown key");
    assert_problem(&found, "clients[0].redirect_urls", "unknown key");
}

#[test]
fn a_bad_url_is_named() {
    let text = BASE_CONFIG.replace(
        "redirect_uris = [\"https://shop.example.com/callback\"]",
        "redirect_uris = [\"https://shop.example.com/ok\", \"/relative\", \"https://x.example/#frag\", \"http://plain.example/cb\"]",
    );
    let text = format!("[server]\nissuer = \"https://id.example.com\"\n{text}");
    let found = parse_config(&text, &[SHOP_SECRET_ENV]).unwrap_err();
    let found: Vec<String> = found.problems().iter().map(Problem::to_string).collect();
    assert_problem(&found, "clients[0].redirect_uris[1]", "not an absolute URL");
    assert_problem(&found, "clients[0].redirect_uris[2]", "fragment");
    assert_problem(&found, "clients[0].redirect_uris[3]", "https");
    assert_eq!(found.len(), 3, "{found:#?}");

    let found = problems("[server]\nissuer = \"id.example.com\"");
    assert_problem(&found, "server.issuer", "not an absolute URL");
}

#[test]
fn logout_channel_registrations_are_checked() {
    let with = |keys: &str| {
        let text = BASE_CONFIG.replace(
            "redirect_uris = [\"https://shop.example.com/callback\"]",
            &format!("redirect_uris = [\"https://shop.example.com/callback\"]\n{keys}"),
        );
        let text = format!("[server]\nissuer = \"https://id.example.com\"\n{text}");
        parse_config(&text, &[SHOP_SECRET_ENV])
    };
    let config = with(
        "backchannel_logout_uri = \"https://shop.example.com/bcl\"\nbackchannel_logout_session_required = true",
    )
    .unwrap();
    let registered = config.clients[0].backchannel_logout.as_ref().unwrap();
    assert_eq!(registered.uri, "https://shop.example.com/bcl");
    assert!(registered.session_required);
    for (keys, path, fragment) in [
        (
            "backchannel_logout_uri = \"/bcl\"",
            "clients[0].backchannel_logout_uri",
            "not an absolute URL",
        ),
        (
            "backchannel_logout_uri = \"https://shop.example.com/bcl#x\"",
            "clients[0].backchannel_logout_uri",
            "fragment",
        ),
        (
            "backchannel_logout_uri = \"http://shop.example.com/bcl\"",
            "clients[0].backchannel_logout_uri",
            "https",
        ),
        (
            "backchannel_logout_session_required = true",
            "clients[0].backchannel_logout_session_required",
            "only with backchannel_logout_uri",
        ),
        (
            "frontchannel_logout_uri = \"http://shop.example.com/fc\"",
            "clients[0].frontchannel_logout_uri",
            "https",
        ),
        (
            "frontchannel_logout_session_required = false",
            "clients[0].frontchannel_logout_session_required",
            "only with frontchannel_logout_uri",
        ),
    ] {
        let found: Vec<String> = with(keys)
            .unwrap_err()
            .problems()
            .iter()
            .map(Problem::to_string)
            .collect();
        assert_problem(&found, path, fragment);
        assert_eq!(found.len(), 1, "{found:#?}");
    }
}

#[test]
fn a_missing_secret_environment_variable_is_named() {
    let found = problems(BASE_CONFIG);
    assert_problem(
        &found,
        "clients[0].client_secret",
        "environment variable SHOP_SECRET is not set",
    );
}

#[test]
fn an_unknown_parent_entity_is_named() {
    let found = problems(&BASE_CONFIG.replace("parent = \"e-div-1\"", "parent = \"e-nowhere\""));
    assert_problem(&found, "entities[2].parent", "unknown entity \"e-nowhere\"");
}

#[test]
fn a_wrong_level_order_is_named() {
    let text = r#"
[[entities]]
id = "m"
name = "M"
level = "MERCHANT"
parent = "p"
[[entities]]
id = "p"
name = "P"
level = "PSP"
[[entities]]
id = "d"
name = "D"
level = "DIVISION"
parent = "m"
[[entities]]
id = "lonely"
name = "Lonely"
level = "MERCHANT"
[[entities]]
id = "x"
name = "X"
level = "COMPANY"
"#;
    let found = problems(text);
    assert_problem(
        &found,
        "entities[2].parent",
        "the parent of a DIVISION must be a PSP",
    );
    assert_problem(
        &found,
        "entities[3].parent",
        "a MERCHANT needs a DIVISION or PSP parent",
    );
    assert_problem(
        &found,
        "entities[4].level",
        "must be PSP, DIVISION or MERCHANT",
    );
    assert_eq!(
        found.len(),
        3,
        "a MERCHANT directly under a PSP is fine: {found:#?}"
    );
}

#[test]
fn a_cycle_is_named() {
    let text = r#"
[[entities]]
id = "a"
name = "A"
level = "DIVISION"
parent = "b"
[[entities]]
id = "b"
name = "B"
level = "DIVISION"
parent = "a"
"#;
    let found = problems(text);
    assert_problem(&found, "entities[0].parent", "cycle: a -> b -> a");
    assert_problem(&found, "entities[1].parent", "cycle: b -> a -> b");
}

#[test]
fn duplicate_ids_are_named() {
    let text = format!(
        "{BASE_CONFIG}\n[[entities]]\nid = \"e-psp-1\"\nname = \"Again\"\nlevel = \"PSP\"\n\
         [[users]]\nid = \"u-alice\"\nemail = \"ALICE@example.com\"\nname = \"Twin\"\npassword = \"x\"\n\
         [[clients]]\nclient_id = \"shop\"\nredirect_uris = [\"https://a.example/cb\"]\n"
    );
    let found = parse_config(&text, &[SHOP_SECRET_ENV]).unwrap_err();
    let found: Vec<String> = found.problems().iter().map(Problem::to_string).collect();
    assert_problem(&found, "entities[3].id", "duplicate id \"e-psp-1\"");
    assert_problem(&found, "users[1].id", "duplicate id \"u-alice\"");
    assert_problem(&found, "users[1].email", "duplicate email");
    assert_problem(&found, "clients[1].client_id", "duplicate id \"shop\"");
}

#[test]
fn every_problem_is_listed_at_once() {
    let text = r#"
[server]
bind = "everywhere"
session_ttl = "forever"
audit_retention = "a year"
saml_posts_per_minute_per_address = 0
trusted_proxies = ["not-an-ip"]
[database]
url = "mysql://nope"
[keys]
id_token_alg = "HS256"
encryption_key = "dG9vIHNob3J0"
[[clients]]
client_id = "public"
redirect_uris = []
require_pkce = false
allowed_scopes = ["email", "admin"]
[[api_credentials]]
username = "a:b"
password_hash = "not-a-hash"
scopes = ["root"]
"#;
    let found = problems(text);
    for (path, fragment) in [
        ("server.bind", "socket address"),
        ("server.session_ttl", "not a duration"),
        ("server.audit_retention", "not a duration"),
        ("server.saml_posts_per_minute_per_address", "from 1 to"),
        ("server.trusted_proxies[0]", "IP address"),
        ("database.url", "sqlite: or postgres://"),
        ("keys.id_token_alg", "RS256, ES256 or EdDSA"),
        ("keys.encryption_key", "32 bytes"),
        ("clients[0].redirect_uris", "at least one"),
        ("clients[0].require_pkce", "must use PKCE"),
        ("clients[0].allowed_scopes[1]", "unknown scope \"admin\""),
        ("clients[0].allowed_scopes", "must include openid"),
        ("api_credentials[0].username", "':'"),
        ("api_credentials[0].password_hash", "argon2id"),
        ("api_credentials[0].scopes[0]", "unknown scope \"root\""),
    ] {
        assert_problem(&found, path, fragment);
    }
    assert_eq!(found.len(), 15, "{found:#?}");
}

#[test]
fn the_legacy_sunset_is_a_date_after_the_deprecation() {
    let with = |value: &str| format!("[server]\nlegacy_sunset = \"{value}\"\n{BASE_CONFIG}");
    let set = parse_config(&with("2027-06-30"), &[SHOP_SECRET_ENV]).unwrap();
    assert_eq!(set.server.legacy_sunset, Some(1_814_313_600));
    let unset = parse_config(BASE_CONFIG, &[SHOP_SECRET_ENV]).unwrap();
    assert_eq!(unset.server.legacy_sunset, None);
    assert_problem(
        &problems(&with("30.06.2027")),
        "server.legacy_sunset",
        "YYYY-MM-DD",
    );
    assert_problem(
        &problems(&with("2026-01-01")),
        "server.legacy_sunset",
        "after the paths' deprecation",
    );
}

#[test]
fn the_metrics_token_is_long_and_from_the_environment() {
    let with = |value: &str| format!("[server]\nmetrics_token = \"{value}\"\n{BASE_CONFIG}");
    let token = "metrics-token-0123456789abcdefghijklmnop";
    let set = parse_config(
        &with("env:METRICS_TOKEN"),
        &[SHOP_SECRET_ENV, ("METRICS_TOKEN", token)],
    )
    .unwrap();
    assert_eq!(set.server.metrics_token.unwrap().expose(), token);
    let unset = parse_config(BASE_CONFIG, &[SHOP_SECRET_ENV]).unwrap();
    assert!(unset.server.metrics_token.is_none());
    assert_problem(
        &problems(&with("short")),
        "server.metrics_token",
        "shorter than",
    );
    assert_problem(
        &problems(&with("env:NOT_SET_ANYWHERE")),
        "server.metrics_token",
        "is not set",
    );
}

#[test]
fn userinfo_cache_is_at_most_a_minute_and_can_be_off() {
    let with = |value: &str| format!("[server]\nuserinfo_cache = \"{value}\"\n{BASE_CONFIG}");
    let off = parse_config(&with("0s"), &[SHOP_SECRET_ENV]).unwrap();
    assert_eq!(off.server.userinfo_cache, Duration::ZERO);
    let minute = parse_config(&with("1m"), &[SHOP_SECRET_ENV]).unwrap();
    assert_eq!(minute.server.userinfo_cache, Duration::from_secs(60));
    assert_problem(
        &problems(&with("61s")),
        "server.userinfo_cache",
        "at most 60s",
    );
    assert_problem(
        &problems(&with("soon")),
        "server.userinfo_cache",
        "not a duration",
    );
}

#[test]
fn client_secret_rules() {
    let short = BASE_CONFIG.replace("env:SHOP_SECRET", "too-short");
    assert_problem(
        &problems(&short),
        "clients[0].client_secret",
        "at least 32 characters",
    );

    let public_hs256 = r#"
[[clients]]
client_id = "spa"
redirect_uris = ["https://spa.example.com/cb"]
id_token_alg = "HS256"
token_endpoint_auth_method = "client_secret_post"
"#;
    let found = problems(public_hs256);
    assert_problem(
        &found,
        "clients[0].id_token_alg",
        "client_secret is required",
    );
    assert_problem(
        &found,
        "clients[0].client_secret",
        "required by token_endpoint_auth_method client_secret_post",
    );
}

#[test]
fn users_need_exactly_one_kind_of_password() {
    let text = r#"
[[users]]
id = "a"
email = "a@example.com"
name = "A"
[[users]]
id = "b"
email = "b@example.com"
name = "B"
password = "x"
password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$hBSRn2aS0xJAgSZ0h6N8F4a6E3v1v3ZsNvYJc1W2Qy8"
[[users]]
id = "c"
email = "not-an-email"
name = ""
password = "x"
attached_to = ["e-unknown"]
"#;
    let found = problems(text);
    assert_problem(&found, "users[0]", "password_hash or password is required");
    assert_problem(&found, "users[1]", "not both");
    assert_problem(&found, "users[2].email", "not an email address");
    assert_problem(&found, "users[2].name", "must not be empty");
    assert_problem(
        &found,
        "users[2].attached_to[0]",
        "unknown entity \"e-unknown\"",
    );
}

#[test]
fn environment_overrides_win_and_are_named_in_errors() {
    let config = parse_config(
        "[server]\nbind = \"127.0.0.1:1\"\nissuer = \"https://file.example\"",
        &[
            ("IDBRIDGE_BIND", "0.0.0.0:9999"),
            ("IDBRIDGE_ISSUER", "https://env.example/"),
        ],
    )
    .unwrap();
    assert_eq!(config.server.bind.port(), 9999);
    assert_eq!(
        config.server.issuer, "https://env.example",
        "trailing slash dropped"
    );

    let error = parse_config(
        "",
        &[
            ("IDBRIDGE_BIND", "nowhere"),
            ("IDBRIDGE_DATABASE_URL", "oracle://x"),
        ],
    )
    .unwrap_err();
    let found: Vec<String> = error.problems().iter().map(Problem::to_string).collect();
    assert_problem(&found, "server.bind (from IDBRIDGE_BIND)", "socket address");
    assert_problem(
        &found,
        "database.url (from IDBRIDGE_DATABASE_URL)",
        "sqlite:",
    );
}

#[test]
fn a_type_error_is_named_with_its_path() {
    let found =
        problems("[[clients]]\nclient_id = \"x\"\nredirect_uris = \"https://one.example/cb\"\n");
    assert_problem(&found, "clients[0].redirect_uris", "expected a sequence");
    let syntax = check("[server\nissuer=").unwrap_err();
    assert!(matches!(syntax, ConfigError::Syntax(_)), "{syntax}");
    assert!(syntax.to_string().contains("line 1"), "{syntax}");
}

/// Private signing keys are stored encrypted: an operator's config must give the key.
#[test]
fn an_encryption_key_is_required() {
    let refused = Config::from_toml(BASE_CONFIG, &|name| {
        (name == "SHOP_SECRET").then(|| crate::support::SHOP_SECRET.to_string())
    })
    .unwrap_err();
    let found: Vec<String> = refused.problems().iter().map(Problem::to_string).collect();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_problem(&found, "keys.encryption_key", "required");
}

#[test]
fn the_embedded_demo_is_valid() {
    let config = idbridge::demo::config(&|_| None).unwrap();
    assert!(
        config.keys.encryption_key.is_none(),
        "the demo alone runs without an encryption key"
    );
    assert_eq!(config.server.issuer, "http://127.0.0.1:8080");
    assert_eq!(
        config.clients[0].redirect_uris,
        ["http://127.0.0.1:8080/demo/callback"]
    );
    assert_eq!(config.users[0].email, idbridge::demo::DEMO_EMAIL);
}

#[test]
fn branding_files_must_be_readable_logos_and_small() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.css"), vec![b' '; 600 * 1024]).unwrap();
    std::fs::write(dir.path().join("logo.bmp"), b"BM").unwrap();
    let text = r#"
[[entities]]
id = "p"
name = "P"
level = "PSP"
branding = { css = "missing.css", logo = "logo.bmp", title = "P" }
[[entities]]
id = "d"
name = "D"
level = "DIVISION"
parent = "p"
branding = { css = "big.css", colour = "red" }
"#;
    let error = Config::from_toml_at(text, &|_| None, dir.path()).unwrap_err();
    let found: Vec<String> = error.problems().iter().map(Problem::to_string).collect();
    // An unknown key is reported with every other problem: each file is still checked.
    assert_problem(&found, "entities[1].branding.colour", "unknown key");
    assert_problem(&found, "entities[0].branding.css", "cannot read");
    assert_problem(&found, "entities[0].branding.logo", "must be .png, .svg");
    assert_problem(&found, "entities[1].branding.css", "larger than 512 KiB");
}

/// SPEC section 3's OIDC connection, on BASE_CONFIG's entities.
const OIDC_CONNECTION: &str = r#"
[[connections]]
id = "globex-oidc"
type = "oidc"
entity = "e-div-1"
domains = ["globex.com"]
issuer = "https://login.globex.com"
client_id = "idbridge"
client_secret = "env:GLOBEX_SECRET"
scopes = ["openid", "profile", "email"]
claims = { email = "email", name = "name" }
"#;

#[test]
fn the_spec_oidc_connection_is_valid() {
    let config = parse_config(
        &format!("{BASE_CONFIG}{OIDC_CONNECTION}"),
        &[SHOP_SECRET_ENV, ("GLOBEX_SECRET", "globex-gave-us-this")],
    )
    .unwrap();
    let connection = &config.connections[0];
    assert_eq!(
        connection.name, "globex-oidc",
        "the id when no name is given"
    );
    assert_eq!(connection.domains, ["globex.com"]);
    let idbridge::config::ConnectionProtocol::Oidc(oidc) = &connection.protocol else {
        panic!("an oidc connection");
    };
    assert_eq!(oidc.issuer, "https://login.globex.com");
    assert_eq!(oidc.client_secret.expose(), "globex-gave-us-this");
    assert_eq!(oidc.timeout, 10);
    assert!(
        !oidc.email_authoritative,
        "email_verified is required by default"
    );
    assert!(!format!("{config:?}").contains("globex-gave-us-this"));
}

/// Plain http is allowed for an upstream provider on the machine itself: `localhost` and every
/// loopback address, as for webhooks and redirect URIs.
#[test]
fn upstream_urls_are_https_or_on_a_loopback_host() {
    let env = [SHOP_SECRET_ENV, ("GLOBEX_SECRET", "globex-gave-us-this")];
    let with_issuer = |issuer: &str| {
        format!(
            "{BASE_CONFIG}{}",
            OIDC_CONNECTION.replace("https://login.globex.com", issuer)
        )
    };
    let saml = |url: &str| {
        format!(
            r#"{BASE_CONFIG}
[[connections]]
id = "acme-metadata"
type = "saml"
entity = "e-mer-1"
idp_metadata_url = "{url}/metadata"

[[connections]]
id = "acme-inline"
type = "saml"
entity = "e-mer-1"
idp_entity_id = "https://idp.acme.test"
idp_sso_url = "{url}/sso"
"#
        )
    };
    for loopback in [
        "http://localhost:9000",
        "http://127.0.0.1:9000",
        "http://127.0.0.2:9000",
        "http://127.255.0.1",
        "http://[::1]:9000",
    ] {
        parse_config(&with_issuer(loopback), &env).unwrap_or_else(|e| panic!("{loopback}: {e}"));
        // The inline IdP lacks its certificate, and nothing else.
        assert_eq!(
            config_problems(&saml(loopback), &env),
            [
                "connections[1].idp_certificate: required: responses are verified with it, never with a certificate they carry"
            ],
            "{loopback}"
        );
    }
    for remote in [
        "http://login.globex.com",
        "http://localhost.globex.com",
        "http://128.0.0.1",
        "http://[::2]",
    ] {
        let found = config_problems(&with_issuer(remote), &env);
        assert_problem(
            &found,
            "connections[0].issuer",
            "http only for loopback hosts",
        );
        let found = problems(&saml(remote));
        assert_problem(
            &found,
            "connections[0].idp_metadata_url",
            "http only for loopback hosts",
        );
        assert_problem(
            &found,
            "connections[1].idp_sso_url",
            "http only for loopback hosts",
        );
    }
}

#[test]
fn connection_problems_are_named() {
    // Four labels of 63 characters: each label is allowed, the name is longer than 253.
    let too_long = vec!["a".repeat(63); 4].join(".");
    let text = format!(
        r#"{BASE_CONFIG}
[[connections]]
id = "Globex OIDC"
type = "oidc"
entity = "e-nowhere"
domains = ["globex.com", "not a domain", "{too_long}", "acme"]
issuer = "http://login.globex.com"
scopes = ["profile"]
timeout = "soon"
claims = {{ email = "upn" }}

[[connections]]
id = "acme"
type = "saml"
entity = "e-mer-1"
domains = ["GLOBEX.com"]
max_response_bytes = 1048577

[[connections]]
id = "local"
type = "ldap"
entity = "e-mer-1"

[[connections]]
id = "session_url"
type = "saml"
entity = "e-mer-1"

[[connections]]
id = "config"
type = "saml"
entity = "e-mer-1"
"#
    );
    let found = problems(&text);
    assert_problem(&found, "connections[0].id", "lowercase letters");
    assert_problem(&found, "connections[0].entity", "unknown entity");
    assert_problem(&found, "connections[0].domains[1]", "not a domain name");
    assert_problem(&found, "connections[0].domains[2]", "not a domain name");
    assert_problem(&found, "connections[0].domains[3]", "not a domain name");
    assert_problem(&found, "connections[0].issuer", "https");
    assert_problem(&found, "connections[0].client_id", "required");
    assert_problem(&found, "connections[0].client_secret", "required");
    assert_problem(&found, "connections[0].scopes", "openid");
    assert_problem(&found, "connections[0].timeout", "not a duration");
    assert_problem(&found, "connections[1].idp_entity_id", "required");
    assert_problem(&found, "connections[1].idp_certificate", "required");
    assert_problem(&found, "connections[1].domains[0]", "another connection");
    assert_problem(
        &found,
        "connections[1].max_response_bytes",
        "between 1024 and 1048576 (the most the ACS reads)",
    );
    assert_problem(&found, "connections[2].id", "not \"local\"");
    assert_problem(&found, "connections[2].type", "must be oidc or saml");
    assert_problem(&found, "connections[3].id", "\"session_url\"");
    // Its users' source would be `config`: config sync would take them for its own.
    assert_problem(&found, "connections[4].id", "\"config\"");

    let unknown_claim = OIDC_CONNECTION.replace("name = \"name\" }", "phone = \"phone_number\" }");
    let found = problems(&format!("{BASE_CONFIG}{unknown_claim}"));
    assert_problem(&found, "connections[0].claims.phone", "unknown key");

    // A provider is authoritative only for domains the connection lists, and SAML has no
    // email_verified to skip.
    let authoritative =
        OIDC_CONNECTION.replace("domains = [\"globex.com\"]", "email_authoritative = true");
    let found = problems(&format!("{BASE_CONFIG}{authoritative}"));
    assert_problem(
        &found,
        "connections[0].email_authoritative",
        "needs domains",
    );
    let found = problems(&format!(
        r#"{BASE_CONFIG}
[[connections]]
id = "acme"
type = "saml"
entity = "e-mer-1"
domains = ["acme.com"]
email_authoritative = true
"#
    ));
    assert_problem(
        &found,
        "connections[0].email_authoritative",
        "only for oidc",
    );
    let with_domains = OIDC_CONNECTION.replace("claims =", "email_authoritative = true\nclaims =");
    let config = parse_config(
        &format!("{BASE_CONFIG}{with_domains}"),
        &[SHOP_SECRET_ENV, ("GLOBEX_SECRET", "globex-gave-us-this")],
    )
    .unwrap();
    let idbridge::config::ConnectionProtocol::Oidc(oidc) = &config.connections[0].protocol else {
        panic!("an oidc connection");
    };
    assert!(oidc.email_authoritative);
}
