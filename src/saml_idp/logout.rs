//! Single logout with service providers (SAML profiles 4.4), HTTP-Redirect binding, for the SPs
//! with a SingleLogoutService. An SP that got an assertion in a session is remembered with it
//! (as OpenID Connect clients registered for logout are):
//! - a sign-out at idbridge sends each of them, in a frame of the sign-out page, a signed
//!   LogoutRequest naming the person as its assertion did and the session (`SessionIndex`);
//! - an SP's signed LogoutRequest at `/saml/idp/slo` ends the session it names, if that SP was
//!   told of it; when that is the browser's session, its other parties are told as at a
//!   sign-out here (`signout`), and the browser goes back with a signed LogoutResponse.
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use openssl::pkey::{PKey, Private};
use url::Url;

use super::{SamlIdpError, count, idp_entity_id, name_id_for};
use crate::config::{NameIdFormat, ServiceProviderDecl};
use crate::http::{ClientAddr, PageError, cookies};
use crate::session::current_session;
use crate::signout;
use crate::state::AppState;
use crate::store::User;
use crate::upstream::saml::xml::{LogoutRequest, LogoutResponse, logout_fields};
use crate::upstream::saml::{STATUS_SUCCESS, instant, public_keys, redirect, scan};

const MAX_LOGOUT_BYTES: usize = 64 * 1024;
/// How far a LogoutRequest's IssueInstant may be from now, in seconds.
const MAX_AGE: i64 = 600;

/// The signing key of `sp`'s messages, as openssl takes it.
async fn signing_key(
    state: &AppState,
    sp: &ServiceProviderDecl,
) -> Result<PKey<Private>, PageError> {
    let key = state
        .keys
        .xml_signer(sp.signature_alg, state.clock.now())
        .await
        .map_err(|e| PageError::Internal(format!("no key signs SAML messages: {e}")))?;
    let der = key
        .xml_signing
        .as_ref()
        .map(|xml| xml.key_der())
        .unwrap_or_default();
    PKey::private_key_from_der(der).map_err(|e| PageError::Internal(e.to_string()))
}

/// The frames of the sign-out page that tell the SPs among `heard` (those told of the ended
/// session `sid` of `user`) that it ended. An SP given transient NameIDs is left out: the
/// NameID it was given is not kept.
pub async fn frames(state: &AppState, heard: &[String], user: &User, sid: &str) -> Vec<Url> {
    let directory = state.directory();
    let mut frames = Vec::new();
    for sp in heard
        .iter()
        .filter_map(|id| directory.service_providers.get(id)?.current())
    {
        let Some(slo) = &sp.slo else { continue };
        if sp.name_id_format == NameIdFormat::Transient {
            continue;
        }
        let key = match signing_key(state, &sp).await {
            Ok(key) => key,
            Err(error) => {
                tracing::warn!(service_provider = %sp.id, %error, "SAML logout not sent");
                continue;
            }
        };
        let now = state.clock.now();
        let id = format!("_{}", crate::crypto::random_token());
        let request = LogoutRequest {
            id: &id,
            issue_instant: &instant(now),
            destination: &slo.location,
            issuer: &idp_entity_id(state),
            name_id: &name_id_for(state, &sp, user),
            name_id_format: Some(sp.name_id_format.uri()),
            session_index: Some(sid),
        };
        match redirect::url(
            &slo.location,
            "SAMLRequest",
            &request.to_xml(),
            None,
            Some(&key),
        )
        .ok()
        .and_then(|url| Url::parse(&url).ok())
        {
            Some(url) => frames.push(url),
            None => tracing::warn!(service_provider = %sp.id, "SAML logout request not made"),
        }
    }
    frames
}

