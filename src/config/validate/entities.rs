//! `[[entities]]`: the PSP / DIVISION / MERCHANT tree, its parents and its branding files.
use std::collections::{HashMap, HashSet};

use super::checker::{Checker, check_unique};
use crate::config::file::FileEntity;
use crate::config::*;

pub(super) fn check_entities(
    check: &mut Checker,
    entities: &[FileEntity],
    base_dir: &std::path::Path,
) -> Vec<EntityDecl> {
    let mut seen = HashSet::new();
    let by_id: HashMap<&str, &FileEntity> = entities.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut declared = Vec::new();
    for (i, entity) in entities.iter().enumerate() {
        let path = format!("entities[{i}]");
        check_unique(check, &mut seen, format!("{path}.id"), &entity.id);
        if entity.name.trim().is_empty() || entity.name.contains('/') {
            check.problem(
                format!("{path}.name"),
                "must not be empty or contain '/' (names form attached_to paths)",
            );
        }
        let Some(level) = Level::parse(&entity.level) else {
            check.problem(format!("{path}.level"), "must be PSP, DIVISION or MERCHANT");
            continue;
        };
        let parent_level = match entity.parent.as_deref() {
            None => None,
            Some(parent) => match by_id.get(parent) {
                Some(parent) => Level::parse(&parent.level),
                None => {
                    check.problem(
                        format!("{path}.parent"),
                        format!("unknown entity {parent:?}"),
                    );
                    continue;
                }
            },
        };
        let order_problem = match (level, entity.parent.is_some(), parent_level) {
            (Level::Psp, true, _) => Some("a PSP is a root and has no parent"),
            (Level::Division, false, _) => Some("a DIVISION needs a PSP parent"),
            (Level::Division, true, Some(parent)) if parent != Level::Psp => {
                Some("the parent of a DIVISION must be a PSP")
            }
            (Level::Merchant, false, _) => Some("a MERCHANT needs a DIVISION or PSP parent"),
            (Level::Merchant, true, Some(Level::Merchant)) => {
                Some("the parent of a MERCHANT must be a DIVISION or PSP")
            }
            _ => None,
        };
        if let Some(message) = order_problem {
            check.problem(format!("{path}.parent"), message);
        }
        if let Some(cycle) = find_cycle(&entity.id, &by_id) {
            check.problem(
                format!("{path}.parent"),
                format!("cycle: {}", cycle.join(" -> ")),
            );
        }
        let branding = entity
            .branding
            .as_ref()
            .map(|b| check_branding(check, &format!("{path}.branding"), b, base_dir));
        declared.push(EntityDecl {
            id: entity.id.clone(),
            name: entity.name.clone(),
            level,
            parent: entity.parent.clone(),
            branding,
        });
    }
    declared
}

/// Largest branding file accepted: a stylesheet, script or logo, not a site.
const MAX_BRANDING_FILE: u64 = 512 * 1024;

pub(super) fn check_branding(
    check: &mut Checker,
    path: &str,
    branding: &crate::config::file::FileBranding,
    base_dir: &std::path::Path,
) -> Branding {
    let mut asset = |key: &str, file: Option<&String>, content_type: Option<&'static str>| {
        let file = file?;
        let key_path = format!("{path}.{key}");
        let Some(content_type) = content_type else {
            check.problem(
                key_path,
                "a logo must be .png, .svg, .jpg, .jpeg, .gif or .webp",
            );
            return None;
        };
        let full = base_dir.join(file);
        match std::fs::metadata(&full).and_then(|meta| {
            if meta.len() > MAX_BRANDING_FILE {
                Err(std::io::Error::other("larger than 512 KiB"))
            } else {
                std::fs::read(&full)
            }
        }) {
            Ok(bytes) => Some(Asset {
                bytes: bytes.into(),
                content_type,
            }),
            Err(error) => {
                check.problem(key_path, format!("cannot read {}: {error}", full.display()));
                None
            }
        }
    };
    let logo_type = branding.logo.as_deref().map(|logo| {
        let extension = logo.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
        match extension.as_str() {
            "png" => Some("image/png"),
            "svg" => Some("image/svg+xml"),
            "jpg" | "jpeg" => Some("image/jpeg"),
            "gif" => Some("image/gif"),
            "webp" => Some("image/webp"),
            _ => None,
        }
    });
    Branding {
        css: asset(
            "css",
            branding.css.as_ref(),
            Some("text/css; charset=utf-8"),
        ),
        js: asset(
            "js",
            branding.js.as_ref(),
            Some("text/javascript; charset=utf-8"),
        ),
        logo: asset("logo", branding.logo.as_ref(), logo_type.flatten()),
        title: branding.title.clone(),
    }
}

/// The chain of parents from `start` back to `start`, if following parents ever returns there.
pub(super) fn find_cycle(start: &str, by_id: &HashMap<&str, &FileEntity>) -> Option<Vec<String>> {
    let mut chain = vec![start.to_string()];
    let mut current = by_id.get(start)?.parent.as_deref();
    while let Some(id) = current {
        chain.push(id.to_string());
        if id == start {
            return Some(chain);
        }
        if chain.len() > by_id.len() + 1 {
            return None; // a cycle further up, reported on the entities that form it
        }
        current = by_id.get(id).and_then(|e| e.parent.as_deref());
    }
    None
}
