//! `[[connections]]`: the upstream identity providers. Each table is read here by its `type`:
//! the keys every kind has (checked here), then the rest as that kind's own settings, which its
//! file (`oidc.rs`, `saml.rs`) reads and checks. Adding a kind is one such file and one arm of
//! [`FileSettings`].
mod oidc;
mod saml;

use std::collections::HashSet;
use std::marker::PhantomData;
use std::path::Path;

use serde::de::{Deserialize, DeserializeSeed, Deserializer};

use super::super::file::{FileConnection, FileEntityRule};
use super::checker::{Checker, check_unique};
use super::parse::key_path;
use super::urls::parse_upstream_url;
use crate::config::{ConnectionDecl, ConnectionProtocol, EntityRule, Problem};
use crate::vocabulary::connections::RESERVED;
use crate::vocabulary::domains::normalize_host;

/// A connection's own settings, by its `type`. Read by hand (see [`SettingsOf`]) rather than
/// with `#[serde(tag = "type")]`: `serde_ignored` cannot see into an internally tagged enum, so
/// unknown keys would go unreported, and an unknown `type` would stop the whole parse.
// One of these lives for a moment per connection while the config is read: its size does not
// matter.
#[allow(clippy::large_enum_variant)]
enum FileSettings {
    Oidc(oidc::FileOidcConnection),
    Saml(saml::FileSamlConnection),
}

impl FileSettings {
    /// Every `type`, in the order the problem for an unknown one names them.
    const KINDS: [&str; 2] = ["oidc", "saml"];

    fn check(
        self,
        check: &mut Checker,
        path: &str,
        connection: &FileConnection,
        issuer: &str,
        base_dir: &Path,
    ) -> Option<ConnectionProtocol> {
        match self {
            FileSettings::Oidc(settings) => {
                oidc::check(check, path, connection, settings).map(ConnectionProtocol::Oidc)
            }
            FileSettings::Saml(settings) => {
                saml::check(check, path, connection, settings, issuer, base_dir)
                    .map(ConnectionProtocol::Saml)
            }
        }
    }
}

/// Reads a connection's own keys as the settings of the `type` it names; `None` for a type
/// idbridge does not have, whose keys are then not read at all.
struct SettingsOf<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for SettingsOf<'_> {
    type Value = Option<FileSettings>;

    fn deserialize<D: Deserializer<'de>>(self, settings: D) -> Result<Self::Value, D::Error> {
        Ok(Some(match self.0 {
            "oidc" => FileSettings::Oidc(Deserialize::deserialize(settings)?),
            "saml" => FileSettings::Saml(Deserialize::deserialize(settings)?),
            _ => return Ok(None),
        }))
    }
}

pub(super) fn check_connections(
    check: &mut Checker,
    connections: &[toml::Table],
    entity_ids: &HashSet<&str>,
    issuer: &str,
    base_dir: &Path,
) -> Vec<ConnectionDecl> {
    let mut seen = HashSet::new();
    let mut claimed_domains = HashSet::new();
    let mut declared = Vec::new();
    for (i, table) in connections.iter().enumerate() {
        let path = format!("connections[{i}]");
        // The keys `FileConnection` leaves are the kind's own.
        let (connection, own_keys) = read(&path, table.clone(), PhantomData::<FileConnection>);
        let connection = match connection {
            Ok(connection) => connection,
            Err(problem) => {
                check.problems.push(problem);
                continue;
            }
        };
        if let Some(id) = check_unique(check, &mut seen, format!("{path}.id"), &connection.id)
            && !is_path_segment(id)
        {
            check.problem(
                format!("{path}.id"),
                "use only lowercase letters, digits, - and _ (it appears in URLs), and not \"local\", \"session_url\" or \"config\"",
            );
        }
        if let Some(entity) = &connection.entity
            && !entity_ids.contains(entity.as_str())
        {
            check.problem(
                format!("{path}.entity"),
                format!("unknown entity {entity:?}"),
            );
        }
        let entity_rules = check_entity_rules(check, &path, &connection.entity_rules, entity_ids);
        if connection.entity.is_none() && connection.entity_rules.is_empty() {
            check.problem(
                path.clone(),
                "give entity (where its people are attached), entity_rules, or both",
            );
        }
        let domains = check_domains(check, &path, &connection.domains, &mut claimed_domains);
        let protocol = read_settings(check, &path, table, &own_keys, &connection.kind)
            .and_then(|settings| settings.check(check, &path, &connection, issuer, base_dir));
        if let Some(protocol) = protocol {
            declared.push(ConnectionDecl {
                id: connection.id.clone(),
                name: connection
                    .name
                    .clone()
                    .unwrap_or_else(|| connection.id.clone()),
                entity: connection.entity.clone(),
                entity_rules,
                domains,
                protocol,
                enabled: connection.enabled.unwrap_or(true),
            });
        }
    }
    declared
}

