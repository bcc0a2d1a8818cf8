//! Clients, entities, connections and products declared at run time (through the admin API or
//! `idbridge admin`) beside those of the file. A run-time declaration is what an operator would
//! write in the file, as a JSON object. It is validated together with the file's declarations,
//! by the file's own rules: ids stay unique across both, references (a connection's entity, an
//! entity's parent) may cross from one to the other, and a problem is named the way
//! `check-config` names a key, with the declaration's id for its index
//! (`clients["shop"].redirect_uris[0]: not an absolute URL`).
use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::file::{FileClient, FileEntity, FileProduct, FileServiceProvider};
use super::validate::{Checker, check_declarations, is_url_safe_id, tracked};
use super::{Config, Hierarchy, Problem};
use crate::crypto::sha256_hex;

/// What may be declared at run time as well as in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Entity,
    Client,
    Connection,
    Product,
    ServiceProvider,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Entity,
        Kind::Client,
        Kind::Connection,
        Kind::Product,
        Kind::ServiceProvider,
    ];

    /// The config file's section, which is also the admin API's path segment.
    pub fn section(self) -> &'static str {
        match self {
            Kind::Entity => "entities",
            Kind::Client => "clients",
            Kind::Connection => "connections",
            Kind::Product => "products",
            Kind::ServiceProvider => "service_providers",
        }
    }

    /// One of the kind, as messages name it.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Entity => "entity",
            Kind::Client => "client",
            Kind::Connection => "connection",
            Kind::Product => "product",
            Kind::ServiceProvider => "service provider",
        }
    }

    /// How problems of the declaration `id` of this kind are named: `clients["shop"]`.
    pub fn label(self, id: &str) -> String {
        format!("{}[{}]", self.section(), Value::String(id.to_string()))
    }

    pub fn from_section(section: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.section() == section)
    }

    /// The key that holds a declaration's id.
    pub fn id_key(self) -> &'static str {
        match self {
            Kind::Client => "client_id",
            _ => "id",
        }
    }

    /// Keys whose values are secrets: never shown, and never written to the audit trail.
    pub fn secret_keys(self) -> &'static [&'static str] {
        match self {
            Kind::Entity => &[],
            Kind::Client => &["client_secret"],
            Kind::Connection => &[
                "client_secret",
                "sp_private_key",
                "sp_encryption_key",
                "sp_previous_encryption_key",
            ],
            Kind::Product => &["secrets"],
            Kind::ServiceProvider => &[],
        }
    }

    /// Keys only the file may give: their values name files on the server.
    fn file_only_keys(self) -> &'static [&'static str] {
        match self {
            Kind::Entity => &["branding"],
            Kind::Connection => &["idp_metadata"],
            Kind::ServiceProvider => &["metadata"],
            Kind::Client | Kind::Product => &[],
        }
    }
}

/// A run-time declaration: the JSON object an operator gave (with the secrets idbridge made for
/// it), named by the id it holds.
#[derive(Clone, PartialEq)]
pub struct Declaration {
    pub kind: Kind,
    pub id: String,
    pub body: Map<String, Value>,
}

impl Declaration {
    /// A declaration of `kind` from a JSON value, or the problems that stop it, each named by its
    /// path in the value. Checked here: that it is an object that holds its id, and takes
    /// nothing from the server's files or environment; the rest is the file's rules, checked by
    /// [`Config::with_run_time`].
    pub fn new(kind: Kind, body: Value) -> Result<Declaration, Vec<Problem>> {
        let problem = |path: &str, message: &str| Problem {
            path: path.into(),
            message: message.into(),
        };
        let Value::Object(body) = body else {
            return Err(vec![problem("body", "must be a JSON object")]);
        };
        let mut problems = Vec::new();
        for key in kind.file_only_keys() {
            if body.contains_key(*key) {
                problems.push(problem(
                    key,
                    "only the config file may give this (it names a file on the server)",
                ));
            }
        }
        let mut environment_references = Vec::new();
        find_environment_references(
            &Value::Object(body.clone()),
            "",
            &mut environment_references,
        );
        problems.extend(environment_references.into_iter().map(|path| {
            problem(
                &path,
                "\"env:\" references are for the config file; give the value itself",
            )
        }));
        // A connection without domains may assert every address no connection claims: for the
        // file's operator to allow, not for a credential of the API.
        let no_domains = body
            .get("domains")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty);
        if kind == Kind::Connection && no_domains {
            problems.push(problem(
                "domains",
                "a connection made at run time needs the email domains its provider speaks for",
            ));
        }
        let id = match body.get(kind.id_key()) {
            Some(Value::String(id)) if !id.is_empty() && is_url_safe_id(id) => Some(id.clone()),
            _ => {
                problems.push(problem(
                    kind.id_key(),
                    "required: letters, digits, '-', '_' and '.' (it is part of the admin API's paths)",
                ));
                None
            }
        };
        match id {
            Some(id) if problems.is_empty() => Ok(Declaration { kind, id, body }),
            _ => Err(problems),
        }
    }

    /// The declaration without its secrets, to show or to audit.
    pub fn without_secrets(&self) -> Value {
        let mut body = self.body.clone();
        for key in self.kind.secret_keys() {
            body.remove(*key);
        }
        Value::Object(body)
    }

    /// The declaration as the audit trail keeps it: without secrets, and an inline metadata
    /// document (up to megabytes) by its SHA-256.
    pub fn audited(&self) -> Value {
        let mut shown = self.without_secrets();
        for key in ["idp_metadata_xml", "metadata_xml"] {
            if let Some(Value::String(xml)) = shown.get(key) {
                shown[key] = Value::String(format!("sha256:{}", sha256_hex(xml)));
            }
        }
        shown
    }

    /// How problems of this declaration are named: `clients["shop"]`.
    pub fn label(&self) -> String {
        self.kind.label(&self.id)
    }
}

