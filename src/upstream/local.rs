//! Local accounts: the login form at `/sso/v2/login` (`web::login`) checks the password and starts
//! the session.
use super::{LoginRequest, UpstreamConnector, login_query};

pub struct LocalLogin;

impl LocalLogin {
    /// Its connection id, which no `[[connections]]` entry may take.
    pub const ID: &'static str = crate::vocabulary::connections::LOCAL;
}

impl UpstreamConnector for LocalLogin {
    fn id(&self) -> &str {
        Self::ID
    }

    fn name(&self) -> &str {
        "idbridge account"
    }

    fn domains(&self) -> &[String] {
        &[]
    }

    fn begin(&self, request: &LoginRequest) -> String {
        format!("/sso/v2/login?{}", login_query(request))
    }
}
