use sea_orm_migration::{prelude::*, schema::*};

use crate::m0001_entities::Entities;
use crate::m0002_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UserEntities {
    Table,
    UserId,
    EntityId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(UserEntities::Table)
                    .col(string(UserEntities::UserId))
                    .col(string(UserEntities::EntityId))
                    .primary_key(
                        Index::create()
                            .col(UserEntities::UserId)
                            .col(UserEntities::EntityId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_entities_user")
                            .from(UserEntities::Table, UserEntities::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_user_entities_entity")
                            .from(UserEntities::Table, UserEntities::EntityId)
                            .to(Entities::Table, Entities::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }
}
