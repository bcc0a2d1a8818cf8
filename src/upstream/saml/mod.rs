//! SAML 2.0 connections (SPEC section 5): idbridge as a service provider of a customer's IdP.
//!
//! samael (over libxmlsec1) checks XML signatures and hands back only the signed content; it is
//! not a policy, so every other check is made here and fails closed:
//! - the document is read first by a strict parser ([`scan`]) that refuses anything libxml2
//!   could read otherwise, more than one assertion (encrypted or not), and every signature not
//!   of the one shape SAML uses (libxmlsec1 would run its transforms before checking it);
//! - an encrypted assertion ([`encrypted`]) is decrypted with the connection's keys and put in
//!   the Response in its place, where it is read as strictly and must carry its own signature;
//!   then it is checked as any other. A connection may require encryption;
//! - signatures are verified only with the configured IdP certificates, with SHA-256 or stronger
//!   (SHA-1 is refused);
//! - in the signed assertion: Issuer, Audience (required, in every AudienceRestriction),
//!   NotBefore / NotOnOrAfter, a bearer SubjectConfirmation with our ACS as Recipient, its
//!   NotOnOrAfter (required), and its InResponseTo, which must be the outstanding request (or
//!   absent, for an IdP-initiated login the connection allows); the caller then spends the
//!   assertion ID once.
//!
//! Single logout, both ways, is [`logout`].
mod assertion;
mod encrypted;
mod limits;
mod logout;
pub(crate) mod redirect;
pub(crate) mod scan;
pub(crate) mod xml;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use openssl::pkey::{PKey, Private, Public};
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoError, CryptoProvider, ReduceMode,
};
use samael::schema::{AuthnRequest, Issuer, NameIdPolicy};
use samael::traits::ToXml;

use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use super::http::fetch_metadata;
use super::{
    Admission, Answer, AnswerRoute, Connector, Context, FrontChannel, Identity, LoginRequest,
    Outgoing, UpstreamError, Working,
};
use crate::config::{
    ConnectionDecl, IdpDescriptor, IdpSource, LogoutService, SamlConnectionDecl, SpSigning,
};
use crate::crypto;
use crate::store::{KeptLogin, OneTimeId, Profile, SentLogout, UpstreamProfile, UpstreamSession};
pub use limits::SamlLimits;

/// The first segment of SAML connections' routes.
const KIND: &str = "saml";

pub(crate) const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
pub(super) const POST_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
/// How old an assertion may be when it arrives (besides the clock skew).
const MAX_ASSERTION_AGE: i64 = 300;

/// The person a verified assertion names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlIdentity {
    pub name_id: String,
    pub email: String,
    pub name: String,
    /// The NameID's Format, if it says: a LogoutRequest names the person the same way.
    pub name_id_format: Option<String>,
    /// The IdP's session (the AuthnStatement's SessionIndex), if it names one.
    pub session_index: Option<String>,
    /// The entities the connection maps the person to.
    pub entity_ids: Vec<String>,
    pub profile: Profile,
    pub assertion_id: String,
    /// Until when the assertion could be presented: how long its ID is remembered.
    pub expires_at: i64,
}

/// A SAML connection: the service provider idbridge is to its IdP, and the limits its answers
/// share with every other SAML connection's.
pub struct SamlConnector {
    sp: Arc<Sp>,
    limits: Arc<SamlLimits>,
}

/// What verifying a response needs; shared with the blocking task that verifies.
struct Sp {
    connection: ConnectionDecl,
    settings: SamlConnectionDecl,
    acs_url: String,
    /// Our SingleLogoutService: where the IdP sends LogoutRequests.
    slo_url: String,
    /// Where the IdP sends its LogoutResponse to ours.
    logged_out_url: String,
    /// The IdP as last read; `None` until metadata from a URL has been fetched.
    idp: RwLock<Option<Arc<Idp>>>,
    /// Signs AuthnRequests, when the connection has a key.
    signing_key: Option<PKey<Private>>,
    /// Decrypt encrypted assertions (the current key, and the previous one in a rollover).
    encryption_keys: Vec<PKey<Private>>,
}

impl Connector for SamlConnector {
    fn id(&self) -> &str {
        &self.sp.connection.id
    }

    fn name(&self) -> &str {
        &self.sp.connection.name
    }

