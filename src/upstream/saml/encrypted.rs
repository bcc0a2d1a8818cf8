//! An encrypted assertion (`saml:EncryptedAssertion`): decrypted with the connection's keys and
//! put back in the Response in its place, so that it is then verified and checked exactly as a
//! plain one.
//!
//! A signature on the Response covers only the ciphertext, and AES-CBC (which old IdPs use) does
//! not authenticate it: the decrypted assertion must carry its own signature, by the IdP.
use super::scan::{self, Message, Outline};
use super::{Idp, Sp, signed_part};
use crate::upstream::UpstreamError;
use crate::xmlenc;

impl Sp {
    /// The Response of `outline` with its EncryptedAssertion replaced by the assertion it
    /// decrypts to, once that has been read strictly and is signed, and without the Response's
    /// own signature (which covers the ciphertext, and is verified here first when there is
    /// one). What is left to verify: the assertion's signature and everything it says.
    pub(super) fn decrypted(
        &self,
        idp: &Idp,
        outline: &Outline,
        request_id: Option<&str>,
    ) -> Result<String, UpstreamError> {
        let refused = |why: &str| self.rejected(why);
        let Some(encrypted) = outline.encrypted.clone() else {
            return Err(refused("the response has no encrypted assertion"));
        };
        if self.encryption_keys.is_empty() {
            return Err(refused(
                "the assertion is encrypted, and this connection has no key to decrypt it",
            ));
        }
        // A signature that is there must hold, and so must what it says of the Response.
        let response_signature = outline.root_signature.clone();
        if response_signature.is_some() {
            let signed = signed_part(outline.xml, &idp.certificates)
                .map_err(|_| refused("no valid signature by the IdP's certificate"))?;
            self.signed_response(idp, &signed, request_id)?;
        }
        let assertion = xmlenc::decrypt(outline.xml, encrypted.start, &self.encryption_keys)
            .map_err(|e| self.rejected(format!("the encrypted assertion: {e}")))?;
        let assertion = String::from_utf8(assertion)
            .map_err(|_| refused("the decrypted assertion is not UTF-8"))?;
        // In its place in the Response, so that prefixes declared there resolve as the IdP
        // meant (the signature over it is of its exclusive canonical form, which the place does
        // not change).
        let xml = outline.xml;
        let mut cuts = [
            (response_signature, ""),
            (Some(encrypted), assertion.as_str()),
        ];
        cuts.sort_by_key(|(cut, _)| cut.as_ref().map(|cut| cut.start));
        let mut plain = String::with_capacity(xml.len() + assertion.len());
        let mut at = 0;
        for (cut, insert) in cuts {
            let Some(cut) = cut else { continue };
            plain.push_str(&xml[at..cut.start]);
            plain.push_str(insert);
            at = cut.end;
        }
        plain.push_str(&xml[at..]);
        let inner = scan::scan(plain.as_bytes(), Message::Response)
            .map_err(|why| self.rejected(format!("the decrypted assertion: {why}")))?;
        // What was encrypted must be one assertion, not a signature for the Response beside it.
        if inner.encrypted.is_some() || inner.root_signature.is_some() {
            return Err(refused("the encrypted content is not one assertion"));
        }
        if !inner.assertion_signed {
            return Err(refused(
                "the decrypted assertion is not signed: a signature on the Response covers only its ciphertext",
            ));
        }
        Ok(plain)
    }
}
