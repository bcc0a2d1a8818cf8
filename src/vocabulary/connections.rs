//! The connection ids idbridge gives itself. A login is announced with the id of the connection
//! it went through, and a user row records where it came from (`users.source`); these are the
//! ids no configured connection may take.

/// Local accounts: email and password, checked here.
pub const LOCAL: &str = "local";
/// One-time session URLs (SPEC section 7): their logins, and the users their profiles make.
pub const SESSION_URL: &str = "session_url";
/// The source of users declared in the config file, which config sync owns.
pub const CONFIG: &str = "config";

/// idbridge's own SAML IdP: its routes are `/saml/idp/…`, beside the SAML connections'
/// `/saml/{connection}/…`.
pub const SAML_IDP: &str = "idp";

/// Ids a configured connection may not have.
pub const RESERVED: [&str; 4] = [LOCAL, SESSION_URL, CONFIG, SAML_IDP];
