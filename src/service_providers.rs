//! The SAML service providers in force: each as declared, or, for one whose metadata is named
//! by URL, as the metadata last read there describes it (a failed read keeps what was read
//! before).
use std::sync::{Arc, RwLock};

use crate::config::{Problem, ServiceProviderDecl};
use crate::upstream::fetch_metadata;

pub struct ServiceProvider {
    declared: Arc<ServiceProviderDecl>,
    /// The declaration as the metadata at its `metadata_url` last read describes it.
    read: RwLock<Option<Arc<ServiceProviderDecl>>>,
}

/// Why an SP's metadata could not be read (or did not fit its declaration).
#[derive(Debug, thiserror::Error)]
#[error("service provider {id}: metadata from {url}: {detail}")]
pub struct MetadataUnread {
    pub id: String,
    pub url: String,
    pub detail: String,
}

impl ServiceProvider {
    pub fn new(declared: ServiceProviderDecl) -> ServiceProvider {
        ServiceProvider {
            declared: Arc::new(declared),
            read: RwLock::new(None),
        }
    }

    /// What the operator declared (without what its metadata URL gives).
    pub fn declared(&self) -> &ServiceProviderDecl {
        &self.declared
    }

    /// The SP as it is in force now; `None` while the metadata its declaration names by URL has
    /// not been read: it takes no request until then.
    pub fn current(&self) -> Option<Arc<ServiceProviderDecl>> {
        if self.declared.metadata_url.is_none() {
            return Some(self.declared.clone());
        }
        self.read.read().ok().and_then(|read| read.clone())
    }

    /// Reads the metadata its declaration names by URL (nothing to do for others), which must
    /// name the declared entity ID and fit the declaration; a failure keeps what was read
    /// before. `issuer_is_https`: whether the deployment runs on https (which its ACS URLs must
    /// then use, but for loopback hosts).
    pub async fn refresh(&self, issuer_is_https: bool) -> Result<(), MetadataUnread> {
        let Some(url) = &self.declared.metadata_url else {
            return Ok(());
        };
        let unread = |detail: String| MetadataUnread {
            id: self.declared.id.clone(),
            url: url.clone(),
            detail,
        };
        let text = fetch_metadata(url).await.map_err(unread)?;
        let described = self
            .declared
            .described_by(&text, issuer_is_https)
            .map_err(|problems| {
                unread(
                    problems
                        .iter()
                        .map(Problem::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            })?;
        if let Ok(mut read) = self.read.write() {
            *read = Some(Arc::new(described));
        }
        Ok(())
    }
}
