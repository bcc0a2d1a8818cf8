use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    TokenHash,
    FamilyId,
    ClientId,
    UserId,
    Scope,
    AuthTime,
    Sid,
    ExpiresAt,
    ConsumedAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use RefreshTokens as R;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(string(R::TokenHash).primary_key())
                    .col(string(R::FamilyId))
                    .col(string(R::ClientId))
                    .col(string(R::UserId))
                    .col(string(R::Scope))
                    .col(big_integer(R::AuthTime))
                    .col(string_null(R::Sid))
                    .col(big_integer(R::ExpiresAt))
                    .col(big_integer_null(R::ConsumedAt))
                    .col(big_integer_null(R::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_refresh_tokens_family")
                    .table(R::Table)
                    .col(R::FamilyId)
                    .to_owned(),
            )
            .await
    }
}
