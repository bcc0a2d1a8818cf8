#!/usr/bin/env python3
"""An independent SAML service provider for the tests of idbridge's SAML IdP role: pysaml2
(from PyPI, pinned in tests/python-requirements.txt, with the xmlsec1 binary), not idbridge's
code, writes the AuthnRequests and judges the Responses.

    saml_sp.py DIR metadata
        Prints the SP's metadata, an EntityDescriptor: KeyDescriptor use="signing" (sp-cert.pem)
        and use="encryption" (sp-enc-cert.pem), one HTTP-POST AssertionConsumerService per
        acs_urls (index="1", "2", ... in that order, none isDefault), AuthnRequestsSigned,
        WantAssertionsSigned="true", the NameIDFormat of settings.json if any, and pysaml2's
        alg:DigestMethod/alg:SigningMethod Extensions. Does not read DIR/idp-metadata.xml.
    saml_sp.py DIR request BINDING [--sign] [--force] [--passive] [--acs URL] [--relay-state RS]
        BINDING is `redirect` or `post`. Makes an AuthnRequest to the IdP's SingleSignOnService of
        that binding (from DIR/idp-metadata.xml) and prints JSON:
          redirect: {"id": ..., "url": SSO URL with SAMLRequest, RelayState, and SigAlg and
                     Signature (RSA-SHA256) when --sign}
          post:     {"id": ..., "action": SSO URL, "fields": {"SAMLRequest": base64,
                     "RelayState": ...}}, the XML signed when --sign (enveloped ds:Signature
                     right after Issuer, RSA-SHA256, SHA-256 digest, exclusive c14n).
        The request has Destination (the SSO URL) and Issuer (entity_id). --force:
        ForceAuthn="true". --passive: IsPassive="true". --acs URL: AssertionConsumerServiceURL
        URL with ProtocolBinding HTTP-POST; `--acs none`: neither, the IdP must pick the SP's
        default ACS; no --acs: the first of acs_urls with ProtocolBinding HTTP-POST. RelayState
        only when --relay-state is given. NameIDPolicy (that Format, AllowCreate="true") only
        when settings.json names a name_id_format.
    saml_sp.py DIR response SAML_RESPONSE_B64 [--in-response-to ID] [--acs URL]
        Judges a SAMLResponse as posted to the SP's ACS (the form field's base64) with pysaml2's
        Saml2Client.parse_authn_request_response (HTTP-POST): as the answer to the AuthnRequest
        ID with --in-response-to (the Response's and the SubjectConfirmationData's InResponseTo
        must be ID), otherwise as an unsolicited (IdP-initiated) Response. The SP demands signed
        assertions (and a signed Response when settings.json says want_response_signed),
        decrypts EncryptedAssertion with sp-enc-key.pem, and checks Destination and
        SubjectConfirmationData Recipient against URL with --acs, otherwise against any of
        acs_urls. Prints JSON:
          {"name_id", "name_id_format", "session_index", "issuer" (the Response's Issuer, null
           when absent), "in_response_to", "attributes": {name: [values]}, "assertion_signed",
           "response_signed", "encrypted" (the assertion came encrypted), "audience": [...]
           (empty without AudienceRestriction), "destination", "raw_attributes": [{"name",
           "name_format", "friendly_name", "values"}]}
        `attributes` is pysaml2's view through its default attribute maps: a Name they know in
        that NameFormat under pysaml2's name (urn:oid:0.9.2342.19200300.100.1.3 in the uri
        NameFormat is `mail`), any other under its Name as sent (`attached_to`; also the
        urn:oid one in the basic or unspecified NameFormat or none); values of Attributes that
        map to one name are merged. `raw_attributes` is every Attribute as sent, in order.
        A refusal exits 1 with `ExceptionClass: message` on one line of stderr, e.g.
        `SignatureError: ...` (bad, missing or unknown-key signature), `MissingKey: ...` (an
        Issuer not in idp-metadata.xml), `UnsolicitedResponse: ...` (InResponseTo),
        `VerificationError: No valid recipient`, `VerificationError: Condition not OK`
        (NotBefore/NotOnOrAfter of Conditions), `ResponseLifetimeExceed: ...`
        (SubjectConfirmationData or SessionNotOnOrAfter), `Exception: AudienceRestrictions
        conditions not satisfied! ...`, `StatusNoPassive: ...`, `StatusRequestDenied: ...`,
        `StatusAuthnFailed: ...` (a Response with that second-level status; `StatusError` when
        there is none), `ParseError: unbound prefix ...` (a decrypted Assertion that uses a
        namespace prefix it does not declare itself). Beyond pysaml2's checks the script refuses
        (`Refused: ...`) a Response without Destination (pysaml2 checks it only when present;
        SAML bindings 3.5.5.2 demand it on a signed message), one pysaml2 hands back without an
        assertion (it does so, silently, when Destination is not an ACS URL, IssueInstant is
        more than a day off, or no key decrypts the assertion), a ds:Signature that is not the
        child right after its element's Issuer (pysaml2 takes it anywhere), and a Response
        Issuer other than the assertion's (pysaml2 does not compare them).
    saml_sp.py DIR logout-request NAME_ID NAME_ID_FORMAT SESSION_INDEX [--relay-state RS] [--unsigned]
        Makes a LogoutRequest to the IdP's HTTP-Redirect SingleLogoutService (the first in
        DIR/idp-metadata.xml): Destination that URL, Issuer entity_id (Format ...:entity), NameID
        NAME_ID with Format NAME_ID_FORMAT, one SessionIndex, no NotOnOrAfter. Prints JSON
          {"id": ..., "url": SLO URL with SAMLRequest, RelayState (only with --relay-state), and
           SigAlg (RSA-SHA256) and Signature (sp-key.pem) unless --unsigned}.
    saml_sp.py DIR logout-response URL --in-response-to ID
        URL is where the IdP redirected the browser with its LogoutResponse (HTTP-Redirect; its
        query: SAMLResponse, RelayState, SigAlg, Signature). The query signature must verify with
        one of the IdP's use="signing" certificates of idp-metadata.xml (pysaml2's
        verify_redirect_signature: RSA-SHA1/224/256/384/512 only, no ECDSA, over the parameters
        as Python's urlencode re-encodes them); then pysaml2's parse_logout_request_response
        (HTTP-Redirect) reads it, and InResponseTo must be ID. Prints JSON
          {"in_response_to", "status" (the top-level StatusCode Value), "issuer" (null when
           absent), "destination", "relay_state" (null when absent)}
        A non-Success status is printed, not refused. Refusals exit 1 as for `response`:
        `SignatureError: ...` (no SigAlg/Signature, an unsupported SigAlg, a bad signature or
        another key's), `UnsolicitedResponse: ...` (InResponseTo), and, beyond pysaml2's checks
        (which let these pass), `Refused: ...` for a Destination absent or other than slo_url
        and an Issuer, when present, other than the IdP's entityID.
    saml_sp.py DIR logout-received URL
        URL is an IdP-initiated LogoutRequest at the SP's SingleLogoutService (HTTP-Redirect).
        Its query signature must verify as for `logout-response` (an unsigned one is refused);
        pysaml2's parse_logout_request (HTTP-Redirect) reads it (`OtherError: Not destined for
        me!` for a Destination other than slo_url). Prints JSON
          {"id", "issuer", "name_id", "name_id_format", "session_index" (the first SessionIndex,
           null when none), "destination"}
        Beyond pysaml2 it refuses (`Refused: ...`) a request without Destination or Issuer, an
        Issuer other than the IdP's entityID, and one past its NotOnOrAfter.

DIR holds sp-key.pem and sp-cert.pem (the SP's signing key), sp-enc-key.pem and sp-enc-cert.pem
(its encryption key; may be the same pair), idp-metadata.xml (what idbridge serves at
/saml/idp/metadata) and settings.json:
    {"entity_id": "https://sp.test/metadata",
     "acs_urls": ["https://sp.test/acs", "https://sp.test/acs2"],
     "want_response_signed": false,
     "name_id_format": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",  (optional)
     "authn_requests_signed": true,   (optional, default true: the metadata's AuthnRequestsSigned)
     "clock_offset_seconds": 0,       (optional: the SP's clock runs this far ahead of the
                                       system's, to see a Response expire without waiting)
     "slo_url": "https://sp.test/slo"}  (optional: the SP's HTTP-Redirect SingleLogoutService in
                                       its metadata; none without it)
The SP accepts 60 seconds of clock difference (pysaml2's accepted_time_diff) either way.
Set SAML_SP_DEBUG=1 for pysaml2's log on stderr.
"""
import base64
import json
import logging
import os
import sys
from urllib.parse import parse_qs, urlparse
from xml.etree import ElementTree

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, time_util
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.saml import NameID
from saml2.sigver import SignatureError, verify_redirect_signature
from saml2.metadata import entity_descriptor, metadata_tostring_fix
from saml2.response import StatusError, UnsolicitedResponse
from saml2.samlp import logout_response_from_string, response_from_string
from saml2.validate import valid_instance
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

