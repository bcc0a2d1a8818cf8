//! Reading users and what they are attached to; keeping the email and name of users whom
//! another source describes.
use std::collections::HashMap;

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult,
    IntoActiveModel, QueryFilter, QueryResult, QuerySelect,
};

use super::tables::{user, user_entity};
use super::{Store, StoreError, UserSource};

/// A person as idbridge knows them (a `users` row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The stable `sub`.
    pub id: String,
    pub email: String,
    pub name: String,
    /// argon2id PHC string; `None` for people who sign in only through an upstream IdP or a
    /// session URL.
    pub password_hash: Option<String>,
    pub source: UserSource,
    pub created_at: i64,
    pub updated_at: i64,
    pub profile: Profile,
    /// When an operator disabled them; no login succeeds meanwhile.
    pub disabled_at: Option<i64>,
}

/// What a person's profile says beyond name and email: OpenID Connect's standard claims
/// `given_name`, `family_name`, `locale` and `address`. Each part is `None` until a source gives
/// it (today a session URL's billing fields).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// A language tag (`de`, `en-GB`).
    pub locale: Option<String>,
    pub address: PostalAddress,
}

/// A postal address in the parts OpenID Connect's `address` claim has (Core section 5.1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostalAddress {
    pub street_address: Option<String>,
    pub postal_code: Option<String>,
    pub locality: Option<String>,
    /// The country, as its source gives it (an ISO 3166 code from session URLs).
    pub country: Option<String>,
}

impl PostalAddress {
    pub fn is_empty(&self) -> bool {
        *self == PostalAddress::default()
    }
}

impl From<user::Model> for User {
    fn from(row: user::Model) -> User {
        User {
            id: row.id,
            email: row.email,
            name: row.name,
            password_hash: row.password_hash,
            source: UserSource::from_column(&row.source),
            created_at: row.created_at,
            updated_at: row.updated_at,
            profile: Profile {
                given_name: row.given_name,
                family_name: row.family_name,
                locale: row.locale,
                address: PostalAddress {
                    street_address: row.street_address,
                    postal_code: row.postal_code,
                    locality: row.locality,
                    country: row.country,
                },
            },
            disabled_at: row.disabled_at,
        }
    }
}

/// The profile's columns of a `users` row, set from `profile`.
pub(super) fn with_profile(mut row: user::Model, profile: &Profile) -> user::Model {
    let address = &profile.address;
    row.given_name.clone_from(&profile.given_name);
    row.family_name.clone_from(&profile.family_name);
    row.locale.clone_from(&profile.locale);
    row.street_address.clone_from(&address.street_address);
    row.postal_code.clone_from(&address.postal_code);
    row.locality.clone_from(&address.locality);
    row.country.clone_from(&address.country);
    row
}

/// Read as its row is.
impl FromQueryResult for User {
    fn from_query_result(row: &QueryResult, prefix: &str) -> Result<Self, DbErr> {
        user::Model::from_query_result(row, prefix).map(User::from)
    }
}

/// A new `users` row, created `now`, with no profile beyond its name and email yet.
pub(super) fn new_user_row(
    id: &str,
    email: &str,
    name: &str,
    password_hash: Option<String>,
    source: &UserSource,
    now: i64,
) -> user::Model {
    user::Model {
        id: id.to_string(),
        email: email.to_string(),
        name: name.to_string(),
        password_hash,
        source: source.column().to_string(),
        created_at: now,
        updated_at: now,
        given_name: None,
        family_name: None,
        locale: None,
        street_address: None,
        postal_code: None,
        locality: None,
        country: None,
        disabled_at: None,
    }
}

/// What a user's source now reports of them: email and name, and the rest of the profile where
/// the source keeps one (`None`: leave it as it is).
pub(super) struct Reported<'a> {
    pub email: String,
    pub name: String,
    pub profile: Option<&'a Profile>,
}

/// Gives `user` what its source now reports, writing it (and `updated_at`) only when something
/// changed. Returns the user as stored and whether it changed.
pub(super) async fn update_identity<C: ConnectionTrait>(
    db: &C,
    user: user::Model,
    reported: Reported<'_>,
    now: i64,
) -> Result<(User, bool), StoreError> {
    let mut wanted = user.clone();
    wanted.email = reported.email;
    wanted.name = reported.name;
    if let Some(profile) = reported.profile {
        wanted = with_profile(wanted, profile);
    }
    if wanted == user {
        return Ok((user.into(), false));
    }
    wanted.updated_at = now;
    let mut changed = wanted.into_active_model().reset_all();
    // Whether the user is disabled is the operator's, read here without a lock: written back,
    // a login would undo a disable that committed meanwhile.
    changed.disabled_at = sea_orm::ActiveValue::NotSet;
    Ok((changed.update(db).await?.into(), true))
}

