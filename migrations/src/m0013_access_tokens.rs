use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AccessTokens {
    Table,
    TokenHash,
    FamilyId,
    ClientId,
    UserId,
    Scope,
    ExpiresAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use AccessTokens as A;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(string(A::TokenHash).primary_key())
                    .col(string_null(A::FamilyId))
                    .col(string(A::ClientId))
                    .col(string_null(A::UserId))
                    .col(string(A::Scope))
                    .col(big_integer(A::ExpiresAt))
                    .col(big_integer_null(A::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_access_tokens_family")
                    .table(A::Table)
                    .col(A::FamilyId)
                    .to_owned(),
            )
            .await
    }
}
