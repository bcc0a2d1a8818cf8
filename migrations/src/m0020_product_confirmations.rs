use sea_orm_migration::{prelude::*, schema::*};

use crate::m0002_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ProductConfirmations {
    Table,
    UserId,
    ProductId,
    Host,
    ConfirmedAt,
}

/// The product hosts a person said yes to once (`/sso/jwt/{product}`): a token about them goes
/// there without asking again; any other host is asked about first.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProductConfirmations::Table)
                    .col(string(ProductConfirmations::UserId))
                    .col(string(ProductConfirmations::ProductId))
                    .col(string(ProductConfirmations::Host))
                    .col(big_integer(ProductConfirmations::ConfirmedAt))
                    .primary_key(
                        Index::create()
                            .col(ProductConfirmations::UserId)
                            .col(ProductConfirmations::ProductId)
                            .col(ProductConfirmations::Host),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_product_confirmations_user")
                            .from(ProductConfirmations::Table, ProductConfirmations::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }
}
