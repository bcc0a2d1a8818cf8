//! Loading a config: a file, TOML text, or the embedded demo, each through the same parse and
//! validation.
use std::path::Path;

use super::validate::{self, Origin};
use super::{Config, ConfigError, EnvLookup};

impl Config {
    /// Reads and validates a config file, with the environment overrides of SPEC section 2.
    pub fn load_file(path: &Path, env: EnvLookup) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_toml_at(&text, env, path.parent().unwrap_or(Path::new(".")))
    }

    /// Validates config text, with the environment overrides of SPEC section 2; relative file
    /// paths in it are read from the working directory.
    pub fn from_toml(text: &str, env: EnvLookup) -> Result<Config, ConfigError> {
        Config::from_toml_at(text, env, Path::new("."))
    }

    /// Validates config text whose relative file paths are relative to `base_dir`.
    pub fn from_toml_at(
        text: &str,
        env: EnvLookup,
        base_dir: &Path,
    ) -> Result<Config, ConfigError> {
        let (file, unknown_keys) = validate::parse(text)?;
        validate::validate(file, unknown_keys, env, base_dir, Origin::Operator)
    }

    /// Validates the embedded demo config (see `demo.rs`), the one config allowed to run without
    /// `keys.encryption_key`: its password is public anyway, and a newcomer has no key to give.
    pub(crate) fn demo_from_toml(text: &str, env: EnvLookup) -> Result<Config, ConfigError> {
        let (file, unknown_keys) = validate::parse(text)?;
        validate::validate(file, unknown_keys, env, Path::new("."), Origin::Demo)
    }
}
