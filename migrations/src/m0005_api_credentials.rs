use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ApiCredentials {
    Table,
    Username,
    PasswordHash,
    Scopes,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiCredentials::Table)
                    .col(string(ApiCredentials::Username).primary_key())
                    .col(string(ApiCredentials::PasswordHash))
                    .col(string(ApiCredentials::Scopes))
                    .to_owned(),
            )
            .await
    }
}