/// `GET /saml/idp/slo`: an SP's LogoutRequest, or an SP's answer to one of idbridge's (which
/// ends nothing: the frame that carried it is done).
pub(super) async fn serve(
    State(state): State<AppState>,
    axum::Extension(ClientAddr(client)): axum::Extension<ClientAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = query.unwrap_or_default();
    if query
        .split('&')
        .any(|pair| pair.starts_with("SAMLResponse="))
    {
        return Ok("signed out".into_response());
    }
    count(&state, client)?;
    let unreadable = SamlIdpError::Unreadable;
    let unchecked = redirect::received(&query, "SAMLRequest", &[], false, MAX_LOGOUT_BYTES)
        .map_err(unreadable)?;
    let outline = scan::scan(&unchecked.xml, scan::Message::LogoutRequest).map_err(unreadable)?;
    let issuer = logout_fields(outline.xml)
        .map_err(unreadable)?
        .issuer
        .ok_or(unreadable("the request names no Issuer"))?;
    let sp = super::in_force(state.directory().service_provider_of(&issuer))?;
    let Some(slo) = &sp.slo else {
        return Err(SamlIdpError::Unreadable("the SP takes no part in single logout").into());
    };
    // Logout messages are always signed: anyone could otherwise end a session it names.
    let received = redirect::verified(
        &query,
        "SAMLRequest",
        &public_keys(&sp.signing_certificates),
        MAX_LOGOUT_BYTES,
    )
    .map_err(SamlIdpError::Signature)?;
    let outline = scan::scan(&received.xml, scan::Message::LogoutRequest).map_err(unreadable)?;
    let fields = logout_fields(outline.xml).map_err(unreadable)?;
    let slo_url = format!("{}/saml/idp/slo", state.server().issuer);
    if fields.issuer.as_deref() != Some(sp.entity_id.as_str()) {
        return Err(SamlIdpError::Signature("the signed request names another Issuer").into());
    }
    if fields.destination.as_deref() != Some(slo_url.as_str()) {
        return Err(
            unreadable("the request's Destination is not this IdP's logout service").into(),
        );
    }
    let now = state.clock.now();
    let issued = fields
        .issue_instant
        .as_deref()
        .and_then(|instant| chrono::DateTime::parse_from_rfc3339(instant).ok())
        .map(|instant| instant.timestamp())
        .ok_or(unreadable("the request has no readable IssueInstant"))?;
    if (issued - now).abs() > MAX_AGE {
        return Err(SamlIdpError::Stale.into());
    }
    let request_id = fields
        .id
        .clone()
        .ok_or(unreadable("the request has no ID"))?;
    let spent = state
        .store
        .spend_saml_request_id(
            &sp.id,
            crate::store::OneTimeId {
                id: request_id.clone(),
                expires_at: now + 2 * MAX_AGE,
            },
        )
        .await?;
    if !spent {
        return Err(SamlIdpError::Replayed.into());
    }
    let session = current_session(&state, &headers).await?;
    // The parties told of this browser's session, when the request ended it.
    let mut ended_here = None;
    for sid in &fields.session_indexes {
        // The SP names a session by the SessionIndex it was given; it must name the person as
        // it was given them too (not checkable for transient NameIDs, which are not kept).
        let person_matches = session.as_ref().filter(|s| &s.sid == sid).is_none_or(|s| {
            sp.name_id_format == NameIdFormat::Transient
                || fields.name_id.as_deref() == Some(name_id_for(&state, &sp, &s.user).as_str())
        });
        if !person_matches {
            continue;
        }
        let ended = state
            .store
            .end_session_told_to(sid, &sp.id, &state.config(), now)
            .await?;
        if let (Some(heard), Some(session)) = (ended, &session)
            && &session.sid == sid
        {
            ended_here = Some((session, heard));
        }
    }
    tracing::info!(service_provider = %sp.id, "SAML logout request taken");
    let key = signing_key(&state, &sp).await?;
    let destination = slo.response_location.as_deref().unwrap_or(&slo.location);
    let id = format!("_{}", crate::crypto::random_token());
    let answer = LogoutResponse {
        id: &id,
        issue_instant: &instant(now),
        destination,
        in_response_to: &request_id,
        issuer: &idp_entity_id(&state),
        status: STATUS_SUCCESS,
    };
    let url = redirect::url(
        destination,
        "SAMLResponse",
        &answer.to_xml(),
        received.relay_state.as_deref(),
        Some(&key),
    )
    .map_err(|e| PageError::Internal(e.to_string()))?;
    let Some((session, heard)) = ended_here else {
        return Ok(Redirect::to(&url).into_response());
    };
    // The session of this browser ended: its other parties are told as at a sign-out here, and
    // the answer reaches the SP after the upstream provider, if it is asked too.
    let mut frames = signout::frontchannel_frames(&state, &heard, &session.sid);
    frames.extend(self::frames(&state, &heard, &session.user, &session.sid).await);
    let target = signout::upstream_logout(&state, session.upstream.as_ref(), Some(&url))
        .await?
        .unwrap_or(url);
    let clear = cookies::set(&state, cookies::SESSION, "", Some(0));
    let response = signout::redirect_clearing(&target, &clear);
    Ok(signout::through_frames(response, &frames))
}
