use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The X.509 certificate of an RSA or P-256 signing key (base64 DER), which SAML service
/// providers are given in the IdP metadata: made once, with the key or at the first start after
/// this migration, so that every process publishes the same one.
#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Certificate,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SigningKeys::Table)
                    .add_column(text_null(SigningKeys::Certificate))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SigningKeys::Table)
                    .drop_column(SigningKeys::Certificate)
                    .to_owned(),
            )
            .await
    }
}
