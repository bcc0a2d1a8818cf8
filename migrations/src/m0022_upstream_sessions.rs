use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The provider's session behind an idbridge session, for single logout: which connection,
/// who it said the person is (OIDC `sub`, SAML NameID), its name for its session (OIDC `sid`,
/// SAML `SessionIndex`), and what asking it to log out needs (the OIDC ID token for
/// `id_token_hint`, the SAML NameID as given). An answered SAML login keeps the same until its
/// browser resumes it. Logouts sent to a provider wait in `upstream_logouts` for its answer.
#[derive(DeriveIden)]
enum Sessions {
    Table,
    UpstreamConnection,
    UpstreamSubject,
    UpstreamSession,
    UpstreamHint,
}

#[derive(DeriveIden)]
enum UpstreamLogins {
    Table,
    UpstreamSubject,
    UpstreamSession,
    UpstreamHint,
}

#[derive(DeriveIden)]
enum UpstreamLogouts {
    Table,
    StateHash,
    ConnectionId,
    RequestId,
    ReturnTo,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column at a time: SQLite alters one thing per statement.
        for column in [
            string_null(Sessions::UpstreamConnection),
            string_null(Sessions::UpstreamSubject),
            string_null(Sessions::UpstreamSession),
            text_null(Sessions::UpstreamHint),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            string_null(UpstreamLogins::UpstreamSubject),
            string_null(UpstreamLogins::UpstreamSession),
            text_null(UpstreamLogins::UpstreamHint),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(UpstreamLogins::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_upstream")
                    .table(Sessions::Table)
                    .col(Sessions::UpstreamConnection)
                    .col(Sessions::UpstreamSubject)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UpstreamLogouts::Table)
                    .col(string(UpstreamLogouts::StateHash).primary_key())
                    .col(string(UpstreamLogouts::ConnectionId))
                    .col(string_null(UpstreamLogouts::RequestId))
                    .col(text_null(UpstreamLogouts::ReturnTo))
                    .col(big_integer(UpstreamLogouts::ExpiresAt))
                    .to_owned(),
            )
            .await
    }
}