# pysaml2 logs its refusals with logger.error before raising; unconfigured, Python's last-resort
# handler would print them on stderr ahead of our one-line reason.
logging.getLogger("saml2").addHandler(logging.NullHandler())
logging.getLogger("saml2").propagate = bool(os.environ.get("SAML_SP_DEBUG"))
if os.environ.get("SAML_SP_DEBUG"):
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)

SIGNATURE = "{http://www.w3.org/2000/09/xmldsig#}Signature"
ISSUER = "{urn:oasis:names:tc:SAML:2.0:assertion}Issuer"
ASSERTION = "{urn:oasis:names:tc:SAML:2.0:assertion}Assertion"
RESPONSE = "{urn:oasis:names:tc:SAML:2.0:protocol}Response"
BINDINGS = {"redirect": BINDING_HTTP_REDIRECT, "post": BINDING_HTTP_POST}


class Refused(Exception):
    """A Response this script refuses beyond pysaml2's checks."""


def settings(folder):
    with open(os.path.join(folder, "settings.json")) as file:
        return json.load(file)


def client(folder, acs_urls=None, unsolicited=False, idp_metadata=True, hide_acs=False):
    """pysaml2's SP for DIR. acs_urls replaces settings.json's (what `response --acs` accepts)."""
    given = settings(folder)
    sp = {
        "endpoints": {
            "assertion_consumer_service": [
                (url, BINDING_HTTP_POST) for url in (acs_urls or given["acs_urls"])
            ],
        },
        "authn_requests_signed": given.get("authn_requests_signed", True),
        "want_assertions_signed": True,
        "want_response_signed": bool(given.get("want_response_signed", False)),
        # Off: it would take the Response's signature instead of the assertion's, which
        # want_assertions_signed demands (on the decrypted assertion when it came encrypted).
        "want_assertions_or_response_signed": False,
        "allow_unsolicited": unsolicited,
        # pysaml2 sends AllowCreate="false" unless told: an IdP may then refuse to make the
        # persistent identifier a first login needs.
        "name_id_format_allow_create": True,
        # `request --acs none`: neither AssertionConsumerServiceURL nor ProtocolBinding.
        "hide_assertion_consumer_service": hide_acs,
    }
    if given.get("slo_url"):
        sp["endpoints"]["single_logout_service"] = [(given["slo_url"], BINDING_HTTP_REDIRECT)]
    if given.get("name_id_format"):
        sp["name_id_format"] = [given["name_id_format"]]
        sp["name_id_policy_format"] = given["name_id_format"]
    config = {
        "entityid": given["entity_id"],
        "service": {"sp": sp},
        "key_file": os.path.join(folder, "sp-key.pem"),
        "cert_file": os.path.join(folder, "sp-cert.pem"),
        # Decrypts EncryptedAssertion; also what the metadata shows as use="encryption".
        "encryption_keypairs": [
            {
                "key_file": os.path.join(folder, "sp-enc-key.pem"),
                "cert_file": os.path.join(folder, "sp-enc-cert.pem"),
            }
        ],
        # pysaml2 looks for xmlsec1 on its own search path otherwise; Debian's is here.
        "xmlsec_binary": "/usr/bin/xmlsec1",
        # Signatures verify only with the IdP's certificates from idp-metadata.xml (all of its
        # use="signing" ones, so a key rollover's two), never a certificate in the message's
        # KeyInfo. pysaml2's default, but it is the point of the test.
        "only_use_keys_in_metadata": True,
        "accepted_time_diff": 60,
        "signing_algorithm": SIG_RSA_SHA256,
        "digest_algorithm": DIGEST_SHA256,
        # No attribute_map_dir: pysaml2's own maps (basic, uri, shibboleth, adfs). Names they
        # do not know are kept under their Name instead of being dropped.
        "allow_unknown_attributes": True,
    }
    if idp_metadata:
        # A local file: no fetch, so no verify_ssl_cert or metadata signature to deal with.
        config["metadata"] = {"local": [os.path.join(folder, "idp-metadata.xml")]}
    loaded = SPConfig()
    loaded.load(config)
    return Saml2Client(config=loaded)


