//! AssumeRoleWithSAML as a scenario writes it: the SAML response the
//! harness's identity provider signs for the step (its subject, recipient,
//! attributes, and whether it is signed, unsigned, tampered with or expired),
//! exchanged unsigned, as STS takes it, for a session of the role
//! (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithSAML.html).

use std::collections::BTreeMap;

use super::super::FieldError;
use super::super::StepFields;

pub const ASSUME_ROLE_WITH_SAML: &str = "sts:AssumeRoleWithSAML";
/// AWS's sign-in endpoint: the Recipient an IdP sends AWS's assertions to (SAML:aud).
pub const RECIPIENT: &str = "https://signin.aws.amazon.com/saml";
/// The audience IdPs name AWS by.
pub const AUDIENCE: &str = "urn:amazon:webservices";
/// Where AWS's own attribute names live.
pub const AWS_ATTRIBUTES: &str = "https://aws.amazon.com/SAML/Attributes/";

/// Attribute names a scenario may write short, and their SAML names (the
/// ones AWS maps to `SAML:*` keys: id_roles_providers_create_saml_assertions.html).
const FRIENDLY: [(&str, &str); 6] = [
    ("eduPersonAffiliation", "urn:oid:1.3.6.1.4.1.5923.1.1.1.1"),
    ("eduPersonEntitlement", "urn:oid:1.3.6.1.4.1.5923.1.1.1.7"),
    ("eduPersonPrincipalName", "urn:oid:1.3.6.1.4.1.5923.1.1.1.6"),
    ("mail", "urn:oid:0.9.2342.19200300.100.1.3"),
    ("uid", "urn:oid:0.9.2342.19200300.100.1.1"),
    ("cn", "urn:oid:2.5.4.3"),
];

/// The `SAML:*` key an attribute's SAML name maps to, if any.
pub fn key_of(saml_name: &str) -> Option<String> {
    FRIENDLY.iter().find(|(_, oid)| *oid == saml_name).map(|(friendly, _)| format!("SAML:{}", friendly.to_lowercase()))
}

/// The SAML name of the attribute a `SAML:*` key (lower case) is read from, if AWS maps one.
pub fn attribute_of(key: &str) -> Option<String> {
    FRIENDLY.iter().find(|(friendly, _)| format!("saml:{}", friendly.to_lowercase()) == key).map(|(_, oid)| oid.to_string())
}

/// The SAML name of an attribute as a scenario writes it: a friendly name,
/// AWS's own (`PrincipalTag:team`, `SessionDuration`), or a full name.
pub fn saml_name(written: &str) -> String {
    if let Some((_, oid)) = FRIENDLY.iter().find(|(friendly, _)| *friendly == written) {
        return oid.to_string();
    }
    if written.starts_with("urn:") || written.contains("://") { written.to_string() } else { format!("{AWS_ATTRIBUTES}{written}") }
}

/// What the response is, besides its claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Signed,
    /// No signature at all.
    Unsigned,
    /// Signed, then one attribute value changed: the digest no longer matches.
    Tampered,
    /// Signed, with a subject confirmation that ended a minute ago.
    Expired,
}

impl Form {
    fn parse(fields: &StepFields<'_>) -> Result<Self, FieldError> {
        Ok(match fields.text("assertion")?.as_deref() {
            None | Some("signed") => Form::Signed,
            Some("unsigned") => Form::Unsigned,
            Some("tampered") => Form::Tampered,
            Some("expired") => Form::Expired,
            Some(other) => return Err(fields.error("assertion", format!("unknown assertion `{other}`; one of: signed, unsigned, tampered, expired"))),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Form::Signed => "signed",
            Form::Unsigned => "unsigned",
            Form::Tampered => "tampered",
            Form::Expired => "expired",
        }
    }
}

/// What the assertion claims, as a step names it; the Role attribute (the
/// role and provider pair) and RoleSessionName are added when it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    /// The NameID (SAML:sub).
    pub subject: String,
    /// The subject confirmation's Recipient (SAML:aud).
    pub recipient: String,
    /// Further attributes by SAML name (one value each).
    pub attributes: BTreeMap<String, String>,
    pub form: Form,
}

