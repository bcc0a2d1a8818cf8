//! Logout tokens a provider posts when its session has ended (OpenID Connect Back-Channel Logout
//! 1.0, section 2.6), verified as strictly as its ID tokens: the same allowed algorithms (its
//! asymmetric ones, never `none` or HS256), its published keys chosen by `kid`, fetched again for
//! a key not seen yet under the same limit ([`OidcConnector::with_provider_keys`]). openidconnect
//! verifies ID tokens only, so the signature of a logout token is checked here with its keys.
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreJsonWebKey, CoreJwsSigningAlgorithm};
use openidconnect::{
    ClaimsVerificationError, JsonWebKey, JsonWebKeyAlgorithm, JsonWebKeyId, JsonWebKeyUse,
    JwsSigningAlgorithm, SignatureVerificationError,
};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Metadata, OidcConnector, asymmetric_algs, issued_in_time, jwt_payload, text_claim};
use crate::store::OneTimeId;
use crate::upstream::{BackChannel, EndedUpstream, UpstreamError, Working};

/// The event a logout token carries (section 2.4).
const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// How long after its `iat` a logout token is taken. The specification leaves `exp` to the
/// provider and some send none; a bound on age keeps the `jti`s to remember (until then) few.
/// Providers sign each delivery afresh (idbridge does), so a retry is not too old.
const MAX_AGE: i64 = 600;
/// The longest `jti` kept: providers send UUIDs or random tokens of a few dozen characters.
const MAX_JTI_LEN: usize = 256;

/// The JOSE header of a logout token, as far as its checks read it.
#[derive(Deserialize)]
struct Header {
    alg: CoreJwsSigningAlgorithm,
    kid: Option<JsonWebKeyId>,
    typ: Option<String>,
    /// Extensions the signer says must be understood: none are, so any refuses the token.
    crit: Option<Value>,
}

impl BackChannel for OidcConnector {
    fn verify_logout_token<'a>(
        &'a self,
        logout_token: &'a str,
        now: i64,
    ) -> Working<'a, Result<EndedUpstream, UpstreamError>> {
        Box::pin(self.ended_sessions(logout_token, now))
    }
}

impl OidcConnector {
    /// The sessions a logout token from the provider says have ended, once every check of
    /// section 2.6 holds; the `jti` is for the caller to spend once.
    async fn ended_sessions(&self, token: &str, now: i64) -> Result<EndedUpstream, UpstreamError> {
        let claims = self
            .with_provider_keys(|metadata| signed_claims(metadata, token))
            .await?
            .map_err(|e| self.refused(format!("signature: {e}")))?;
        let issuer = self.metadata().await?.issuer().as_str().to_string();
        check_claims(&claims, &issuer, &self.settings.client_id, now)
            .map_err(|detail| self.refused(detail))
    }

    fn refused(&self, detail: impl Into<String>) -> UpstreamError {
        UpstreamError::LogoutRefused {
            connection: self.connection.id.clone(),
            detail: detail.into(),
        }
    }
}

/// The claims of `token` once its signature is verified with one of the provider's published
/// keys, by an algorithm it signs ID tokens with (other than shared-secret ones and `none`).
/// A key it names that we do not have is [`SignatureVerificationError::NoMatchingKey`], so that
/// the keys are fetched again.
pub fn signed_claims(
    metadata: &Metadata,
    token: &str,
) -> Result<Map<String, Value>, ClaimsVerificationError> {
    let refused = |detail: &str| ClaimsVerificationError::Other(detail.to_string());
    let mut parts = token.split('.');
    let (Some(head), Some(body), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(refused("not a compact JWS"));
    };
    let header: Header = URL_SAFE_NO_PAD
        .decode(head)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| refused("the header cannot be read"))?;
    if header.crit.is_some() {
        return Err(refused("the header has critical extensions"));
    }
    // Explicit typing (section 2.4) is optional; a token typed as something else (an access
    // token, an ID token of a provider that types them) is not a logout token.
    if let Some(typ) = &header.typ {
        let typ = typ.to_ascii_lowercase();
        let typ = typ.strip_prefix("application/").unwrap_or(&typ);
        if !matches!(typ, "logout+jwt" | "jwt") {
            return Err(refused("the header's typ is not logout+jwt"));
        }
    }
    if !asymmetric_algs(metadata).contains(&header.alg) {
        return Err(ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::DisallowedAlg(format!("{:?}", header.alg)),
        ));
    }
    let key = signing_key(metadata, header.kid.as_ref(), &header.alg)
        .map_err(ClaimsVerificationError::SignatureVerification)?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| refused("the signature cannot be read"))?;
    let signing_input = &token[..head.len() + 1 + body.len()];
    key.verify_signature(&header.alg, signing_input.as_bytes(), &signature)
        .map_err(ClaimsVerificationError::SignatureVerification)?;
    jwt_payload(token).ok_or_else(|| refused("the payload is not a JSON object"))
}

