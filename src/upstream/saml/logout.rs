//! Single logout with the IdP (SAML profiles 4.4), both ways:
//! - a person who signs out of a session that came from the IdP is sent there with a
//!   LogoutRequest (HTTP-Redirect, signed with the connection's key when it has one) naming the
//!   login's NameID and SessionIndex; the IdP's LogoutResponse comes back to
//!   `/saml/{c}/logged-out` and must be signed by the IdP, issued by it, and answer that request;
//! - a LogoutRequest from the IdP at `/saml/{c}/slo` (HTTP-Redirect or HTTP-POST) is checked as
//!   strictly as an assertion: read by [`super::scan`], signed by the IdP's certificate with
//!   SHA-256 or stronger, issued by the IdP, addressed to that endpoint, recent, naming a
//!   person; the caller spends its ID once and ends the sessions it names, and the browser takes
//!   a LogoutResponse (signed when the connection has a key) back to the IdP.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::DateTime;

use super::scan::{self, Message};
use super::xml::{self, LogoutFields, LogoutRequest, LogoutResponse};
use super::{MAX_ASSERTION_AGE, STATUS_SUCCESS, SamlConnector, Sp, instant, redirect, signed_part};
use crate::crypto;
use crate::store::{OneTimeId, SentLogout, UpstreamSession};
use crate::upstream::{
    Answer, AskedLogout, EndedUpstream, FrontChannel, Outgoing, UpstreamError, Working,
};

const SAML_REQUEST: &str = "SAMLRequest";
const SAML_RESPONSE: &str = "SAMLResponse";
/// The largest logout message read, inflated or as posted: a few kilobytes in practice.
pub(super) const MAX_LOGOUT_BYTES: usize = 64 * 1024;
/// The longest RelayState given back (SAML bindings 3.4.3 allows 80 bytes; some IdPs send more).
const MAX_RELAY_STATE: usize = 1024;

impl FrontChannel for SamlConnector {
    fn verify_logout_request<'a>(
        &'a self,
        answer: &'a Answer,
    ) -> Working<'a, Result<AskedLogout, UpstreamError>> {
        let sp = self.sp.clone();
        let answer = answer.clone();
        Box::pin(async move {
            let connection = self.sp.connection.id.clone();
            let turn = self.limits.turn().await;
            let turn = turn.ok_or(UpstreamError::Busy { connection })?;
            off_the_async_threads(&self.sp, move || {
                let asked = sp.check_logout_request(&answer);
                drop(turn);
                asked
            })
            .await
        })
    }

    fn logout_answer(
        &self,
        asked: &AskedLogout,
        now: i64,
    ) -> Result<Option<String>, UpstreamError> {
        self.sp.logout_response_url(asked, now)
    }
}

impl SamlConnector {
    /// Checks the IdP's LogoutResponse to the LogoutRequest `sent` (see [`Sp::check_logout_response`]).
    pub(super) async fn check_logout_response(
        &self,
        answer: &Answer,
        sent: &SentLogout,
    ) -> Result<(), UpstreamError> {
        let sp = self.sp.clone();
        let answer = answer.clone();
        let sent = sent.clone();
        off_the_async_threads(&self.sp, move || sp.check_logout_response(&answer, &sent)).await
    }
}

/// Runs a check that may verify an XML signature (CPU-bound) on the blocking threads.
pub(super) async fn off_the_async_threads<T: Send + 'static>(
    sp: &Sp,
    check: impl FnOnce() -> Result<T, UpstreamError> + Send + 'static,
) -> Result<T, UpstreamError> {
    tokio::task::spawn_blocking(check)
        .await
        .map_err(|e| UpstreamError::Corrupt {
            connection: sp.connection.id.clone(),
            detail: format!("SAML verification task: {e}"),
        })?
}

