use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// What a signing key signs, `id_tokens` or `saml`: SAML signing keys are kept apart from the
/// ID-token keys, since they rotate on another schedule. The keys made before are ID-token keys.
#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    KeyUse,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SigningKeys::Table)
                    .add_column(string(SigningKeys::KeyUse).default("id_tokens"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SigningKeys::Table)
                    .drop_column(SigningKeys::KeyUse)
                    .to_owned(),
            )
            .await
    }
}
