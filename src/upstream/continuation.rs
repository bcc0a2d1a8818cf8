//! Where a login sends the browser once the person is signed in: on with the pending
//! authorization the provider handed to it, or to a local page. The provider's resume route is
//! named here, since this is where a `return_to` carried as text is read back.

/// The provider's route that goes on with a pending authorization.
const RESUME_PATH: &str = "/sso/v2/authorize/resume?id=";

/// A pending authorization that a login resumes once the person is signed in. The provider
/// hands it to the login (see [`Continuation`]); the login gives it back to end the
/// authorization, with a session ([`Resume::id`] marks the session as its fresh login) or with an
/// error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume(String);

impl Resume {
    /// The pending authorization `id`, as a login kept it.
    pub fn from_kept(id: String) -> Resume {
        Resume(id)
    }

    pub fn id(&self) -> &str {
        &self.0
    }

    /// The provider's route that goes on with the authorization.
    pub fn path(&self) -> String {
        format!("{RESUME_PATH}{}", self.0)
    }
}

/// Where a login sends the browser once the person is signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Continuation {
    /// On with a pending authorization.
    Resume(Resume),
    /// To a local page.
    Page(String),
}

impl Continuation {
    /// What a `return_to` the browser carried through a login page or link stands for (already
    /// made a local path). This is the one place the resume path is read back: the login form
    /// and the links to the login routes carry it as text.
    pub fn from_return_to(return_to: String) -> Continuation {
        let resumed = return_to.strip_prefix(RESUME_PATH).filter(|id| {
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
        match resumed {
            Some(id) => Continuation::Resume(Resume(id.to_string())),
            None => Continuation::Page(return_to),
        }
    }

    /// A login kept with the pending authorization it resumes, if any, and its `return_to`.
    pub fn from_kept(pending_id: Option<String>, return_to: String) -> Continuation {
        match pending_id {
            Some(id) => Continuation::Resume(Resume(id)),
            None => Continuation::Page(return_to),
        }
    }

    /// The local path the browser goes to.
    pub fn path(&self) -> String {
        match self {
            Continuation::Resume(resume) => resume.path(),
            Continuation::Page(path) => path.clone(),
        }
    }

    pub fn resume(&self) -> Option<&Resume> {
        match self {
            Continuation::Resume(resume) => Some(resume),
            Continuation::Page(_) => None,
        }
    }
}
