#!/usr/bin/env python3
"""An independent SAML IdP for idbridge's single-logout tests: pysaml2 (from PyPI,
pinned in tests/python-requirements.txt, with the xmlsec1 binary), not idbridge's code, reads and writes the logout messages.

    saml_peer.py DIR answer URL
        URL is idbridge's LogoutRequest on its way to the IdP (HTTP-Redirect). Verifies its
        signature with the SP certificate of DIR/sp-metadata.xml, reads it as pysaml2 does, and
        prints JSON: the request's fields and `answer`, the URL of a LogoutResponse (Success,
        signed by the IdP) back to the SP's SingleLogoutService response location.
    saml_peer.py DIR request NAME_ID FORMAT SESSION_INDEX RELAY_STATE
        Prints the URL of an IdP-initiated LogoutRequest (HTTP-Redirect, signed by the IdP) to the
        SP's SingleLogoutService.
    saml_peer.py DIR login URL NAME_ID METHOD
        URL is idbridge's AuthnRequest on its way to the IdP (HTTP-Redirect). Answers it for
        NAME_ID with a Response whose assertion is signed by the IdP and then encrypted by
        xmlsec1 with METHOD (an XML Encryption URI, e.g. of aes256-gcm; the content key by
        RSA-OAEP) to the first encryption certificate of DIR/sp-metadata.xml; prints JSON:
        `acs`, `SAMLResponse` (base64), `RelayState`.

DIR holds idp-key.pem and idp-cert.pem (the IdP's key, made by the test) and sp-metadata.xml
(what idbridge serves at /saml/{connection}/metadata). The IdP's entity ID is that of
tests/it/saml_idp.rs.
"""
import base64
import functools
import json
import os
import sys
from urllib.parse import parse_qs, urlparse

from saml2 import BINDING_HTTP_REDIRECT, entity
from saml2.config import IdPConfig
from saml2.saml import NameID
from saml2.server import Server
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS
from saml2.sigver import pre_encryption_part, verify_redirect_signature
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

IDP_ENTITY = "https://idp.acme.test/metadata"


def server(folder):
    config = IdPConfig()
    config.load(
        {
            "entityid": IDP_ENTITY,
            "service": {
                "idp": {
                    "endpoints": {
                        "single_sign_on_service": [
                            ("https://idp.acme.test/sso", BINDING_HTTP_REDIRECT)
                        ],
                        "single_logout_service": [
                            ("https://idp.acme.test/slo", BINDING_HTTP_REDIRECT)
                        ],
                    },
                },
            },
            "key_file": os.path.join(folder, "idp-key.pem"),
            "cert_file": os.path.join(folder, "idp-cert.pem"),
            "metadata": {"local": [os.path.join(folder, "sp-metadata.xml")]},
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "accepted_time_diff": 60,
        }
    )
    return Server(config=config)


def sp_entity(idp):
    (entity,) = idp.metadata.service_providers()
    return entity


def location(http_args):
    return dict(http_args["headers"])["Location"]


def answer(folder, url):
    idp = server(folder)
    query = {name: values[0] for name, values in parse_qs(urlparse(url).query).items()}
    # pysaml2 lists each certificate with its KeyName: (name, base64 DER).
    certs = [cert for _, cert in idp.metadata.certs(sp_entity(idp), "spsso", "signing")]
    verified = any(
        verify_redirect_signature(query, idp.sec.sec_backend, cert=cert)
        for cert in certs
    )
    if not verified:
        raise SystemExit("the LogoutRequest's signature does not verify")
    request = idp.parse_logout_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT)
    message = request.message
    response = idp.create_logout_response(message, [BINDING_HTTP_REDIRECT], sign=False)
    http_args = idp.apply_binding(
        BINDING_HTTP_REDIRECT,
        str(response),
        response.destination,
        query.get("RelayState", ""),
        response=True,
        sign=True,
        sigalg=SIG_RSA_SHA256,
    )
    print(
        json.dumps(
            {
                "id": message.id,
                "issuer": message.issuer.text,
                "destination": message.destination,
                "name_id": message.name_id.text,
                "name_id_format": message.name_id.format,
                "session_indexes": [index.text for index in message.session_index],
                "answer": location(http_args),
            }
        )
    )


def request(folder, name_id, name_id_format, session_index, relay_state):
    idp = server(folder)
    sp = sp_entity(idp)
    (destination,) = [
        service["location"]
        for service in idp.metadata.single_logout_service(sp, BINDING_HTTP_REDIRECT, "spsso")
    ]
    _, logout = idp.create_logout_request(
        destination,
        sp,
        name_id=NameID(text=name_id, format=name_id_format),
        session_indexes=[session_index],
        sign=False,
    )
    http_args = idp.apply_binding(
        BINDING_HTTP_REDIRECT,
        str(logout),
        destination,
        relay_state,
        sign=True,
        sigalg=SIG_RSA_SHA256,
    )
    print(location(http_args))


def login(folder, url, name_id, method):
    idp = server(folder)
    query = {name: values[0] for name, values in parse_qs(urlparse(url).query).items()}
    request = idp.parse_authn_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT).message
    sp = sp_entity(idp)
    # pysaml2 7.0.1 always encrypts with 3DES (which idbridge refuses) and has no setting for it:
    # its own encryption is used as it is, with the block cipher and session key of `method`.
    entity.pre_encryption_part = functools.partial(pre_encryption_part, msg_enc=method)
    encrypt_assertion = idp.sec.encrypt_assertion
    key_type = "aes-128" if "aes128" in method else "aes-256"
    idp.sec.encrypt_assertion = lambda *args, **kwargs: encrypt_assertion(
        *args, key_type=key_type, **kwargs
    )
    ((_, cert),) = idp.metadata.certs(sp, "spsso", "encryption")
    response = idp.create_authn_response(
        {"displayName": ["Alice Peer"]},
        request.id,
        request.assertion_consumer_service_url,
        sp,
        name_id=NameID(text=name_id, format=NAMEID_FORMAT_EMAILADDRESS),
        authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"},
        sign_response=False,
        sign_assertion=True,
        encrypt_assertion=True,
        encrypt_cert_assertion=cert,
        sign_alg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
    )
    print(
        json.dumps(
            {
                "acs": request.assertion_consumer_service_url,
                "SAMLResponse": base64.b64encode(str(response).encode()).decode(),
                "RelayState": query.get("RelayState", ""),
            }
        )
    )


if __name__ == "__main__":
    folder, command, *rest = sys.argv[1:]
    {"answer": answer, "request": request, "login": login}[command](folder, *rest)
