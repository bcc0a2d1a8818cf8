use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The pending authorization a session's login was made for: that authorization, and no other,
/// counts the login as the re-authentication `prompt=login` and `max_age` ask for.
#[derive(DeriveIden)]
enum Sessions {
    Table,
    PendingId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(string_null(Sessions::PendingId))
                    .to_owned(),
            )
            .await
    }
}
