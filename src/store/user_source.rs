//! Where a user comes from, as `users.source` keeps it: the config file, a session URL, or the
//! upstream connection whose login created them. Config sync reads and changes only the
//! config's users; only they have an address idbridge vouches for (`email_verified`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserSource {
    /// Declared in the config file.
    Config,
    /// A customer profile a session URL made.
    SessionUrl,
    /// Created at the first login through this upstream connection.
    Connection(String),
}

impl UserSource {
    /// The column value of [`UserSource::Config`].
    pub const CONFIG: &'static str = crate::vocabulary::connections::CONFIG;
    /// The column value of [`UserSource::SessionUrl`]; also the `connection` of session URLs'
    /// logins.
    pub const SESSION_URL: &'static str = crate::vocabulary::connections::SESSION_URL;
    /// Values no connection id may take: its users would be taken for another source's.
    pub const RESERVED: [&'static str; 2] = [UserSource::CONFIG, UserSource::SESSION_URL];

    /// The source `users.source` names.
    pub fn from_column(column: &str) -> UserSource {
        match column {
            UserSource::CONFIG => UserSource::Config,
            UserSource::SESSION_URL => UserSource::SessionUrl,
            connection => UserSource::Connection(connection.to_string()),
        }
    }

    /// As `users.source` keeps it.
    pub fn column(&self) -> &str {
        match self {
            UserSource::Config => UserSource::CONFIG,
            UserSource::SessionUrl => UserSource::SESSION_URL,
            UserSource::Connection(id) => id,
        }
    }
}
