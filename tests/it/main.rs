//! The integration suite: one test binary, a module per area. Tests start the real server
//! in-process on an ephemeral port and talk HTTP to it with a real client and cookie jar.
//!
//! Tests that touch a database run twice, against SQLite and against PostgreSQL (see
//! [`backend_tests`]). The PostgreSQL variants are `#[ignore]`d unless run by `scripts/test`,
//! which starts a throwaway server and passes `--include-ignored`.
mod support;

mod admin;
mod admin_declared;
mod browser;
mod cli;
mod config;
mod faults;
mod http_limits;
mod layers;
mod login;
mod logout_channels;
mod metrics;
mod oidc;
mod oidc_errors;
mod oidc_features;
mod pages;
mod pending_limits;
mod products;
mod races;
mod saml_idp;
mod saml_service_providers;
mod session_urls;
mod storage;
mod upstream_mapping;
mod upstream_oidc;
mod upstream_oidc_logout;
mod upstream_saml;
mod upstream_saml_encrypted;
mod upstream_saml_logout;
mod webhooks;

/// Declares each listed `async fn name(backend: Backend)` as two tests, `sqlite::name` and
/// `postgres::name`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs PostgreSQL: scripts/test runs it (set IDBRIDGE_TEST_POSTGRES_URL)"]
                async fn $name() {
                    super::$name($crate::support::Backend::Postgres).await
                }
            )*
        }
    };
}
