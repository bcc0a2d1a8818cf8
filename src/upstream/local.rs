//! Local accounts: the login form at `/sso/v2/login` (`web::login`) checks the password and starts
//! the session.
use url::form_urlencoded::Serializer;

use super::{LoginRequest, UpstreamConnector};

pub struct LocalLogin;

impl UpstreamConnector for LocalLogin {
    fn id(&self) -> &str {
        "local"
    }

    fn domains(&self) -> &[String] {
        &[]
    }

    fn begin(&self, request: &LoginRequest) -> String {
        let mut query = Serializer::new(String::new());
        query.append_pair("return_to", request.resume_path);
        if request.force {
            query.append_pair("force", "1");
        }
        if let Some(hint) = request.login_hint {
            query.append_pair("login_hint", hint);
        }
        format!("/sso/v2/login?{}", query.finish())
    }
}