impl Sp {
    /// Where the browser goes so that the IdP ends the session behind `session`, with a fresh
    /// request ID and RelayState; `None` when the IdP has no SingleLogoutService.
    pub(super) fn logout_request_url(
        &self,
        session: &UpstreamSession,
        now: i64,
    ) -> Result<Option<Outgoing>, UpstreamError> {
        let idp = self.idp()?;
        let Some(service) = &idp.slo else {
            return Ok(None);
        };
        // xs:ID must start with a letter.
        let request_id = format!("id-{}", crypto::random_token());
        let relay_state = crypto::random_token();
        let request = LogoutRequest {
            id: &request_id,
            issue_instant: &instant(now),
            destination: &service.location,
            issuer: &self.settings.sp_entity_id,
            name_id: &session.subject,
            name_id_format: session.logout_hint.as_deref(),
            session_index: session.session_index.as_deref(),
        };
        let url = redirect::url(
            &service.location,
            SAML_REQUEST,
            &request.to_xml(),
            Some(&relay_state),
            self.signing_key.as_ref(),
        )
        .map_err(|e| self.rejected(format!("the LogoutRequest could not be signed: {e}")))?;
        Ok(Some(Outgoing {
            url,
            state: relay_state,
            request_id: Some(request_id),
            ..Outgoing::default()
        }))
    }

    /// Checks a LogoutResponse: signed by the IdP, issued by it, answering the request `sent`,
    /// addressed (if it says) to us. A status other than success is logged: idbridge's own
    /// session has ended either way.
    fn check_logout_response(
        &self,
        answer: &Answer,
        sent: &SentLogout,
    ) -> Result<(), UpstreamError> {
        let (fields, _) = self.received(answer, SAML_RESPONSE, Message::LogoutResponse)?;
        if fields.in_response_to.is_none() || fields.in_response_to != sent.request_id {
            return Err(self.logout_refused("the LogoutResponse answers another request"));
        }
        let ours = [&self.logged_out_url, &self.slo_url];
        if fields
            .destination
            .as_ref()
            .is_some_and(|d| !ours.contains(&d))
        {
            return Err(self.logout_refused("the LogoutResponse's Destination is not ours"));
        }
        if fields.status.as_deref() != Some(STATUS_SUCCESS) {
            tracing::warn!(
                connection = %self.connection.id,
                status = fields.status.as_deref().unwrap_or("(none)"),
                "the IdP did not end every session"
            );
        }
        Ok(())
    }

    /// Checks a LogoutRequest from the IdP: signed by it (see [`Sp::received`]), issued by it,
    /// addressed to our SingleLogoutService, issued within [`MAX_ASSERTION_AGE`] (and its
    /// NotOnOrAfter, if any, not passed), naming a person. The sessions it ends: the person's of
    /// that SessionIndex, or all of theirs here when it names none or several.
    fn check_logout_request(&self, answer: &Answer) -> Result<AskedLogout, UpstreamError> {
        let (fields, relay_state) = self.received(answer, SAML_REQUEST, Message::LogoutRequest)?;
        let refused = |why: &str| Err(self.logout_refused(why));
        if fields.destination.as_deref() != Some(self.slo_url.as_str()) {
            return refused("the LogoutRequest's Destination is not our SingleLogoutService");
        }
        let skew = self.settings.clock_skew;
        let now = answer.now;
        let Some(issued) = time(fields.issue_instant.as_deref()) else {
            return refused("the LogoutRequest has no IssueInstant");
        };
        if issued > now + skew || issued + MAX_ASSERTION_AGE + skew < now {
            return refused("the LogoutRequest was issued too long ago or in the future");
        }
        if fields.not_on_or_after.is_some() {
            match time(fields.not_on_or_after.as_deref()) {
                Some(until) if until + skew > now => {}
                _ => return refused("the LogoutRequest has expired"),
            }
        }
        if relay_state
            .as_ref()
            .is_some_and(|r| r.len() > MAX_RELAY_STATE)
        {
            return refused("the RelayState is too long");
        }
        let LogoutFields {
            id: Some(id),
            name_id: Some(name_id),
            session_indexes,
            ..
        } = fields
        else {
            return refused("the LogoutRequest has no ID or no NameID");
        };
        let session_index = match <[String; 1]>::try_from(session_indexes) {
            Ok([index]) => Some(index),
            Err(_) => None,
        };
        Ok(AskedLogout {
            ended: EndedUpstream {
                subject: Some(name_id),
                session_index,
                one_time: OneTimeId {
                    id: id.clone(),
                    // Later, the age check refuses it.
                    expires_at: issued + MAX_ASSERTION_AGE + 2 * skew + 1,
                },
            },
            request_id: id,
            relay_state,
        })
    }

