//! What a signed response says: its one assertion, checked (Issuer, age, Conditions, a bearer
//! SubjectConfirmation for this request), and the person it names.
use samael::schema::{Assertion, Conditions, Response, Subject};

use super::{BEARER, Idp, MAX_ASSERTION_AGE, SamlIdentity, Sp, xml};
use crate::upstream::{UpstreamError, mapping};

impl Sp {
    /// The assertion in the signed content: the signed Response's, or the signed Assertion.
    pub(super) fn signed_assertion(
        &self,
        idp: &Idp,
        signed: &str,
        request_id: Option<&str>,
    ) -> Result<Assertion, UpstreamError> {
        let refused = |why: &str| self.rejected(why);
        match xml::root_element(signed).as_deref() {
            Some("Response") => self
                .signed_response(idp, signed, request_id)?
                .assertion
                .ok_or_else(|| refused("the signed response has no assertion")),
            Some("Assertion") => signed
                .parse()
                .map_err(|_| refused("the signed assertion cannot be read")),
            _ => Err(refused(
                "the signed content is neither a response nor an assertion",
            )),
        }
    }

    /// The signed Response `signed`, once its Issuer (if it names one) is the IdP and it answers
    /// `request_id` (if it says).
    pub(super) fn signed_response(
        &self,
        idp: &Idp,
        signed: &str,
        request_id: Option<&str>,
    ) -> Result<Response, UpstreamError> {
        let refused = |why: &str| self.rejected(why);
        let response: Response = signed
            .parse()
            .map_err(|_| refused("the signed response cannot be read"))?;
        if let Some(issuer) = &response.issuer
            && issuer.value.as_deref() != Some(idp.entity_id.as_str())
        {
            return Err(refused("the response's Issuer is not the IdP"));
        }
        if response.in_response_to.is_some() && response.in_response_to.as_deref() != request_id {
            return Err(refused("the response answers another request"));
        }
        Ok(response)
    }

    /// Checks a signed assertion as the module's documentation says; who it names.
    pub(super) fn check_assertion(
        &self,
        idp: &Idp,
        assertion: &Assertion,
        request_id: Option<&str>,
        now: i64,
    ) -> Result<SamlIdentity, UpstreamError> {
        let skew = self.settings.clock_skew;
        if assertion.issuer.value.as_deref() != Some(idp.entity_id.as_str()) {
            return Err(self.rejected("the assertion's Issuer is not the IdP"));
        }
        let issued = assertion.issue_instant.timestamp();
        if issued > now + skew || issued + MAX_ASSERTION_AGE + skew < now {
            return Err(self.rejected("the assertion was issued too long ago or in the future"));
        }
        if assertion.id.is_empty() {
            return Err(self.rejected("the assertion has no ID"));
        }
        let valid_until = self.check_conditions(assertion.conditions.as_ref(), now)?;
        let Some(subject) = &assertion.subject else {
            return Err(self.rejected("the assertion has no Subject"));
        };
        let (name_id, confirmed_until) = self.confirmed_subject(subject, request_id, now)?;
        let (email, name) = self.email_and_name(assertion, &name_id)?;
        let values = |name: &str| attribute_values(assertion, name);
        let entity_ids = mapping::entities(&self.connection, &values)?;
        let profile = mapping::profile(&self.settings.profile_attributes, &values);
        let session_index = assertion
            .authn_statements
            .iter()
            .flatten()
            .find_map(|statement| statement.session_index.clone())
            .filter(|index| !index.is_empty());
        Ok(SamlIdentity {
            name_id,
            email,
            name,
            name_id_format: None,
            session_index,
            entity_ids,
            profile,
            assertion_id: assertion.id.clone(),
            expires_at: valid_until.map_or(confirmed_until, |t| t.min(confirmed_until)) + skew,
        })
    }

