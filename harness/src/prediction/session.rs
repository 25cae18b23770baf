//! What a principal carries besides its role or user, as the evaluator sees
//! its calls: its session's tags, policies and source identity, the instance
//! its credentials were delivered to, the provider or IAM user behind it.

use std::collections::{BTreeMap, BTreeSet};

use crate::service::sts::SessionParams;

/// What a principal carries besides its role or user: how the evaluator
/// sees its calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFacts {
    /// Session tags (and incoming transitive ones): `aws:PrincipalTag/*`, over the role's own.
    pub tags: BTreeMap<String, String>,
    /// Tag keys that pass on to a session this one assumes.
    pub transitive_tag_keys: BTreeSet<String>,
    /// The inline session policy (JSON).
    pub policy: Option<String>,
    /// Managed policies passed as session policies.
    pub policy_arns: Vec<String>,
    /// The source identity set for the session or the one it was chained from: `aws:SourceIdentity`.
    pub source_identity: Option<String>,
    /// The instance EC2 delivered this session's credentials to (not passed down a chain).
    pub instance: Option<InstanceSource>,
    /// The identity provider whose token made this session: `aws:FederatedProvider`.
    pub federated_provider: Option<String>,
    /// For a GetFederationToken session: the IAM user whose policies it narrows.
    pub federated_from: Option<String>,
}

/// The instance an instance role's session was delivered to, as its keys name it
/// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-ec2instancesourcevpc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSource {
    /// `ec2:SourceInstanceARN`.
    pub arn: String,
    /// `aws:Ec2InstanceSourceVpc`.
    pub vpc: Option<String>,
    /// `aws:Ec2InstanceSourcePrivateIPv4`.
    pub private_ip: Option<String>,
}

impl InstanceSource {
    /// The keys of every request the instance's session signs. Its credentials
    /// come over IMDSv2 (the harness serves no other): `ec2:RoleDelivery` 2.0.
    pub fn keys(&self) -> Vec<(&'static str, String)> {
        let mut keys = vec![("ec2:SourceInstanceARN", self.arn.clone()), ("ec2:RoleDelivery", "2.0".to_string())];
        keys.extend(self.vpc.clone().map(|vpc| ("aws:Ec2InstanceSourceVpc", vpc)));
        keys.extend(self.private_ip.clone().map(|ip| ("aws:Ec2InstanceSourcePrivateIPv4", ip)));
        keys
    }
}

impl SessionFacts {
    /// The session an AssumeRole with `params` makes for a caller carrying
    /// these facts: the caller's transitive tags, then the request's tags
    /// (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html:
    /// "Transitive tags persist during role chaining"), and its session policies.
    /// A source identity once set stays
    /// (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html:
    /// "The value that is set persists when a role is used to assume another role").
    pub fn assumed(&self, params: &SessionParams<String>) -> SessionFacts {
        let mut tags: BTreeMap<String, String> = self.tags.iter().filter(|(k, _)| self.transitive_tag_keys.contains(*k)).map(|(k, v)| (k.clone(), v.clone())).collect();
        let mut transitive: BTreeSet<String> = tags.keys().cloned().collect();
        tags.extend(params.tags.clone());
        transitive.extend(params.transitive_tag_keys.iter().cloned());
        let source_identity = self.source_identity.clone().or_else(|| params.source_identity.clone());
        SessionFacts { tags, transitive_tag_keys: transitive, policy: params.policy.clone(), policy_arns: params.policy_arns.clone(), source_identity, ..SessionFacts::default() }
    }

    /// The federated-user session `user` makes with GetFederationToken: its session policies.
    pub fn federated_user(user: &str, params: &SessionParams<String>) -> SessionFacts {
        SessionFacts { policy: params.policy.clone(), policy_arns: params.policy_arns.clone(), federated_from: Some(user.to_string()), ..SessionFacts::default() }
    }

    /// The session a token of `provider` makes (AssumeRoleWithWebIdentity).
    pub fn federated(provider: &str) -> SessionFacts {
        SessionFacts { federated_provider: Some(provider.to_string()), ..SessionFacts::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(tags: &[(&str, &str)], transitive: &[&str]) -> SessionParams<String> {
        SessionParams {
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            transitive_tag_keys: transitive.iter().map(|k| k.to_string()).collect(),
            ..SessionParams::default()
        }
    }

    // https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html: "Transitive tags
    // persist during role chaining"; other session tags do not pass to the next session.
    #[test]
    fn a_source_identity_once_set_stays_down_the_chain() {
        let mut first = params(&[], &[]);
        first.source_identity = Some("alice@example.com".into());
        let set = SessionFacts::default().assumed(&first);
        let chained = set.assumed(&params(&[], &[]));
        assert_eq!(chained.source_identity.as_deref(), Some("alice@example.com"));
        assert_eq!(SessionFacts::default().assumed(&params(&[], &[])).source_identity, None);
    }

    // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html:
    // the instance keys go with "EC2 instance role credentials", aws:FederatedProvider with a
    // session from a federated identity; neither passes to a session AssumeRole makes from it.
    #[test]
    fn an_instance_session_carries_its_instance_and_a_chained_one_does_not() {
        let instance = InstanceSource { arn: "arn:aws:ec2:us-east-1:111111111111:instance/i-1".into(), vpc: Some("vpc-1".into()), private_ip: Some("10.0.0.5".into()) };
        let keys = instance.keys();
        for (key, value) in [
            ("ec2:SourceInstanceARN", "arn:aws:ec2:us-east-1:111111111111:instance/i-1"),
            ("ec2:RoleDelivery", "2.0"),
            ("aws:Ec2InstanceSourceVpc", "vpc-1"),
            ("aws:Ec2InstanceSourcePrivateIPv4", "10.0.0.5"),
        ] {
            assert!(keys.contains(&(key, value.to_string())), "{key}: {keys:?}");
        }
        let on_instance = SessionFacts { instance: Some(instance), ..SessionFacts::default() };
        assert_eq!(on_instance.assumed(&params(&[], &[])).instance, None);
        let federated = SessionFacts::federated("arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com");
        assert_eq!(federated.federated_provider.as_deref(), Some("arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com"));
        assert_eq!(federated.assumed(&params(&[], &[])).federated_provider, None);
    }

    #[test]
    fn transitive_tags_pass_to_the_next_session_and_the_others_do_not() {
        let first = SessionFacts::default().assumed(&params(&[("team", "data"), ("run", "1")], &["team"]));
        let second = first.assumed(&params(&[("stage", "deploy")], &[]));
        assert_eq!(second.tags.get("team").map(String::as_str), Some("data"));
        assert!(!second.tags.contains_key("run"), "{second:?}");
        assert_eq!(second.tags.get("stage").map(String::as_str), Some("deploy"));
        assert!(second.transitive_tag_keys.contains("team"), "a transitive tag stays transitive down the chain");
    }
}
