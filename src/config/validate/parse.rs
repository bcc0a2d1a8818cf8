//! Reading the TOML text into a [`FileConfig`], with the path of every unknown key and of the
//! type error that stops it, if any.
use crate::config::file::FileConfig;
use crate::config::{ConfigError, Problem};

/// Parses TOML text. Unknown keys do not stop it: they come back as problems beside the file,
/// for [`validate`] to report together with its own. A type error does stop it (serde cannot go
/// on past one), and is reported with the unknown keys seen up to there.
pub(in crate::config) fn parse(text: &str) -> Result<(FileConfig, Vec<Problem>), ConfigError> {
    let deserializer =
        toml::Deserializer::parse(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
    match tracked(deserializer) {
        (Some(file), problems) => Ok((file, problems)),
        (None, problems) => Err(ConfigError::Invalid(problems)),
    }
}

/// Reads `T` from `deserializer`, with the path of every unknown key as a problem, and the type
/// error that stopped it (`None` then) as the last.
pub(in crate::config) fn tracked<'de, T, D>(deserializer: D) -> (Option<T>, Vec<Problem>)
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    let mut unknown = Vec::new();
    let mut on_unknown = |path: serde_ignored::Path| unknown.push(key_path(&path));
    let tracked = serde_ignored::Deserializer::new(deserializer, &mut on_unknown);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(tracked);
    let mut problems: Vec<Problem> = unknown
        .into_iter()
        .map(|path| Problem {
            path,
            message: "unknown key".into(),
        })
        .collect();
    match parsed {
        Ok(value) => (Some(value), problems),
        Err(error) => {
            problems.push(Problem {
                path: error.path().to_string(),
                message: first_line(&error.inner().to_string()),
            });
            (None, problems)
        }
    }
}

/// toml's messages carry a source excerpt after the first line; the key path says enough.
pub(super) fn first_line(message: &str) -> String {
    message
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty() && !line.contains('|'))
        .unwrap_or(message)
        .trim()
        .to_string()
}

/// `clients[1].redirect_uris[0]`, the same notation serde_path_to_error uses.
pub(super) fn key_path(path: &serde_ignored::Path) -> String {
    use serde_ignored::Path as P;
    match path {
        P::Root => String::new(),
        P::Seq { parent, index } => format!("{}[{index}]", key_path(parent)),
        P::Map { parent, key } => {
            let parent = key_path(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            key_path(parent)
        }
    }
}