/// The connection's entity rules: each names an attribute (plain text, as IdPs name them), the
/// value it must have, and a known entity.
fn check_entity_rules(
    check: &mut Checker,
    path: &str,
    rules: &[FileEntityRule],
    entity_ids: &HashSet<&str>,
) -> Vec<EntityRule> {
    let mut checked = Vec::new();
    for (j, rule) in rules.iter().enumerate() {
        let key = format!("{path}.entity_rules[{j}]");
        let plain = |text: &str| {
            !text.trim().is_empty() && text.len() <= 1024 && !text.chars().any(char::is_control)
        };
        let mut fine = true;
        if !plain(&rule.attribute) {
            check.problem(
                format!("{key}.attribute"),
                "an attribute or claim name: not empty, at most 1024 bytes, no control characters",
            );
            fine = false;
        }
        if !plain(&rule.equals) {
            check.problem(
                format!("{key}.equals"),
                "the value to match: not empty, at most 1024 bytes, no control characters",
            );
            fine = false;
        }
        if !entity_ids.contains(rule.entity.as_str()) {
            check.problem(
                format!("{key}.entity"),
                format!("unknown entity {:?}", rule.entity),
            );
            fine = false;
        }
        if fine {
            checked.push(EntityRule {
                attribute: rule.attribute.trim().to_string(),
                equals: rule.equals.clone(),
                entity: rule.entity.clone(),
            });
        }
    }
    checked
}

/// The connection's email domains, lowercase; each may be claimed by one connection only.
fn check_domains(
    check: &mut Checker,
    path: &str,
    domains: &[String],
    claimed: &mut HashSet<String>,
) -> Vec<String> {
    let mut checked = Vec::new();
    for (j, domain) in domains.iter().enumerate() {
        let key = format!("{path}.domains[{j}]");
        // An email domain: a DNS name of two labels or more.
        match normalize_host(domain.trim()).filter(|domain| domain.contains('.')) {
            None => check.problem(key, "not a domain name (example: acme.com)"),
            Some(domain) if !claimed.insert(domain.clone()) => {
                check.problem(key, format!("{domain} is claimed by another connection"));
            }
            Some(domain) => checked.push(domain),
        }
    }
    checked
}

/// Reads the keys of `table` in `own_keys` as the settings of a `kind` connection, reporting
/// those it has no use for (saying which kind has them), a type error, or a kind idbridge does
/// not have.
fn read_settings(
    check: &mut Checker,
    path: &str,
    table: &toml::Table,
    own_keys: &[String],
    kind: &str,
) -> Option<FileSettings> {
    let mut own = table.clone();
    own.retain(|key, _| own_keys.iter().any(|own| own == key));
    let (settings, unknown) = read(path, own, SettingsOf(kind));
    for key in unknown {
        let message = other_kind_of(kind, &key, table).map_or_else(
            || "unknown key".into(),
            |other| format!("only for {other} connections"),
        );
        check.problem(format!("{path}.{key}"), message);
    }
    match settings {
        Ok(Some(settings)) => Some(settings),
        Ok(None) => {
            check.problem(
                format!("{path}.type"),
                format!("must be {}", FileSettings::KINDS.join(" or ")),
            );
            None
        }
        Err(problem) => {
            check.problems.push(problem);
            None
        }
    }
}

