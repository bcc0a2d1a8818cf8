//! ID tokens (OIDC Core 2): signed with the client's algorithm, and verified when one comes back
//! (a logout's `id_token_hint`, the demo client).
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};

use super::error::OAuthError;
use crate::clients::Client;
use crate::config::Alg;
use crate::state::AppState;

/// Signs ID token claims with the client's algorithm: its secret for HS256, otherwise the
/// current key of that algorithm, named by `kid`.
pub(super) async fn sign_id_token(
    state: &AppState,
    client: &Client,
    claims: &Map<String, Value>,
) -> Result<String, OAuthError> {
    sign_for_client(state, client, "JWT", claims).await
}

/// Signs `claims` as a token of type `typ` for `client`, as its ID tokens are signed.
pub(super) async fn sign_for_client(
    state: &AppState,
    client: &Client,
    typ: &str,
    claims: &impl serde::Serialize,
) -> Result<String, OAuthError> {
    match (client.id_token_alg, &client.hs256_secret) {
        (Alg::HS256, Some(secret)) => {
            let mut header = Header::new(Algorithm::HS256);
            header.typ = Some(typ.to_string());
            jsonwebtoken::encode(
                &header,
                claims,
                &EncodingKey::from_secret(secret.expose().as_bytes()),
            )
            .map_err(|e| OAuthError::Server(format!("signing a {typ} token: {e}")))
        }
        (Alg::HS256, None) => Err(OAuthError::Server("HS256 client without a secret".into())),
        (alg, _) => {
            let key = state.keys.signer(alg, state.clock.now()).await?;
            Ok(key.sign_typed_jwt(typ, claims)?)
        }
    }
}

/// The claims of an ID token idbridge issued: signature (by its `kid`, or the audience's secret
/// for HS256) and issuer checked; expiry only when `check_expiry`, since a logout hint is often
/// an expired token.
pub async fn verify_id_token(
    state: &AppState,
    token: &str,
    check_expiry: bool,
) -> Option<Map<String, Value>> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = check_expiry;
    validation.validate_aud = false;
    validation.set_issuer(&[&state.server().issuer]);
    validation.set_required_spec_claims(&["iss", "sub", "aud"]);
    let (secret_key, loaded_key);
    let key = if header.alg == Algorithm::HS256 {
        // The audience names the client whose secret signed it: read it, then check with it.
        let unverified: Map<String, Value> =
            jsonwebtoken::dangerous::insecure_decode_claims(token).ok()?;
        let client = state.client(unverified.get("aud")?.as_str()?)?;
        secret_key = DecodingKey::from_secret(client.hs256_secret.as_ref()?.expose().as_bytes());
        &secret_key
    } else {
        loaded_key = state.keys.by_kid(header.kid.as_deref()?).await.ok()??;
        if jwt_alg(loaded_key.alg) != header.alg {
            return None;
        }
        &loaded_key.decoding
    };
    jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
        .ok()
        .map(|data| data.claims)
}

fn jwt_alg(alg: Alg) -> Algorithm {
    match alg {
        Alg::RS256 => Algorithm::RS256,
        Alg::ES256 => Algorithm::ES256,
        Alg::EdDSA => Algorithm::EdDSA,
        Alg::HS256 => Algorithm::HS256,
    }
}
