//! The SAML service providers in force: each as declared, or, for one whose metadata is named
//! by URL, as the metadata last read there describes it (a failed read keeps what was read
//! before, and so does a change of the declaration that keeps its URL and entity ID).
use std::sync::{Arc, RwLock};

use crate::config::{Problem, ServiceProviderDecl};
use crate::upstream::fetch_metadata;

pub struct ServiceProvider {
    declared: Arc<ServiceProviderDecl>,
    /// The metadata document last read at its `metadata_url`, and the declaration as it
    /// describes it.
    read: RwLock<Option<Read>>,
}

#[derive(Clone)]
struct Read {
    document: Arc<str>,
    described: Arc<ServiceProviderDecl>,
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
    /// The SP `declared`, taking over what `previous` (the same SP before its declaration
    /// changed) read of its metadata when the URL and entity ID stayed and the document fits
    /// the new declaration. `issuer_is_https`: see [`ServiceProvider::refresh`].
    pub fn new(
        declared: ServiceProviderDecl,
        previous: Option<&ServiceProvider>,
        issuer_is_https: bool,
    ) -> ServiceProvider {
        let same_source = |p: &&ServiceProvider| {
            p.declared.metadata_url == declared.metadata_url
                && p.declared.entity_id == declared.entity_id
        };
        let read = previous
            .filter(same_source)
            .and_then(ServiceProvider::read)
            .and_then(|read| {
                let described = declared
                    .described_by(&read.document, issuer_is_https)
                    .ok()?;
                Some(Read {
                    document: read.document,
                    described: Arc::new(described),
                })
            });
        ServiceProvider {
            declared: Arc::new(declared),
            read: RwLock::new(read),
        }
    }

    /// What the operator declared (without what its metadata URL gives).
    pub fn declared(&self) -> &ServiceProviderDecl {
        &self.declared
    }

    fn read(&self) -> Option<Read> {
        self.read.read().ok().and_then(|read| read.clone())
    }

    /// The SP as it is in force now; `None` while the metadata its declaration names by URL has
    /// not been read: it takes no request until then.
    pub fn current(&self) -> Option<Arc<ServiceProviderDecl>> {
        if self.declared.metadata_url.is_none() {
            return Some(self.declared.clone());
        }
        self.read().map(|read| read.described)
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
        let document = fetch_metadata(url).await.map_err(unread)?;
        let described = self
            .declared
            .described_by(&document, issuer_is_https)
            .map_err(|problems| {
                unread(
                    problems
                        .iter()
                        .map(Problem::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            })?;
        let read = Read {
            document: document.into(),
            described: Arc::new(described),
        };
        *self
            .read
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(read);
        Ok(())
    }
}