/// Reads `table` (the one at `path`) as `parse` reads the file: the keys `seed` leaves unread
/// come back as key paths below `path`'s, and a type error is a problem at its key path.
fn read<'de, S: DeserializeSeed<'de>>(
    path: &str,
    table: toml::Table,
    seed: S,
) -> (Result<S::Value, Problem>, Vec<String>) {
    let mut unread = Vec::new();
    let mut on_unread = |key: serde_ignored::Path| unread.push(key_path(&key));
    let mut track = serde_path_to_error::Track::new();
    let value = seed.deserialize(serde_path_to_error::Deserializer::new(
        serde_ignored::Deserializer::new(toml::Value::Table(table), &mut on_unread),
        &mut track,
    ));
    let value = value.map_err(|error| {
        let below = track.path().to_string();
        Problem {
            // The table itself is `.` to serde_path_to_error.
            path: match below.as_str() {
                "." => path.to_string(),
                below => format!("{path}.{below}"),
            },
            // The message alone: its Display adds the key, which the path says already.
            message: error.message().to_string(),
        }
    });
    (value, unread)
}

/// The kind of connection, other than `kind`, that has a setting `key` (a key path in `table`),
/// so that the problem can say where the key belongs.
fn other_kind_of(kind: &str, key: &str, table: &toml::Table) -> Option<&'static str> {
    let value = table.get(key)?;
    let alone = toml::Table::from_iter([(key.to_string(), value.clone())]);
    FileSettings::KINDS
        .into_iter()
        .filter(|other| *other != kind)
        .find(|other| read("", alone.clone(), SettingsOf(other)).1.is_empty())
}

/// Ids a connection may not take: those that name logins other than through a connection (in
/// notifications), and the other sources of users (a connection's id is its users' source).
fn is_reserved(id: &str) -> bool {
    RESERVED.contains(&id)
}

fn is_path_segment(id: &str) -> bool {
    !is_reserved(id)
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::{FileSettings, SettingsOf, read};
    use crate::config::Config;

    fn problems(text: &str) -> Vec<String> {
        let error = Config::from_toml(text, &|_| None).unwrap_err();
        error.problems().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn every_kind_is_read() {
        for kind in FileSettings::KINDS {
            let (settings, unread) = read("", toml::Table::new(), SettingsOf(kind));
            assert!(matches!(settings, Ok(Some(_))), "{kind}");
            assert!(unread.is_empty());
        }
    }

    /// Each table is read on its own: its unknown keys, a key of another kind, a type error, an
    /// unknown type and a missing key are all reported in one run, each at its path.
    #[test]
    fn each_connection_is_read_by_its_type() {
        let found = problems(
            r#"
[[connections]]
id = "globex"
type = "oidc"
entity = "e"
idp_entity_id = "https://idp.globex.com"
claims = { phone = "phone_number" }
scopes = "openid"

[[connections]]
id = "acme"
type = "saml"
entity = "e"
email_authoritative = true
bogus = 1

[[connections]]
id = "directory"
type = "ldap"
entity = "e"
bind_dn = "cn=idbridge"

[[connections]]
id = "nowhere"
type = "oidc"
"#,
        );
        for expected in [
            "connections[0].idp_entity_id: only for saml connections",
            "connections[0].claims.phone: unknown key",
            "connections[0].scopes: invalid type: string \"openid\", expected a sequence",
            "connections[1].email_authoritative: only for oidc connections",
            "connections[1].bogus: unknown key",
            "connections[2].type: must be oidc or saml",
            "connections[3]: give entity (where its people are attached), entity_rules, or both",
        ] {
            assert!(
                found.iter().any(|p| p == expected),
                "{expected} in {found:#?}"
            );
        }
        assert!(!found.iter().any(|p| p.contains("bind_dn")), "{found:#?}");
    }
}
