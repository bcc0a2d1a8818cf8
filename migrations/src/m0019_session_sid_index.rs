use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Sid,
}

/// The session tracker asks for a session by its public `sid` (the ID token's claim), so that a
/// product on another site needs no third-party cookie; that lookup needs an index.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_sid")
                    .table(Sessions::Table)
                    .col(Sessions::Sid)
                    .unique()
                    .to_owned(),
            )
            .await
    }
}
