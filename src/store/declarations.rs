//! Run-time declarations ([`Declaration`]) in the database: clients, entities, connections and
//! products made through the admin API or `idbridge admin`. A change is validated together with
//! the file's declarations and every other run-time one inside its transaction, which first
//! counts the change ([`Kept::Declarations`]): on PostgreSQL that takes the counter's row lock,
//! so two changes never validate against the same old state. The entity and client rows that
//! other tables refer to are made to match in the same transaction, with the audit event.
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};
use serde_json::{Value, json};

use super::admin::Change;
use super::audit::{Initiator, record};
use super::changes::{Kept, count_change};
use super::sync::reconcile_declared;
use super::tables::{declaration, user_entity};
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
    fn target(&self) -> (Kind, &str) {
        match self {
            DeclarationChange::Create(declaration) => (declaration.kind, &declaration.id),
            DeclarationChange::Update { kind, id, .. }
            | DeclarationChange::Delete { kind, id, .. } => (*kind, id),
        }
    }
}

/// What a done change leaves: the config with every run-time declaration, and the changed one as
/// stored now (`None` once deleted).
pub struct DeclarationChanged {
    pub config: Config,
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
        let declarations: Vec<Declaration> = stored.into_iter().map(|s| s.declaration).collect();
        Ok(base.with_run_time(&declarations))
    }

    /// Makes the change `asked` by `by`, if the file's and all run-time declarations are valid
    /// with it, and records it in the audit trail with the declaration before and after (secrets
    /// left out). `base` is the config of the file alone.
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
        let txn = self.writer.begin().await?;
        count_change(&txn, Kept::Declarations).await?;
        let all = read_all(&txn, key).await?;
        // What a delete takes: the declaration, and for an entity its run-time subtree.
        let mut going = vec![id.clone()];
        let position = all
            .iter()
            .position(|s| s.declaration.kind == kind && s.declaration.id == id);
        let before = position.map(|i| all[i].clone());
        // The file's object is the file's; but a run-time one the file took the id of since
        // (which stops every start, naming it) may go, and only that way.
        if base.file_declares(kind, &id) && !(deleting && before.is_some()) {
            return Ok(Change::ManagedByConfig);
        }
        let stale = |version: Option<i64>| {
            version.is_some_and(|v| before.as_ref().is_some_and(|b| b.version != v))
        };
        let (action, after) = match asked {
            DeclarationChange::Create(declaration) => {
                if before.is_some() {
                    return Ok(Change::Exists);
                }
                ("create", Some(declaration))
            }
            DeclarationChange::Update {
                version,
                action,
                change,
                ..
            } => {
                let Some(before) = &before else {
                    return Ok(Change::NotFound);
                };
                if stale(version) {
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
                version, cascade, ..
            } => {
                if before.is_none() {
                    return Ok(Change::NotFound);
                }
                if stale(version) {
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
        let mut declarations: Vec<Declaration> =
            all.iter().map(|s| s.declaration.clone()).collect();
        match (&after, position) {
            (Some(after), Some(i)) => declarations[i] = after.clone(),
            (Some(after), None) => declarations.push(after.clone()),
            (None, _) => declarations.retain(|d| !(d.kind == kind && going.contains(&d.id))),
        }
        let config = match base.with_run_time(&declarations) {
            Ok(config) => config,
            Err(problems) => return Ok(Change::Invalid(problems)),
        };
        let stored = match &after {
            Some(after) => Some(write(&txn, after, before.as_ref(), key, now).await?),
            None => {
                for id in &going {
                    declaration::Entity::delete_by_id((kind.section().to_string(), id.clone()))
                        .exec(&txn)
                        .await?;
                }
                None
            }
        };
        reconcile_declared(&txn, &config).await?;
        let details = json!({
            "resource": kind.noun(), "id": id, "action": action,
            "before": before.as_ref().map(|b| b.declaration.without_secrets()),
            "after": after.as_ref().map(Declaration::without_secrets),
        });
        record(&txn, &by.event(AuditKind::AdminChange, None, details), now).await?;
        txn.commit().await?;
        Ok(Change::Done(DeclarationChanged { config, stored }))
    }
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

async fn read_all<C: sea_orm::ConnectionTrait>(
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
    let json = if row.body.starts_with('{') {
        row.body.clone()
    } else {
        let key = key.ok_or_else(|| corrupt("encrypted, and keys.encryption_key is not set"))?;
        crypto::open(&key.0, &row_key(&row.kind, &row.id), &row.body)
            .ok_or_else(|| corrupt("does not decrypt with keys.encryption_key"))?
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
        version: before.map_or(1, |b| b.version + 1),
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
