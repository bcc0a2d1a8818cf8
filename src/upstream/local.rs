//! Local accounts: the login form at `/sso/v2/login` (`web::login`) checks the password and starts
//! the session.
use super::{LoginRequest, UpstreamConnector, login_query};

pub struct LocalLogin;

impl UpstreamConnector for LocalLogin {
    fn id(&self) -> &str {
        "local"
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
