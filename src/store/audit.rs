//! The audit trail: security-relevant events, each appended through the connection of the change
//! it records (the caller's transaction), so that a change and its record land together or not at
//! all. Rows are never updated; only [`Store::forget_audit_before`] (retention) deletes them.
use std::net::IpAddr;

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::tables::audit_event;
use super::{Store, StoreError};
use crate::vocabulary::audit::AuditKind;

/// Who did it: an API credential, the command line, a person signing in, idbridge itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An admin API request made with this API credential.
    Api(String),
    /// `idbridge admin` on the operator's machine.
    Cli,
    /// The person the event is about (a login).
    Person,
    /// An OAuth client, authenticated (a token it revoked, a code or refresh token it replayed).
    Client(String),
    /// The config file, applied at start.
    Config,
}

impl Actor {
    fn column(&self) -> String {
        match self {
            Actor::Api(username) => format!("api:{username}"),
            Actor::Cli => "cli".into(),
            Actor::Person => "person".into(),
            Actor::Client(client_id) => format!("client:{client_id}"),
            Actor::Config => "config".into(),
        }
    }
}

/// Who asks for a change, and from where: what its audit event says of them.
#[derive(Debug, Clone)]
pub struct Initiator {
    pub actor: Actor,
    pub client_addr: Option<IpAddr>,
}

impl Initiator {
    /// The event of `kind` this initiator causes, about `user_id`.
    pub(super) fn event(
        &self,
        kind: AuditKind,
        user_id: Option<&str>,
        details: serde_json::Value,
    ) -> AuditEvent {
        AuditEvent {
            kind,
            actor: self.actor.clone(),
            user_id: user_id.map(str::to_string),
            client_addr: self.client_addr,
            details,
        }
    }
}

/// One event to record.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub kind: AuditKind,
    pub actor: Actor,
    /// The user it concerns, if any.
    pub user_id: Option<String>,
    pub client_addr: Option<IpAddr>,
    /// What else there is to know, as a JSON object: the connection and reason of a login, the
    /// resource and its fields before and after of an admin change. Never a secret.
    pub details: serde_json::Value,
}

impl AuditEvent {
    /// A login refused for `reason` (a metrics outcome, or `disabled`), through `connection`,
    /// from `client`, of `user_id` where it is known.
    pub fn refused_login(
        connection: &str,
        reason: &str,
        user_id: Option<&str>,
        client: IpAddr,
    ) -> AuditEvent {
        AuditEvent {
            kind: AuditKind::LoginFailed,
            actor: Actor::Person,
            user_id: user_id.map(str::to_string),
            client_addr: Some(client),
            details: serde_json::json!({ "connection": connection, "reason": reason }),
        }
    }
}

/// A recorded event, as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Increasing in the order the events were written.
    pub id: i64,
    pub at: i64,
    /// An [`AuditKind`] name.
    pub kind: String,
    /// `api:<username>`, `cli`, `person`, `client:<client_id>` or `config`.
    pub actor: String,
    pub user_id: Option<String>,
    pub client_addr: Option<String>,
    pub details: serde_json::Value,
}

/// Which events a listing shows: each `Some` narrows it.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub from: Option<i64>,
    pub until: Option<i64>,
    pub kind: Option<AuditKind>,
    pub user_id: Option<String>,
    pub actor: Option<String>,
    /// Only events after this id (the cursor of the page before).
    pub after: Option<i64>,
}

/// Appends `event`, at `now`, through `db` (the transaction of the change it records).
pub(super) async fn record<C: ConnectionTrait>(
    db: &C,
    event: &AuditEvent,
    now: i64,
) -> Result<(), StoreError> {
    audit_event::Entity::insert(audit_event::ActiveModel {
        id: ActiveValue::NotSet,
        at: ActiveValue::Set(now),
        kind: ActiveValue::Set(event.kind.as_str().to_string()),
        actor: ActiveValue::Set(event.actor.column()),
        user_id: ActiveValue::Set(event.user_id.clone()),
        client_addr: ActiveValue::Set(event.client_addr.map(|a| a.to_string())),
        details: ActiveValue::Set(event.details.to_string()),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

impl From<audit_event::Model> for AuditRecord {
    fn from(row: audit_event::Model) -> AuditRecord {
        AuditRecord {
            id: row.id,
            at: row.at,
            kind: row.kind,
            actor: row.actor,
            user_id: row.user_id,
            client_addr: row.client_addr,
            details: serde_json::from_str(&row.details).unwrap_or(serde_json::Value::Null),
        }
    }
}

impl Store {
    /// Records an event that changes nothing else (a refused login, a refused admin change).
    pub async fn record_audit(&self, event: &AuditEvent, now: i64) -> Result<(), StoreError> {
        record(&self.writer, event, now).await
    }

    /// Up to `limit` events that `filter` selects, oldest first.
    pub async fn audit_events(
        &self,
        filter: &AuditFilter,
        limit: u64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        use audit_event::Column as A;
        let mut query = audit_event::Entity::find();
        if let Some(from) = filter.from {
            query = query.filter(A::At.gte(from));
        }
        if let Some(until) = filter.until {
            query = query.filter(A::At.lt(until));
        }
        if let Some(kind) = filter.kind {
            query = query.filter(A::Kind.eq(kind.as_str()));
        }
        if let Some(user_id) = &filter.user_id {
            query = query.filter(A::UserId.eq(user_id));
        }
        if let Some(actor) = &filter.actor {
            query = query.filter(A::Actor.eq(actor));
        }
        if let Some(after) = filter.after {
            query = query.filter(A::Id.gt(after));
        }
        Ok(query
            .order_by_asc(A::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(AuditRecord::from)
            .collect())
    }

    /// Deletes the events recorded before `before` (retention); how many.
    pub async fn forget_audit_before(&self, before: i64) -> Result<u64, StoreError> {
        Ok(audit_event::Entity::delete_many()
            .filter(Expr::col(audit_event::Column::At).lt(before))
            .exec(&self.writer)
            .await?
            .rows_affected)
    }
}
