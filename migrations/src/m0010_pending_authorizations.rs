use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PendingAuthorizations {
    Table,
    Id,
    BrowserHash,
    ClientId,
    RedirectUri,
    Scope,
    State,
    Nonce,
    CodeChallenge,
    ResponseMode,
    Prompt,
    MaxAge,
    LoginHint,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use PendingAuthorizations as P;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(string(P::Id).primary_key())
                    .col(string(P::BrowserHash))
                    .col(string(P::ClientId))
                    .col(text(P::RedirectUri))
                    .col(string(P::Scope))
                    .col(text_null(P::State))
                    .col(text_null(P::Nonce))
                    .col(string_null(P::CodeChallenge))
                    .col(string(P::ResponseMode))
                    .col(string_null(P::Prompt))
                    .col(big_integer_null(P::MaxAge))
                    .col(text_null(P::LoginHint))
                    .col(big_integer(P::CreatedAt))
                    .col(big_integer(P::ExpiresAt))
                    .to_owned(),
            )
            .await
    }
}
