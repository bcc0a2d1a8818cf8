//! The HTTP-Redirect binding (SAML bindings 3.4): a message deflated, base64-encoded and put in
//! the query string. Its signature (3.4.4.1) is over the query parameters exactly as they were
//! sent, so a received one is checked on the raw query, never on values decoded and encoded
//! again (senders differ in how they percent-encode).
use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::sign::{Signer, Verifier};
use url::form_urlencoded;

pub(super) const RELAY_STATE: &str = "RelayState";
const SIG_ALG: &str = "SigAlg";
const SIGNATURE: &str = "Signature";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";

/// The URL that carries `xml` as the query parameter `field` (`SAMLRequest`, `SAMLResponse`) to
/// `endpoint`, with `relay_state`, signed with `key` (RSA or EC, SHA-256) when there is one.
pub(crate) fn url(
    endpoint: &str,
    field: &str,
    xml: &str,
    relay_state: Option<&str>,
    key: Option<&PKey<Private>>,
) -> Result<String, openssl::error::ErrorStack> {
    let mut deflated = Vec::new();
    {
        let mut encoder = DeflateEncoder::new(&mut deflated, Compression::default());
        // Writing to a Vec cannot fail.
        let _ = encoder.write_all(xml.as_bytes());
    }
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair(field, &STANDARD.encode(&deflated));
    if let Some(relay_state) = relay_state {
        query.append_pair(RELAY_STATE, relay_state);
    }
    if let Some(key) = key {
        let is_ec = key.ec_key().is_ok();
        query.append_pair(SIG_ALG, if is_ec { ECDSA_SHA256 } else { RSA_SHA256 });
        let signed = query.finish();
        let mut signer = Signer::new(MessageDigest::sha256(), key)?;
        signer.update(signed.as_bytes())?;
        let mut signature = signer.sign_to_vec()?;
        if is_ec {
            signature = raw_ecdsa(&signature, key)?;
        }
        query = form_urlencoded::Serializer::new(signed);
        query.append_pair(SIGNATURE, &STANDARD.encode(signature));
    }
    let separator = if endpoint.contains('?') { '&' } else { '?' };
    Ok(format!("{endpoint}{separator}{}", query.finish()))
}

/// A message received over the binding, its signature verified.
#[derive(Debug)]
pub(crate) struct Received {
    /// The message, inflated; at most the size it was read with.
    pub xml: Vec<u8>,
    pub relay_state: Option<String>,
    /// Its signature was verified (it may go unchecked only when no signature is required and
    /// no keys are given).
    pub signed: bool,
}

/// The message in `field` of `raw_query`, once its signature verifies with one of `keys` by
/// SHA-256 or stronger (a message that is not signed is refused); inflated to at most
/// `max_bytes`.
pub(crate) fn verified(
    raw_query: &str,
    field: &str,
    keys: &[PKey<Public>],
    max_bytes: usize,
) -> Result<Received, &'static str> {
    received(raw_query, field, keys, true, max_bytes)
}

/// The message in `field` of `raw_query`, inflated to at most `max_bytes`. A signature it
/// carries must verify with one of `keys` (when there are any); without one, it is refused when
/// `signature_required`.
pub(crate) fn received(
    raw_query: &str,
    field: &str,
    keys: &[PKey<Public>],
    signature_required: bool,
    max_bytes: usize,
) -> Result<Received, &'static str> {
    let mut parts: [Option<&str>; 4] = [None; 4];
    let names = [field, RELAY_STATE, SIG_ALG, SIGNATURE];
    for pair in raw_query.split('&') {
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        if let Some(at) = names.iter().position(|wanted| *wanted == name) {
            if parts[at].is_some() {
                return Err("a parameter of the message is repeated");
            }
            parts[at] = Some(pair);
        }
    }
    let [Some(message), relay_state, sig_alg, signature] = parts else {
        return Err("the message is missing");
    };
    let signed = match (sig_alg, signature) {
        (Some(sig_alg), Some(signature)) if signature_required || !keys.is_empty() => {
            check_signature(message, relay_state, sig_alg, signature, keys)?;
            true
        }
        (None, None) | (Some(_), Some(_)) if !signature_required => false,
        _ => return Err("the message is not signed"),
    };
    let deflated = STANDARD
        .decode(value(message))
        .map_err(|_| "the message is not base64")?;
    let mut xml = Vec::new();
    DeflateDecoder::new(&deflated[..])
        .take(max_bytes as u64 + 1)
        .read_to_end(&mut xml)
        .map_err(|_| "the message is not deflated")?;
    if xml.len() > max_bytes {
        return Err("the message is larger than allowed");
    }
    Ok(Received {
        xml,
        relay_state: relay_state.map(value).filter(|v| !v.is_empty()),
        signed,
    })
}

