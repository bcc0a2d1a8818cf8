use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SessionClients {
    Table,
    Sid,
    ClientId,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Sid,
}

#[derive(DeriveIden)]
enum AuthorizationCodes {
    Table,
    Sid,
}

/// The clients that got a code in a session, for those registered for back-channel logout: when
/// the session ends, each is told. Kept by `sid` without a foreign key, since a person signing in
/// again in the same browser starts a new session row under the same `sid`; the sweep removes the
/// rows of sessions gone. Codes and refresh tokens are looked up by `sid` when their session
/// ends, to revoke what was issued in it.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SessionClients::Table)
                    .col(string(SessionClients::Sid))
                    .col(string(SessionClients::ClientId))
                    .primary_key(
                        Index::create()
                            .col(SessionClients::Sid)
                            .col(SessionClients::ClientId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_refresh_tokens_sid")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::Sid)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_authorization_codes_sid")
                    .table(AuthorizationCodes::Table)
                    .col(AuthorizationCodes::Sid)
                    .to_owned(),
            )
            .await
    }
}
