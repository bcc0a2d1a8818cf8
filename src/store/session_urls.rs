//! One-time session URLs (SPEC section 7) and the customer profiles they create and update.
//!
//! A session URL is spent by one `DELETE … RETURNING` at the start of the transaction that
//! applies its profile: of two openings racing on any number of processes, exactly one gets the
//! row, and the other finds nothing and changes nothing. If applying the profile fails, the
//! transaction rolls back and the URL is still unspent.
use sea_orm::sea_query::Query;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, TransactionTrait,
};
use serde::{Deserialize, Serialize};

use super::User;
use super::sessions::insert_session;
use super::tables::{customer_profile, session_url, user};
use super::users::{Reported, new_user_row, update_identity, with_profile};
use super::{NewSession, Store, StoreError, UserSource, enqueue_notification};
use super::{Notification, retried_after_conflict};
use super::{PostalAddress, Profile};
use crate::config::Config;
use crate::vocabulary::events::EventType;

/// The profile fields a session URL carries. A field that is `Some` replaces the stored value
/// when the URL is opened; `None` leaves it as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileFields {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub street1: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub country_id: Option<String>,
    pub language: Option<String>,
}

impl ProfileFields {
    /// The profile with each given field replaced.
    fn applied_to(&self, mut profile: customer_profile::Model) -> customer_profile::Model {
        for (given, stored) in [
            (&self.first_name, &mut profile.billing_first_name),
            (&self.last_name, &mut profile.billing_last_name),
            (&self.email, &mut profile.billing_email),
            (&self.street1, &mut profile.billing_street1),
            (&self.postal_code, &mut profile.billing_postal_code),
            (&self.city, &mut profile.billing_city),
            (&self.country_id, &mut profile.billing_country_id),
            (&self.language, &mut profile.language),
        ] {
            if let Some(value) = given {
                *stored = Some(value.clone());
            }
        }
        profile
    }
}

/// What a session URL is for: the customer it signs in, the profile data it brings, and where the
/// browser goes (already checked, without the profile parameters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUrlData {
    pub internal_customer: String,
    pub profile: ProfileFields,
    pub target_url: String,
}

/// What opening a session URL did to the customer's profile: the event a notification reports
/// (`ProfileCreatedNotification`, `ProfileUpdatedNotification`, SPEC section 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileChange {
    Created,
    Updated,
    Unchanged,
}

/// A session URL that has just been spent.
#[derive(Debug, Clone)]
pub struct OpenedSessionUrl {
    /// The profile's user, as stored after the change: the one signed in.
    pub user: User,
    pub change: ProfileChange,
    pub target_url: String,
    /// The token of the user's new session, for the cookie.
    pub session_token: String,
}

impl Store {
    /// Stores a session URL by the SHA-256 of its token.
    pub async fn create_session_url(
        &self,
        token_hash: &str,
        data: &SessionUrlData,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let profile = serde_json::to_string(&data.profile)
            .map_err(|e| StoreError::Corrupt(format!("session URL profile: {e}")))?;
        session_url::Model {
            token_hash: token_hash.to_string(),
            internal_customer: data.internal_customer.clone(),
            target_url: data.target_url.clone(),
            profile,
            created_at: now,
            expires_at,
        }
        .into_active_model()
        .insert(&self.writer)
        .await?;
        Ok(())
    }

    /// Whether an unexpired session URL hashes to `token_hash`: a read, which spends nothing.
    pub async fn session_url_usable(&self, token_hash: &str, now: i64) -> Result<bool, StoreError> {
        use session_url::Column as S;
        let found = session_url::Entity::find()
            .filter(S::TokenHash.eq(token_hash))
            .filter(S::ExpiresAt.gt(now))
            .count(&self.db)
            .await?;
        Ok(found > 0)
    }

    /// The profile a session URL's customer has, if `user_id` is one.
    pub async fn customer_profile_of(
        &self,
        user_id: &str,
    ) -> Result<Option<ProfileFields>, StoreError> {
        Ok(customer_profile::Entity::find_by_id(user_id.to_string())
            .one(&self.db)
            .await?
            .map(|profile| ProfileFields {
                first_name: profile.billing_first_name,
                last_name: profile.billing_last_name,
                email: profile.billing_email,
                street1: profile.billing_street1,
                postal_code: profile.billing_postal_code,
                city: profile.billing_city,
                country_id: profile.billing_country_id,
                language: profile.language,
            }))
    }

    /// The user of the profile of `internal_customer`, if there is one.
    pub async fn find_customer_user(
        &self,
        internal_customer: &str,
    ) -> Result<Option<User>, StoreError> {
        let profile_user = Query::select()
            .column(customer_profile::Column::UserId)
            .from(customer_profile::Entity)
            .and_where(customer_profile::Column::InternalCustomer.eq(internal_customer))
            .to_owned();
        Ok(user::Entity::find()
            .filter(user::Column::Id.in_subquery(profile_user))
            .into_model::<User>()
            .one(&self.db)
            .await?)
    }

