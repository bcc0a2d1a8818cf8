//! Application state shared by every request, and what it takes to build it at start.
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use ipnet::IpNet;

use crate::api_auth::VerifiedCache;
use crate::clients::Client;
use crate::clock::Clock;
use crate::config::{Config, Kind, ProductDecl, ServerConfig};
use crate::directory::{Directory, DirectoryError, MetadataError};
use crate::keys::{self, KeyError, KeyRing};
use crate::limits::{self, ClientRates, LimitError, PendingGauge};
use crate::metrics::Metrics;
use crate::password::{self, Argon2Gate, PasswordError};
use crate::password_check::PasswordChecker;
use crate::store::{Store, StoreError, declarations_of};
use crate::upstream::{Connector, UpstreamError};

/// What every request shares, behind one reference count: handlers and middleware take the state
/// by value, several times a request, and cloning and dropping each field's own reference count
/// took about 3% of the server's CPU at the token endpoint (perf, scripts/bench).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl Shared {
    /// The `[server]` settings, which only a restart changes.
    pub fn server(&self) -> &ServerConfig {
        &self.file_config.server
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    /// The config file alone, without run-time declarations: what they are validated with.
    pub file_config: Arc<Config>,
    /// The clients, entities, connections (ways to sign in) and products in force.
    directory: RwLock<Arc<Directory>>,
    /// Held while the directory is rebuilt: one rebuild at a time, each reading the database
    /// after the one before put its directory in force, so an older one never wins.
    rebuilding: tokio::sync::Mutex<()>,
    pub store: Store,
    pub clock: Clock,
    pub keys: Arc<KeyRing>,
    /// HMAC key of the CSRF tokens; shared by all processes through the database.
    pub csrf_key: Arc<[u8; 32]>,
    /// Seals the SAML requests a login carries (`saml_idp`); shared through the database.
    pub saml_request_key: Arc<[u8; 32]>,
    /// Keys the persistent NameIDs service providers are given; shared through the database.
    pub saml_name_id_key: Arc<[u8; 32]>,
    /// A hash of no one's password, verified against when an account does not exist so that the
    /// answer takes as long as for a wrong password.
    pub dummy_hash: Arc<str>,
    /// Bounds the password checks that requests cause.
    pub argon2: Arc<Argon2Gate>,
    /// API credentials verified in the last minute (see `api_auth`).
    pub api_auth: Arc<VerifiedCache>,
    /// How many pending logins this process believes are alive (see `limits`).
    pub pending_gauge: Arc<PendingGauge>,
    /// Request rates at the endpoints where clients authenticate.
    pub client_rates: Arc<ClientRates>,
    pub metrics: Metrics,
}

impl crate::http::Site for AppState {
    fn secure_cookies(&self) -> bool {
        self.server().secure_cookies()
    }

    fn csrf_key(&self) -> &[u8; 32] {
        &self.csrf_key
    }

    fn session_ttl(&self) -> i64 {
        self.server().session_ttl
    }

    fn trusted_proxies(&self) -> &[IpNet] {
        &self.server().trusted_proxies
    }