// Without the body: it may hold secrets.
impl std::fmt::Debug for Declaration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Declaration")
            .field("kind", &self.kind)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Paths of the string values in `value` that are `env:` references.
fn find_environment_references(value: &Value, path: &str, found: &mut Vec<String>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(text) if text.starts_with("env:") => found.push(path.to_string()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                find_environment_references(item, &format!("{path}[{i}]"), found);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                find_environment_references(item, &join(key), found);
            }
        }
        _ => {}
    }
}

/// The file's entities, clients, connections and products as written, unvalidated.
#[derive(Clone, Debug, Default)]
pub(super) struct DeclarationSources {
    pub(super) entities: Vec<FileEntity>,
    pub(super) clients: Vec<FileClient>,
    pub(super) connections: Vec<toml::Table>,
    pub(super) products: Vec<FileProduct>,
    pub(super) service_providers: Vec<FileServiceProvider>,
}

impl DeclarationSources {
    fn len(&self, kind: Kind) -> usize {
        match kind {
            Kind::Entity => self.entities.len(),
            Kind::Client => self.clients.len(),
            Kind::Connection => self.connections.len(),
            Kind::Product => self.products.len(),
            Kind::ServiceProvider => self.service_providers.len(),
        }
    }

    fn declares(&self, kind: Kind, id: &str) -> bool {
        match kind {
            Kind::Entity => self.entities.iter().any(|e| e.id == id),
            Kind::Client => self.clients.iter().any(|c| c.client_id == id),
            Kind::Connection => self
                .connections
                .iter()
                .any(|c| c.get("id").and_then(toml::Value::as_str) == Some(id)),
            Kind::Product => self.products.iter().any(|p| p.id == id),
            Kind::ServiceProvider => self.service_providers.iter().any(|sp| sp.id == id),
        }
    }

    /// Appends a run-time declaration, read as the file's would be.
    fn push(&mut self, declaration: &Declaration) -> Result<(), Vec<Problem>> {
        let body = Value::Object(declaration.body.clone());
        match declaration.kind {
            Kind::Entity => self.entities.push(read(body)?),
            Kind::Client => self.clients.push(read(body)?),
            Kind::Connection => self.connections.push(read(body)?),
            Kind::Product => self.products.push(read(body)?),
            Kind::ServiceProvider => self.service_providers.push(read(body)?),
        }
        Ok(())
    }
}

/// The file's declarations, and what validating them again needs.
pub(super) struct FileDeclarations {
    pub(super) sources: DeclarationSources,
    /// Where relative paths in them are read from.
    pub(super) base_dir: PathBuf,
    /// The environment variables the file's values read, as they were at load: a later
    /// validation reads them from here, not from an environment that may have changed.
    pub(super) env: BTreeMap<String, String>,
}

// Never printed: the sources and the environment hold secrets in clear.
impl std::fmt::Debug for FileDeclarations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileDeclarations")
            .field("base_dir", &self.base_dir)
            .finish_non_exhaustive()
    }
}

/// `body` as the file's type `T`, or every unknown key and the type error that stopped it.
fn read<T: DeserializeOwned>(body: Value) -> Result<T, Vec<Problem>> {
    match tracked(body) {
        (Some(value), problems) if problems.is_empty() => Ok(value),
        (_, problems) => Err(problems
            .into_iter()
            .map(|p| Problem {
                path: if p.path == "." { "body".into() } else { p.path },
                message: p.message,
            })
            .collect()),
    }
}

impl Config {
    /// Whether the config file declares the `kind` named `id`.
    pub fn file_declares(&self, kind: Kind, id: &str) -> bool {
        self.in_file.sources.declares(kind, id)
    }

