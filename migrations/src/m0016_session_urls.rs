use sea_orm_migration::{prelude::*, schema::*};

use crate::m0002_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A customer's profile as a backend's session URLs describe it: one per `internalcustomer`, each
/// with the user it signs in. Billing fields are absent until a session URL gives them.
#[derive(DeriveIden)]
enum CustomerProfiles {
    Table,
    UserId,
    InternalCustomer,
    BillingFirstName,
    BillingLastName,
    BillingEmail,
    BillingStreet1,
    BillingPostalCode,
    BillingCity,
    BillingCountryId,
    Language,
    CreatedAt,
    UpdatedAt,
}

/// A one-time session URL not yet opened, keyed by the SHA-256 of its token: where it leads, and
/// the profile data it carries (JSON).
#[derive(DeriveIden)]
enum SessionUrls {
    Table,
    TokenHash,
    InternalCustomer,
    TargetUrl,
    Profile,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use CustomerProfiles as P;
        use SessionUrls as S;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(string(P::UserId).primary_key())
                    .col(string_uniq(P::InternalCustomer))
                    .col(string_null(P::BillingFirstName))
                    .col(string_null(P::BillingLastName))
                    .col(string_null(P::BillingEmail))
                    .col(string_null(P::BillingStreet1))
                    .col(string_null(P::BillingPostalCode))
                    .col(string_null(P::BillingCity))
                    .col(string_null(P::BillingCountryId))
                    .col(string_null(P::Language))
                    .col(big_integer(P::CreatedAt))
                    .col(big_integer(P::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_customer_profiles_user")
                            .from(P::Table, P::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .col(string(S::TokenHash).primary_key())
                    .col(string(S::InternalCustomer))
                    .col(text(S::TargetUrl))
                    .col(text(S::Profile))
                    .col(big_integer(S::CreatedAt))
                    .col(big_integer(S::ExpiresAt))
                    .to_owned(),
            )
            .await
    }
}
