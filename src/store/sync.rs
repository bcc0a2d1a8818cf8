//! Makes the database hold exactly the objects the config declares (SPEC section 3). Rows are
//! written only where they differ, so starting twice with the same config changes nothing.
use std::collections::HashMap;

use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, TransactionTrait,
};

use serde_json::json;

use super::admin::MANAGED_BY_CONFIG;
use super::audit::{Actor, Initiator, record};
use super::changes::{Kept, count_change};
use super::declarations::{StoredDeclaration, declarations_of, read_all};
use super::tables::{api_credential, client, entity, user, user_entity};
use super::users::new_user_row;
use super::{Store, StoreError, UserSource};
use crate::config::{ClientDecl, Config, EncryptionKey, EntityDecl, Level, PasswordDecl, Problem};
use crate::vocabulary::audit::AuditKind;
use crate::{crypto, password};

impl Store {
    /// Upserts every declared entity, user, client and API credential and removes declared objects
    /// that left the config, in one transaction. Users created at run time are left alone, and so
    /// are the run-time entities and clients (`store::declarations`), read in the same
    /// transaction: the config with them and those read come back, or the problems of the file
    /// with them.
    pub async fn apply_config(
        &self,
        file_config: &Config,
        key: Option<&EncryptionKey>,
        now: i64,
    ) -> Result<Result<(Config, Vec<StoredDeclaration>), Vec<Problem>>, StoreError> {
        let config = file_config;
        let existing_users: HashMap<String, user::Model> = user::Entity::find()
            .filter(user::Column::Source.eq(UserSource::CONFIG))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|u| (u.id.clone(), u))
            .collect();
        let existing_credentials: HashMap<String, String> = api_credential::Entity::find()
            .filter(api_credential::Column::ManagedBy.eq(MANAGED_BY_CONFIG))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|c| (c.username, c.password_hash))
            .collect();
        let (users, attachments) = user_rows(config, &existing_users, now).await?;
        let credentials = credential_rows(config, &existing_credentials).await?;

        let txn = self.writer.begin().await?;
        // The run-time declarations as they are while this runs: counting a change takes the
        // lock a change of theirs takes (on PostgreSQL), so none is made meanwhile.
        count_change(&txn, Kept::Declarations).await?;
        let run_time = read_all(&txn, key).await?;
        let with_run_time = match file_config.with_run_time(&declarations_of(&run_time)) {
            Ok(config) => config,
            Err(problems) => return Ok(Err(problems)),
        };
        reconcile_declared(&txn, &with_run_time).await?;
        reconcile::<user::Entity>(
            &txn,
            users,
            user::Entity::find().filter(user::Column::Source.eq(UserSource::CONFIG)),
            |u| u.id.clone(),
        )
        .await?;
        let config_user_ids: Vec<String> = existing_users
            .keys()
            .cloned()
            .chain(config.users.iter().map(|u| u.id.clone()))
            .collect();
        reconcile::<user_entity::Entity>(
            &txn,
            attachments,
            user_entity::Entity::find().filter(user_entity::Column::UserId.is_in(config_user_ids)),
            |a| format!("{}\n{}", a.user_id, a.entity_id),
        )
        .await?;
        // A username the file declares is the file's: one made at run time gives way to it (the
        // admin API refuses to make one with a declared name; this is one declared after).
        let replaced = api_credential::Entity::delete_many()
            .filter(api_credential::Column::ManagedBy.ne(MANAGED_BY_CONFIG))
            .filter(
                api_credential::Column::Username
                    .is_in(config.api_credentials.iter().map(|c| c.username.as_str())),
            )
            .exec_with_returning(&txn)
            .await?;
        let by = Initiator {
            actor: Actor::Config,
            client_addr: None,
        };
        if !replaced.is_empty() {
            count_change(&txn, Kept::ApiCredentials).await?;
        }
        for row in replaced {
            let details = json!({ "resource": "api_credential", "id": row.username,
                                  "action": "replaced_by_config" });
            record(&txn, &by.event(AuditKind::AdminChange, None, details), now).await?;
        }
        reconcile::<api_credential::Entity>(
            &txn,
            credentials,
            api_credential::Entity::find()
                .filter(api_credential::Column::ManagedBy.eq(MANAGED_BY_CONFIG)),
            |c| c.username.clone(),
        )
        .await?;
        txn.commit().await?;
        Ok(Ok((with_run_time, run_time)))
    }
}

/// Makes the entity and client rows those `config` declares (the file's and run-time ones):
/// users' attachments and clients' consents and tokens refer to them.
pub(super) async fn reconcile_declared(
    txn: &DatabaseTransaction,
    config: &Config,
) -> Result<(), DbErr> {
    reconcile::<entity::Entity>(txn, entity_rows(config), entity::Entity::find(), |e| {
        e.id.clone()
    })
    .await?;
    let clients = config.clients.iter().map(client_row).collect();
    reconcile::<client::Entity>(txn, clients, client::Entity::find(), |c| {
        c.client_id.clone()
    })
    .await
}

