use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Clients, entities, connections and products made through the admin API: each kept as the
/// declaration an operator would write in the config file (JSON, encrypted under
/// `keys.encryption_key` when one is set, as it may hold secrets), validated together with the
/// file's by the same rules, and numbered by `version` for optimistic concurrency.
#[derive(DeriveIden)]
enum Declarations {
    Table,
    Kind,
    Id,
    Body,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Declarations::Table)
                    .col(string(Declarations::Kind))
                    .col(string(Declarations::Id))
                    .col(text(Declarations::Body))
                    .col(big_integer(Declarations::Version))
                    .col(big_integer(Declarations::CreatedAt))
                    .col(big_integer(Declarations::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(Declarations::Kind)
                            .col(Declarations::Id),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Declarations::Table).to_owned())
            .await
    }
}