    fn request_timeout(&self) -> std::time::Duration {
        self.server().request_timeout
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the database: {0}")]
    Database(StoreError),
    #[error("cannot apply migrations: {0}")]
    Migrate(StoreError),
    #[error("cannot store the configured objects: {0}")]
    Sync(StoreError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error(transparent)]
    Metadata(#[from] MetadataError),
}

impl AppState {
    /// Admits one more pending login from `client`, or says which limit it would break.
    pub async fn admit_pending(&self, client: IpAddr) -> Result<(), LimitError> {
        limits::admit_pending(
            &self.pending_gauge,
            &self.store,
            self.server(),
            self.clock.now(),
            client,
        )
        .await
    }

    /// The clients, entities, connections and products in force now.
    pub fn directory(&self) -> Arc<Directory> {
        self.directory.read().expect("never poisoned").clone()
    }

    /// The client `id`, if it is registered now.
    pub fn client(&self, id: &str) -> Option<Arc<Client>> {
        self.directory
            .read()
            .expect("never poisoned")
            .clients
            .get(id)
    }

    /// The connector `id`, if it takes logins now.
    pub fn connector(&self, id: &str) -> Option<Arc<dyn Connector>> {
        let directory = self.directory.read().expect("never poisoned");
        directory.connectors.get(id).cloned()
    }

    /// The product `id`, if it is declared now.
    pub fn product(&self, id: &str) -> Option<Arc<ProductDecl>> {
        let directory = self.directory.read().expect("never poisoned");
        directory.products.get(id).cloned()
    }

    /// The whole config in force now: the file's and the run-time declarations.
    pub fn config(&self) -> Arc<Config> {
        self.directory().config.clone()
    }

    /// Builds the directory again from the run-time declarations in the database, carrying
    /// over what did not change, and puts it in force. When the database cannot be reached, what
    /// is in force stays; when the declarations cannot be read or do not fit the file (a process
    /// of another release, another `keys.encryption_key`), this process fails closed: it goes on
    /// with the file's declarations alone until they do, and says why.
    /// Done, it says what the connections and service providers new in it could not read of
    /// their metadata.
    pub async fn reload_directory(&self) -> Result<Vec<(String, MetadataError)>, StartError> {
        let _one_at_a_time = self.rebuilding.lock().await;
        let key = self.file_config.keys.encryption_key.as_ref();
        let previous = self.directory();
        let built = match self.store.run_time_declarations(key).await {
            Err(e) if e.is_unavailable() => return Err(e.into()),
            Err(e) => Err(StartError::from(e)),
            Ok(stored) => self
                .file_config
                .with_run_time(&declarations_of(&stored))
                .map_err(|problems| DirectoryError::Invalid { problems })
                .and_then(|config| Directory::build(config, &stored, Some(&previous)))
                .map_err(StartError::from),
        };
        let (directory, failure) = match built {
            Ok(directory) => (directory, None),
            Err(error) => {
                let file_alone = (*self.file_config).clone();
                (
                    Directory::build(file_alone, &[], Some(&previous))?,
                    Some(error),
                )
            }
        };
        let algs = directory.config.signing_keys();
        let had = previous.config.signing_keys();
        if algs.iter().any(|alg| !had.contains(alg)) {
            keys::prepare(&self.store, &self.file_config.keys, &algs, self.clock.now()).await?;
            self.keys.reload().await?;
        }
        let directory = Arc::new(directory);
        let replaced = std::mem::replace(
            &mut *self.directory.write().expect("never poisoned"),
            directory.clone(),
        );
        drop(replaced);
        let unread = directory.fetch_fresh_metadata().await;
        for (id, e) in &unread {
            tracing::warn!(kind = e.kind().noun(), id = %id, error = %e, "metadata cannot be read");
        }
        match failure {
            Some(error) => Err(error),
            None => Ok(unread),
        }
    }

    /// What checks a password against its argon2id hash, throttled per key.
    pub fn password_checker(&self) -> PasswordChecker<'_> {
        PasswordChecker {
            store: &self.store,
            argon2: &self.argon2,
            dummy_hash: &self.dummy_hash,
        }
    }

    /// Opens and migrates the database, stores the configured objects, makes sure signing keys
    /// exist, and loads the server's own secrets.
    pub async fn prepare(config: Config, clock: Clock) -> Result<AppState, StartError> {
        let store =
            Store::connect_with_userinfo_cache(&config.database_url, config.server.userinfo_cache)
                .await
                .map_err(StartError::Database)?;
        store.migrate().await.map_err(StartError::Migrate)?;
        // Keys first: a wrong encryption key stops the start before the config is written.
        keys::prepare(&store, &config.keys, &config.signing_keys(), clock.now()).await?;
        let key = config.keys.encryption_key.as_ref();
        let (with_run_time, stored) = store
            .apply_config(&config, key, clock.now())
            .await
            .map_err(StartError::Sync)?
            .map_err(|problems| DirectoryError::Invalid { problems })?;
        let directory = Directory::build(with_run_time, &stored, None)?;
        let algs = directory.config.signing_keys();
        if algs != config.signing_keys() {
            // Run-time clients sign with algorithms the file's do not.
            keys::prepare(&store, &config.keys, &algs, clock.now()).await?;
        }
        let csrf_key = store.server_secret("csrf").await?;
        let saml_request_key = store.server_secret("saml_idp_requests").await?;
        let saml_name_id_key = store.server_secret("saml_name_ids").await?;
        let dummy_hash = password::hash(crate::crypto::random_token()).await?;
        let keys = KeyRing::load(store.clone(), config.keys.clone()).await?;
        // At start the IdP metadata of every connection the file declares must be there: without
        // it, its logins cannot work, and the operator is at hand. A run-time connection whose
        // metadata is out of reach must not keep every process from starting, nor may a service
        // provider's (one application's outage would stop the whole IdP): each takes no login
        // until it is read.
        for (id, error) in directory.fetch_fresh_metadata().await {
            if error.kind() == Kind::Connection && config.file_declares(Kind::Connection, &id) {
                return Err(error.into());
            }
            tracing::warn!(kind = error.kind().noun(), id = %id, error = %error, "metadata cannot be read");
        }
        let client_rates = Arc::new(ClientRates::new(&config.server));
        Ok(AppState(Arc::new(Shared {
            directory: RwLock::new(Arc::new(directory)),
            rebuilding: tokio::sync::Mutex::new(()),
            keys: Arc::new(keys),
            file_config: Arc::new(config),
            store,
            clock,
            csrf_key: Arc::new(csrf_key),
            saml_request_key: Arc::new(saml_request_key),
            saml_name_id_key: Arc::new(saml_name_id_key),
            dummy_hash: dummy_hash.into(),
            argon2: Arc::new(Argon2Gate::for_this_machine()),
            api_auth: Arc::new(VerifiedCache::default()),
            pending_gauge: Arc::new(PendingGauge::default()),
            client_rates,
            metrics: Metrics::default(),
        })))
    }
}