/// Adds to a query that selects from `users` the id of each entity the user is attached to, as
/// `entity_id`: one row per entity, or one row with `NULL` for a user attached to none.
pub(super) fn join_entity_ids(query: &mut SelectStatement) {
    query
        .expr_as(
            Expr::col((user_entity::Entity, user_entity::Column::EntityId)),
            Alias::new(ENTITY_ID),
        )
        .left_join(
            user_entity::Entity,
            Expr::col((user_entity::Entity, user_entity::Column::UserId))
                .equals((user::Entity, user::Column::Id)),
        );
}

/// The entity ids of the rows of a query extended by [`join_entity_ids`].
pub(super) fn entity_ids(rows: &[QueryResult]) -> Vec<String> {
    rows.iter().filter_map(entity_id).collect()
}

/// The entity id of one row of a query extended by [`join_entity_ids`].
pub(super) fn entity_id(row: &QueryResult) -> Option<String> {
    row.try_get::<Option<String>>("", ENTITY_ID).ok().flatten()
}

const ENTITY_ID: &str = "entity_id";

impl Store {
    /// The local account (one with a password) for an email address, compared case-insensitively.
    pub async fn find_local_user(&self, email: &str) -> Result<Option<User>, StoreError> {
        Ok(user::Entity::find()
            .filter(
                Expr::expr(Func::lower(Expr::col(user::Column::Email))).eq(email.to_lowercase()),
            )
            .filter(user::Column::PasswordHash.is_not_null())
            .into_model::<User>()
            .one(&self.db)
            .await?)
    }

    /// Where the person who holds an email address (compared case-insensitively) came from, when
    /// that is a local account or a connection other than `connection_id`: an upstream may not
    /// give the address to a second person. Customers of session URLs do not count: their
    /// addresses are whatever a shop's backend was told.
    pub async fn email_held_elsewhere(
        &self,
        email: &str,
        connection_id: &str,
    ) -> Result<Option<UserSource>, StoreError> {
        let holder = user::Entity::find()
            .filter(
                Expr::expr(Func::lower(Expr::col(user::Column::Email))).eq(email.to_lowercase()),
            )
            .filter(user::Column::Source.ne(connection_id))
            .filter(user::Column::Source.ne(UserSource::SESSION_URL))
            .into_model::<User>()
            .one(&self.db)
            .await?;
        Ok(holder.map(|user| user.source))
    }

    pub async fn find_user(&self, user_id: &str) -> Result<Option<User>, StoreError> {
        Ok(user::Entity::find_by_id(user_id.to_string())
            .into_model::<User>()
            .one(&self.db)
            .await?)
    }

    /// Ids of the entities a user is attached to.
    pub async fn attached_entity_ids(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        entity_ids_of(&self.db, user_id).await
    }
}

/// The ids of the entities each of `user_ids` is attached to, in one query: by user id (users
/// attached to none are left out).
pub(super) async fn entity_ids_of_each<C: ConnectionTrait>(
    db: &C,
    user_ids: impl IntoIterator<Item = &str>,
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    let rows: Vec<(String, String)> = user_entity::Entity::find()
        .select_only()
        .column(user_entity::Column::UserId)
        .column(user_entity::Column::EntityId)
        .filter(user_entity::Column::UserId.is_in(user_ids))
        .into_tuple()
        .all(db)
        .await?;
    let mut each: HashMap<String, Vec<String>> = HashMap::new();
    for (user_id, entity_id) in rows {
        each.entry(user_id).or_default().push(entity_id);
    }
    Ok(each)
}

/// The ids of the entities a user is attached to, read through `db` (perhaps a transaction).
pub(super) async fn entity_ids_of<C: ConnectionTrait>(
    db: &C,
    user_id: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(user_entity::Entity::find()
        .select_only()
        .column(user_entity::Column::EntityId)
        .filter(user_entity::Column::UserId.eq(user_id))
        .into_tuple::<String>()
        .all(db)
        .await?)
}
