//! How the authorization response reaches the client (OAuth 2.0 Multiple Response Type Encoding
//! Practices, and Form Post Response Mode): in the redirect URI's query, or posted to it.
//! The fragment mode is for implicit and hybrid flows, which idbridge does not offer.

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResponseMode {
    /// A 303 to the redirect URI with the parameters in its query (the code flow's default).
    #[default]
    Query,
    /// A page that posts the parameters to the redirect URI.
    FormPost,
}

impl ResponseMode {
    /// Every mode idbridge offers, as discovery lists them.
    pub const SUPPORTED: [ResponseMode; 2] = [ResponseMode::Query, ResponseMode::FormPost];

    /// The mode a request's `response_mode` names (none: the default); `None` for one idbridge
    /// does not offer.
    pub fn parse(value: Option<&str>) -> Option<ResponseMode> {
        match value {
            None | Some("query") => Some(ResponseMode::Query),
            Some("form_post") => Some(ResponseMode::FormPost),
            Some(_) => None,
        }
    }

    /// The mode of a stored pending authorization, which was checked when it was stored.
    pub fn stored(value: &str) -> ResponseMode {
        ResponseMode::parse(Some(value)).unwrap_or_default()
    }

    /// The value as the wire and the database hold it.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseMode::Query => "query",
            ResponseMode::FormPost => "form_post",
        }
    }
}
