//! `GET /admin/v1/audit`: the audit trail, oldest first, a page at a time, filtered by time, kind,
//! user and actor.
use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{AdminError, Page, Reader, cursor, page_limit};
use crate::state::AppState;
use crate::store::{AuditFilter, AuditRecord, Store};
use crate::vocabulary::audit::AuditKind;

/// An event of the trail.
#[derive(Serialize, ToSchema)]
pub struct AuditView {
    /// Increasing in the order events were written.
    pub(super) id: i64,
    /// Unix seconds.
    pub(super) at: i64,
    /// `login.succeeded`, `login.failed`, `consent.revoked`, `session.ended`, `access.revoked`,
    /// `admin.change`, `admin.refused`.
    pub(super) kind: String,
    /// `api:<username>`, `cli` or `person`.
    pub(super) actor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) client_addr: Option<String>,
    /// What else there is to know: a login's connection and reason; an admin change's resource,
    /// id, action and fields before and after. Never a secret.
    #[schema(value_type = Object)]
    pub(super) details: serde_json::Value,
}

impl From<AuditRecord> for AuditView {
    fn from(record: AuditRecord) -> AuditView {
        AuditView {
            id: record.id,
            at: record.at,
            kind: record.kind,
            actor: record.actor,
            user_id: record.user_id,
            client_addr: record.client_addr,
            details: record.details,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Events at or after this time (Unix seconds).
    pub(super) from: Option<i64>,
    /// Events before this time (Unix seconds).
    pub(super) until: Option<i64>,
    /// One kind of event.
    pub(super) kind: Option<String>,
    /// Events about this user.
    pub(super) user: Option<String>,
    /// Events caused by this actor (`api:<username>`, `cli`, `person`).
    pub(super) actor: Option<String>,
    /// From 1 to 200; 50 unless given.
    pub(super) limit: Option<u64>,
    /// The `next_cursor` of the page before.
    pub(super) cursor: Option<String>,
}

/// Events of the audit trail, oldest first.
#[utoipa::path(
    get, path = "/admin/v1/audit", tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, body = Page<AuditView>),
        (status = 400, description = "a parameter is not valid"),
    ),
    security(("basic" = ["admin:read"]))
)]
pub async fn list(
    _: Reader,
    State(state): State<AppState>,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<AuditView>>, AdminError> {
    let Query(query) = query.map_err(|e| AdminError::invalid("query", e.body_text()))?;
    Ok(Json(events(&state.store, query).await?))
}

/// A page of the events `query` selects.
pub(super) async fn events(
    store: &Store,
    query: AuditQuery,
) -> Result<Page<AuditView>, AdminError> {
    let limit = page_limit(query.limit)?;
    let kind = query
        .kind
        .map(|kind| {
            AuditKind::parse(&kind).ok_or_else(|| {
                let known: Vec<_> = AuditKind::ALL.iter().map(|k| k.as_str()).collect();
                AdminError::invalid("kind", format!("one of {}", known.join(", ")))
            })
        })
        .transpose()?;
    let after = cursor(query.cursor.as_deref())?
        .map(|position| {
            position
                .parse::<i64>()
                .map_err(|_| AdminError::invalid("cursor", "not a cursor this API gave"))
        })
        .transpose()?;
    let filter = AuditFilter {
        from: query.from,
        until: query.until,
        kind,
        user_id: query.user,
        actor: query.actor,
        after,
    };
    let events = store.audit_events(&filter, limit).await?;
    let last = events.last().map(|event| event.id.to_string());
    let items = events.into_iter().map(AuditView::from).collect();
    Ok(Page::new(items, limit, last))
}
