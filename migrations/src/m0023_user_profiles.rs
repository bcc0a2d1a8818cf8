use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// What a user's profile says beyond name and email, released as OpenID Connect's standard
/// claims: `given_name`, `family_name`, `locale` (scope `profile`) and the parts of `address`
/// (scope `address`). Each is absent until a source gives it (a session URL's billing fields).
#[derive(DeriveIden)]
enum Users {
    Table,
    GivenName,
    FamilyName,
    Locale,
    StreetAddress,
    PostalCode,
    Locality,
    Country,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column at a time: SQLite alters one thing per statement.
        for column in [
            Users::GivenName,
            Users::FamilyName,
            Users::Locale,
            Users::StreetAddress,
            Users::PostalCode,
            Users::Locality,
            Users::Country,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(string_null(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