/// Checks the signature of a message over the raw parameters, in the order of section 3.4.4.1.
fn check_signature(
    message: &str,
    relay_state: Option<&str>,
    sig_alg: &str,
    signature: &str,
    keys: &[PKey<Public>],
) -> Result<(), &'static str> {
    let mut signed = message.to_string();
    for part in [relay_state, Some(sig_alg)].into_iter().flatten() {
        signed.push('&');
        signed.push_str(part);
    }
    let digest = match value(sig_alg).as_str() {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" | ECDSA_SHA256 => {
            MessageDigest::sha256()
        }
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
        | "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384" => MessageDigest::sha384(),
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
        | "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512" => MessageDigest::sha512(),
        _ => return Err("the message is signed with an algorithm not accepted (SHA-1?)"),
    };
    let signature = STANDARD
        .decode(value(signature))
        .map_err(|_| "the message's signature is not base64")?;
    let genuine = keys
        .iter()
        .any(|key| verifies(key, digest, signed.as_bytes(), &signature));
    if genuine {
        Ok(())
    } else {
        Err("no valid signature by the sender's certificate")
    }
}

/// The decoded value of a raw `name=value` pair.
fn value(pair: &str) -> String {
    form_urlencoded::parse(pair.as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

/// Whether `signature` is `key`'s over `data`. XML signatures write ECDSA as the two integers
/// side by side (RFC 4050), which openssl reads in DER.
fn verifies(key: &PKey<Public>, digest: MessageDigest, data: &[u8], signature: &[u8]) -> bool {
    let der;
    let signature = match key.ec_key() {
        Ok(_) => {
            let (r, s) = signature.split_at(signature.len() / 2);
            let parsed = BigNum::from_slice(r)
                .and_then(|r| Ok((r, BigNum::from_slice(s)?)))
                .and_then(|(r, s)| EcdsaSig::from_private_components(r, s))
                .and_then(|sig| sig.to_der());
            match parsed {
                Ok(bytes) => {
                    der = bytes;
                    &der[..]
                }
                Err(_) => return false,
            }
        }
        Err(_) => signature,
    };
    Verifier::new(digest, key)
        .and_then(|mut verifier| verifier.verify_oneshot(signature, data))
        .unwrap_or(false)
}

/// A DER ECDSA signature of `key` as XML signatures write it: r and s, each padded to the size
/// of the curve's order.
fn raw_ecdsa(der: &[u8], key: &PKey<Private>) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    let sig = EcdsaSig::from_der(der)?;
    let size = key.ec_key()?.group().order_bits().div_ceil(8) as usize;
    let mut raw = sig.r().to_vec_padded(size as i32)?;
    raw.extend(sig.s().to_vec_padded(size as i32)?);
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    use openssl::rsa::Rsa;

    fn public(key: &PKey<Private>) -> PKey<Public> {
        PKey::public_key_from_der(&key.public_key_to_der().unwrap()).unwrap()
    }

    fn keys() -> [PKey<Private>; 2] {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        [
            PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap(),
            PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap(),
        ]
    }

    #[test]
    fn a_signed_message_reads_back_and_any_change_breaks_it() {
        for key in keys() {
            let url = url(
                "https://idp.test/slo?tenant=1",
                "SAMLRequest",
                "<x/>",
                Some("r 1"),
                Some(&key),
            )
            .unwrap();
            let query = url.split_once("?tenant=1&").unwrap().1;
            let received = verified(query, "SAMLRequest", &[public(&key)], 100).unwrap();
            assert_eq!(received.xml, b"<x/>");
            assert_eq!(received.relay_state.as_deref(), Some("r 1"));

            let other = keys().into_iter().next().unwrap();
            assert!(verified(query, "SAMLRequest", &[public(&other)], 100).is_err());
            let relayed = query.replace("RelayState=r+1", "RelayState=r+2");
            assert!(verified(&relayed, "SAMLRequest", &[public(&key)], 100).is_err());
            let unsigned = query.split("&SigAlg").next().unwrap();
            assert_eq!(
                verified(unsigned, "SAMLRequest", &[public(&key)], 100).unwrap_err(),
                "the message is not signed"
            );
            let twice = format!("{query}&RelayState=x");
            assert!(verified(&twice, "SAMLRequest", &[public(&key)], 100).is_err());
            assert_eq!(
                verified(query, "SAMLRequest", &[public(&key)], 3).unwrap_err(),
                "the message is larger than allowed"
            );
        }
    }

    #[test]
    fn sha1_is_refused_even_when_the_signature_holds() {
        let [key, _] = keys();
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("SAMLRequest", "AAAA");
        query.append_pair(SIG_ALG, "http://www.w3.org/2000/09/xmldsig#rsa-sha1");
        let signed = query.finish();
        let mut signer = Signer::new(MessageDigest::sha1(), &key).unwrap();
        signer.update(signed.as_bytes()).unwrap();
        let signature = STANDARD.encode(signer.sign_to_vec().unwrap());
        let mut query = form_urlencoded::Serializer::new(signed);
        query.append_pair(SIGNATURE, &signature);
        assert!(verified(&query.finish(), "SAMLRequest", &[public(&key)], 100).is_err());
    }
}
