//! `GET /JsonNotificationSchemas/{type}`: the JSON Schema (draft 2020-12) of each notification,
//! the document a payload's `meta.schemaUrl` points at.
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::http::PageError;
use crate::state::AppState;
use crate::vocabulary::events::{EventType, SCHEMAS_PATH};

pub fn router() -> Router<AppState> {
    Router::new().route(&format!("{SCHEMAS_PATH}/{{event}}"), get(schema))
}

/// The schema document, with `{issuer}` in its `$id` still to be filled in.
fn template(event: EventType) -> &'static str {
    match event {
        EventType::UserLogin => {
            include_str!("../../templates/schemas/UserLoginNotification.json")
        }
        EventType::ProfileCreated => {
            include_str!("../../templates/schemas/ProfileCreatedNotification.json")
        }
        EventType::ProfileUpdated => {
            include_str!("../../templates/schemas/ProfileUpdatedNotification.json")
        }
    }
}

async fn schema(State(state): State<AppState>, Path(event): Path<String>) -> Response {
    let Some(event) = EventType::parse(&event) else {
        return PageError::NotFound.into_response();
    };
    let document = template(event).replace("{issuer}", &state.server().issuer);
    ([(CONTENT_TYPE, "application/schema+json")], document).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::events::schema_url;

    #[test]
    fn every_schema_is_json_for_its_own_type() {
        for event in EventType::ALL {
            let schema: serde_json::Value = serde_json::from_str(template(event)).unwrap();
            assert_eq!(schema["title"], event.as_str());
            assert_eq!(
                schema["properties"]["meta"]["properties"]["type"]["const"],
                event.as_str()
            );
            assert_eq!(
                schema["$id"],
                schema_url("{issuer}", event),
                "the $id is where the schema is served"
            );
        }
    }
}