    /// This config with `run_time` declarations beside the file's, all validated together by the
    /// file's rules; or every problem, those of a run-time declaration named by its id.
    pub fn with_run_time(&self, run_time: &[Declaration]) -> Result<Config, Vec<Problem>> {
        let in_file = &self.in_file;
        let mut sources = in_file.sources.clone();
        let mut problems = Vec::new();
        // Per kind, the labels of the run-time declarations, in the order they were appended.
        let mut labels: BTreeMap<Kind, Vec<String>> = BTreeMap::new();
        for declaration in run_time {
            let label = declaration.label();
            match sources.push(declaration) {
                Ok(()) => labels.entry(declaration.kind).or_default().push(label),
                Err(found) => problems.extend(found.into_iter().map(|p| Problem {
                    path: format!("{label}.{}", p.path),
                    message: p.message,
                })),
            }
        }
        let env = |name: &str| in_file.env.get(name).cloned();
        let mut check = Checker {
            env: &env,
            problems: Vec::new(),
        };
        let declared = check_declarations(
            &mut check,
            &sources,
            &self.server.issuer,
            &self.keys,
            &in_file.base_dir,
        );
        problems.extend(check.problems.into_iter().map(|mut problem| {
            problem.path = relabeled(&problem.path, &in_file.sources, &labels);
            problem
        }));
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Config {
            hierarchy: Hierarchy::new(&declared.entities),
            entities: declared.entities,
            clients: declared.clients,
            connections: declared.connections,
            products: declared.products,
            service_providers: declared.service_providers,
            ..self.clone()
        })
    }
}

/// `clients[3].x` as `clients["shop"].x` when the fourth client is a run-time one.
fn relabeled(
    path: &str,
    in_file: &DeclarationSources,
    labels: &BTreeMap<Kind, Vec<String>>,
) -> String {
    for kind in Kind::ALL {
        let Some(rest) = path
            .strip_prefix(kind.section())
            .and_then(|rest| rest.strip_prefix('['))
        else {
            continue;
        };
        let Some((index, rest)) = rest.split_once(']') else {
            continue;
        };
        let Some(run_time) = index
            .parse::<usize>()
            .ok()
            .and_then(|i| i.checked_sub(in_file.len(kind)))
        else {
            continue;
        };
        if let Some(label) = labels.get(&kind).and_then(|labels| labels.get(run_time)) {
            return format!("{label}{rest}");
        }
    }
    path.to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn demo() -> Config {
        Config::from_toml(
            r#"
            [keys]
            encryption_key = "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="
            [[entities]]
            id = "psp"
            name = "PSP"
            level = "PSP"
            "#,
            &|_| None,
        )
        .expect("valid")
    }

    fn declared(kind: Kind, body: Value) -> Declaration {
        Declaration::new(kind, body).expect("a declaration")
    }

    #[test]
    fn run_time_declarations_are_checked_with_the_files_and_named_by_id() {
        let config = demo();
        let division = declared(
            Kind::Entity,
            json!({"id": "east", "name": "East", "level": "DIVISION", "parent": "psp"}),
        );
        let merged = config.with_run_time(&[division]).expect("valid");
        assert_eq!(merged.entities.len(), 2);
        assert!(merged.hierarchy.attachment("east").is_some());

        let client = declared(
            Kind::Client,
            json!({"client_id": "shop", "redirect_uris": ["not a url"], "colour": 1}),
        );
        let problems = config.with_run_time(&[client]).unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, [r#"clients["shop"].colour"#]);

        let client = declared(
            Kind::Client,
            json!({"client_id": "shop", "redirect_uris": ["not a url"]}),
        );
        let problems = config.with_run_time(&[client]).unwrap_err();
        assert_eq!(problems[0].path, r#"clients["shop"].redirect_uris[0]"#);

        let orphan = declared(
            Kind::Entity,
            json!({"id": "west", "name": "West", "level": "DIVISION", "parent": "gone"}),
        );
        let problems = config.with_run_time(&[orphan]).unwrap_err();
        assert_eq!(problems[0].path, r#"entities["west"].parent"#);
    }

    #[test]
    fn files_and_the_environment_of_the_server_are_not_for_run_time_declarations() {
        let problems = Declaration::new(
            Kind::Connection,
            json!({"id": "acme", "type": "saml", "idp_metadata": "/etc/passwd",
                   "client_secret": "env:DATABASE_URL"}),
        )
        .unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["idp_metadata", "client_secret", "domains"]);
        let problems = Declaration::new(Kind::Client, json!(["shop"])).unwrap_err();
        assert_eq!(problems[0].path, "body");
        let problems = Declaration::new(Kind::Client, json!({"id": "shop"})).unwrap_err();
        assert_eq!(problems[0].path, "client_id");
    }
}
