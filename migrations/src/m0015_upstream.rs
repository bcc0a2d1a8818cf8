use sea_orm_migration::{prelude::*, schema::*};

use crate::m0002_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A login at an upstream identity provider on its way: sent there and not yet back (what its
/// callback needs, on whichever process it lands), or back from a SAML IdP and waiting for the
/// browser that started it (`user_id` set).
#[derive(DeriveIden)]
enum UpstreamLogins {
    Table,
    StateHash,
    ConnectionId,
    BrowserHash,
    Nonce,
    PkceVerifier,
    RequestId,
    UserId,
    ReturnTo,
    PendingId,
    ExpiresAt,
}

/// SAML assertion IDs already used, kept until the assertion expires.
#[derive(DeriveIden)]
enum SamlAssertions {
    Table,
    ConnectionId,
    AssertionId,
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
        use SamlAssertions as A;
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
                    .col(string_null(L::RequestId))
                    .col(string_null(L::UserId))
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
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(string(A::ConnectionId))
                    .col(string(A::AssertionId))
                    .col(big_integer(A::ExpiresAt))
                    .primary_key(Index::create().col(A::ConnectionId).col(A::AssertionId))
                    .to_owned(),
            )
            .await
    }
}
