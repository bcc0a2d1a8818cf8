//! XML Encryption 1.1 as SAML uses it: an element encrypted with AES under a fresh content key,
//! the content key sent with RSA-OAEP to the recipient's certificate.
//!
//! [`decrypt`] reads what IdPs send: AES-GCM (authenticated), and AES-CBC because older IdPs
//! know nothing else (unauthenticated: whoever uses the plaintext must check a signature inside
//! it). Key transport is RSA-OAEP only: RSA PKCS#1 v1.5 is refused, since its padding errors are
//! an oracle that recovers the content key (Bleichenbacher). [`encrypt`] writes AES-GCM or
//! AES-CBC with RSA-OAEP (MGF1 and digest SHA-1, what every SAML peer reads).
//!
//! Foundation layer: imports nothing of the crate.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::encrypt::{Decrypter, Encrypter};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Padding;
use openssl::symm::{Cipher, Crypter, Mode};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

const XENC_NS: &[u8] = b"http://www.w3.org/2001/04/xmlenc#";
const XENC11_NS: &[u8] = b"http://www.w3.org/2009/xmlenc11#";
const DSIG_NS: &[u8] = b"http://www.w3.org/2000/09/xmldsig#";
const ELEMENT_TYPE: &str = "http://www.w3.org/2001/04/xmlenc#Element";

const AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";
const AES128_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
const AES256_CBC: &str = "http://www.w3.org/2001/04/xmlenc#aes256-cbc";
const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

/// The GCM nonce and tag lengths XML Encryption 1.1 fixes (section 5.2.4).
const GCM_IV: usize = 12;
const GCM_TAG: usize = 16;
const CBC_IV: usize = 16;
/// The most EncryptedKeys one encrypted element may offer: each costs a private-key operation
/// per key tried, and a sender has no reason for more than a few recipients.
const MAX_ENCRYPTED_KEYS: usize = 4;

/// Why an encrypted element could not be decrypted, or a plaintext encrypted.
#[derive(Debug, thiserror::Error)]
pub enum XmlEncError {
    #[error("the encrypted element is not of the shape XML Encryption defines: {0}")]
    Malformed(&'static str),
    #[error("the algorithm {0} is not accepted")]
    Refused(String),
    #[error("none of our keys decrypts any of its EncryptedKeys")]
    NoKey,
    #[error("the content key's length does not fit its algorithm")]
    KeyLength,
    #[error("the ciphertext does not decrypt (tampered, or not under this key)")]
    Ciphertext,
    #[error("encryption failed: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
}

/// The block ciphers [`encrypt`] writes (and [`decrypt`] reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataMethod {
    Aes128Gcm,
    Aes256Gcm,
    /// For recipients that read nothing newer; unauthenticated.
    Aes128Cbc,
    Aes256Cbc,
}

impl DataMethod {
    fn uri(self) -> &'static str {
        match self {
            DataMethod::Aes128Gcm => AES128_GCM,
            DataMethod::Aes256Gcm => AES256_GCM,
            DataMethod::Aes128Cbc => AES128_CBC,
            DataMethod::Aes256Cbc => AES256_CBC,
        }
    }

    fn from_uri(uri: &str) -> Option<DataMethod> {
        [
            DataMethod::Aes128Gcm,
            DataMethod::Aes256Gcm,
            DataMethod::Aes128Cbc,
            DataMethod::Aes256Cbc,
        ]
        .into_iter()
        .find(|method| method.uri() == uri)
    }

    fn cipher(self) -> Cipher {
        match self {
            DataMethod::Aes128Gcm => Cipher::aes_128_gcm(),
            DataMethod::Aes256Gcm => Cipher::aes_256_gcm(),
            DataMethod::Aes128Cbc => Cipher::aes_128_cbc(),
            DataMethod::Aes256Cbc => Cipher::aes_256_cbc(),
        }
    }

    fn is_gcm(self) -> bool {
        matches!(self, DataMethod::Aes128Gcm | DataMethod::Aes256Gcm)
    }
}

