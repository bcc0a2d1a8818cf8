use sea_orm_migration::{prelude::*, schema::*};

use crate::m0002_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Sessions {
    Table,
    IdHash,
    Sid,
    UserId,
    AuthTime,
    ExpiresAt,
    ClientAddr,
    UserAgent,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(string(Sessions::IdHash).primary_key())
                    .col(string(Sessions::Sid))
                    .col(string(Sessions::UserId))
                    .col(big_integer(Sessions::AuthTime))
                    .col(big_integer(Sessions::ExpiresAt))
                    .col(string(Sessions::ClientAddr))
                    .col(string(Sessions::UserAgent))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sessions_user")
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_user")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .to_owned(),
            )
            .await
    }
}