def metadata(folder):
    sp = client(folder, idp_metadata=False)
    # entity_descriptor + metadata_tostring_fix is create_metadata_string without reading a
    # config file; use "both" (the default) gives KeyDescriptor use="signing" for cert_file
    # and use="encryption" for each encryption_keypairs certificate.
    descriptor = entity_descriptor(sp.config)
    valid_instance(descriptor)
    print(metadata_tostring_fix(descriptor, {"xs": "http://www.w3.org/2001/XMLSchema"}).decode())


def options(args, flags, valued):
    """Reads --flag and --name VALUE options: ({flag: bool}, {name: value})."""
    seen = {flag: False for flag in flags}
    values = {}
    args = list(args)
    while args:
        arg = args.pop(0)
        if arg in flags:
            seen[arg] = True
        elif arg in valued and args:
            values[arg] = args.pop(0)
        else:
            raise SystemExit("unknown or incomplete option: %s" % arg)
    return seen, values


def idp_entity(sp):
    (entity,) = sp.metadata.with_descriptor("idpsso")
    return entity


def request(folder, binding_name, *args):
    if binding_name not in BINDINGS:
        raise SystemExit("BINDING is redirect or post, not %s" % binding_name)
    binding = BINDINGS[binding_name]
    flags, values = options(
        args, ["--sign", "--force", "--passive"], ["--acs", "--relay-state"]
    )
    acs = values.get("--acs")
    sp = client(folder, hide_acs=acs == "none")
    destination = sp.sso_location(idp_entity(sp), binding)
    extra = {}
    if acs and acs != "none":
        extra["assertion_consumer_service_url"] = acs
    if flags["--force"]:
        extra["force_authn"] = "true"
    if flags["--passive"]:
        extra["is_passive"] = "true"
    sign = flags["--sign"]
    request_id, message = sp.create_authn_request(
        destination,
        binding=BINDING_HTTP_POST,  # the ProtocolBinding asked of the IdP for its Response
        # The XML signature is for POST only; HTTP-Redirect signs the query string.
        sign=sign and binding == BINDING_HTTP_POST,
        sign_alg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
        **extra,
    )
    relay_state = values.get("--relay-state", "")
    if binding == BINDING_HTTP_REDIRECT:
        http_args = sp.apply_binding(
            binding, str(message), destination, relay_state, sign=sign, sigalg=SIG_RSA_SHA256
        )
        print(json.dumps({"id": request_id, "url": dict(http_args["headers"])["Location"]}))
    else:
        # What pysaml2's http_form_post_message puts in its HTML form, without the HTML.
        fields = {"SAMLRequest": base64.b64encode(str(message).encode()).decode()}
        if relay_state:
            fields["RelayState"] = relay_state
        print(json.dumps({"id": request_id, "action": destination, "fields": fields}))


