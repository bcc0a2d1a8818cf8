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
mod urls;
mod users;
mod webhooks;

use std::collections::HashSet;

pub use api_credentials::api_credential_problems;
pub use checker::{is_plausible_email, parse_duration};
pub(super) use parse::parse;
pub(super) use server::Origin;

use super::file::FileConfig;
use super::{Config, ConfigError, EnvLookup, Hierarchy, Problem};
use checker::Checker;

/// Checks every rule; `problems` are those found before (unknown keys), reported first.
pub(super) fn validate(
    file: FileConfig,
    problems: Vec<Problem>,
    env: EnvLookup,
    base_dir: &std::path::Path,
    origin: Origin,
) -> Result<Config, ConfigError> {
    let mut check = Checker { env, problems };

    let server = server::check_server(&mut check, file.server);
    let issuer_is_https = server.issuer.starts_with("https://");
    let database_url = server::check_database(&mut check, file.database);
    let keys = server::check_keys(&mut check, file.keys, origin);

    let entities = entities::check_entities(&mut check, &file.entities, base_dir);
    let entity_ids: HashSet<&str> = file.entities.iter().map(|e| e.id.as_str()).collect();
    let users = users::check_users(&mut check, &file.users, &entity_ids);
    let clients = clients::check_clients(
        &mut check,
        &file.clients,
        keys.id_token_alg,
        issuer_is_https,
    );
    let api_credentials = api_credentials::check_api_credentials(&mut check, &file.api_credentials);
    let connections = connections::check_connections(
        &mut check,
        &file.connections,
        &entity_ids,
        &server.issuer,
        base_dir,
    );
    let products = products::check_products(&mut check, &file.products, issuer_is_https);
    let webhooks = webhooks::check_webhooks(&mut check, &file.webhooks);

    if !check.problems.is_empty() {
        return Err(ConfigError::Invalid(check.problems));
    }
    Ok(Config {
        server,
        database_url,
        keys,
        hierarchy: Hierarchy::new(&entities),
        entities,
        users,
        clients,
        api_credentials,
        connections,
        products,
        webhooks,
    })
}
