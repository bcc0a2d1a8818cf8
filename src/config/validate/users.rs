//! `[[users]]`: local accounts declared in the config.
use std::collections::HashSet;

use super::checker::{Checker, check_unique, is_plausible_email};
use crate::config::file::FileUser;
use crate::config::*;

pub(super) fn check_users(
    check: &mut Checker,
    users: &[FileUser],
    entity_ids: &HashSet<&str>,
) -> Vec<UserDecl> {
    let mut seen_ids = HashSet::new();
    let mut seen_emails = HashSet::new();
    let mut declared = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let path = format!("users[{i}]");
        check_unique(check, &mut seen_ids, format!("{path}.id"), &user.id);
        let email = user.email.trim();
        if !is_plausible_email(email) {
            check.problem(format!("{path}.email"), "not an email address");
        } else if !seen_emails.insert(email.to_lowercase()) {
            check.problem(
                format!("{path}.email"),
                format!("duplicate email {email:?}"),
            );
        }
        if user.name.trim().is_empty() {
            check.problem(format!("{path}.name"), "must not be empty");
        }
        for (j, entity) in user.attached_to.iter().enumerate() {
            if !entity_ids.contains(entity.as_str()) {
                check.problem(
                    format!("{path}.attached_to[{j}]"),
                    format!("unknown entity {entity:?}"),
                );
            }
        }
        let password = check.password(
            &path,
            user.password_hash.as_deref(),
            user.password.as_deref(),
        );
        if let Some(password) = password {
            declared.push(UserDecl {
                id: user.id.clone(),
                email: email.to_string(),
                name: user.name.trim().to_string(),
                password,
                attached_to: user.attached_to.clone(),
            });
        }
    }
    declared
}
