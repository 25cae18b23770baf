"""What STS checks of a SAML response before it looks at the role's trust,
as the AssumeRoleWithSAML API reference and IAM's SAML pages document it
(https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithSAML.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_saml_assertions.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_saml.html):
the signature against the provider's metadata certificate (signxml, reading
only what the signature covers), the issuer against the metadata's entity
id, the subject confirmation's expiry, and the attributes AWS reads. What
it returns feeds the trust evaluation: SAML:aud is the Recipient, SAML:iss
the issuer, SAML:sub the NameID, the Role attribute's pairs, the
RoleSessionName, the PrincipalTag:* session tags.
"""

import base64
import datetime

from lxml import etree
from signxml import XMLVerifier
from signxml.exceptions import InvalidInput, InvalidSignature

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
ATTRIBUTES = "https://aws.amazon.com/SAML/Attributes/"

# SAML attribute names AWS maps to trust policy keys besides the NameID ones.
KEY_OF_ATTRIBUTE = {
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.1": "SAML:edupersonaffiliation",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.7": "SAML:edupersonentitlement",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.6": "SAML:edupersonprincipalname",
    "urn:oid:0.9.2342.19200300.100.1.3": "SAML:mail",
    "urn:oid:0.9.2342.19200300.100.1.1": "SAML:uid",
    "urn:oid:2.5.4.3": "SAML:cn",
}


class Refusal(Exception):
    """An STS error: its code and message."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def _invalid(message):
    return Refusal("InvalidIdentityToken", message)


def metadata_of(document):
    """The entity id and the signing certificates (PEM) of IdP metadata."""
    try:
        root = etree.fromstring(document.encode())
    except etree.XMLSyntaxError:
        raise _invalid("Could not parse metadata")
    certs = ["-----BEGIN CERTIFICATE-----\n" + "".join(c.text.split()) + "\n-----END CERTIFICATE-----\n"
             for c in root.iter(f"{{{DS}}}X509Certificate") if c.text]
    return root.get("entityID"), certs


def _verified_assertion(response, certs):
    """The assertion the signature covers (the Response's or the Assertion's own)."""
    if not response.findall(f".//{{{DS}}}Signature"):
        raise _invalid("Response signature invalid")
    for cert in certs:
        try:
            signed = XMLVerifier().verify(response, x509_cert=cert, id_attribute="ID").signed_xml
        except (InvalidSignature, InvalidInput):
            continue
        if signed.tag == f"{{{SAML}}}Assertion":
            return signed
        assertion = signed.find(f"{{{SAML}}}Assertion")
        if assertion is not None:
            return assertion
    raise _invalid("Response signature invalid")


def _time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def read(encoded, metadata_document, now=None):
    """The verified assertion's facts: issuer, recipient, subject, and attributes (name -> values)."""
    try:
        response = etree.fromstring(base64.b64decode(encoded))
    except Exception:
        raise Refusal("InvalidIdentityToken", "Invalid SAML response")
    entity_id, certs = metadata_of(metadata_document)
    assertion = _verified_assertion(response, certs)
    issuer = assertion.findtext(f"{{{SAML}}}Issuer")
    if issuer != entity_id:
        raise _invalid("Issuer not present in specified provider")
    confirmations = assertion.findall(f".//{{{SAML}}}SubjectConfirmationData")
    if len(confirmations) != 1 or not confirmations[0].get("Recipient") or not confirmations[0].get("NotOnOrAfter"):
        raise _invalid("Response must contain exactly one SubjectConfirmationData with Recipient and NotOnOrAfter")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if _time(confirmations[0].get("NotOnOrAfter")) <= now:
        raise Refusal("ExpiredTokenException", "Token expired")
    name_id = assertion.find(f".//{{{SAML}}}NameID")
    attributes = {}
    for attribute in assertion.iter(f"{{{SAML}}}Attribute"):
        values = [v.text or "" for v in attribute.findall(f"{{{SAML}}}AttributeValue")]
        attributes.setdefault(attribute.get("Name"), []).extend(values)
    return {
        "issuer": issuer,
        "recipient": confirmations[0].get("Recipient"),
        "subject": name_id.text if name_id is not None else "",
        "subject_type": (name_id.get("Format", "") if name_id is not None else "").rsplit(":", 1)[-1],
        "attributes": attributes,
    }


def role_pairs(facts):
    """The Role attribute's (role ARN, provider ARN) pairs, in either order as AWS accepts them."""
    pairs = []
    for value in facts["attributes"].get(ATTRIBUTES + "Role", []):
        parts = [p.strip() for p in value.split(",")]
        if len(parts) == 2:
            role, provider = parts if ":role/" in parts[0] else parts[::-1]
            pairs.append((role, provider))
    return pairs


def session_name(facts):
    names = facts["attributes"].get(ATTRIBUTES + "RoleSessionName", [])
    if not names:
        raise _invalid("RoleSessionName is required in AuthnResponse")
    return names[0]


def session_tags(facts):
    prefix = ATTRIBUTES + "PrincipalTag:"
    return {name[len(prefix):]: values[0] for name, values in facts["attributes"].items()
            if name.startswith(prefix) and values}


def context_keys(facts):
    """The trust policy's SAML:* keys."""
    keys = {
        "SAML:aud": facts["recipient"],
        "SAML:iss": facts["issuer"],
        "SAML:sub": facts["subject"],
        "SAML:sub_type": facts["subject_type"],
    }
    for name, values in facts["attributes"].items():
        if name in KEY_OF_ATTRIBUTE:
            keys[KEY_OF_ATTRIBUTE[name]] = values
    return keys