/// The declared entities, parents before children (for the foreign key).
fn entity_rows(config: &Config) -> Vec<entity::Model> {
    let mut entities: Vec<entity::Model> = config.entities.iter().map(entity_row).collect();
    entities.sort_by_key(|e| Level::parse(&e.level).map(|l| l as u8));
    entities
}

/// A declared entity.
pub(super) fn entity_row(e: &EntityDecl) -> entity::Model {
    entity::Model {
        id: e.id.clone(),
        name: e.name.clone(),
        level: e.level.as_str().to_string(),
        parent_id: e.parent.clone(),
    }
}

/// The declared users and their attachments. A user keeps its creation time, and its update time
/// unless something of it changed.
async fn user_rows(
    config: &Config,
    existing: &HashMap<String, user::Model>,
    now: i64,
) -> Result<(Vec<user::Model>, Vec<user_entity::Model>), StoreError> {
    let mut users = Vec::new();
    let mut attachments = Vec::new();
    for decl in &config.users {
        let old = existing.get(&decl.id);
        let hash = password_hash(&decl.password, old.and_then(|u| u.password_hash.clone())).await?;
        let mut row = new_user_row(
            &decl.id,
            &decl.email,
            &decl.name,
            Some(hash),
            &UserSource::Config,
            now,
        );
        if let Some(old) = old {
            row.created_at = old.created_at;
            row.updated_at = old.updated_at;
        }
        if old.is_some_and(|old| *old != row) {
            row.updated_at = now;
        }
        users.push(row);
        attachments.extend(decl.attached_to.iter().map(|entity_id| user_entity::Model {
            user_id: decl.id.clone(),
            entity_id: entity_id.clone(),
        }));
    }
    Ok((users, attachments))
}

/// A declared client; the database keeps the SHA-256 of its secret only.
pub(super) fn client_row(c: &ClientDecl) -> client::Model {
    client::Model {
        client_id: c.client_id.clone(),
        secret_sha256: c.secret.as_ref().map(|s| crypto::sha256_hex(s.expose())),
        redirect_uris: serde_json::to_string(&c.redirect_uris).expect("strings"),
        post_logout_redirect_uris: serde_json::to_string(&c.post_logout_redirect_uris)
            .expect("strings"),
        allowed_scopes: c.allowed_scopes.join(" "),
        id_token_alg: c.id_token_alg.as_str().to_string(),
        require_pkce: c.require_pkce,
        token_endpoint_auth_method: c.token_endpoint_auth_method.as_str().to_string(),
    }
}

/// The declared API credentials, each keeping its stored hash while its password matches.
async fn credential_rows(
    config: &Config,
    existing: &HashMap<String, String>,
) -> Result<Vec<api_credential::Model>, StoreError> {
    let mut credentials = Vec::new();
    for decl in &config.api_credentials {
        let old = existing.get(&decl.username).cloned();
        credentials.push(api_credential::Model {
            username: decl.username.clone(),
            password_hash: password_hash(&decl.password, old).await?,
            scopes: decl.scopes.join(" "),
            managed_by: MANAGED_BY_CONFIG.into(),
            created_at: None,
        });
    }
    Ok(credentials)
}

/// The stored hash for a declared password: a given hash as is; a clear password keeps the stored
/// hash while that still matches it (a fresh salt each start would rewrite the row every time).
async fn password_hash(decl: &PasswordDecl, stored: Option<String>) -> Result<String, StoreError> {
    let corrupt = |e: password::PasswordError| StoreError::Corrupt(e.to_string());
    match decl {
        PasswordDecl::Hash(hash) => Ok(hash.clone()),
        PasswordDecl::Plain(secret) => {
            if let Some(stored) = stored
                && password::verify(secret.expose().to_string(), stored.clone())
                    .await
                    .map_err(corrupt)?
            {
                return Ok(stored);
            }
            password::hash(secret.expose().to_string())
                .await
                .map_err(corrupt)
        }
    }
}

/// Makes the rows selected by `scope` equal `desired`: inserts missing rows, updates differing
/// ones, then deletes rows no longer desired (after the writes, so that a row moved to a new
/// parent is not removed with its old one).
async fn reconcile<E>(
    txn: &DatabaseTransaction,
    desired: Vec<E::Model>,
    scope: sea_orm::Select<E>,
    key: impl Fn(&E::Model) -> String,
) -> Result<(), DbErr>
where
    E: EntityTrait,
    E::Model: IntoActiveModel<E::ActiveModel> + PartialEq + Clone,
    E::ActiveModel: ActiveModelTrait<Entity = E> + ActiveModelBehavior + Send,
{
    let mut existing: HashMap<String, E::Model> = scope
        .all(txn)
        .await?
        .into_iter()
        .map(|row| (key(&row), row))
        .collect();
    for row in desired {
        match existing.remove(&key(&row)) {
            None => {
                E::insert(row.into_active_model()).exec(txn).await?;
            }
            Some(old) if old != row => {
                E::update(row.into_active_model().reset_all())
                    .exec(txn)
                    .await?;
            }
            Some(_) => {}
        }
    }
    for stale in existing.into_values() {
        E::delete(stale.into_active_model()).exec(txn).await?;
    }
    Ok(())
}