def raw_attributes(assertion):
    return [
        {
            "name": attribute.name,
            "name_format": attribute.name_format,
            "friendly_name": attribute.friendly_name,
            "values": [value.text for value in attribute.attribute_value],
        }
        for statement in assertion.attribute_statement
        for attribute in statement.attribute
    ]


def signature_misplaced(xml, tag):
    """The first `tag` element of xml whose ds:Signature is not the child right after its Issuer,
    where the schema puts it. pysaml2 schema-validates its own re-serialization of the message,
    which puts the Signature back in place, so it takes a Signature anywhere in the element."""
    for element in ElementTree.fromstring(xml).iter(tag):
        children = list(element)
        places = [index for index, child in enumerate(children) if child.tag == SIGNATURE]
        if places and (places != [1] or children[0].tag != ISSUER):
            return element.get("ID")
    return None


def response(folder, encoded, *args):
    _, values = options(args, [], ["--in-response-to", "--acs"])
    in_response_to = values.get("--in-response-to")
    acs = values.get("--acs")
    offset = int(settings(folder).get("clock_offset_seconds", 0))
    if offset:
        # pysaml2's NotBefore/NotOnOrAfter checks (saml2.validate) read the time here.
        system_now = time_util.utc_now
        time_util.utc_now = lambda: system_now() + offset
    sp = client(folder, acs_urls=[acs] if acs else None, unsolicited=in_response_to is None)
    xml = base64.b64decode(encoded)
    sent = response_from_string(xml)
    if sent is None:
        raise Refused("not a samlp:Response")
    if not sent.destination:
        raise Refused("the Response has no Destination")
    parsed = sp.parse_authn_request_response(
        encoded,
        BINDING_HTTP_POST,
        outstanding={in_response_to: "/"} if in_response_to else None,
        # Any conv_info makes pysaml2 check SubjectConfirmationData's Recipient against the
        # ACS URLs; without one it only checks a Recipient is there. No "entity_id" in it:
        # pysaml2 would also take a Recipient equal to it.
        conv_info={"remote_addr": "0.0.0.0"},
    )
    if parsed is None or parsed.assertion is None:
        # pysaml2's StatusResponse.verify returns None, not an exception, for these, and
        # parse_authn_request_response hands back the Response without its assertion.
        acs_urls = sp.service_urls(BINDING_HTTP_POST)
        if sent.destination not in acs_urls:
            raise Refused(
                "Destination %s is not one of the ACS URLs %s" % (sent.destination, acs_urls)
            )
        if parsed is not None and not parsed.issue_instant_ok():
            raise Refused("IssueInstant %s is more than a day off" % sent.issue_instant)
        raise Refused("pysaml2 found no assertion it could read (undecryptable?)")
    assertion = parsed.assertion
    misplaced = signature_misplaced(xml, RESPONSE) or signature_misplaced(
        parsed.xmlstr, ASSERTION
    )
    if misplaced:
        raise Refused("the Signature of %s is not the element right after its Issuer" % misplaced)
    # pysaml2 finds the key by the assertion's Issuer (and, for a signed Response, the
    # Response's) but never compares the two.
    if sent.issuer is not None and sent.issuer.text != assertion.issuer.text:
        raise Refused(
            "the Response's Issuer %s is not the assertion's %s"
            % (sent.issuer.text, assertion.issuer.text)
        )
    print(
        json.dumps(
            {
                "name_id": parsed.name_id.text if parsed.name_id else None,
                "name_id_format": parsed.name_id.format if parsed.name_id else None,
                "session_index": assertion.authn_statement[0].session_index,
                "issuer": sent.issuer.text if sent.issuer is not None else None,
                "in_response_to": parsed.in_response_to,
                "attributes": parsed.ava,
                "assertion_signed": assertion.signature is not None,
                "response_signed": sent.signature is not None,
                "encrypted": bool(sent.encrypted_assertion),
                "audience": [
                    audience.text
                    for restriction in assertion.conditions.audience_restriction
                    for audience in restriction.audience
                ]
                if assertion.conditions
                else [],
                "destination": sent.destination,
                "raw_attributes": raw_attributes(assertion),
            }
        )
    )


