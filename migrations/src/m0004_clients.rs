use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clients {
    Table,
    ClientId,
    SecretSha256,
    RedirectUris,
    PostLogoutRedirectUris,
    AllowedScopes,
    IdTokenAlg,
    RequirePkce,
    TokenEndpointAuthMethod,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Clients::Table)
                    .col(string(Clients::ClientId).primary_key())
                    .col(string_null(Clients::SecretSha256))
                    .col(text(Clients::RedirectUris))
                    .col(text(Clients::PostLogoutRedirectUris))
                    .col(string(Clients::AllowedScopes))
                    .col(string(Clients::IdTokenAlg))
                    .col(boolean(Clients::RequirePkce))
                    .col(string(Clients::TokenEndpointAuthMethod))
                    .to_owned(),
            )
            .await
    }
}
