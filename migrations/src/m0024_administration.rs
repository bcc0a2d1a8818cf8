use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Run-time administration: the audit trail (appended in the transaction of the change it
/// records, never updated, deleted only by retention), users an operator can disable, API
/// credentials made through the admin API beside those the config file declares, and the
/// counters by which every process learns that something it keeps in memory changed.
#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    At,
    Kind,
    Actor,
    UserId,
    ClientAddr,
    Details,
}

#[derive(DeriveIden)]
enum ChangeCounters {
    Table,
    Name,
    Version,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    DisabledAt,
}

#[derive(DeriveIden)]
enum ApiCredentials {
    Table,
    ManagedBy,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(big_pk_auto(AuditEvents::Id))
                    .col(big_integer(AuditEvents::At))
                    .col(string(AuditEvents::Kind))
                    .col(string(AuditEvents::Actor))
                    .col(string_null(AuditEvents::UserId))
                    .col(string_null(AuditEvents::ClientAddr))
                    .col(text(AuditEvents::Details))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("audit_events_at", AuditEvents::At),
            ("audit_events_user_id", AuditEvents::UserId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AuditEvents::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ChangeCounters::Table)
                    .col(string(ChangeCounters::Name).primary_key())
                    .col(big_integer(ChangeCounters::Version))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(big_integer_null(Users::DisabledAt))
                    .to_owned(),
            )
            .await?;
        // One column at a time: SQLite alters one thing per statement. Rows that exist came from
        // the config file.
        manager
            .alter_table(
                Table::alter()
                    .table(ApiCredentials::Table)
                    .add_column(string(ApiCredentials::ManagedBy).default("config"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(ApiCredentials::Table)
                    .add_column(big_integer_null(ApiCredentials::CreatedAt))
                    .to_owned(),
            )
            .await
    }
}
