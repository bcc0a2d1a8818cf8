//! The product hosts each person said yes to once (`/sso/jwt/{product}`), kept like consents:
//! until the person or their account goes.
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder};

use super::tables::product_confirmation;
use super::{Store, StoreError};

/// A product host a person said yes to, as the account page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductConfirmation {
    pub product_id: String,
    pub host: String,
    pub confirmed_at: i64,
}

impl Store {
    /// Whether the user said yes to tokens about them going to `host` of `product`.
    pub async fn product_confirmed(
        &self,
        user_id: &str,
        product_id: &str,
        host: &str,
    ) -> Result<bool, StoreError> {
        Ok(product_confirmation::Entity::find_by_id((
            user_id.to_string(),
            product_id.to_string(),
            host.to_string(),
        ))
        .one(&self.db)
        .await?
        .is_some())
    }

    /// Remembers that the user said yes to `host` of `product` (again: the time is updated).
    pub async fn confirm_product(
        &self,
        user_id: &str,
        product_id: &str,
        host: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        product_confirmation::Entity::insert(
            product_confirmation::Model {
                user_id: user_id.to_string(),
                product_id: product_id.to_string(),
                host: host.to_string(),
                confirmed_at: now,
            }
            .into_active_model(),
        )
        .on_conflict(
            OnConflict::columns([
                product_confirmation::Column::UserId,
                product_confirmation::Column::ProductId,
                product_confirmation::Column::Host,
            ])
            .update_column(product_confirmation::Column::ConfirmedAt)
            .to_owned(),
        )
        .exec_without_returning(&self.writer)
        .await?;
        Ok(())
    }

    /// The product hosts the user said yes to, by product and host.
    pub async fn product_confirmations_of(
        &self,
        user_id: &str,
    ) -> Result<Vec<ProductConfirmation>, StoreError> {
        use product_confirmation::Column as C;
        Ok(product_confirmation::Entity::find()
            .filter(C::UserId.eq(user_id))
            .order_by_asc(C::ProductId)
            .order_by_asc(C::Host)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| ProductConfirmation {
                product_id: row.product_id,
                host: row.host,
                confirmed_at: row.confirmed_at,
            })
            .collect())
    }

    /// Forgets the user's yes to `host` of `product`: the next token for it asks again.
    pub async fn forget_product_confirmation(
        &self,
        user_id: &str,
        product_id: &str,
        host: &str,
    ) -> Result<(), StoreError> {
        product_confirmation::Entity::delete_by_id((
            user_id.to_string(),
            product_id.to_string(),
            host.to_string(),
        ))
        .exec(&self.writer)
        .await?;
        Ok(())
    }
}
