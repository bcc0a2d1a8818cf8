//! Round trips, and the refusals: a tampered byte, another key, PKCS#1 v1.5 key transport, a
//! content key too short for its algorithm.
use super::*;
use openssl::rsa::Rsa;

const PLAINTEXT: &[u8] = br#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="a1">&lt;x&gt;</saml:Assertion>"#;

fn key_pair() -> (PKey<Private>, PKey<Public>) {
    let private = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let public = PKey::public_key_from_pem(&private.public_key_to_pem().unwrap()).unwrap();
    (private, public)
}

/// The base64 value of the `index`th CipherValue (0: the EncryptedKey's, 1: the data's).
fn cipher_value(xml: &str, index: usize) -> (std::ops::Range<usize>, Vec<u8>) {
    let start = xml
        .match_indices("<xenc:CipherValue>")
        .nth(index)
        .unwrap()
        .0
        + 18;
    let end = start + xml[start..].find('<').unwrap();
    (start..end, STANDARD.decode(&xml[start..end]).unwrap())
}

#[test]
fn every_method_round_trips() {
    let (private, public) = key_pair();
    for method in [
        DataMethod::Aes128Gcm,
        DataMethod::Aes256Gcm,
        DataMethod::Aes128Cbc,
        DataMethod::Aes256Cbc,
    ] {
        let xml = encrypt(PLAINTEXT, &public, method).unwrap();
        assert!(xml.contains(method.uri()));
        assert_eq!(
            decrypt(&xml, 0, std::slice::from_ref(&private)).unwrap(),
            PLAINTEXT
        );
    }
}

