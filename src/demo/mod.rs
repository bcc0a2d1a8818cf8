//! The embedded default of SPEC section 2: what `idbridge serve` runs with no config file, so that
//! a newcomer can sign in within a minute. Its objects go through the same validation and
//! storage as an operator's config, except that it may run without `keys.encryption_key`. Its
//! relying party, the demo client, is [`client`].
pub mod client;

use crate::config::{Config, ConfigError, DEFAULT_ISSUER, EnvLookup};

pub const DEMO_EMAIL: &str = "demo@example.com";
pub const DEMO_PASSWORD: &str = "idbridge-demo";

/// The demo config, with its URLs under the issuer (which `IDBRIDGE_ISSUER` may override).
pub fn config(env: EnvLookup) -> Result<Config, ConfigError> {
    let issuer = env("IDBRIDGE_ISSUER").unwrap_or_else(|| DEFAULT_ISSUER.to_string());
    Config::demo_from_toml(&config_text(&issuer), env)
}

/// The demo config as TOML, its URLs under `issuer`.
pub fn config_text(issuer: &str) -> String {
    include_str!("demo.toml")
        .replace("{issuer}", issuer.trim_end_matches('/'))
        .replace("{demo_email}", DEMO_EMAIL)
        .replace("{demo_password}", DEMO_PASSWORD)
}
