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
        if credential.username.contains(':') {
            check.problem(
                format!("{path}.username"),
                "must not contain ':' (HTTP Basic separates with it)",
            );
        }
        for (j, scope) in credential.scopes.iter().enumerate() {
            if !API_SCOPES.contains(&scope.as_str()) {
                check.problem(
                    format!("{path}.scopes[{j}]"),
                    format!("unknown scope {scope:?} (known: {})", API_SCOPES.join(", ")),
                );
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