    fn domains(&self) -> &[String] {
        &self.sp.connection.domains
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    fn answer_route(&self) -> AnswerRoute {
        AnswerRoute::CrossSitePost {
            unsolicited: self.sp.settings.allow_idp_initiated,
        }
    }

    /// An AuthnRequest (HTTP-Redirect binding), with a fresh request ID and RelayState.
    fn begin<'a>(
        &'a self,
        request: &'a LoginRequest<'a>,
        now: i64,
    ) -> Working<'a, Result<Outgoing, UpstreamError>> {
        Box::pin(async move {
            // xs:ID must start with a letter.
            let request_id = format!("id-{}", crypto::random_token());
            let relay_state = crypto::random_token();
            let url = self
                .sp
                .authn_request_url(&request_id, &relay_state, request.force, now)?;
            Ok(Outgoing {
                url,
                state: relay_state,
                nonce: None,
                pkce_verifier: None,
                request_id: Some(request_id),
            })
        })
    }

    /// Counts the post against its address (see [`limits`]).
    fn count_sender(&self, client: IpAddr) -> Result<(), UpstreamError> {
        if !self.limits.count_post(client, Instant::now()) {
            return Err(UpstreamError::TooManyResponses {
                connection: self.sp.connection.id.clone(),
            });
        }
        Ok(())
    }

    /// Waits a bounded time for a verification turn (see [`limits`]).
    fn admit<'a>(&'a self, answer: &'a Answer) -> Working<'a, Result<Admission, UpstreamError>> {
        Box::pin(async move {
            let connection = self.sp.connection.id.clone();
            if answer.param(SAML_RESPONSE).is_none() {
                return Err(UpstreamError::NoSamlResponse { connection });
            }
            let turn = self.limits.turn().await;
            let turn = turn.ok_or(UpstreamError::Busy { connection })?;
            Ok(Some(Box::new(turn) as Box<dyn Send>))
        })
    }

    /// Verifies the posted `SAMLResponse` off the async threads, as an answer to the kept
    /// AuthnRequest (or, without one, as IdP-initiated).
    fn complete<'a>(
        &'a self,
        answer: &'a Answer,
        kept: Option<&'a KeptLogin>,
        _context: &'a Context<'a>,
        admission: Admission,
    ) -> Working<'a, Result<Identity, UpstreamError>> {
        Box::pin(async move {
            let saml_response = answer.param(SAML_RESPONSE).unwrap_or_default().to_string();
            let request_id = kept.and_then(|login| login.sent.request_id.clone());
            let now = answer.now;
            let sp = self.sp.clone();
            // The turn goes with the work: it ends when the verification does, even if this
            // request is dropped first.
            let verified = logout::off_the_async_threads(&self.sp, move || {
                let verified = sp.verify(&saml_response, request_id.as_deref(), now);
                drop(admission);
                verified
            })
            .await?;
            Ok(Identity::Vouched {
                profile: UpstreamProfile {
                    connection_id: self.sp.connection.id.clone(),
                    subject: verified.name_id,
                    email: verified.email,
                    name: verified.name,
                    entity_ids: verified.entity_ids,
                    profile: verified.profile,
                    session_index: verified.session_index,
                    // Kept to name the person as the IdP did when asking it to log them out.
                    logout_hint: verified.name_id_format,
                },
                one_time: Some(OneTimeId {
                    id: verified.assertion_id,
                    expires_at: verified.expires_at,
                }),
            })
        })
    }

    fn metadata(&self) -> Option<String> {
        Some(xml::sp_metadata(
            &self.sp.settings.sp_entity_id,
            &self.sp.acs_url,
            &self.sp.slo_url,
            &self.sp.logged_out_url,
            self.sp.settings.sp_signing.as_ref(),
            &self.sp.settings.sp_encryption,
        ))
    }

    /// A LogoutRequest to the IdP's SingleLogoutService, if it has one (see [`logout`]).
    fn begin_logout<'a>(
        &'a self,
        session: &'a UpstreamSession,
        now: i64,
    ) -> Working<'a, Result<Option<Outgoing>, UpstreamError>> {
        Box::pin(async move { self.sp.logout_request_url(session, now) })
    }

    fn finish_logout<'a>(
        &'a self,
        answer: &'a Answer,
        sent: &'a SentLogout,
    ) -> Working<'a, Result<(), UpstreamError>> {
        Box::pin(self.check_logout_response(answer, sent))
    }

    fn front_channel(&self) -> Option<&dyn FrontChannel> {
        Some(self)
    }

    /// Fetches the IdP's metadata when the connection names a URL for it (at start, and again
    /// from time to time); a failed refresh keeps what was read before.
    fn refresh(&self) -> Working<'_, Result<(), UpstreamError>> {
        Box::pin(self.sp.fetch_metadata())
    }
}

/// The form field of an HTTP-POST binding response.
const SAML_RESPONSE: &str = "SAMLResponse";