def query_of(url):
    return {name: values[0] for name, values in parse_qs(urlparse(url).query).items()}


def verify_query_signature(sp, query):
    """The HTTP-Redirect signature of query, checked with the IdP's signing certificates from
    idp-metadata.xml. pysaml2's parse_logout_* check only an XML signature, which this binding
    does not carry, so an unsigned message would pass them."""
    if "Signature" not in query or "SigAlg" not in query:
        raise SignatureError("the message has no SigAlg/Signature query parameters")
    # pysaml2 lists each certificate with its KeyName: (name, base64 DER).
    certs = [cert for _, cert in sp.metadata.certs(idp_entity(sp), "idpsso", "signing")]
    if not certs:
        raise SignatureError("idp-metadata.xml has no signing certificate")
    try:
        verified = any(
            verify_redirect_signature(query, sp.sec.sec_backend, cert=cert) for cert in certs
        )
    except SignatureError:
        raise
    except Exception as error:
        raise SignatureError("SigAlg %s: %s: %s" % (query["SigAlg"], type(error).__name__, error))
    if not verified:
        raise SignatureError(
            "the query signature (SigAlg %s) does not verify with the IdP's certificates"
            % query["SigAlg"]
        )


def logout_checks(sp, message, kind):
    """What pysaml2 leaves unchecked on logout messages (found with 7.0.1)."""
    if not message.destination:
        # SAML bindings 3.4.5.2: a signed HTTP-Redirect message must carry Destination;
        # pysaml2 checks it only when present.
        raise Refused("the %s has no Destination" % kind)
    slo_urls = [
        url for url, _ in sp.config.getattr("endpoints", "sp").get("single_logout_service", [])
    ]
    if message.destination not in slo_urls:
        raise Refused("Destination %s is not the SP's slo_url %s" % (message.destination, slo_urls))
    # The signature was checked with the IdP's certificates; the Issuer, optional in a
    # LogoutResponse, must not name another entity.
    if message.issuer is not None and message.issuer.text != idp_entity(sp):
        raise Refused("the %s's Issuer %s is not the IdP's %s" % (kind, message.issuer.text, idp_entity(sp)))
    if kind == "LogoutRequest" and message.issuer is None:
        raise Refused("the LogoutRequest has no Issuer")