/// Decrypts the encrypted element that starts at byte `at` of `document` with the first of `keys` that
/// unwraps its content key (several during a rollover); the plaintext (for SAML, the serialized
/// assertion). The element is an `xenc:EncryptedData`, or an element such as
/// `saml:EncryptedAssertion` holding one EncryptedData and the EncryptedKeys beside it (SAML
/// core 2.2.4). The whole document is read so that prefixes declared on the element's ancestors
/// resolve; for an element alone pass 0.
pub fn decrypt(document: &str, at: usize, keys: &[PKey<Private>]) -> Result<Vec<u8>, XmlEncError> {
    let root = read_element(document, at)?;
    let (data, beside) = if root.is(XENC_NS, "EncryptedData") {
        (&root, &[][..])
    } else {
        match root.children.as_slice() {
            [data, keys @ ..]
                if data.is(XENC_NS, "EncryptedData")
                    && keys.iter().all(|key| key.is(XENC_NS, "EncryptedKey")) =>
            {
                (data, keys)
            }
            _ => {
                return Err(XmlEncError::Malformed(
                    "an encrypted element holds one EncryptedData and then EncryptedKeys only",
                ));
            }
        }
    };
    let encrypted = EncryptedData::read(data)?;
    let offered: Vec<&Node> = encrypted.keys.iter().copied().chain(beside).collect();
    if offered.len() > MAX_ENCRYPTED_KEYS {
        return Err(XmlEncError::Malformed("too many EncryptedKeys"));
    }
    let mut content_key = None;
    for encrypted_key in offered {
        let transport = KeyTransport::read(encrypted_key)?;
        if let Some(key) = keys.iter().find_map(|key| transport.unwrap(key)) {
            content_key = Some(key);
            break;
        }
    }
    let content_key = content_key.ok_or(XmlEncError::NoKey)?;
    decrypt_data(encrypted.method, &content_key, &encrypted.cipher_value)
}

/// Encrypts `plaintext` (a serialized element) for `recipient` as an `xenc:EncryptedData` of
/// type Element, its content key in an `xenc:EncryptedKey` inside its KeyInfo, with every
/// namespace it uses declared on it so that it can be put into any document.
pub fn encrypt(
    plaintext: &[u8],
    recipient: &PKey<Public>,
    method: DataMethod,
) -> Result<String, XmlEncError> {
    let cipher = method.cipher();
    let mut key = vec![0; cipher.key_len()];
    openssl::rand::rand_bytes(&mut key)?;
    let mut iv = vec![0; if method.is_gcm() { GCM_IV } else { CBC_IV }];
    openssl::rand::rand_bytes(&mut iv)?;
    let mut data = iv.clone();
    if method.is_gcm() {
        let mut tag = [0; GCM_TAG];
        data.extend(openssl::symm::encrypt_aead(
            cipher,
            &key,
            Some(&iv),
            &[],
            plaintext,
            &mut tag,
        )?);
        data.extend(tag);
    } else {
        // PKCS#7 padding is one of the paddings XML Encryption's rule (the last byte counts
        // them) allows.
        data.extend(openssl::symm::encrypt(cipher, &key, Some(&iv), plaintext)?);
    }
    let mut encrypter = Encrypter::new(recipient)?;
    encrypter.set_rsa_padding(Padding::PKCS1_OAEP)?;
    encrypter.set_rsa_oaep_md(MessageDigest::sha1())?;
    encrypter.set_rsa_mgf1_md(MessageDigest::sha1())?;
    let mut wrapped = vec![0; encrypter.encrypt_len(&key)?];
    let length = encrypter.encrypt(&key, &mut wrapped)?;
    wrapped.truncate(length);
    Ok(format!(
        r#"<xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Type="{ELEMENT_TYPE}"><xenc:EncryptionMethod Algorithm="{method}"/><ds:KeyInfo><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm="{RSA_OAEP_MGF1P}"><ds:DigestMethod Algorithm="{SHA1}"/></xenc:EncryptionMethod><xenc:CipherData><xenc:CipherValue>{wrapped}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{data}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>"#,
        method = method.uri(),
        wrapped = STANDARD.encode(wrapped),
        data = STANDARD.encode(data),
    ))
}

