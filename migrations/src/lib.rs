//! Database schema of idbridge: one migration per file, written with sea-query's schema builder so
//! that the same set runs on SQLite and PostgreSQL. A released migration is never edited; a change
//! to the schema is a new file.
pub use sea_orm_migration::prelude::*;

mod m0001_entities;
mod m0002_users;
mod m0003_user_entities;
mod m0004_clients;
mod m0005_api_credentials;
mod m0006_signing_keys;
mod m0007_sessions;
mod m0008_login_throttle;
mod m0009_server_secrets;
mod m0010_pending_authorizations;
mod m0011_authorization_codes;
mod m0012_refresh_tokens;
mod m0013_access_tokens;
mod m0014_consents;
mod m0015_upstream;
mod m0016_session_urls;
mod m0017_outbox;
mod m0018_session_pending_id;
mod m0019_session_sid_index;
mod m0020_product_confirmations;
mod m0021_session_clients;
mod m0022_upstream_sessions;
mod m0023_user_profiles;
mod m0024_administration;
mod m0025_declarations;
mod m0026_saml_idp;
mod m0027_signing_key_use;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_entities::Migration),
            Box::new(m0002_users::Migration),
            Box::new(m0003_user_entities::Migration),
            Box::new(m0004_clients::Migration),
            Box::new(m0005_api_credentials::Migration),
            Box::new(m0006_signing_keys::Migration),
            Box::new(m0007_sessions::Migration),
            Box::new(m0008_login_throttle::Migration),
            Box::new(m0009_server_secrets::Migration),
            Box::new(m0010_pending_authorizations::Migration),
            Box::new(m0011_authorization_codes::Migration),
            Box::new(m0012_refresh_tokens::Migration),
            Box::new(m0013_access_tokens::Migration),
            Box::new(m0014_consents::Migration),
            Box::new(m0015_upstream::Migration),
            Box::new(m0016_session_urls::Migration),
            Box::new(m0017_outbox::Migration),
            Box::new(m0018_session_pending_id::Migration),
            Box::new(m0019_session_sid_index::Migration),
            Box::new(m0020_product_confirmations::Migration),
            Box::new(m0021_session_clients::Migration),
            Box::new(m0022_upstream_sessions::Migration),
            Box::new(m0023_user_profiles::Migration),
            Box::new(m0024_administration::Migration),
            Box::new(m0025_declarations::Migration),
            Box::new(m0026_saml_idp::Migration),
            Box::new(m0027_signing_key_use::Migration),
        ]
    }
}
