//! What STS decides when a provider's token or SAML response is exchanged
//! for a role's session: the provider and what it issued first, then the
//! role's trust for the provider's users, with the keys the token or the
//! assertion carries.

use std::collections::BTreeMap;

use super::{Predictor, insert_role_tags, reason};
use crate::policy::{self, Caller, Context, Decision, PolicySet, Reason, Request};
use crate::sdk::call_error;
use crate::service::sts::ASSUME_ROLE_WITH_SAML;
use crate::service::sts::saml::{Assertion, Form, SignedResponse};

impl Predictor {
    /// A token of `issuer` with `claims` exchanged for a session of `role_arn`,
    /// as STS does it: the provider must exist in the account and list the
    /// token's audience (else InvalidIdentityToken), then the role's trust
    /// must allow the provider's users, its conditions on `<issuer>:<claim>`
    /// (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-idp_oidc.html).
    pub(super) async fn predict_web_identity(&self, provider_arn: &str, role_arn: &str, issuer: &str, claims: &BTreeMap<String, String>) -> Result<Reason, String> {
        let invalid = |why: String| Ok(reason(Decision::Invalid, format!("InvalidIdentityToken: {why}")));
        let provider = match self.account_of(provider_arn)?.iam.get_open_id_connect_provider().open_id_connect_provider_arn(provider_arn).send().await {
            Ok(provider) => provider,
            Err(err) if call_error(&err).code() == "NoSuchEntity" => return invalid(format!("No OpenIDConnect provider found in your account for https://{issuer}")),
            Err(err) => return Err(format!("cannot read the OIDC provider {provider_arn}: iam:GetOpenIDConnectProvider: {}", call_error(&err).code())),
        };
        if !claims.get("aud").is_some_and(|aud| provider.client_id_list().iter().any(|id| id == aud)) {
            return invalid("Incorrect token audience".into());
        }
        let caller = Caller::parse(provider_arn).ok_or_else(|| format!("{provider_arn} is not a provider the evaluator knows"))?;
        let mut set = PolicySet { resource_exists: true, ..PolicySet::default() };
        let role = self.target_role(role_arn, &mut set).await?;
        let mut context = Context::signed([]);
        for (claim, value) in claims {
            context.insert(&format!("{issuer}:{claim}"), vec![value.clone()]);
        }
        insert_role_tags(&mut context, role.as_ref());
        context.insert("aws:FederatedProvider", vec![provider_arn.to_string()]);
        context.insert("aws:RequestedRegion", vec![self.region.clone()]);
        let request = Request { caller, action: "sts:AssumeRoleWithWebIdentity".into(), resource: role_arn.to_string(), resource_account: None, context };
        Ok(policy::evaluate(&request, &set).reason)
    }

    /// A SAML response exchanged for a session of `role_arn`, as STS checks
    /// it: the provider must exist and its metadata hold the certificate that
    /// signed the response and the response's issuer, the response must be
    /// signed, untouched and unexpired (else InvalidIdentityToken or
    /// ExpiredTokenException); then the role's trust must allow the
    /// provider's users with the assertion's SAML:* keys (SAML:aud is its
    /// Recipient), and sts:TagSession for its PrincipalTag attributes
    /// (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithSAML.html,
    /// https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_saml.html).
    pub(super) async fn predict_saml(&self, role_arn: &str, provider_arn: &str, assertion: &Assertion, signed: &SignedResponse) -> Result<Reason, String> {
        let invalid = |why: &str| Ok(reason(Decision::Invalid, why.to_string()));
        let metadata = match self.account_of(provider_arn)?.iam.get_saml_provider().saml_provider_arn(provider_arn).send().await {
            Ok(provider) => provider.saml_metadata_document().unwrap_or_default().to_string(),
            Err(err) if call_error(&err).code() == "NoSuchEntity" => return invalid("InvalidIdentityToken: Specified provider doesn't exist"),
            Err(err) => return Err(format!("cannot read the SAML provider {provider_arn}: iam:GetSAMLProvider: {}", call_error(&err).code())),
        };
        let compact: String = metadata.split_whitespace().collect();
        if matches!(assertion.form, Form::Unsigned | Form::Tampered) || signed.certificate.is_empty() || !compact.contains(&signed.certificate) {
            return invalid("InvalidIdentityToken: Response signature invalid");
        }
        if !metadata.contains(&format!("entityID=\"{}\"", signed.issuer)) {
            return invalid("InvalidIdentityToken: Issuer not present in specified provider");
        }
        if assertion.form == Form::Expired {
            return invalid("ExpiredTokenException: Token expired");
        }
        let caller = Caller::parse(provider_arn).ok_or_else(|| format!("{provider_arn} is not a provider the evaluator knows"))?;
        let mut set = PolicySet { resource_exists: true, ..PolicySet::default() };
        let role = self.target_role(role_arn, &mut set).await?;
        let mut context = Context::signed([]);
        for (key, values) in assertion.keys(&signed.issuer) {
            context.insert(&key, values);
        }
        let tags = assertion.session_tags();
        for (key, value) in &tags {
            context.insert(&format!("aws:RequestTag/{key}"), vec![value.clone()]);
        }
        if !tags.is_empty() {
            context.insert("aws:TagKeys", tags.keys().cloned().collect());
        }
        insert_role_tags(&mut context, role.as_ref());
        context.insert("aws:FederatedProvider", vec![provider_arn.to_string()]);
        context.insert("aws:RequestedRegion", vec![self.region.clone()]);
        let mut request = Request { caller, action: ASSUME_ROLE_WITH_SAML.into(), resource: role_arn.to_string(), resource_account: None, context };
        let evaluation = policy::evaluate(&request, &set);
        if evaluation.decision != Decision::Allow || tags.is_empty() {
            return Ok(evaluation.reason);
        }
        // Session tags from PrincipalTag attributes need sts:TagSession in the trust.
        request.action = "sts:TagSession".into();
        Ok(policy::evaluate(&request, &set).reason)
    }
}
