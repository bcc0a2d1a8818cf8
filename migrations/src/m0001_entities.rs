use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Entities {
    Table,
    Id,
    Name,
    Level,
    ParentId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Entities::Table)
                    .col(string(Entities::Id).primary_key())
                    .col(string(Entities::Name))
                    .col(string(Entities::Level))
                    .col(string_null(Entities::ParentId))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_entities_parent")
                            .from(Entities::Table, Entities::ParentId)
                            .to(Entities::Table, Entities::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }
}
