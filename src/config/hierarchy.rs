//! The PSP / DIVISION / MERCHANT tree and the `attached_to` elements built from it. The tree is the
//! config's (the database holds the same rows), so it is built once at start and read from memory.
use std::collections::HashMap;

use super::{Branding, EntityDecl, Level};

/// One element of `attached_to` (SPEC section 4).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Attachment {
    /// Entity names from the root down to the entity: `/PSPName/DivisionName/MerchantName`.
    pub path: String,
    pub level: &'static str,
    #[serde(rename = "entityId")]
    pub entity_id: String,
}

#[derive(Debug, Clone, Default)]
pub struct Hierarchy {
    by_id: HashMap<String, EntityDecl>,
}

impl Hierarchy {
    pub fn new(entities: &[EntityDecl]) -> Hierarchy {
        Hierarchy {
            by_id: entities.iter().map(|e| (e.id.clone(), e.clone())).collect(),
        }
    }

    /// The `attached_to` element for an entity: its path of names from the root, level and id.
    pub fn attachment(&self, entity_id: &str) -> Option<Attachment> {
        let entity = self.by_id.get(entity_id)?;
        let mut names = vec![entity.name.as_str()];
        let mut parent = entity.parent.as_deref();
        // Config validation rules out cycles; the bound keeps a bad row from looping forever.
        while let Some(id) = parent.filter(|_| names.len() <= self.by_id.len()) {
            let ancestor = self.by_id.get(id)?;
            names.push(ancestor.name.as_str());
            parent = ancestor.parent.as_deref();
        }
        names.reverse();
        Some(Attachment {
            path: format!("/{}", names.join("/")),
            level: entity.level.as_str(),
            entity_id: entity.id.clone(),
        })
    }

    /// The branding that styles the login page for an entity: its own, or else its nearest
    /// ancestor's; with the id of the entity that defines it.
    pub fn branding_for(&self, entity_id: &str) -> Option<(&str, &Branding)> {
        let mut current = self.by_id.get(entity_id);
        let mut steps = 0;
        while let Some(entity) = current.filter(|_| steps <= self.by_id.len()) {
            if let Some(branding) = &entity.branding {
                return Some((&entity.id, branding));
            }
            current = entity.parent.as_deref().and_then(|p| self.by_id.get(p));
            steps += 1;
        }
        None
    }

    /// The entity's own branding (not inherited), for serving its files.
    pub fn own_branding(&self, entity_id: &str) -> Option<&Branding> {
        self.by_id.get(entity_id)?.branding.as_ref()
    }

    /// The entity that stands for a user's organization: of the entities the user is attached
    /// to, the one nearest to MERCHANT (MERCHANT before DIVISION before PSP); among several on
    /// that level, the first by path. Unknown ids are skipped.
    pub fn organization(&self, entity_ids: &[String]) -> Option<(&EntityDecl, Attachment)> {
        let attachments = self.attachments(entity_ids);
        let most_specific = attachments.last()?.level;
        let chosen = attachments.into_iter().find(|a| a.level == most_specific)?;
        Some((self.by_id.get(&chosen.entity_id)?, chosen))
    }

    /// `attached_to` for a set of entity ids, most general level first (PSP, DIVISION, MERCHANT).
    pub fn attachments(&self, entity_ids: &[String]) -> Vec<Attachment> {
        let mut attachments: Vec<Attachment> = entity_ids
            .iter()
            .filter_map(|id| self.attachment(id))
            .collect();
        attachments.sort_by(|a, b| {
            let rank = |level: &str| Level::parse(level).map(|l| l as u8);
            rank(a.level)
                .cmp(&rank(b.level))
                .then_with(|| a.path.cmp(&b.path))
        });
        attachments
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(id: &str, name: &str, level: Level, parent: Option<&str>) -> EntityDecl {
        EntityDecl {
            id: id.into(),
            name: name.into(),
            level,
            parent: parent.map(Into::into),
            branding: None,
        }
    }

    #[test]
    fn paths_run_from_the_root() {
        let tree = Hierarchy::new(&[
            entity("e-mer-1", "MerchantName", Level::Merchant, Some("e-div-1")),
            entity("e-psp-1", "PSPName", Level::Psp, None),
            entity("e-div-1", "DivisionName", Level::Division, Some("e-psp-1")),
        ]);
        let attached = tree.attachments(&["e-mer-1".into(), "e-psp-1".into(), "gone".into()]);
        assert_eq!(
            serde_json::to_value(&attached).unwrap(),
            serde_json::json!([
                {"path": "/PSPName", "level": "PSP", "entityId": "e-psp-1"},
                {"path": "/PSPName/DivisionName/MerchantName", "level": "MERCHANT", "entityId": "e-mer-1"}
            ])
        );
    }

    #[test]
    fn the_organization_is_the_attachment_nearest_to_merchant() {
        let tree = Hierarchy::new(&[
            entity("e-psp-1", "PSPName", Level::Psp, None),
            entity("e-div-1", "DivisionName", Level::Division, Some("e-psp-1")),
            entity("e-div-2", "Another", Level::Division, Some("e-psp-1")),
            entity("e-mer-1", "MerchantName", Level::Merchant, Some("e-div-1")),
        ]);
        let chosen = |ids: &[&str]| {
            let ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
            tree.organization(&ids).map(|(entity, _)| entity.id.clone())
        };
        assert_eq!(
            chosen(&["e-psp-1", "e-mer-1", "e-div-1"]).as_deref(),
            Some("e-mer-1")
        );
        assert_eq!(chosen(&["e-psp-1", "e-div-1"]).as_deref(), Some("e-div-1"));
        // Two divisions: the first by path, /PSPName/Another.
        assert_eq!(chosen(&["e-div-1", "e-div-2"]).as_deref(), Some("e-div-2"));
        assert_eq!(chosen(&["e-psp-1"]).as_deref(), Some("e-psp-1"));
        assert_eq!(chosen(&["gone"]), None);
        assert_eq!(chosen(&[]), None);
    }
}
