//! What processes keep in memory and other processes may change: each change counts up a
//! counter in the transaction that makes it, and every process polls the counters
//! ([`Store::change_version`]) to drop what it keeps of a changed one, so that a change through
//! one process holds in all within seconds.
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ConnectionTrait, EntityTrait, IntoActiveModel};

use super::tables::change_counter;
use super::{Store, StoreError};

/// Something processes keep in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// API credentials verified in the last minute (`api_auth::VerifiedCache`).
    ApiCredentials,
    /// Run-time clients, entities, connections and products (`AppState::directory`).
    Declarations,
}

impl Kept {
    pub(super) fn name(self) -> &'static str {
        match self {
            Kept::ApiCredentials => "api_credentials",
            Kept::Declarations => "declarations",
        }
    }
}

/// Counts a change of `kept`, through `db` (the transaction of the change).
pub(super) async fn count_change<C: ConnectionTrait>(db: &C, kept: Kept) -> Result<(), StoreError> {
    use change_counter::Column as C;
    change_counter::Entity::insert(
        change_counter::Model {
            name: kept.name().to_string(),
            version: 1,
        }
        .into_active_model(),
    )
    .on_conflict(
        OnConflict::column(C::Name)
            .value(
                C::Version,
                Expr::col((change_counter::Entity, C::Version)).add(1),
            )
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

impl Store {
    /// How many times `kept` has changed (0 before the first change).
    pub async fn change_version(&self, kept: Kept) -> Result<i64, StoreError> {
        Ok(change_counter::Entity::find_by_id(kept.name().to_string())
            .one(&self.db)
            .await?
            .map_or(0, |row| row.version))
    }
}
