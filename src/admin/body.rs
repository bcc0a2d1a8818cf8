//! Request bodies of the admin API: JSON, read whole (up to the server's body limit, else 413)
//! and then parsed into a type that refuses unknown fields, so that a refusal can name the field
//! by its JSON path (`scopes[1]: unknown variant ...`) before anything is done.
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use super::AdminError;

/// The body of a request as `T`, or why not.
pub fn parse<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, AdminError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AdminError::TooLarge
        } else {
            AdminError::NotJson
        }
    })?;
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(AdminError::NotJson);
    }
    let mut reader = serde_json::Deserializer::from_slice(&body);
    let value = serde_path_to_error::deserialize(&mut reader).map_err(|error| {
        let path = error.path().to_string();
        let field = if path == "." { "body".into() } else { path };
        // serde_json's message ends with the position, which the path tells better.
        let message = error.into_inner().to_string();
        let problem = message.split(" at line ").next().unwrap_or_default();
        AdminError::invalid(field, problem)
    })?;
    reader
        .end()
        .map_err(|_| AdminError::invalid("body", "text after the JSON value"))?;
    Ok(value)
}