def logout_request(folder, name_id, name_id_format, session_index, *args):
    flags, values = options(args, ["--unsigned"], ["--relay-state"])
    sp = client(folder)
    idp = idp_entity(sp)
    (destination,) = [
        service["location"]
        for service in sp.metadata.single_logout_service(idp, BINDING_HTTP_REDIRECT, "idpsso")
    ][:1] or [None]
    if destination is None:
        raise Refused("idp-metadata.xml lists no HTTP-Redirect SingleLogoutService")
    request_id, message = sp.create_logout_request(
        destination,
        idp,
        name_id=NameID(text=name_id, format=name_id_format),
        session_indexes=[session_index],
        sign=False,  # HTTP-Redirect signs the query string, not the XML
    )
    http_args = sp.apply_binding(
        BINDING_HTTP_REDIRECT,
        str(message),
        destination,
        values.get("--relay-state", ""),
        sign=not flags["--unsigned"],
        sigalg=SIG_RSA_SHA256,
    )
    print(json.dumps({"id": request_id, "url": dict(http_args["headers"])["Location"]}))


def logout_response(folder, url, *args):
    _, values = options(args, [], ["--in-response-to"])
    if "--in-response-to" not in values:
        raise SystemExit("logout-response needs --in-response-to ID")
    expected = values["--in-response-to"]
    sp = client(folder)
    query = query_of(url)
    if "SAMLResponse" not in query:
        raise Refused("the URL has no SAMLResponse")
    verify_query_signature(sp, query)
    try:
        parsed = sp.parse_logout_request_response(query["SAMLResponse"], BINDING_HTTP_REDIRECT)
    except StatusError:
        # pysaml2 raises for a non-Success status once its IssueInstant check passed; the
        # status is the answer here, not a refusal. The checks below still apply.
        parsed = None
        message = logout_response_from_string(
            sp.unravel(query["SAMLResponse"], BINDING_HTTP_REDIRECT, "logout_response")
        )
    else:
        if parsed is None or parsed.response is None:
            # StatusResponse.verify returns None, not an exception, for these.
            raise Refused(
                "pysaml2 returned no LogoutResponse (IssueInstant more than a day off?)"
            )
        message = parsed.response
    logout_checks(sp, message, "LogoutResponse")
    if message.in_response_to != expected:
        raise UnsolicitedResponse(
            "InResponseTo %s is not %s" % (message.in_response_to, expected)
        )
    print(
        json.dumps(
            {
                "in_response_to": message.in_response_to,
                "status": message.status.status_code.value,
                "issuer": message.issuer.text if message.issuer is not None else None,
                "destination": message.destination,
                "relay_state": query.get("RelayState"),
            }
        )
    )


def logout_received(folder, url):
    sp = client(folder)
    query = query_of(url)
    if "SAMLRequest" not in query:
        raise Refused("the URL has no SAMLRequest")
    verify_query_signature(sp, query)
    parsed = sp.parse_logout_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT)
    if parsed is None:
        raise Refused("pysaml2 did not accept the LogoutRequest")
    message = parsed.message
    logout_checks(sp, message, "LogoutRequest")
    if message.not_on_or_after and time_util.before(message.not_on_or_after) is False:
        raise Refused("the LogoutRequest expired at NotOnOrAfter %s" % message.not_on_or_after)
    print(
        json.dumps(
            {
                "id": message.id,
                "issuer": message.issuer.text if message.issuer is not None else None,
                "name_id": message.name_id.text if message.name_id is not None else None,
                "name_id_format": message.name_id.format if message.name_id is not None else None,
                "session_index": message.session_index[0].text if message.session_index else None,
                "destination": message.destination,
            }
        )
    )


def main(argv):
    commands = {
        "metadata": metadata,
        "request": request,
        "response": response,
        "logout-request": logout_request,
        "logout-response": logout_response,
        "logout-received": logout_received,
    }
    if len(argv) < 2 or argv[1] not in commands:
        raise SystemExit("usage: saml_sp.py DIR metadata|request|response|logout-request|logout-response|"
            "logout-received ... (see its docstring)")
    folder, command, *rest = argv
    commands[command](folder, *rest)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except SystemExit:
        raise
    except Exception as error:  # a refusal: its class and message on one line
        message = " ".join(str(error).split())
        if len(message) > 2000:
            message = message[:2000] + "..."
        print("%s: %s" % (type(error).__name__, message), file=sys.stderr)
        sys.exit(1)
