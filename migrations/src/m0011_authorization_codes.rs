use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuthorizationCodes {
    Table,
    CodeHash,
    FamilyId,
    ClientId,
    UserId,
    RedirectUri,
    Scope,
    Nonce,
    Sid,
    CodeChallenge,
    AuthTime,
    ExpiresAt,
    ConsumedAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use AuthorizationCodes as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .col(string(C::CodeHash).primary_key())
                    .col(string(C::FamilyId))
                    .col(string(C::ClientId))
                    .col(string(C::UserId))
                    .col(text(C::RedirectUri))
                    .col(string(C::Scope))
                    .col(text_null(C::Nonce))
                    .col(string_null(C::Sid))
                    .col(string_null(C::CodeChallenge))
                    .col(big_integer(C::AuthTime))
                    .col(big_integer(C::ExpiresAt))
                    .col(big_integer_null(C::ConsumedAt))
                    .col(big_integer_null(C::RevokedAt))
                    .to_owned(),
            )
            .await
    }
}
