"""The harness's SAML 2.0 identity provider: it makes a key pair and a
self-signed certificate, renders the IdP metadata an IAM SAML provider
holds, and issues SAML responses with the attributes a scenario names,
signed with signxml (enveloped RSA-SHA256, exclusive C14N) as IdPs such as
Okta, Entra ID and ADFS sign them. The harness runs it with the project's
Python; it prints nothing secret (the key stays in its folder).

    saml_idp.py keygen FOLDER ENTITY_ID   -> FOLDER/key.pem, FOLDER/cert.pem; prints the metadata
    saml_idp.py respond FOLDER            <- a JSON request on stdin; prints the base64 SAMLResponse

A request: entity_id, recipient, audience, subject, not_on_or_after (UTC,
ISO 8601 with Z), attributes (name -> list of values), and form: signed,
unsigned (no signature) or tampered (signed, then one attribute value
changed, so the digest no longer matches).
"""

import base64
import datetime
import json
import sys
import uuid
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner, methods

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"


def keygen(folder, entity_id):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "harness SAML IdP")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .sign(key, hashes.SHA256()))
    folder = Path(folder)
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (folder / "key.pem").chmod(0o600)
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    print(
        f'<md:EntityDescriptor xmlns:md="{MD}" entityID="{entity_id}">'
        f'<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f'<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="{DS}"><ds:X509Data>'
        f'<ds:X509Certificate>{der}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>'
        f'<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        f'Location="{entity_id}/sso"/>'
        f'</md:IDPSSODescriptor></md:EntityDescriptor>')


def _element(parent, ns, tag, text=None, **attributes):
    element = etree.SubElement(parent, f"{{{ns}}}{tag}", {k: v for k, v in attributes.items() if v is not None})
    if text is not None:
        element.text = text
    return element


def _assertion(request, now):
    issued = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    assertion = etree.Element(f"{{{SAML}}}Assertion", nsmap={"saml": SAML},
                              ID=f"_{uuid.uuid4().hex}", IssueInstant=issued, Version="2.0")
    _element(assertion, SAML, "Issuer", request["entity_id"])
    # Where signxml puts the signature: right after the Issuer, as the schema orders it.
    etree.SubElement(assertion, f"{{{DS}}}Signature", Id="placeholder", nsmap={"ds": DS})
    subject = _element(assertion, SAML, "Subject")
    _element(subject, SAML, "NameID", request["subject"],
             Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")
    confirmation = _element(subject, SAML, "SubjectConfirmation", Method="urn:oasis:names:tc:SAML:2.0:cm:bearer")
    _element(confirmation, SAML, "SubjectConfirmationData",
             NotOnOrAfter=request["not_on_or_after"], Recipient=request["recipient"])
    conditions = _element(assertion, SAML, "Conditions", NotBefore=issued, NotOnOrAfter=request["not_on_or_after"])
    restriction = _element(conditions, SAML, "AudienceRestriction")
    _element(restriction, SAML, "Audience", request["audience"])
    authn = _element(assertion, SAML, "AuthnStatement", AuthnInstant=issued, SessionIndex=assertion.get("ID"))
    context = _element(authn, SAML, "AuthnContext")
    _element(context, SAML, "AuthnContextClassRef", "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport")
    statement = _element(assertion, SAML, "AttributeStatement")
    for name, values in request["attributes"].items():
        attribute = _element(statement, SAML, "Attribute", Name=name)
        for value in values:
            _element(attribute, SAML, "AttributeValue", value)
    return assertion


def respond(folder, request):
    folder = Path(folder)
    now = datetime.datetime.now(datetime.timezone.utc)
    assertion = _assertion(request, now)
    form = request.get("form", "signed")
    if form == "unsigned":
        placeholder = assertion.find(f"{{{DS}}}Signature")
        assertion.remove(placeholder)
    else:
        signer = XMLSigner(method=methods.enveloped, signature_algorithm="rsa-sha256", digest_algorithm="sha256",
                           c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#")
        signer.namespaces = {"ds": DS}
        assertion = signer.sign(assertion, key=(folder / "key.pem").read_bytes(),
                                cert=(folder / "cert.pem").read_text(), id_attribute="ID")
        if form == "tampered":
            value = assertion.find(f".//{{{SAML}}}AttributeValue")
            value.text = (value.text or "") + "-tampered"
    response = etree.Element(f"{{{SAMLP}}}Response", nsmap={"samlp": SAMLP, "saml": SAML},
                             ID=f"_{uuid.uuid4().hex}", IssueInstant=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                             Version="2.0", Destination=request["recipient"])
    _element(response, SAML, "Issuer", request["entity_id"])
    status = _element(response, SAMLP, "Status")
    _element(status, SAMLP, "StatusCode", Value="urn:oasis:names:tc:SAML:2.0:status:Success")
    response.append(assertion)
    print(base64.b64encode(etree.tostring(response)).decode())


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "keygen":
        keygen(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "respond":
        respond(sys.argv[2], json.load(sys.stdin))
    else:
        sys.exit("usage: saml_idp.py keygen FOLDER ENTITY_ID | respond FOLDER < request.json")


if __name__ == "__main__":
    main()
