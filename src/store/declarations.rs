//! Run-time declarations ([`Declaration`]) in the database: clients, entities, connections and
//! products made through the admin API or `idbridge admin`. A change is validated together with
//! the file's declarations and every other run-time one inside its transaction, which first
//! counts the change ([`Kept::Declarations`]): on PostgreSQL that takes the counter's row lock,
//! so two changes never validate against the same old state. The entity and client rows that
//! other tables refer to are made to match in the same transaction, with the audit event.
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, TransactionTrait,
};
use serde_json::{Value, json};

use super::admin::Change;
use super::audit::{Initiator, record};
use super::changes::{Kept, count_change};
use super::grants::revoke_grants_to;
use super::logout::{Ending, end_sessions_in};
use super::sync::{client_row, entity_row};
use super::tables::{
    change_counter, client, consent, declaration, entity, product_confirmation, session,
    session_client, upstream_identity, user_entity,
};
use super::{Store, StoreError};
use crate::config::{Config, Declaration, EncryptionKey, Kind, Problem};
use crate::crypto;
use crate::vocabulary::audit::AuditKind;

/// A run-time declaration as stored.
#[derive(Debug, Clone)]
pub struct StoredDeclaration {
    pub declaration: Declaration,
    /// Counts its changes: its ETag.
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What an update makes of the stored declaration.
pub type Edit = Box<dyn FnOnce(&Declaration) -> Result<Declaration, Vec<Problem>> + Send>;

/// The declarations of `stored`, as `Config::with_run_time` takes them.
pub fn declarations_of(stored: &[StoredDeclaration]) -> Vec<Declaration> {
    stored.iter().map(|s| s.declaration.clone()).collect()
}

/// A change of a run-time declaration, as an operator asks for it.
pub enum DeclarationChange {
    Create(Declaration),
    /// Changes the declaration `id` of `kind` with `change` (which sees the stored one), if it
    /// is still at `version` when one is given.
    Update {
        kind: Kind,
        id: String,
        version: Option<i64>,
        action: &'static str,
        change: Edit,
    },
    /// Deletes the declaration; for an entity, with `cascade`, its run-time descendants too, and
    /// the users attached to any of them lose those attachments.
    Delete {
        kind: Kind,
        id: String,
        version: Option<i64>,
        cascade: bool,
    },
}

impl DeclarationChange {
    /// What it changes: the kind and the id.
    pub fn target(&self) -> (Kind, &str) {
        match self {
            DeclarationChange::Create(declaration) => (declaration.kind, &declaration.id),
            DeclarationChange::Update { kind, id, .. }
            | DeclarationChange::Delete { kind, id, .. } => (*kind, id),
        }
    }
}

/// What a done change leaves: the config with every run-time declaration (`None` after a delete
/// that left others the file contradicts), and the changed one as stored now (`None` once
/// deleted).
pub struct DeclarationChanged {
    pub config: Option<Config>,
    pub stored: Option<StoredDeclaration>,
}

impl Store {
    /// Every run-time declaration, in the order they were made.
    pub async fn run_time_declarations(
        &self,
        key: Option<&EncryptionKey>,
    ) -> Result<Vec<StoredDeclaration>, StoreError> {
        read_all(&self.db, key).await
    }

    /// The config with every run-time declaration, as the database holds them now.
    pub async fn config_with_run_time(
        &self,
        base: &Config,
        key: Option<&EncryptionKey>,
    ) -> Result<Result<Config, Vec<Problem>>, StoreError> {
        let stored = self.run_time_declarations(key).await?;
        Ok(base.with_run_time(&declarations_of(&stored)))
    }

