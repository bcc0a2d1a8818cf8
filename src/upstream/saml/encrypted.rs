//! An encrypted assertion (`saml:EncryptedAssertion`): decrypted with the connection's keys and
//! put back in the Response in its place, so that it is then verified and checked exactly as a
//! plain one.
//!
//! A signature on the Response covers only the ciphertext, and AES-CBC (which old IdPs use) does
//! not authenticate it: the decrypted assertion must carry its own signature, by the IdP.
use quick_xml::events::{BytesStart, Event};

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
        let assertion = in_context(&xml[encrypted.clone()], &assertion);
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

/// `assertion` with the namespace declarations of the start tag of `encrypted_assertion` that
/// it does not make itself: it was encrypted in that element's context (XML Encryption decrypts
/// an element where its EncryptedData was), and the EncryptedAssertion is replaced. Unchanged
/// when it does not start with a start tag (the strict reading then refuses it, or it has no
/// content to sign).
fn in_context(encrypted_assertion: &str, assertion: &str) -> String {
    let declarations = |tag: &BytesStart| -> Vec<(Vec<u8>, Vec<u8>)> {
        tag.attributes()
            .flatten()
            .filter(|attribute| {
                let key = attribute.key.as_ref();
                key == b"xmlns" || key.starts_with(b"xmlns:")
            })
            .map(|attribute| (attribute.key.as_ref().to_vec(), attribute.value.to_vec()))
            .collect()
    };
    let mut wrapper = quick_xml::Reader::from_str(encrypted_assertion);
    let Ok(Event::Start(wrapper)) = wrapper.read_event() else {
        return assertion.to_string();
    };
    let mut reader = quick_xml::Reader::from_str(assertion);
    let start = loop {
        match reader.read_event() {
            Ok(Event::Start(start)) => break start,
            Ok(Event::Text(text)) if text.iter().all(u8::is_ascii_whitespace) => {}
            _ => return assertion.to_string(),
        }
    };
    let own = declarations(&start);
    let inherited: String = declarations(&wrapper)
        .into_iter()
        .filter(|(key, _)| own.iter().all(|(own_key, _)| own_key != key))
        .map(|(key, value)| {
            // The value as the document wrote it, quoted so that it stays one value.
            let quote = if value.contains(&b'"') { '\'' } else { '"' };
            format!(
                " {}={quote}{}{quote}",
                String::from_utf8_lossy(&key),
                String::from_utf8_lossy(&value)
            )
        })
        .collect();
    // Just before the `>` that ends the start tag.
    let end = usize::try_from(reader.buffer_position()).unwrap_or(0);
    let Some(tag_end) = end.checked_sub(1) else {
        return assertion.to_string();
    };
    format!(
        "{}{inherited}{}",
        &assertion[..tag_end],
        &assertion[tag_end..]
    )
}
