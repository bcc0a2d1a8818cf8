//! sea-orm models of the tables created by the `idbridge-migrations` crate. Timestamps are Unix
//! seconds (`i64`), which compare the same way on SQLite and PostgreSQL.

pub mod entity {
    use sea_orm::entity::prelude::*;

    /// A node of the PSP / DIVISION / MERCHANT hierarchy behind `attached_to`.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "entities")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub name: String,
        pub level: String,
        pub parent_id: Option<String>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod user {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        /// The stable `sub`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub email: String,
        pub name: String,
        /// argon2id PHC string; `None` for users who only log in through an upstream IdP.
        pub password_hash: Option<String>,
        /// Where the user comes from: [`crate::store::UserSource`].
        pub source: String,
        pub created_at: i64,
        pub updated_at: i64,
        /// The profile beyond name and email (`crate::store::Profile`); each part absent until
        /// a source gives it.
        pub given_name: Option<String>,
        pub family_name: Option<String>,
        pub locale: Option<String>,
        pub street_address: Option<String>,
        pub postal_code: Option<String>,
        pub locality: Option<String>,
        pub country: Option<String>,
        /// When an operator disabled the user: no login succeeds until enabled again.
        pub disabled_at: Option<i64>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod user_entity {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "user_entities")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub entity_id: String,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod client {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "clients")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub client_id: String,
        /// Hex SHA-256 of the secret; `None` for a public client.
        pub secret_sha256: Option<String>,
        /// JSON array of exact redirect URIs.
        pub redirect_uris: String,
        /// JSON array of exact post-logout redirect URIs.
        pub post_logout_redirect_uris: String,
        /// Space-separated.
        pub allowed_scopes: String,
        pub id_token_alg: String,
        pub require_pkce: bool,
        pub token_endpoint_auth_method: String,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod api_credential {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "api_credentials")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub username: String,
        pub password_hash: String,
        /// Space-separated.
        pub scopes: String,
        /// `config` (declared in the file, which alone changes it) or `api`.
        pub managed_by: String,
        pub created_at: Option<i64>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod audit_event {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_events")]
    pub struct Model {
        /// Increasing: the order events were written in, and the cursor of a listing.
        #[sea_orm(primary_key)]
        pub id: i64,
        pub at: i64,
        /// `crate::vocabulary::audit::AuditKind`.
        pub kind: String,
        pub actor: String,
        pub user_id: Option<String>,
        pub client_addr: Option<String>,
        /// A JSON object; never a secret.
        pub details: String,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod change_counter {
    use sea_orm::entity::prelude::*;

    /// How many times something processes keep in memory was changed (`crate::store::Kept`).
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "change_counters")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub version: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod declaration {
    use sea_orm::entity::prelude::*;

    /// A client, entity, connection or product made through the admin API (`store::declarations`).
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "declarations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub kind: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The declaration as JSON, or `base64(nonce ‖ AES-256-GCM ciphertext)` of it.
        pub body: String,
        pub version: i64,
        pub created_at: i64,
        pub updated_at: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod signing_key {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "signing_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub kid: String,
        pub alg: String,
        /// PKCS#8 PEM, or `base64(nonce ‖ AES-256-GCM ciphertext)` of it when `encrypted`.
        pub private_key: String,
        pub encrypted: bool,
        /// The public key as a JWK (JSON), as JWKS will publish it.
        pub public_jwk: String,
        pub created_at: i64,
        pub retired_at: Option<i64>,
        /// base64 DER of the key's X.509 certificate, for SAML (RSA and P-256 keys).
        pub certificate: Option<String>,
        /// What it signs: `id_tokens` or `saml`.
        pub key_use: String,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod session {
    use sea_orm::entity::prelude::*;

    /// An end user's session at idbridge. The cookie holds a random token; only its SHA-256 is
    /// stored, so a copy of the database does not let anyone sign in.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sessions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id_hash: String,
        /// Public name of the session, given to clients as the ID token's `sid` claim.
        pub sid: String,
        pub user_id: String,
        pub auth_time: i64,
        pub expires_at: i64,
        pub client_addr: String,
        pub user_agent: String,
        /// The pending authorization this session's login was made for, if any: the login that
        /// authorization's `prompt=login` or `max_age` asked for.
        pub pending_id: Option<String>,
        /// The provider's session behind this one, for single logout (see
        /// `store::UpstreamSession`); none for local accounts and session URLs.
        pub upstream_connection: Option<String>,
        pub upstream_subject: Option<String>,
        pub upstream_session: Option<String>,
        pub upstream_hint: Option<String>,
        #[sea_orm(belongs_to, from = "user_id", to = "id")]
        pub user: BelongsTo<super::user::Entity>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod login_throttle {
    use sea_orm::entity::prelude::*;

    /// Failed-login counter for one account or one client address, per fixed window.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "login_throttle")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub failures: i32,
        pub window_start: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod server_secret {
    use sea_orm::entity::prelude::*;

    /// Keys the server makes for itself on first start (e.g. the CSRF key), shared by every process.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "server_secrets")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub value: String,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod pending_authorization {
    use sea_orm::entity::prelude::*;

    /// An authorization request waiting for the user to log in or consent (Dex's `AuthRequest`).
    /// Kept in the database so that any process can finish the flow; used once.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "pending_authorizations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// SHA-256 of the cookie set in the browser that started the flow: the id alone grants
        /// nothing, only with that browser.
        pub browser_hash: String,
        pub client_id: String,
        pub redirect_uri: String,
        pub scope: String,
        pub state: Option<String>,
        pub nonce: Option<String>,
        pub code_challenge: Option<String>,
        pub response_mode: String,
        pub prompt: Option<String>,
        pub max_age: Option<i64>,
        pub login_hint: Option<String>,
        pub created_at: i64,
        pub expires_at: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod authorization_code {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "authorization_codes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code_hash: String,
        /// Every token issued from this code carries it, so a replayed code revokes them all.
        pub family_id: String,
        pub client_id: String,
        pub user_id: String,
        pub redirect_uri: String,
        pub scope: String,
        pub nonce: Option<String>,
        /// The session the code was issued in.
        pub sid: Option<String>,
        pub code_challenge: Option<String>,
        pub auth_time: i64,
        pub expires_at: i64,
        pub consumed_at: Option<i64>,
        /// Set when a replay revoked what the code issued.
        pub revoked_at: Option<i64>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod refresh_token {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "refresh_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        pub family_id: String,
        pub client_id: String,
        pub user_id: String,
        pub scope: String,
        pub auth_time: i64,
        pub sid: Option<String>,
        pub expires_at: i64,
        /// Set when it was exchanged for a new one; presenting it again is reuse.
        pub consumed_at: Option<i64>,
        pub revoked_at: Option<i64>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod access_token {
    use sea_orm::entity::prelude::*;

    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "access_tokens")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        /// `None` for client_credentials tokens, which belong to no user.
        pub family_id: Option<String>,
        pub client_id: String,
        pub user_id: Option<String>,
        pub scope: String,
        pub expires_at: i64,
        pub revoked_at: Option<i64>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod consent {
    use sea_orm::entity::prelude::*;

    /// Scopes a user allowed a client to have, remembered until revoked on the account page.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "consents")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub client_id: String,
        pub scope: String,
        pub granted_at: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod product_confirmation {
    use sea_orm::entity::prelude::*;

    /// A product host a user said yes to once: tokens about them go there without asking again.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "product_confirmations")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub product_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub host: String,
        pub confirmed_at: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod session_client {
    use sea_orm::entity::prelude::*;

    /// A client registered for back-channel logout that got a code in the session `sid`.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "session_clients")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub sid: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub client_id: String,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod upstream_login {
    use sea_orm::entity::prelude::*;

    /// A login at an upstream identity provider on its way, keyed by the SHA-256 of a random
    /// token: the `state` / `RelayState` it was sent with while it waits for the provider, or the
    /// resume token once a SAML IdP has answered (`user_id` set) and it waits for the browser.
    /// The columns are those of `store::KeptLogin`, where they are explained.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "upstream_logins")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub state_hash: String,
        pub connection_id: String,
        pub browser_hash: String,
        pub nonce: Option<String>,
        pub pkce_verifier: Option<String>,
        pub request_id: Option<String>,
        pub user_id: Option<String>,
        pub return_to: String,
        pub pending_id: Option<String>,
        pub expires_at: i64,
        pub upstream_subject: Option<String>,
        pub upstream_session: Option<String>,
        pub upstream_hint: Option<String>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod upstream_logout {
    use sea_orm::entity::prelude::*;

    /// A logout sent to an upstream provider (single logout), kept by the SHA-256 of the `state`
    /// / RelayState it was sent with until the provider sends the browser back.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "upstream_logouts")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub state_hash: String,
        pub connection_id: String,
        /// The SAML LogoutRequest ID, which the LogoutResponse must answer (`InResponseTo`).
        pub request_id: Option<String>,
        /// Where the browser goes then: a registered `post_logout_redirect_uri` (with the
        /// client's `state`); none: idbridge's signed-out page.
        pub return_to: Option<String>,
        pub expires_at: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod upstream_identity {
    use sea_orm::entity::prelude::*;

    /// The user behind an upstream subject: never matched by email, which an upstream IdP may
    /// let its users choose.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "upstream_identities")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub connection_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub subject: String,
        pub user_id: String,
        pub created_at: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod saml_assertion {
    use sea_orm::entity::prelude::*;

    /// An id a connection's provider may present once, already used: a SAML assertion ID (each
    /// assertion signs in once) or an OpenID Connect logout token's `jti`.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "saml_assertions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub connection_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub assertion_id: String,
        pub expires_at: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod customer_profile {
    use sea_orm::entity::prelude::*;

    /// A customer's profile, named by the `internalcustomer` of session URLs, and the user it
    /// signs in. A billing field is `None` until a session URL gives it.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "customer_profiles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: String,
        #[sea_orm(unique)]
        pub internal_customer: String,
        pub billing_first_name: Option<String>,
        pub billing_last_name: Option<String>,
        pub billing_email: Option<String>,
        pub billing_street1: Option<String>,
        pub billing_postal_code: Option<String>,
        pub billing_city: Option<String>,
        pub billing_country_id: Option<String>,
        pub language: Option<String>,
        pub created_at: i64,
        pub updated_at: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod session_url {
    use sea_orm::entity::prelude::*;

    /// A one-time session URL that has not been opened. Keyed by the SHA-256 of its token; opening
    /// it deletes the row.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "session_urls")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        pub internal_customer: String,
        /// Where the browser goes, without the profile parameters.
        pub target_url: String,
        /// The profile fields the URL carries, as JSON (`ProfileFields`).
        pub profile: String,
        pub created_at: i64,
        pub expires_at: i64,
    }

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod outbox {
    use sea_orm::entity::prelude::*;

    /// A notification for one webhook (SPEC section 8), written in the transaction of the change
    /// that caused it and kept until delivered or given up.
    #[sea_orm::model]
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox")]
    pub struct Model {
        /// Random; the payload's `meta.id` and the `X-Idbridge-Delivery` header.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Hex SHA-256 of the webhook's URL: which `[[webhooks]]` entry it is for.
        pub webhook: String,
        pub event_type: String,
        /// The JSON payload, fixed at write time.
        pub body: String,
        pub created_at: i64,
        /// Attempts started; counted when a process claims the row, so it fences late writers.
        pub attempts: i32,
        pub next_attempt_at: i64,
        /// While in the future, a process is delivering the row and no other may claim it.
        pub locked_until: Option<i64>,
        pub delivered_at: Option<i64>,
        pub given_up_at: Option<i64>,
        /// Why the last attempt failed: a status code or a short transport error, never a body.
        pub last_error: Option<String>,
    }

    impl ActiveModelBehavior for ActiveModel {}
}