#[test]
fn a_wrapper_with_the_key_beside_and_inherited_prefixes_decrypts() {
    let (private, public) = key_pair();
    let data = encrypt(PLAINTEXT, &public, DataMethod::Aes256Gcm).unwrap();
    // The EncryptedKey moved out of KeyInfo to beside the EncryptedData, with a RetrievalMethod
    // pointing at it, and the prefixes declared on an ancestor only.
    let key_start = data.find("<xenc:EncryptedKey>").unwrap();
    let key_end = data.find("</xenc:EncryptedKey>").unwrap() + "</xenc:EncryptedKey>".len();
    let key = &data[key_start..key_end];
    let data = data
        .replace(key, r##"<ds:RetrievalMethod URI="#k1"/>"##)
        .replace(
            r#" xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#""#,
            "",
        );
    let document = format!(
        r#"<r xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><saml:Issuer>x</saml:Issuer>
<saml:EncryptedAssertion>{data}{}</saml:EncryptedAssertion></r>"#,
        key.replacen("<xenc:EncryptedKey>", r#"<xenc:EncryptedKey Id="k1">"#, 1)
    );
    let at = document.find("<saml:EncryptedAssertion>").unwrap();
    assert_eq!(decrypt(&document, at, &[private]).unwrap(), PLAINTEXT);
    assert!(matches!(
        decrypt(&document, at + 1, &[]),
        Err(XmlEncError::Malformed(_))
    ));
}

#[test]
fn any_of_the_keys_decrypts_during_a_rollover() {
    let (current, _) = key_pair();
    let (previous, previous_public) = key_pair();
    let xml = encrypt(PLAINTEXT, &previous_public, DataMethod::Aes128Gcm).unwrap();
    assert_eq!(decrypt(&xml, 0, &[current, previous]).unwrap(), PLAINTEXT);
}

#[test]
fn another_key_decrypts_nothing() {
    let (_, public) = key_pair();
    let (other, _) = key_pair();
    let xml = encrypt(PLAINTEXT, &public, DataMethod::Aes256Gcm).unwrap();
    assert!(matches!(
        decrypt(&xml, 0, &[other]),
        Err(XmlEncError::NoKey)
    ));
}

#[test]
fn a_tampered_byte_fails_gcm() {
    let (private, public) = key_pair();
    let xml = encrypt(PLAINTEXT, &public, DataMethod::Aes256Gcm).unwrap();
    let (range, bytes) = cipher_value(&xml, 1);
    // The first byte of the ciphertext, then the last of the tag.
    for index in [GCM_IV, bytes.len() - 1] {
        let mut tampered = bytes.clone();
        tampered[index] ^= 1;
        let xml = format!(
            "{}{}{}",
            &xml[..range.start],
            STANDARD.encode(&tampered),
            &xml[range.end..]
        );
        assert!(matches!(
            decrypt(&xml, 0, std::slice::from_ref(&private)),
            Err(XmlEncError::Ciphertext)
        ));
    }
}

#[test]
fn cbc_padding_is_checked() {
    let (private, public) = key_pair();
    let xml = encrypt(PLAINTEXT, &public, DataMethod::Aes128Cbc).unwrap();
    let (_, wrapped) = cipher_value(&xml, 0);
    let key = KeyTransport {
        digest: MessageDigest::sha1(),
        mgf1: MessageDigest::sha1(),
        wrapped,
    }
    .unwrap(&private)
    .unwrap();
    // A last block whose last byte says 0 or more than 16 bytes of padding.
    for pad in [0u8, 17] {
        let iv = [7u8; CBC_IV];
        let mut block = [b'x'; CBC_IV];
        block[CBC_IV - 1] = pad;
        let mut crypter =
            Crypter::new(Cipher::aes_128_cbc(), Mode::Encrypt, &key, Some(&iv)).unwrap();
        crypter.pad(false);
        let mut out = vec![0; 2 * CBC_IV];
        let n = crypter.update(&block, &mut out).unwrap();
        let mut data = iv.to_vec();
        data.extend(&out[..n]);
        assert!(matches!(
            decrypt_data(DataMethod::Aes128Cbc, &key, &data),
            Err(XmlEncError::Ciphertext)
        ));
    }
    assert!(matches!(
        decrypt_data(DataMethod::Aes256Cbc, &key, &[0; 32]),
        Err(XmlEncError::KeyLength)
    ));
}

#[test]
fn pkcs1_v1_5_key_transport_is_refused() {
    let (private, public) = key_pair();
    let xml = encrypt(PLAINTEXT, &public, DataMethod::Aes256Gcm)
        .unwrap()
        .replace(RSA_OAEP_MGF1P, "http://www.w3.org/2001/04/xmlenc#rsa-1_5");
    assert!(matches!(
        decrypt(&xml, 0, &[private]),
        Err(XmlEncError::Refused(algorithm)) if algorithm.ends_with("rsa-1_5")
    ));
}

#[test]
fn other_shapes_are_refused() {
    let (private, public) = key_pair();
    let xml = encrypt(PLAINTEXT, &public, DataMethod::Aes256Gcm).unwrap();
    let refused = |xml: &str| decrypt(xml, 0, std::slice::from_ref(&private)).unwrap_err();
    // A cipher this module does not read.
    assert!(matches!(
        refused(&xml.replace(AES256_GCM, "http://www.w3.org/2001/04/xmlenc#tripledes-cbc")),
        XmlEncError::Refused(_)
    ));
    // A key for AES-256 said to be for AES-128.
    assert!(matches!(
        refused(&xml.replace(AES256_GCM, AES128_GCM)),
        XmlEncError::KeyLength
    ));
    // Content that is not an element, and a CipherReference (nothing is fetched).
    assert!(matches!(
        refused(&xml.replace(ELEMENT_TYPE, "http://www.w3.org/2001/04/xmlenc#Content")),
        XmlEncError::Malformed(_)
    ));
    let reference = xml.rsplit_once("<xenc:CipherData>").unwrap().0.to_string()
        + r#"<xenc:CipherData><xenc:CipherReference URI="https://x/"/></xenc:CipherData></xenc:EncryptedData>"#;
    assert!(matches!(refused(&reference), XmlEncError::Malformed(_)));
    // OAEP with a label.
    let label = xml.replace(
        "</xenc:EncryptionMethod><xenc:CipherData>",
        "<xenc:OAEPparams>AA==</xenc:OAEPparams></xenc:EncryptionMethod><xenc:CipherData>",
    );
    assert!(matches!(refused(&label), XmlEncError::Malformed(_)));
}

#[test]
fn xmlenc11_rsa_oaep_with_sha256_decrypts() {
    let (private, public) = key_pair();
    let cipher = Cipher::aes_128_gcm();
    let key = [3u8; 16];
    let iv = [4u8; GCM_IV];
    let mut tag = [0; GCM_TAG];
    let mut data = iv.to_vec();
    data.extend(
        openssl::symm::encrypt_aead(cipher, &key, Some(&iv), &[], PLAINTEXT, &mut tag).unwrap(),
    );
    data.extend(tag);
    let mut encrypter = Encrypter::new(&public).unwrap();
    encrypter.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
    encrypter.set_rsa_oaep_md(MessageDigest::sha256()).unwrap();
    encrypter.set_rsa_mgf1_md(MessageDigest::sha256()).unwrap();
    let mut wrapped = vec![0; encrypter.encrypt_len(&key).unwrap()];
    let n = encrypter.encrypt(&key, &mut wrapped).unwrap();
    wrapped.truncate(n);
    let xml = format!(
        r#"<EncryptedData xmlns="http://www.w3.org/2001/04/xmlenc#"><EncryptionMethod Algorithm="{AES128_GCM}"/><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><EncryptedKey xmlns="http://www.w3.org/2001/04/xmlenc#"><EncryptionMethod Algorithm="{RSA_OAEP}"><DigestMethod xmlns="http://www.w3.org/2000/09/xmldsig#" Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><MGF xmlns="http://www.w3.org/2009/xmlenc11#" Algorithm="http://www.w3.org/2009/xmlenc11#mgf1sha256"/></EncryptionMethod><CipherData><CipherValue>{}</CipherValue></CipherData></EncryptedKey></KeyInfo><CipherData><CipherValue>
{}
</CipherValue></CipherData></EncryptedData>"#,
        STANDARD.encode(wrapped),
        STANDARD.encode(data),
    );
    assert_eq!(decrypt(&xml, 0, &[private]).unwrap(), PLAINTEXT);
}