impl SamlConnector {
    /// The connector of `connection`, sharing `limits` with the other SAML connections.
    pub fn new(
        connection: ConnectionDecl,
        settings: SamlConnectionDecl,
        issuer: &str,
        limits: Arc<SamlLimits>,
    ) -> Self {
        SamlConnector {
            sp: Arc::new(Sp::new(connection, settings, issuer)),
            limits,
        }
    }

    /// Verifies a base64 `SAMLResponse` (see [`Sp::verify`]). CPU-bound.
    pub fn verify(
        &self,
        saml_response: &str,
        request_id: Option<&str>,
        now: i64,
    ) -> Result<SamlIdentity, UpstreamError> {
        self.sp.verify(saml_response, request_id, now)
    }
}

impl Sp {
    fn new(connection: ConnectionDecl, settings: SamlConnectionDecl, issuer: &str) -> Sp {
        let route = |step: &str| format!("{issuer}/{KIND}/{}/{step}", connection.id);
        let idp = match &settings.idp {
            IdpSource::Declared(descriptor) => Some(Arc::new(Idp::from(descriptor))),
            IdpSource::MetadataUrl(_) => None,
        };
        // Checked when the config was loaded.
        let private_key = |pair: &SpSigning| {
            PKey::private_key_from_pem(pair.private_key_pem.expose().as_bytes()).ok()
        };
        let signing_key = settings.sp_signing.as_ref().and_then(private_key);
        let encryption_keys = settings
            .sp_encryption
            .iter()
            .filter_map(private_key)
            .collect();
        Sp {
            acs_url: route("acs"),
            slo_url: route("slo"),
            logged_out_url: route("logged-out"),
            connection,
            settings,
            idp: RwLock::new(idp),
            signing_key,
            encryption_keys,
        }
    }

    fn idp(&self) -> Result<Arc<Idp>, UpstreamError> {
        self.idp
            .read()
            .ok()
            .and_then(|idp| idp.clone())
            .ok_or_else(|| self.rejected("the IdP's metadata has not been read"))
    }

    /// A response (or request) this connection refuses: malformed, hostile or not verifiable.
    fn rejected(&self, detail: impl Into<String>) -> UpstreamError {
        UpstreamError::Rejected {
            connection: self.connection.id.clone(),
            detail: detail.into(),
        }
    }

    /// Fetches the IdP's metadata when the connection names a URL for it (at start, and again
    /// from time to time); a failed refresh keeps what was read before.
    async fn fetch_metadata(&self) -> Result<(), UpstreamError> {
        let IdpSource::MetadataUrl(url) = &self.settings.idp else {
            return Ok(());
        };
        let failed = |detail: String| UpstreamError::Unreachable {
            connection: self.connection.id.clone(),
            detail: format!("IdP metadata from {url}: {detail}"),
        };
        let text = fetch_metadata(url).await.map_err(failed)?;
        let descriptor =
            IdpDescriptor::from_metadata(&text).map_err(|lacks| failed(lacks.join("; ")))?;
        if let Ok(mut idp) = self.idp.write() {
            *idp = Some(Arc::new(Idp::from(&descriptor)));
        }
        Ok(())
    }

    /// The IdP's URL for a new AuthnRequest `request_id` (HTTP-Redirect binding), carrying
    /// `relay_state`.
    fn authn_request_url(
        &self,
        request_id: &str,
        relay_state: &str,
        force: bool,
        now: i64,
    ) -> Result<String, UpstreamError> {
        let request = AuthnRequest {
            id: request_id.to_string(),
            issue_instant: timestamp(now),
            version: "2.0".to_string(),
            destination: Some(self.idp()?.sso_url.clone()),
            assertion_consumer_service_url: Some(self.acs_url.clone()),
            protocol_binding: Some(POST_BINDING.to_string()),
            force_authn: force.then_some(true),
            issuer: Some(Issuer {
                value: Some(self.settings.sp_entity_id.clone()),
                ..Issuer::default()
            }),
            name_id_policy: Some(NameIdPolicy {
                allow_create: Some(true),
                ..NameIdPolicy::default()
            }),
            ..AuthnRequest::default()
        };
        let destination = self.idp()?.sso_url.clone();
        request
            .to_string()
            .ok()
            .and_then(|xml| {
                redirect::url(
                    &destination,
                    "SAMLRequest",
                    &xml,
                    Some(relay_state),
                    self.signing_key.as_ref(),
                )
                .ok()
            })
            .ok_or_else(|| self.rejected("the AuthnRequest could not be encoded"))
    }