/// `ciphertext` (IV first, and for GCM the tag last) decrypted with `key` by `method`.
fn decrypt_data(method: DataMethod, key: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, XmlEncError> {
    let cipher = method.cipher();
    if key.len() != cipher.key_len() {
        return Err(XmlEncError::KeyLength);
    }
    if method.is_gcm() {
        if ciphertext.len() < GCM_IV + GCM_TAG {
            return Err(XmlEncError::Ciphertext);
        }
        let (iv, rest) = ciphertext.split_at(GCM_IV);
        let (data, tag) = rest.split_at(rest.len() - GCM_TAG);
        return openssl::symm::decrypt_aead(cipher, key, Some(iv), &[], data, tag)
            .map_err(|_| XmlEncError::Ciphertext);
    }
    if ciphertext.len() < 2 * CBC_IV || !ciphertext.len().is_multiple_of(CBC_IV) {
        return Err(XmlEncError::Ciphertext);
    }
    let (iv, data) = ciphertext.split_at(CBC_IV);
    // XML Encryption's padding is not PKCS#7 (only the last byte is defined), so openssl's
    // padding check is off and the length is checked here.
    let mut crypter =
        Crypter::new(cipher, Mode::Decrypt, key, Some(iv)).map_err(|_| XmlEncError::Ciphertext)?;
    crypter.pad(false);
    let mut plaintext = vec![0; data.len() + CBC_IV];
    let mut length = crypter
        .update(data, &mut plaintext)
        .map_err(|_| XmlEncError::Ciphertext)?;
    length += crypter
        .finalize(&mut plaintext[length..])
        .map_err(|_| XmlEncError::Ciphertext)?;
    plaintext.truncate(length);
    let padding = usize::from(plaintext.last().copied().unwrap_or(0));
    if !(1..=CBC_IV).contains(&padding) || padding > plaintext.len() {
        return Err(XmlEncError::Ciphertext);
    }
    plaintext.truncate(plaintext.len() - padding);
    Ok(plaintext)
}

/// An EncryptedData as far as decrypting it goes.
struct EncryptedData<'a> {
    method: DataMethod,
    /// The EncryptedKeys in its KeyInfo.
    keys: Vec<&'a Node>,
    cipher_value: Vec<u8>,
}

impl<'a> EncryptedData<'a> {
    fn read(node: &'a Node) -> Result<EncryptedData<'a>, XmlEncError> {
        if node.attribute("Type").is_some_and(|t| t != ELEMENT_TYPE) {
            return Err(XmlEncError::Malformed(
                "the encrypted content is not an element",
            ));
        }
        let (method, key_info, cipher_data) = match node.children.as_slice() {
            [method, key_info, cipher_data, ..] if key_info.is(DSIG_NS, "KeyInfo") => {
                (method, Some(key_info), cipher_data)
            }
            [method, cipher_data, ..] => (method, None, cipher_data),
            _ => {
                return Err(XmlEncError::Malformed(
                    "EncryptedData needs an EncryptionMethod and CipherData",
                ));
            }
        };
        // EncryptionProperties, the one element the schema allows after CipherData, says
        // nothing decryption needs.
        if node.children.len() > 2 + usize::from(key_info.is_some())
            && !node
                .children
                .last()
                .is_some_and(|last| last.is(XENC_NS, "EncryptionProperties"))
        {
            return Err(XmlEncError::Malformed(
                "EncryptedData has an unexpected element",
            ));
        }
        let algorithm = method.algorithm_of(XENC_NS, "EncryptionMethod")?;
        if !method.children.is_empty() {
            return Err(XmlEncError::Malformed(
                "a block cipher's EncryptionMethod has no parameters",
            ));
        }
        let method = DataMethod::from_uri(algorithm).ok_or_else(|| refused(algorithm))?;
        // Other KeyInfo children (KeyName, X509Data, RetrievalMethod to an EncryptedKey beside)
        // are hints: every key offered is tried with each of ours.
        let keys = key_info
            .map(|info| {
                info.children
                    .iter()
                    .filter(|child| child.is(XENC_NS, "EncryptedKey"))
                    .collect()
            })
            .unwrap_or_default();
        Ok(EncryptedData {
            method,
            keys,
            cipher_value: cipher_data.cipher_value()?,
        })
    }
}

/// An EncryptedKey's RSA-OAEP parameters and wrapped key.
struct KeyTransport {
    digest: MessageDigest,
    mgf1: MessageDigest,
    wrapped: Vec<u8>,
}

impl KeyTransport {
    fn read(node: &Node) -> Result<KeyTransport, XmlEncError> {
        let mut children = node.children.iter();
        let method = children.next().ok_or(XmlEncError::Malformed(
            "EncryptedKey needs an EncryptionMethod",
        ))?;
        let algorithm = method.algorithm_of(XENC_NS, "EncryptionMethod")?;
        // MGF1 with SHA-1 is fixed for rsa-oaep-mgf1p; XML Encryption 1.1's rsa-oaep names it.
        let generic = match algorithm {
            RSA_OAEP_MGF1P => false,
            RSA_OAEP => true,
            other => return Err(refused(other)),
        };
        let mut digest = MessageDigest::sha1();
        let mut mgf1 = MessageDigest::sha1();
        for parameter in &method.children {
            if parameter.is(DSIG_NS, "DigestMethod") {
                digest = digest_of(parameter.algorithm_of(DSIG_NS, "DigestMethod")?)?;
            } else if generic && parameter.is(XENC11_NS, "MGF") {
                mgf1 = mgf1_of(parameter.algorithm_of(XENC11_NS, "MGF")?)?;
            } else {
                // OAEPparams (a label) included: no IdP sends one.
                return Err(XmlEncError::Malformed(
                    "an RSA-OAEP EncryptionMethod has a parameter not accepted",
                ));
            }
        }
        let cipher_data = children
            .find(|child| !child.is(DSIG_NS, "KeyInfo"))
            .ok_or(XmlEncError::Malformed("EncryptedKey needs CipherData"))?;
        Ok(KeyTransport {
            digest,
            mgf1,
            wrapped: cipher_data.cipher_value()?,
        })
    }

