//! The clients, entities, connections, products and service providers in force: the config
//! file's and the run-time ones (`store::declarations`) together, swapped as a whole when a
//! run-time declaration changes, in this process at once and in every other within
//! `CHANGES_POLL`.
use std::collections::HashMap;
use std::sync::Arc;

use crate::clients::Clients;
use crate::config::{Config, Kind, Problem, ProductDecl};
use crate::service_providers::{MetadataUnread, ServiceProvider};
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
    /// The SAML service providers by id, shared as the products are; one whose declaration did
    /// not change is carried over to the next directory, with what was read of its metadata.
    pub service_providers: HashMap<String, Arc<ServiceProvider>>,
    /// The stored version of each run-time connection: a connector whose declaration kept its
    /// version is carried over to the next directory, with what it fetched of its provider.
    connection_versions: HashMap<String, i64>,
    /// The connections whose connectors are new in this directory.
    fresh: Vec<String>,
    /// The service providers new in this directory whose metadata is read from a URL.
    fresh_service_providers: Vec<String>,
}

/// What could not be read of a party's metadata: a SAML connection's IdP's, or a service
/// provider's.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error(transparent)]
    Connection(#[from] UpstreamError),
    #[error(transparent)]
    ServiceProvider(#[from] MetadataUnread),
}

impl MetadataError {
    /// The kind of declaration whose metadata it is.
    pub fn kind(&self) -> Kind {
        match self {
            MetadataError::Connection(_) => Kind::Connection,
            MetadataError::ServiceProvider(_) => Kind::ServiceProvider,
        }
    }
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
        let mut fresh_service_providers = Vec::new();
        let service_providers = config
            .service_providers
            .iter()
            .map(|sp| {
                let before = previous.and_then(|p| p.service_providers.get(&sp.id));
                let kept = before.filter(|kept| kept.declared() == sp);
                let provider = kept.cloned().unwrap_or_else(|| {
                    if sp.metadata_url.is_some() {
                        fresh_service_providers.push(sp.id.clone());
                    }
                    let issuer_is_https = issuer_is_https(&config);
                    Arc::new(ServiceProvider::new(
                        sp.clone(),
                        before.map(Arc::as_ref),
                        issuer_is_https,
                    ))
                });
                (sp.id.clone(), provider)
            })
            .collect();
        Ok(Directory {
            fresh,
            fresh_service_providers,
            service_providers,
            products: config
                .products
                .iter()
                .map(|product| (product.id.clone(), Arc::new(product.clone())))
                .collect(),
            clients: Clients::new(&config.clients),
            connectors: Arc::new(connectors),
            config: Arc::new(config),
            connection_versions,
        })
    }

    /// The service provider whose entity ID is `entity_id`.
    pub fn service_provider_of(&self, entity_id: &str) -> Option<Arc<ServiceProvider>> {
        self.service_providers
            .values()
            .find(|sp| sp.declared().entity_id == entity_id)
            .cloned()
    }

    /// Fetches the metadata of the connections and service providers new in this directory
    /// (what is named by URL); the errors, with the id of each that failed.
    pub async fn fetch_fresh_metadata(&self) -> Vec<(String, MetadataError)> {
        let mut failed = Vec::new();
        for id in &self.fresh {
            if let Some(Err(error)) = self.connectors.fetch_metadata_of(id).await {
                failed.push((id.clone(), error.into()));
            }
        }
        for id in &self.fresh_service_providers {
            if let Some(Err(error)) = self.refresh_service_provider(id).await {
                failed.push((id.clone(), error.into()));
            }
        }
        failed
    }

    /// Fetches again the metadata of every connection and service provider named by URL (a
    /// failure keeps what was read before); the errors.
    pub async fn refresh_metadata(&self) -> Vec<MetadataError> {
        let mut failed: Vec<MetadataError> = self
            .connectors
            .fetch_metadata()
            .await
            .into_iter()
            .map(Into::into)
            .collect();
        for sp in self.service_providers.values() {
            if let Err(error) = sp.refresh(issuer_is_https(&self.config)).await {
                failed.push(error.into());
            }
        }
        failed
    }

    /// Tries again to read the metadata of the service providers that have none read (they take
    /// no request until then); the errors.
    pub async fn read_unread_service_providers(&self) -> Vec<MetadataUnread> {
        let mut failed = Vec::new();
        for sp in self
            .service_providers
            .values()
            .filter(|sp| sp.current().is_none())
        {
            if let Err(error) = sp.refresh(issuer_is_https(&self.config)).await {
                failed.push(error);
            }
        }
        failed
    }

    /// Reads the metadata of the service provider `id` again now (`None`: no such SP).
    pub async fn refresh_service_provider(&self, id: &str) -> Option<Result<(), MetadataUnread>> {
        let sp = self.service_providers.get(id)?;
        Some(sp.refresh(issuer_is_https(&self.config)).await)
    }
}

fn issuer_is_https(config: &Config) -> bool {
    config.server.issuer.starts_with("https://")
}
