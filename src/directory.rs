//! The clients, entities, connections and products in force: the config file's and the run-time
//! ones (`store::declarations`) together, swapped as a whole when a run-time declaration
//! changes, in this process at once and in every other within `CHANGES_POLL`.
use std::collections::HashMap;
use std::sync::Arc;

use crate::clients::Clients;
use crate::config::{Config, Kind, Problem, ProductDecl, ServiceProviderDecl};
use crate::store::StoredDeclaration;
use crate::upstream::{Connectors, UpstreamError};

pub struct Directory {
    /// The whole config: the file's settings, its declarations and the run-time ones.
    pub config: Arc<Config>,
    pub clients: Clients,
    pub connectors: Arc<Connectors>,
    /// The products by id, shared so that a request keeps its product while the directory is
    /// replaced.
    pub products: HashMap<String, Arc<ProductDecl>>,
    /// The SAML service providers by id, shared as the products are.
    pub service_providers: HashMap<String, Arc<ServiceProviderDecl>>,
    /// The stored version of each run-time connection: a connector whose declaration kept its
    /// version is carried over to the next directory, with what it fetched of its provider.
    connection_versions: HashMap<String, i64>,
    /// The connections whose connectors are new in this directory.
    fresh: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error(
        "the run-time declarations (made through the admin API) do not fit the config file: {}",
        problems.iter().map(Problem::to_string).collect::<Vec<_>>().join("; ")
    )]
    Invalid { problems: Vec<Problem> },
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

impl Directory {
    /// The directory of `config`, the file's with the run-time declarations `stored`
    /// (`Config::with_run_time`), taking over the unchanged connectors of `previous`. New
    /// connectors have fetched nothing yet: see [`Directory::fetch_fresh_metadata`].
    pub fn build(
        config: Config,
        stored: &[StoredDeclaration],
        previous: Option<&Directory>,
    ) -> Result<Directory, DirectoryError> {
        let connection_versions: HashMap<String, i64> = stored
            .iter()
            .filter(|s| s.declaration.kind == Kind::Connection)
            .map(|s| (s.declaration.id.clone(), s.version))
            .collect();
        let unchanged = |id: &str| match (
            connection_versions.get(id),
            previous.map(|p| p.connection_versions.get(id)),
        ) {
            // The file's connections change only with a restart.
            (None, Some(None)) => true,
            (Some(now), Some(Some(before))) => now == before,
            _ => false,
        };
        let connectors =
            Connectors::carrying_over(&config, previous.map(|p| p.connectors.as_ref()), unchanged)?;
        let fresh = config
            .connections
            .iter()
            .filter(|c| previous.is_none() || !unchanged(&c.id))
            .map(|c| c.id.clone())
            .collect();
        Ok(Directory {
            fresh,
            products: config
                .products
                .iter()
                .map(|product| (product.id.clone(), Arc::new(product.clone())))
                .collect(),
            service_providers: config
                .service_providers
                .iter()
                .map(|sp| (sp.id.clone(), Arc::new(sp.clone())))
                .collect(),
            clients: Clients::new(&config.clients),
            connectors: Arc::new(connectors),
            config: Arc::new(config),
            connection_versions,
        })
    }

    /// The service provider whose entity ID is `entity_id`.
    pub fn service_provider_of(&self, entity_id: &str) -> Option<Arc<ServiceProviderDecl>> {
        self.service_providers
            .values()
            .find(|sp| sp.entity_id == entity_id)
            .cloned()
    }

    /// Fetches what the connectors new in this directory read of their providers (SAML metadata
    /// from a URL); the errors, with the connection of each that failed.
    pub async fn fetch_fresh_metadata(&self) -> Vec<(String, UpstreamError)> {
        let mut failed = Vec::new();
        for id in &self.fresh {
            if let Some(Err(error)) = self.connectors.fetch_metadata_of(id).await {
                failed.push((id.clone(), error));
            }
        }
        failed
    }
}