    /// The content key, if `key` unwraps it.
    fn unwrap(&self, key: &PKey<Private>) -> Option<Vec<u8>> {
        let mut decrypter = Decrypter::new(key).ok()?;
        decrypter.set_rsa_padding(Padding::PKCS1_OAEP).ok()?;
        decrypter.set_rsa_oaep_md(self.digest).ok()?;
        decrypter.set_rsa_mgf1_md(self.mgf1).ok()?;
        let mut content_key = vec![0; decrypter.decrypt_len(&self.wrapped).ok()?];
        let length = decrypter.decrypt(&self.wrapped, &mut content_key).ok()?;
        content_key.truncate(length);
        Some(content_key)
    }
}

/// The refusal of the algorithm `uri`, cut short: it is the sender's text, and errors are
/// logged.
fn refused(uri: &str) -> XmlEncError {
    XmlEncError::Refused(uri.chars().take(100).collect())
}

fn digest_of(uri: &str) -> Result<MessageDigest, XmlEncError> {
    match uri {
        SHA1 => Ok(MessageDigest::sha1()),
        "http://www.w3.org/2001/04/xmlenc#sha256" => Ok(MessageDigest::sha256()),
        "http://www.w3.org/2001/04/xmlenc#sha512" => Ok(MessageDigest::sha512()),
        other => Err(refused(other)),
    }
}

fn mgf1_of(uri: &str) -> Result<MessageDigest, XmlEncError> {
    match uri {
        "http://www.w3.org/2009/xmlenc11#mgf1sha1" => Ok(MessageDigest::sha1()),
        "http://www.w3.org/2009/xmlenc11#mgf1sha256" => Ok(MessageDigest::sha256()),
        "http://www.w3.org/2009/xmlenc11#mgf1sha512" => Ok(MessageDigest::sha512()),
        other => Err(refused(other)),
    }
}

/// An element of the encrypted subtree: its namespace, name, Algorithm and Type, text, children.
struct Node {
    namespace: Option<Vec<u8>>,
    name: String,
    attributes: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn is(&self, namespace: &[u8], name: &str) -> bool {
        self.namespace.as_deref() == Some(namespace) && self.name == name
    }

    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The Algorithm of this element, which must be `name` in `namespace`.
    fn algorithm_of(&self, namespace: &[u8], name: &str) -> Result<&str, XmlEncError> {
        self.is(namespace, name)
            .then(|| self.attribute("Algorithm"))
            .flatten()
            .ok_or(XmlEncError::Malformed(
                "a method element is missing, or without its Algorithm",
            ))
    }

