//! Turns a [`FileConfig`] into a [`Config`], collecting every problem with its key path: one
//! file per section of the config ([`server`] for `[server]`, `[database]` and `[keys]`), the
//! shared checks in [`checker`] and [`urls`].
mod api_credentials;
mod checker;
mod clients;
mod connections;
mod entities;
mod parse;
mod products;
mod server;
mod service_providers;
mod urls;
mod users;
mod webhooks;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

pub use api_credentials::api_credential_problems;
pub(super) use checker::{Checker, is_url_safe_id};
pub use checker::{is_plausible_email, parse_duration};
pub(super) use parse::{parse, tracked};
pub(super) use server::Origin;

use super::declarations::{DeclarationSources, FileDeclarations};
use super::file::FileConfig;
use super::{
    ClientDecl, Config, ConfigError, ConnectionDecl, EntityDecl, EnvLookup, Hierarchy, KeysConfig,
    Problem, ProductDecl, ServiceProviderDecl,
};

/// Checks every rule; `problems` are those found before (unknown keys), reported first.
pub(super) fn validate(
    file: FileConfig,
    problems: Vec<Problem>,
    env: EnvLookup,
    base_dir: &std::path::Path,
    origin: Origin,
) -> Result<Config, ConfigError> {
    // The variables the file's values read, kept for validating its declarations again later
    // together with run-time ones (`Config::with_run_time`) exactly as now.
    let read_env = RefCell::new(BTreeMap::new());
    let recording = |name: &str| {
        let value = env(name);
        if let Some(value) = &value {
            read_env
                .borrow_mut()
                .insert(name.to_string(), value.clone());
        }
        value
    };
    let mut check = Checker {
        env: &recording,
        problems,
    };

    let server = server::check_server(&mut check, file.server);
    let database_url = server::check_database(&mut check, file.database);
    let keys = server::check_keys(&mut check, file.keys, origin);
    let users_entity_ids: HashSet<String> = file.entities.iter().map(|e| e.id.clone()).collect();
    let users = users::check_users(
        &mut check,
        &file.users,
        &users_entity_ids.iter().map(String::as_str).collect(),
    );
    let api_credentials = api_credentials::check_api_credentials(&mut check, &file.api_credentials);
    let webhooks = webhooks::check_webhooks(&mut check, &file.webhooks);
    let sources = DeclarationSources {
        entities: file.entities,
        clients: file.clients,
        connections: file.connections,
        products: file.products,
        service_providers: file.service_providers,
    };
    let declared = check_declarations(&mut check, &sources, &server.issuer, &keys, base_dir);

    if !check.problems.is_empty() {
        return Err(ConfigError::Invalid(check.problems));
    }
    let in_file = FileDeclarations {
        sources,
        base_dir: base_dir.to_owned(),
        env: read_env.into_inner(),
    };
    Ok(Config {
        server,
        database_url,
        keys,
        hierarchy: Hierarchy::new(&declared.entities),
        entities: declared.entities,
        users,
        clients: declared.clients,
        api_credentials,
        connections: declared.connections,
        products: declared.products,
        service_providers: declared.service_providers,
        webhooks,
        in_file: Arc::new(in_file),
    })
}

/// The kinds of declaration an operator may also make at run time, validated.
pub(in crate::config) struct Declared {
    pub(in crate::config) entities: Vec<EntityDecl>,
    pub(in crate::config) clients: Vec<ClientDecl>,
    pub(in crate::config) connections: Vec<ConnectionDecl>,
    pub(in crate::config) products: Vec<ProductDecl>,
    pub(in crate::config) service_providers: Vec<ServiceProviderDecl>,
}

/// Checks the entities, clients, connections, products and service providers of `sources` together: ids unique
/// across them all, references resolved among them all.
pub(in crate::config) fn check_declarations(
    check: &mut Checker,
    sources: &DeclarationSources,
    issuer: &str,
    keys: &KeysConfig,
    base_dir: &std::path::Path,
) -> Declared {
    let issuer_is_https = issuer.starts_with("https://");
    let entities = entities::check_entities(check, &sources.entities, base_dir);
    let entity_ids: HashSet<&str> = sources.entities.iter().map(|e| e.id.as_str()).collect();
    let clients =
        clients::check_clients(check, &sources.clients, keys.id_token_alg, issuer_is_https);
    let connections =
        connections::check_connections(check, &sources.connections, &entity_ids, issuer, base_dir);
    let products = products::check_products(check, &sources.products, issuer_is_https);
    let client_ids: HashSet<String> = sources
        .clients
        .iter()
        .map(|c| c.client_id.to_ascii_lowercase())
        .collect();
    let service_providers = service_providers::check_service_providers(
        check,
        &sources.service_providers,
        &client_ids,
        issuer_is_https,
        base_dir,
    );
    Declared {
        entities,
        clients,
        connections,
        products,
        service_providers,
    }
}