    /// Where the browser takes our LogoutResponse to `asked`: the IdP's SingleLogoutService (its
    /// ResponseLocation, if it has one). `None` when the IdP has none.
    fn logout_response_url(
        &self,
        asked: &AskedLogout,
        now: i64,
    ) -> Result<Option<String>, UpstreamError> {
        let idp = self.idp()?;
        let Some(service) = &idp.slo else {
            return Ok(None);
        };
        let destination = service
            .response_location
            .as_deref()
            .unwrap_or(&service.location);
        let response = LogoutResponse {
            id: &format!("id-{}", crypto::random_token()),
            issue_instant: &instant(now),
            destination,
            in_response_to: &asked.request_id,
            issuer: &self.settings.sp_entity_id,
            status: STATUS_SUCCESS,
        };
        redirect::url(
            destination,
            SAML_RESPONSE,
            &response.to_xml(),
            asked.relay_state.as_deref(),
            self.signing_key.as_ref(),
        )
        .map(Some)
        .map_err(|e| self.rejected(format!("the LogoutResponse could not be signed: {e}")))
    }

    /// The logout message in `field` of `answer`, signed by the IdP and issued by it: by
    /// HTTP-Redirect (a GET: the signature over the query as sent) or HTTP-POST (an enveloped
    /// XML signature over the whole message, after the strict reading); its fields and the
    /// RelayState.
    fn received(
        &self,
        answer: &Answer,
        field: &str,
        message: Message,
    ) -> Result<(LogoutFields, Option<String>), UpstreamError> {
        let refused = |why: &str| self.logout_refused(why);
        let idp = self.idp()?;
        let signed_xml;
        let (fields, relay_state) = match &answer.query {
            Some(query) => {
                let received = redirect::verified(query, field, &idp.public_keys, MAX_LOGOUT_BYTES)
                    .map_err(refused)?;
                let outline = scan::scan(&received.xml, message).map_err(refused)?;
                let fields = xml::logout_fields(outline.xml).map_err(refused)?;
                (fields, received.relay_state)
            }
            None => {
                let posted = answer
                    .param(field)
                    .ok_or_else(|| refused("the message is missing"))?;
                if posted.len() > MAX_LOGOUT_BYTES {
                    return Err(refused("the message is larger than allowed"));
                }
                let compact: String = posted.chars().filter(|c| !c.is_whitespace()).collect();
                let bytes = STANDARD
                    .decode(compact)
                    .map_err(|_| refused("the message is not base64"))?;
                let outline = scan::scan(&bytes, message).map_err(refused)?;
                signed_xml = signed_part(outline.xml, &idp.certificates)
                    .map_err(|_| refused("no valid signature by the IdP's certificate"))?;
                // The signature must cover the whole message, not a part of it.
                let root = xml::root_element(&signed_xml);
                let whole = matches!(
                    (root.as_deref(), message),
                    (Some("LogoutRequest"), Message::LogoutRequest)
                        | (Some("LogoutResponse"), Message::LogoutResponse)
                );
                if !whole {
                    return Err(refused("the signature does not cover the whole message"));
                }
                let fields = xml::logout_fields(&signed_xml).map_err(refused)?;
                (
                    fields,
                    answer.param(redirect::RELAY_STATE).map(str::to_string),
                )
            }
        };
        if fields.issuer.as_deref() != Some(idp.entity_id.as_str()) {
            return Err(refused("the message's Issuer is not the IdP"));
        }
        Ok((fields, relay_state))
    }

    fn logout_refused(&self, detail: &str) -> UpstreamError {
        UpstreamError::LogoutRefused {
            connection: self.connection.id.clone(),
            detail: detail.to_string(),
        }
    }
}

/// The Unix time of an xs:dateTime, if it is one.
fn time(value: Option<&str>) -> Option<i64> {
    DateTime::parse_from_rfc3339(value?)
        .ok()
        .map(|t| t.timestamp())
}