impl Assertion {
    pub const FIELDS: [&'static str; 4] = ["subject", "recipient", "attributes", "assertion"];

    pub fn parse(fields: &StepFields<'_>) -> Result<Self, FieldError> {
        let written = fields.table("attributes")?.unwrap_or_default();
        Ok(Assertion {
            subject: fields.text("subject")?.unwrap_or_else(|| "harness-user".to_string()),
            recipient: fields.text("recipient")?.unwrap_or_else(|| RECIPIENT.to_string()),
            attributes: written.into_iter().map(|(name, value)| (saml_name(&name), value)).collect(),
            form: Form::parse(fields)?,
        })
    }

    /// Every attribute the response carries: the step's, then the Role pair and the session name.
    pub fn all_attributes(&self, role_arn: &str, provider_arn: &str, session_name: &str) -> BTreeMap<String, Vec<String>> {
        let mut all: BTreeMap<String, Vec<String>> = self.attributes.iter().map(|(k, v)| (k.clone(), vec![v.clone()])).collect();
        all.insert(format!("{AWS_ATTRIBUTES}Role"), vec![format!("{role_arn},{provider_arn}")]);
        all.insert(format!("{AWS_ATTRIBUTES}RoleSessionName"), vec![session_name.to_string()]);
        all
    }

    /// The session tags its `PrincipalTag:*` attributes pass.
    pub fn session_tags(&self) -> BTreeMap<String, String> {
        let prefix = format!("{AWS_ATTRIBUTES}PrincipalTag:");
        self.attributes.iter().filter_map(|(name, value)| Some((name.strip_prefix(&prefix)?.to_string(), value.clone()))).collect()
    }

    /// The trust policy keys it sets (its SAML:* keys).
    pub fn keys(&self, issuer: &str) -> Vec<(String, Vec<String>)> {
        let mut keys = vec![
            ("SAML:aud".to_string(), vec![self.recipient.clone()]),
            ("SAML:iss".to_string(), vec![issuer.to_string()]),
            ("SAML:sub".to_string(), vec![self.subject.clone()]),
            ("SAML:sub_type".to_string(), vec!["persistent".to_string()]),
        ];
        keys.extend(self.attributes.iter().filter_map(|(name, value)| Some((key_of(name)?, vec![value.clone()]))));
        keys
    }
}

/// What the harness's identity provider is asked to sign.
#[derive(Debug)]
pub struct AssertionRequest<'a> {
    pub recipient: &'a str,
    pub subject: &'a str,
    pub attributes: BTreeMap<String, Vec<String>>,
    pub form: Form,
}

/// A signed (or deliberately broken) SAML response, base64 as STS takes it.
/// It is a bearer credential: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedResponse {
    pub encoded: String,
    /// The identity provider's entity id (the response's Issuer).
    pub issuer: String,
    /// Its signing certificate, base64 DER as metadata holds it.
    pub certificate: String,
}

impl std::fmt::Debug for SignedResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedResponse").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

/// The identity provider that signs a run's SAML responses.
pub trait AssertionSigner: Sync {
    fn sign(&self, request: &AssertionRequest<'_>) -> Result<SignedResponse, String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_named_as_saml_and_aws_name_them() {
        assert_eq!(saml_name("eduPersonAffiliation"), "urn:oid:1.3.6.1.4.1.5923.1.1.1.1");
        assert_eq!(saml_name("PrincipalTag:team"), "https://aws.amazon.com/SAML/Attributes/PrincipalTag:team");
        assert_eq!(saml_name("urn:oid:2.5.4.42"), "urn:oid:2.5.4.42");
        assert_eq!(key_of("urn:oid:1.3.6.1.4.1.5923.1.1.1.1").as_deref(), Some("SAML:edupersonaffiliation"));
        assert_eq!(key_of("urn:oid:2.5.4.42"), None);
    }

    #[test]
    fn the_response_pairs_the_role_with_the_provider_and_tags_from_principal_tags() {
        let assertion = Assertion {
            subject: "alice".into(),
            recipient: RECIPIENT.into(),
            attributes: BTreeMap::from([(saml_name("PrincipalTag:team"), "platform".into()), (saml_name("eduPersonAffiliation"), "engineering".into())]),
            form: Form::Signed,
        };
        let all = assertion.all_attributes("arn:aws:iam::1:role/r", "arn:aws:iam::1:saml-provider/p", "alice");
        assert_eq!(all[&format!("{AWS_ATTRIBUTES}Role")], vec!["arn:aws:iam::1:role/r,arn:aws:iam::1:saml-provider/p".to_string()]);
        assert_eq!(assertion.session_tags(), BTreeMap::from([("team".to_string(), "platform".to_string())]));
        let keys = assertion.keys("https://idp");
        assert!(keys.contains(&("SAML:aud".into(), vec![RECIPIENT.into()])) && keys.contains(&("SAML:edupersonaffiliation".into(), vec!["engineering".into()])));
    }
}