    /// Checks the assertion's Conditions: there, in their time (with the clock skew), and
    /// addressed to us; until when they hold, if they say.
    fn check_conditions(
        &self,
        conditions: Option<&Conditions>,
        now: i64,
    ) -> Result<Option<i64>, UpstreamError> {
        let refused = |why: &str| Err(self.rejected(why));
        let skew = self.settings.clock_skew;
        let Some(conditions) = conditions else {
            return refused("the assertion has no Conditions");
        };
        if conditions
            .not_before
            .is_some_and(|t| t.timestamp() > now + skew)
        {
            return refused("the assertion is not valid yet");
        }
        let until = conditions.not_on_or_after.map(|t| t.timestamp());
        if until.is_some_and(|t| t + skew <= now) {
            return refused("the assertion has expired");
        }
        // Each restriction must name us (SAML core 2.5.1.4: the assertion is addressed to the
        // intersection of their audiences).
        let restrictions = conditions
            .audience_restrictions
            .as_deref()
            .unwrap_or_default();
        let for_us = !restrictions.is_empty()
            && restrictions
                .iter()
                .all(|r| r.audience.contains(&self.settings.sp_entity_id));
        if !for_us {
            return refused("the assertion's Audience is not us");
        }
        Ok(until)
    }

    /// The Subject's NameID, once a bearer SubjectConfirmation names our ACS and the request
    /// `request_id` and holds now; until when it holds.
    fn confirmed_subject(
        &self,
        subject: &Subject,
        request_id: Option<&str>,
        now: i64,
    ) -> Result<(String, i64), UpstreamError> {
        let skew = self.settings.clock_skew;
        let name_id = subject
            .name_id
            .as_ref()
            .map(|n| n.value.trim().to_string())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| self.rejected("the assertion has no NameID"))?;
        let confirmed_until = subject
            .subject_confirmations
            .iter()
            .flatten()
            .filter(|c| c.method.as_deref() == Some(BEARER))
            .filter_map(|c| c.subject_confirmation_data.as_ref())
            .filter(|data| data.recipient.as_deref() == Some(self.acs_url.as_str()))
            .filter(|data| data.in_response_to.as_deref() == request_id)
            .filter(|data| data.not_before.is_none_or(|t| t.timestamp() <= now + skew))
            .filter_map(|data| data.not_on_or_after)
            .map(|t| t.timestamp())
            .find(|until| until + skew > now)
            .ok_or_else(|| {
                self.rejected(
                    "no bearer SubjectConfirmation for our ACS, this request and this time",
                )
            })?;
        Ok((name_id, confirmed_until))
    }

    /// The person's email address (the configured attribute, or the NameID) and display name
    /// (the configured attribute, or the address).
    fn email_and_name(
        &self,
        assertion: &Assertion,
        name_id: &str,
    ) -> Result<(String, String), UpstreamError> {
        let attribute = |wanted: &str| {
            attribute_values(assertion, wanted)
                .into_iter()
                .map(|v| v.trim().to_string())
                .find(|v| !v.is_empty())
        };
        let email = match &self.settings.email_attribute {
            Some(name) => attribute(name),
            None => Some(name_id.to_string()),
        }
        .filter(|email| crate::config::is_plausible_email(email))
        .ok_or_else(|| self.rejected("the assertion carries no email address"))?;
        let name = self
            .settings
            .name_attribute
            .as_deref()
            .and_then(attribute)
            .unwrap_or_else(|| email.clone());
        Ok((email, name))
    }
}

/// Every value of the assertion's attribute `wanted` (by Name or FriendlyName), in order.
fn attribute_values(assertion: &Assertion, wanted: &str) -> Vec<String> {
    assertion
        .attribute_statements
        .iter()
        .flatten()
        .flat_map(|s| &s.attributes)
        .filter(|a| a.name.as_deref() == Some(wanted) || a.friendly_name.as_deref() == Some(wanted))
        .flat_map(|a| a.values.iter().filter_map(|v| v.value.clone()))
        .collect()
}