    /// The bytes of this CipherData's CipherValue (a CipherReference is refused: nothing is
    /// fetched).
    fn cipher_value(&self) -> Result<Vec<u8>, XmlEncError> {
        let [value] = self.children.as_slice() else {
            return Err(XmlEncError::Malformed("CipherData holds one CipherValue"));
        };
        if !self.is(XENC_NS, "CipherData") || !value.is(XENC_NS, "CipherValue") {
            return Err(XmlEncError::Malformed("CipherData holds one CipherValue"));
        }
        let compact: String = value.text.chars().filter(|c| !c.is_whitespace()).collect();
        STANDARD
            .decode(compact)
            .map_err(|_| XmlEncError::Malformed("a CipherValue is not base64"))
    }
}

/// The element that starts at byte `at` of `document`, read into [`Node`]s.
fn read_element(document: &str, at: usize) -> Result<Node, XmlEncError> {
    let malformed = || XmlEncError::Malformed("not well-formed XML");
    let mut reader = quick_xml::NsReader::from_str(document);
    reader.config_mut().check_end_names = true;
    // The elements being read, outermost first.
    let mut open: Vec<Node> = Vec::new();
    loop {
        let position = usize::try_from(reader.buffer_position()).map_err(|_| malformed())?;
        let (namespace, event) = reader.read_resolved_event().map_err(|_| malformed())?;
        if open.is_empty() && position != at {
            if position > at || matches!(event, Event::Eof) {
                return Err(XmlEncError::Malformed(
                    "no element where the encrypted one is",
                ));
            }
            continue;
        }
        let namespace = match namespace {
            ResolveResult::Bound(ns) => Some(ns.as_ref().to_vec()),
            ResolveResult::Unbound => None,
            ResolveResult::Unknown(_) => {
                return Err(XmlEncError::Malformed("an undeclared prefix"));
            }
        };
        let complete = match event {
            Event::Start(start) => {
                open.push(node(namespace, &start)?);
                None
            }
            Event::Empty(start) => Some(node(namespace, &start)?),
            Event::End(_) => open.pop(),
            Event::Text(text) => {
                let text = text.decode().map_err(|_| malformed())?;
                push_text(&mut open, &text)
            }
            Event::CData(text) => {
                let text = text.decode().map_err(|_| malformed())?;
                push_text(&mut open, &text)
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => {
                        let name = reference.decode().map_err(|_| malformed())?;
                        quick_xml::escape::unescape(&format!("&{name};"))
                            .map_err(|_| malformed())?
                            .into_owned()
                    }
                };
                push_text(&mut open, &resolved)
            }
            Event::Eof => return Err(malformed()),
            // Comments and the like are refused by whoever reads the document first, and mean
            // nothing here.
            _ => None,
        };
        if let Some(node) = complete {
            match open.last_mut() {
                Some(parent) => parent.children.push(node),
                None => return Ok(node),
            }
        }
    }
}

/// Adds `text` to the innermost open element; completes nothing.
fn push_text(open: &mut [Node], text: &str) -> Option<Node> {
    if let Some(node) = open.last_mut() {
        node.text.push_str(text);
    }
    None
}

fn node(namespace: Option<Vec<u8>>, start: &BytesStart) -> Result<Node, XmlEncError> {
    let attributes = start
        .attributes()
        .map(|attribute| {
            let attribute =
                attribute.map_err(|_| XmlEncError::Malformed("a malformed attribute"))?;
            let value = attribute
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|_| XmlEncError::Malformed("a malformed attribute"))?;
            Ok((
                String::from_utf8_lossy(attribute.key.as_ref()).into_owned(),
                value.into_owned(),
            ))
        })
        .collect::<Result<_, XmlEncError>>()?;
    Ok(Node {
        namespace,
        name: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
        attributes,
        text: String::new(),
        children: Vec::new(),
    })
}

#[cfg(test)]
mod tests;
