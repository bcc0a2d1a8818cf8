use sea_orm_migration::{prelude::*, schema::*};

use crate::m0002_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A login sent to an upstream identity provider and not yet back: what its callback needs, on
/// whichever process it lands.
#[derive(DeriveIden)]
enum UpstreamLogins {
    Table,
    StateHash,
    ConnectionId,
    BrowserHash,
    Nonce,
    PkceVerifier,
    ReturnTo,
    PendingId,
    ExpiresAt,
}

/// Who a user is at an upstream identity provider: connection + subject (OIDC `sub`, SAML NameID).
#[derive(DeriveIden)]
enum UpstreamIdentities {
    Table,
    ConnectionId,
    Subject,
    UserId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use UpstreamIdentities as I;
        use UpstreamLogins as L;
        manager
            .create_table(
                Table::create()
                    .table(L::Table)
                    .col(string(L::StateHash).primary_key())
                    .col(string(L::ConnectionId))
                    .col(string(L::BrowserHash))
                    .col(text_null(L::Nonce))
                    .col(text_null(L::PkceVerifier))
                    .col(text(L::ReturnTo))
                    .col(string_null(L::PendingId))
                    .col(big_integer(L::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(I::Table)
                    .col(string(I::ConnectionId))
                    .col(string(I::Subject))
                    .col(string(I::UserId))
                    .col(big_integer(I::CreatedAt))
                    .primary_key(Index::create().col(I::ConnectionId).col(I::Subject))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_upstream_identities_user")
                            .from(I::Table, I::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }
}