    /// Makes the change `asked` by `by`, if the file's and all run-time declarations are valid
    /// with it, and records it in the audit trail with the declaration before and after
    /// ([`Declaration::audited`]). `base` is the config of the file alone. A delete is refused
    /// only for problems it makes: one that removes a declaration the file contradicts goes,
    /// whatever else is wrong.
    pub async fn change_declaration(
        &self,
        asked: DeclarationChange,
        base: &Config,
        key: Option<&EncryptionKey>,
        by: &Initiator,
        now: i64,
    ) -> Result<Change<DeclarationChanged>, StoreError> {
        let (kind, id) = asked.target();
        let (kind, id) = (kind, id.to_string());
        let deleting = matches!(asked, DeclarationChange::Delete { .. });
        // Sessions a change of a connection ends are no longer answered from memory.
        let _forget = self.userinfo.forget_all_when_done();
        let txn = self.writer.begin().await?;
        // First: on PostgreSQL this takes the counter's row lock until the commit.
        count_change(&txn, Kept::Declarations).await?;
        let version = declarations_version(&txn).await?;
        let all = read_all(&txn, key).await?;
        let before = all
            .iter()
            .find(|s| s.declaration.kind == kind && s.declaration.id == id)
            .cloned();
        // The file's object is the file's; but a run-time one the file took the id of since
        // (which stops every start, naming it) may go, and only that way.
        if base.file_declares(kind, &id) && !(deleting && before.is_some()) {
            return Ok(Change::ManagedByConfig);
        }
        let stale = |asked: Option<i64>| {
            asked.is_some_and(|v| before.as_ref().is_some_and(|b| b.version != v))
        };
        // What a delete takes: the declaration, and for an entity its run-time subtree.
        let mut going = vec![id.clone()];
        let (action, after) = match asked {
            DeclarationChange::Create(declaration) => {
                if before.is_some() {
                    return Ok(Change::Exists);
                }
                if let Some(refusal) = secrets_need_a_key(&declaration, key) {
                    return Ok(refusal);
                }
                ("create", Some(declaration))
            }
            DeclarationChange::Update {
                version: asked,
                action,
                change,
                ..
            } => {
                let Some(before) = &before else {
                    return Ok(Change::NotFound);
                };
                if stale(asked) {
                    return Ok(Change::Stale);
                }
                match change(&before.declaration) {
                    Ok(after) if after.kind == kind && after.id == id => (action, Some(after)),
                    Ok(_) => {
                        return Ok(Change::Invalid(vec![Problem {
                            path: kind.id_key().into(),
                            message: format!("must stay {id:?} (the id in the path)"),
                        }]));
                    }
                    Err(problems) => return Ok(Change::Invalid(problems)),
                }
            }
            DeclarationChange::Delete {
                version: asked,
                cascade,
                ..
            } => {
                if before.is_none() {
                    return Ok(Change::NotFound);
                }
                if stale(asked) {
                    return Ok(Change::Stale);
                }
                if kind == Kind::Entity {
                    let subtree = run_time_subtree(&all, &id);
                    if !cascade {
                        let attached = user_entity::Entity::find()
                            .filter(user_entity::Column::EntityId.is_in(subtree.clone()))
                            .count(&txn)
                            .await?;
                        if attached > 0 || subtree.len() > 1 {
                            return Ok(Change::InUse(format!(
                                "{} run-time entities below it and {attached} attachment(s) of \
                                 users to it or below would go; ask again with cascade=true",
                                subtree.len() - 1
                            )));
                        }
                    }
                    going = subtree;
                }
                ("delete", None)
            }
        };
        let before_set = declarations_of(&all);
        let mut declarations = before_set.clone();
        match &after {
            Some(after) => match declarations
                .iter_mut()
                .find(|d| d.kind == kind && d.id == id)
            {
                Some(slot) => *slot = after.clone(),
                None => declarations.push(after.clone()),
            },
            None => declarations.retain(|d| !(d.kind == kind && going.contains(&d.id))),
        }
        let config = match base.with_run_time(&declarations) {
            Ok(config) => Some(config),
            Err(problems) if deleting => {
                let already = base.with_run_time(&before_set).err().unwrap_or_default();
                let made: Vec<Problem> = problems
                    .into_iter()
                    .filter(|p| !already.contains(p))
                    .collect();
                if !made.is_empty() {
                    return Ok(Change::Invalid(made));
                }
                None
            }
            Err(problems) => return Ok(Change::Invalid(problems)),
        };
        let stored = match (&after, &config) {
            (Some(after), Some(config)) => {
                let stored = write(&txn, after, before.as_ref(), version, key, now).await?;
                sync_row(&txn, config, kind, &id).await?;
                if kind == Kind::ServiceProvider && before.is_some() {
                    let before_config = base.with_run_time(&before_set).ok();
                    if released(before_config.as_ref(), &id) != released(Some(config), &id) {
                        // A consent was given to that entity for those attributes.
                        forget_consents(&txn, std::slice::from_ref(&id)).await?;
                    }
                }
                Some(stored)
            }
            _ => {
                for gone in &going {
                    declaration::Entity::delete_by_id((kind.section().to_string(), gone.clone()))
                        .exec(&txn)
                        .await?;
                }
                forget(&txn, kind, &going, now).await?;
                None
            }
        };
        // A connection disabled or deleted ends the sessions begun through it (their clients are
        // told), as the provider's own sign-out would: whoever turned it off meant no one to be
        // signed in through it any more.
        let turned_off = match &after {
            None => true,
            Some(after) => after.body.get("enabled") == Some(&Value::Bool(false)),
        };
        if kind == Kind::Connection && turned_off {
            let which = Condition::all().add(session::Column::UpstreamConnection.eq(id.as_str()));
            let told = config.as_ref().unwrap_or(base);
            end_sessions_in(&txn, which, Ending::SignedOut, Some(by), told, now).await?;
        }
        let details = json!({
            "resource": kind.noun(), "id": id, "action": action,
            "before": before.as_ref().map(|b| b.declaration.audited()),
            "after": after.as_ref().map(Declaration::audited),
        });
        record(&txn, &by.event(AuditKind::AdminChange, None, details), now).await?;
        txn.commit().await?;
        Ok(Change::Done(DeclarationChanged { config, stored }))
    }
}

/// The version of the run-time declarations as a whole, counted up by every change and never
/// reset: each declaration is stamped with the one of its last change, so that a declaration
/// deleted and made again never has a version it had before (an ETag, and the processes'
/// carrying over of unchanged connectors, rely on that).
async fn declarations_version<C: sea_orm::ConnectionTrait>(db: &C) -> Result<i64, StoreError> {
    Ok(
        change_counter::Entity::find_by_id(Kept::Declarations.name().to_string())
            .one(db)
            .await?
            .map_or(0, |row| row.version),
    )
}

/// A declaration with secrets is kept only encrypted: without `keys.encryption_key` (the demo),
/// it is refused.
fn secrets_need_a_key(
    declaration: &Declaration,
    key: Option<&EncryptionKey>,
) -> Option<Change<DeclarationChanged>> {
    let secret = declaration
        .kind
        .secret_keys()
        .iter()
        .find(|k| declaration.body.contains_key(**k));
    match (secret, key) {
        (Some(secret), None) => Some(Change::Invalid(vec![Problem {
            path: secret.to_string(),
            message: "a secret is stored only encrypted, and keys.encryption_key is not set".into(),
        }])),
        _ => None,
    }
}

/// Makes the entity or client row of `id` what `config` declares of it (other tables refer to
/// those rows); the file's own rows are left to the config sync of a start.
async fn sync_row<C: sea_orm::ConnectionTrait>(
    db: &C,
    config: &Config,
    kind: Kind,
    id: &str,
) -> Result<(), StoreError> {
    match kind {
        Kind::Entity => {
            for decl in config.entities.iter().filter(|e| e.id == id) {
                upsert(db, entity_row(decl), entity::Column::Id).await?;
            }
        }
        Kind::Client => {
            for decl in config.clients.iter().filter(|c| c.client_id == id) {
                upsert(db, client_row(decl), client::Column::ClientId).await?;
            }
        }
        Kind::Connection | Kind::Product | Kind::ServiceProvider => {}
    }
    Ok(())
}

async fn upsert<C, M, A, E>(db: &C, row: M, key: E::Column) -> Result<(), StoreError>
where
    C: sea_orm::ConnectionTrait,
    E: EntityTrait<Model = M>,
    M: IntoActiveModel<A> + sea_orm::ModelTrait<Entity = E>,
    A: ActiveModelTrait<Entity = E> + Send,
{
    use sea_orm::Iden;
    let columns: Vec<E::Column> = <E::Column as sea_orm::Iterable>::iter()
        .filter(|c| c.to_string() != key.to_string())
        .collect();
    E::insert(row.into_active_model())
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(key)
                .update_columns(columns)
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// What goes with deleted run-time declarations: a client's rows with every code and token
/// issued to it revoked and the consents given it; an entity's rows (children first) with the
/// attachments of users to them; a connection's links of upstream identities to users (a new
/// connection of that id must not take over its people); a product's confirmations; a service
/// provider's consents.
async fn forget<C: sea_orm::ConnectionTrait>(
    db: &C,
    kind: Kind,
    ids: &[String],
    now: i64,
) -> Result<(), StoreError> {
    match kind {
        Kind::Client => {
            for id in ids {
                revoke_grants_to(db, id, now).await?;
            }
            forget_consents(db, ids).await?;
            session_client::Entity::delete_many()
                .filter(session_client::Column::ClientId.is_in(ids.iter().cloned()))
                .exec(db)
                .await?;
            client::Entity::delete_many()
                .filter(client::Column::ClientId.is_in(ids.iter().cloned()))
                .exec(db)
                .await?;
        }
        Kind::Entity => {
            user_entity::Entity::delete_many()
                .filter(user_entity::Column::EntityId.is_in(ids.iter().cloned()))
                .exec(db)
                .await?;
            // The subtree lists parents before children.
            for id in ids.iter().rev() {
                entity::Entity::delete_by_id(id.clone()).exec(db).await?;
            }
        }
        Kind::Connection => {
            upstream_identity::Entity::delete_many()
                .filter(upstream_identity::Column::ConnectionId.is_in(ids.iter().cloned()))
                .exec(db)
                .await?;
        }
        Kind::Product => {
            product_confirmation::Entity::delete_many()
                .filter(product_confirmation::Column::ProductId.is_in(ids.iter().cloned()))
                .exec(db)
                .await?;
        }
        Kind::ServiceProvider => forget_consents(db, ids).await?,
    }
    Ok(())
}

async fn forget_consents<C: sea_orm::ConnectionTrait>(
    db: &C,
    ids: &[String],
) -> Result<(), StoreError> {
    consent::Entity::delete_many()
        .filter(consent::Column::ClientId.is_in(ids.iter().cloned()))
        .exec(db)
        .await?;
    Ok(())
}

/// Who the service provider `id` of `config` is and what it is given: what a person consented
/// to.
fn released<'a>(
    config: Option<&'a Config>,
    id: &str,
) -> Option<(&'a str, &'a [crate::config::ReleasedAttribute])> {
    let sp = config?.service_providers.iter().find(|sp| sp.id == id)?;
    Some((sp.entity_id.as_str(), sp.attributes.as_slice()))
}

/// The ids of the entity `id` and of every run-time entity below it.
fn run_time_subtree(all: &[StoredDeclaration], id: &str) -> Vec<String> {
    let mut subtree = vec![id.to_string()];
    let mut grew = true;
    while grew {
        grew = false;
        for stored in all {
            let declaration = &stored.declaration;
            let parent = declaration.body.get("parent").and_then(Value::as_str);
            if declaration.kind == Kind::Entity
                && parent.is_some_and(|p| subtree.iter().any(|s| s == p))
                && !subtree.contains(&declaration.id)
            {
                subtree.push(declaration.id.clone());
                grew = true;
            }
        }
    }
    subtree
}

pub(super) async fn read_all<C: sea_orm::ConnectionTrait>(
    db: &C,
    key: Option<&EncryptionKey>,
) -> Result<Vec<StoredDeclaration>, StoreError> {
    declaration::Entity::find()
        .order_by_asc(declaration::Column::CreatedAt)
        .order_by_asc(declaration::Column::Kind)
        .order_by_asc(declaration::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|row| stored(row, key))
        .collect()
}

/// The associated data a row's ciphertext is bound to: its kind and id.
fn row_key(kind: &str, id: &str) -> String {
    format!("{kind}/{id}")
}

fn stored(
    row: declaration::Model,
    key: Option<&EncryptionKey>,
) -> Result<StoredDeclaration, StoreError> {
    let corrupt = |what: &str| {
        StoreError::Corrupt(format!(
            "run-time declaration {}/{}: {what}",
            row.kind, row.id
        ))
    };
    let kind = Kind::from_section(&row.kind).ok_or_else(|| corrupt("unknown kind"))?;
    // With a key every row is sealed: a row in clear was not written by idbridge.
    let json = match key {
        None if row.body.starts_with('{') => row.body.clone(),
        None => return Err(corrupt("encrypted, and keys.encryption_key is not set")),
        Some(key) => crypto::open(&key.0, &row_key(&row.kind, &row.id), &row.body)
            .ok_or_else(|| corrupt("does not decrypt with keys.encryption_key"))?,
    };
    let body: Value = serde_json::from_str(&json).map_err(|_| corrupt("not JSON"))?;
    let declaration = Declaration::new(kind, body).map_err(|_| corrupt("not a declaration"))?;
    Ok(StoredDeclaration {
        declaration,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// Writes `after` over `before` (or as new), encrypted when there is a key.
async fn write<C: sea_orm::ConnectionTrait>(
    db: &C,
    after: &Declaration,
    before: Option<&StoredDeclaration>,
    version: i64,
    key: Option<&EncryptionKey>,
    now: i64,
) -> Result<StoredDeclaration, StoreError> {
    let kind = after.kind.section();
    let json = Value::Object(after.body.clone()).to_string();
    let body = match key {
        Some(key) => crypto::seal(&key.0, &row_key(kind, &after.id), &json),
        None => json,
    };
    let row = declaration::Model {
        kind: kind.to_string(),
        id: after.id.clone(),
        body,
        version,
        created_at: before.map_or(now, |b| b.created_at),
        updated_at: now,
    };
    let active = row.clone().into_active_model();
    if before.is_some() {
        active.reset_all().update(db).await?;
    } else {
        declaration::Entity::insert(active)
            .exec_without_returning(db)
            .await?;
    }
    Ok(StoredDeclaration {
        declaration: after.clone(),
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}