    /// Spends the unexpired session URL whose token hashes to `token_hash`, once across all
    /// processes, and in the same transaction creates its customer's profile (with a user called
    /// `new_user_id`) or applies its fields to the existing one, and starts the user's session
    /// for `browser`. A created or changed profile and the login are announced to the webhooks of
    /// `config`, in that transaction too: the URL is spent exactly when the person is signed in.
    /// `None` when there is no such URL (unknown, opened before, or expired): then nothing
    /// changed.
    pub async fn open_session_url(
        &self,
        token_hash: &str,
        new_user_id: &str,
        browser: NewSession<'_>,
        config: &Config,
    ) -> Result<Option<OpenedSessionUrl>, StoreError> {
        use session_url::Column as S;
        let now = browser.now;
        // Another session URL for the same new customer opened at the same moment may create the
        // profile first; then this transaction rolls back whole, its URL unspent.
        retried_after_conflict(|| async {
            // The write comes first, so that on SQLite the transaction takes the write lock
            // at once instead of upgrading a read lock, which can fail under contention.
            let txn = self.writer.begin().await?;
            let spent = session_url::Entity::delete_many()
                .filter(S::TokenHash.eq(token_hash))
                .filter(S::ExpiresAt.gt(now))
                .exec_with_returning(&txn)
                .await?;
            let Some(url) = spent.into_iter().next() else {
                return Ok(None);
            };
            let fields: ProfileFields = serde_json::from_str(&url.profile)
                .map_err(|e| StoreError::Corrupt(format!("session URL profile: {e}")))?;
            let (user, change) =
                upsert_profile(&txn, &url.internal_customer, &fields, new_user_id, now).await?;
            let event = match change {
                ProfileChange::Created => Some(EventType::ProfileCreated),
                ProfileChange::Updated => Some(EventType::ProfileUpdated),
                ProfileChange::Unchanged => None,
            };
            if let Some(event) = event {
                let notification =
                    Notification::new(event, &user).with_internal_customer(&url.internal_customer);
                enqueue_notification(&txn, config, &notification, now).await?;
            }
            let login = Notification::user_login(&user, UserSource::SESSION_URL)
                .with_internal_customer(&url.internal_customer);
            let session_token = insert_session(&txn, &login, browser, config).await?;
            txn.commit().await?;
            Ok(Some(OpenedSessionUrl {
                user,
                change,
                target_url: url.target_url,
                session_token,
            }))
        })
        .await
    }
}

/// Creates the profile of `internal_customer` from `fields`, with a new user `new_user_id`, or
/// applies `fields` to the profile there is. The profile's user follows it: name from the billing
/// first and last names, email from the billing email (empty while there is none). Runs in the
/// caller's transaction.
async fn upsert_profile(
    txn: &DatabaseTransaction,
    internal_customer: &str,
    fields: &ProfileFields,
    new_user_id: &str,
    now: i64,
) -> Result<(User, ProfileChange), StoreError> {
    let current = customer_profile::Entity::find()
        .filter(customer_profile::Column::InternalCustomer.eq(internal_customer))
        .one(txn)
        .await?;
    let Some(current) = current else {
        let profile = fields.applied_to(customer_profile::Model {
            user_id: new_user_id.to_string(),
            internal_customer: internal_customer.to_string(),
            billing_first_name: None,
            billing_last_name: None,
            billing_email: None,
            billing_street1: None,
            billing_postal_code: None,
            billing_city: None,
            billing_country_id: None,
            language: None,
            created_at: now,
            updated_at: now,
        });
        let row = new_user_row(
            new_user_id,
            &user_email(&profile),
            &user_name(&profile),
            None,
            &UserSource::SessionUrl,
            now,
        );
        let user = with_profile(row, &user_profile(&profile))
            .into_active_model()
            .insert(txn)
            .await?;
        // A concurrent creation of the same customer fails here on the unique internal_customer.
        profile.into_active_model().insert(txn).await?;
        return Ok((user.into(), ProfileChange::Created));
    };
    let user = user::Entity::find_by_id(current.user_id.clone())
        .one(txn)
        .await?
        .ok_or_else(|| StoreError::Corrupt("customer profile without user".into()))?;
    let mut profile = fields.applied_to(current.clone());
    if profile == current {
        return Ok((user.into(), ProfileChange::Unchanged));
    }
    profile.updated_at = now;
    let profile = profile.into_active_model().reset_all().update(txn).await?;
    let reported = Reported {
        email: user_email(&profile),
        name: user_name(&profile),
        profile: Some(&user_profile(&profile)),
    };
    let (user, _) = update_identity(txn, user, reported, now).await?;
    Ok((user, ProfileChange::Updated))
}

/// The user's name: the billing first and last names, as far as they are known.
fn user_name(profile: &customer_profile::Model) -> String {
    [&profile.billing_first_name, &profile.billing_last_name]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The rest of the user's profile: the billing names, language and address.
fn user_profile(profile: &customer_profile::Model) -> Profile {
    Profile {
        given_name: profile.billing_first_name.clone(),
        family_name: profile.billing_last_name.clone(),
        locale: profile.language.clone(),
        address: PostalAddress {
            street_address: profile.billing_street1.clone(),
            postal_code: profile.billing_postal_code.clone(),
            locality: profile.billing_city.clone(),
            country: profile.billing_country_id.clone(),
        },
    }
}

fn user_email(profile: &customer_profile::Model) -> String {
    profile.billing_email.clone().unwrap_or_default()
}