/// The one published key that `kid` (if given) names and that may verify `alg` signatures, as
/// openidconnect chooses for ID tokens: a key for signatures (or of no stated use), of the
/// algorithm's type, and of that algorithm or none in particular.
fn signing_key<'m>(
    metadata: &'m Metadata,
    kid: Option<&JsonWebKeyId>,
    alg: &CoreJwsSigningAlgorithm,
) -> Result<&'m CoreJsonWebKey, SignatureVerificationError> {
    let mut fitting = metadata.jwks().keys().iter().filter(|key| {
        (kid.is_none() || kid == key.key_id())
            && key.key_use().is_none_or(|u| u.allows_signature())
            && alg.key_type().as_ref() == Some(key.key_type())
            && match key.signing_alg() {
                JsonWebKeyAlgorithm::Unspecified => true,
                JsonWebKeyAlgorithm::Algorithm(key_alg) => key_alg == alg,
                JsonWebKeyAlgorithm::Unsupported => false,
            }
    });
    match (fitting.next(), fitting.next()) {
        (Some(key), None) => Ok(key),
        (None, _) => Err(SignatureVerificationError::NoMatchingKey),
        (Some(_), Some(_)) => Err(SignatureVerificationError::AmbiguousKeyId(
            "more than one published key fits".into(),
        )),
    }
}

/// The claims checks of section 2.6, on claims whose signature is verified: `iss` the
/// provider's, `aud` naming our client, `iat` not in the future nor older than [`MAX_AGE`],
/// `exp` (if there) not passed, the back-channel logout event, no `nonce`, a `sub` or a `sid`,
/// and a `jti`. What they end; the `jti` is remembered as long as the token could be taken.
fn check_claims(
    claims: &Map<String, Value>,
    issuer: &str,
    client_id: &str,
    now: i64,
) -> Result<EndedUpstream, String> {
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err("iss is not the provider's issuer".into());
    }
    let for_us = match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => auds.iter().any(|aud| aud.as_str() == Some(client_id)),
        _ => false,
    };
    if !for_us {
        return Err("aud does not name this client".into());
    }
    let iat = claims.get("iat").and_then(Value::as_i64).ok_or("no iat")?;
    issued_in_time(iat, now)?;
    if iat + MAX_AGE < now {
        return Err("issued too long ago".into());
    }
    if let Some(exp) = claims.get("exp") {
        let exp = exp.as_i64().ok_or("exp is not a number")?;
        if exp <= now {
            return Err("expired".into());
        }
    }
    let event = claims
        .get("events")
        .and_then(|events| events.get(BACKCHANNEL_LOGOUT_EVENT));
    if !event.is_some_and(Value::is_object) {
        return Err("events does not name the back-channel logout event".into());
    }
    // A nonce marks an ID token: one must not pass for a logout token (section 2.4).
    if claims.contains_key("nonce") {
        return Err("a logout token carries no nonce".into());
    }
    let subject = text_claim(claims, "sub");
    let session_index = text_claim(claims, "sid");
    if subject.is_none() && session_index.is_none() {
        return Err("neither sub nor sid".into());
    }
    let jti = text_claim(claims, "jti")
        .filter(|jti| jti.len() <= MAX_JTI_LEN)
        .ok_or("no jti")?;
    Ok(EndedUpstream {
        subject,
        session_index,
        one_time: OneTimeId {
            id: jti,
            // A later copy fails the age check above.
            expires_at: iat + MAX_AGE + 1,
        },
    })
}