    /// Verifies a base64 `SAMLResponse` that answers `request_id` (`None`: unsolicited, which
    /// the caller allows only where the connection does). CPU-bound: run it off the async
    /// threads.
    fn verify(
        &self,
        saml_response: &str,
        request_id: Option<&str>,
        now: i64,
    ) -> Result<SamlIdentity, UpstreamError> {
        let refused = |why: &str| self.rejected(why);
        if saml_response.len() > self.settings.max_response_bytes {
            return Err(refused("the response is larger than allowed"));
        }
        let compact: String = saml_response
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let bytes = STANDARD
            .decode(compact)
            .map_err(|_| refused("SAMLResponse is not base64"))?;
        let outline = scan::scan(&bytes, scan::Message::Response).map_err(refused)?;
        if outline.status.as_deref() != Some(STATUS_SUCCESS) {
            return Err(UpstreamError::Denied {
                connection: self.connection.id.clone(),
                code: outline.status.unwrap_or_else(|| "(none)".into()),
            });
        }
        if outline
            .destination
            .as_deref()
            .is_some_and(|d| d != self.acs_url)
        {
            return Err(refused("the response's Destination is not our ACS"));
        }
        let idp = self.idp()?;
        let decrypted;
        let xml = match &outline.encrypted {
            Some(_) => {
                decrypted = self.decrypted(&idp, &outline, request_id)?;
                &decrypted
            }
            None if self.settings.require_encrypted_assertions => {
                return Err(refused(
                    "the assertion is not encrypted, and this connection requires it",
                ));
            }
            None => outline.xml,
        };
        let signed = signed_part(xml, &idp.certificates)
            .map_err(|_| refused("no valid signature by the IdP's certificate"))?;
        let assertion = self.signed_assertion(&idp, &signed, request_id)?;
        let mut identity = self.check_assertion(&idp, &assertion, request_id, now)?;
        identity.name_id_format = xml::subject_name_id_format(&signed);
        Ok(identity)
    }
}

/// What the IdP's signature covers in `xml`, exactly as it was digested (its canonical form, the
/// enveloped signature taken out), once every signature in it is verified with one of
/// `certificates`: the whole message when it is signed (the Response, whose signed assertion is
/// then inside), else the one signed element. samael's other modes rebuild the document around
/// the signed element, and when that is an assertion its `set_root_element` loses the old root
/// without freeing it: a few KiB of libxml2 memory per response, measured as steady RSS growth
/// under load.
pub(crate) fn signed_part(
    xml: &str,
    certificates: &[CertificateDer],
) -> Result<String, CryptoError> {
    Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        xml,
        certificates,
        ReduceMode::PreDigest,
        Some(&allowed_algorithms()),
    )
}

/// SHA-256 or stronger: samael has no SHA-1 entry, so a SHA-1 signature or digest is never
/// accepted.
fn allowed_algorithms() -> Vec<AllowedSignatureAlgorithm> {
    use AllowedSignatureAlgorithm as A;
    vec![
        A::RsaSha256,
        A::RsaSha384,
        A::RsaSha512,
        A::EcdsaSha256,
        A::EcdsaSha384,
        A::EcdsaSha512,
    ]
}

/// The IdP as verification uses it.
struct Idp {
    entity_id: String,
    sso_url: String,
    slo: Option<LogoutService>,
    certificates: Vec<CertificateDer>,
    /// The certificates' keys, for signatures over a query (HTTP-Redirect binding).
    public_keys: Vec<PKey<Public>>,
}

impl From<&IdpDescriptor> for Idp {
    fn from(descriptor: &IdpDescriptor) -> Idp {
        Idp {
            entity_id: descriptor.entity_id.clone(),
            sso_url: descriptor.sso_url.clone(),
            slo: descriptor.slo.clone(),
            public_keys: public_keys(&descriptor.certificates),
            certificates: certificates(&descriptor.certificates),
        }
    }
}

/// A peer's signing certificates (DER) as XML-signature verification takes them.
pub(crate) fn certificates(ders: &[Vec<u8>]) -> Vec<CertificateDer> {
    ders.iter()
        .map(|der| CertificateDer::from(der.clone()))
        .collect()
}

/// The keys of a peer's signing certificates (DER), for signatures over a query
/// (HTTP-Redirect binding).
pub(crate) fn public_keys(ders: &[Vec<u8>]) -> Vec<PKey<Public>> {
    ders.iter()
        .filter_map(|der| openssl::x509::X509::from_der(der).ok()?.public_key().ok())
        .collect()
}

fn timestamp(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or(DateTime::UNIX_EPOCH)
}

/// A SAML timestamp (xs:dateTime in UTC, whole seconds).
pub(crate) fn instant(seconds: i64) -> String {
    timestamp(seconds).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
