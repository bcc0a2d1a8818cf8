//! `[[api_credentials]]`: the backends allowed to call the server-to-server APIs.
use std::collections::HashSet;

use super::checker::{Checker, check_unique};
use crate::config::file::FileApiCredential;
use crate::config::*;

pub(super) fn check_api_credentials(
    check: &mut Checker,
    credentials: &[FileApiCredential],
) -> Vec<ApiCredentialDecl> {
    let mut seen = HashSet::new();
    let mut declared = Vec::new();
    for (i, credential) in credentials.iter().enumerate() {
        let path = format!("api_credentials[{i}]");
        check_unique(
            check,
            &mut seen,
            format!("{path}.username"),
            &credential.username,
        );
        for (field, problem) in api_credential_problems(&credential.username, &credential.scopes) {
            // An empty username is told by the uniqueness check.
            if !credential.username.trim().is_empty() || field != "username" {
                check.problem(format!("{path}.{field}"), problem);
            }
        }
        let password = check.password(
            &path,
            credential.password_hash.as_deref(),
            credential.password.as_deref(),
        );
        if let Some(password) = password {
            declared.push(ApiCredentialDecl {
                username: credential.username.clone(),
                password,
                scopes: credential.scopes.clone(),
            });
        }
    }
    declared
}

/// What is wrong with an API credential's username and scopes, each as the field (`username`,
/// `scopes[1]`) and the problem: the rules of the config file, which the admin API applies too.
pub fn api_credential_problems(username: &str, scopes: &[String]) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    if username.trim().is_empty() {
        problems.push(("username".into(), "must not be empty".into()));
    }
    if username.contains(':') {
        problems.push((
            "username".into(),
            "must not contain ':' (HTTP Basic separates with it)".into(),
        ));
    }
    for (j, scope) in scopes.iter().enumerate() {
        if !API_SCOPES.contains(&scope.as_str()) {
            problems.push((
                format!("scopes[{j}]"),
                format!("unknown scope {scope:?} (known: {})", API_SCOPES.join(", ")),
            ));
        }
    }
    problems
}
