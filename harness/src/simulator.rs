//! The IAM Policy Simulator as a third opinion, beside AWS's answer and the
//! evaluator's prediction: each step it can be asked about goes to
//! `iam:SimulatePrincipalPolicy` with the step's context entries
//! (https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html).
//! Its limits are AWS's: it simulates an IAM user, group or role (not a
//! provider's users, a federated user or anyone); a resource policy needs a
//! `CallerArn`, which must be an IAM user, so a bucket or key policy cannot
//! take part for a role session; session policies cannot be passed; and for
//! `sts:AssumeRole` it reads the caller's policies, not the role's trust
//! (aws-cli #10314). A step it cannot be asked about says why. Its answer
//! never changes a verdict: where it differs from AWS's or the evaluator's,
//! the step carries a note.

use aws_config::SdkConfig;
use aws_sdk_iam::types::{ContextEntry, ContextKeyTypeEnum, PolicyEvaluationDecisionType};
use serde::{Deserialize, Serialize};

use crate::policy::Decision;
use crate::prediction::SessionFacts;
use crate::sdk::call_error;
use crate::service::{Authorization, Call, Governing};

/// What the simulator said of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opinion {
    #[serde(flatten)]
    pub answer: Answer,
    /// What its answer leaves out (the trust of an sts:AssumeRole).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caveat: Option<String>,
    /// Where its answer differs from AWS's or the evaluator's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The simulator's answer, or why it was not asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "simulator", rename_all = "kebab-case")]
pub enum Answer {
    Answered {
        /// `allowed`, `explicitDeny` or `implicitDeny`, as the API names it.
        decision: String,
        /// The statements it says decided: policy id and type.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        statements: Vec<String>,
        /// Context keys its policies need that the request did not give.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        missing_context: Vec<String>,
    },
    NotAskable { why: String },
    Failed { why: String },
}

impl Answer {
    /// Its decision as the evaluator's, where it gave one.
    pub fn decision(&self) -> Option<Decision> {
        match self {
            Answer::Answered { decision, .. } if decision == "allowed" => Some(Decision::Allow),
            Answer::Answered { .. } => Some(Decision::Deny),
            _ => None,
        }
    }

    /// One line for a person.
    pub fn line(&self) -> String {
        match self {
            Answer::Answered { decision, statements, missing_context } => {
                let mut line = decision.clone();
                if !statements.is_empty() {
                    line.push_str(&format!(" (by {})", statements.join(", ")));
                }
                if !missing_context.is_empty() {
                    line.push_str(&format!("; it lacked {}", missing_context.join(", ")));
                }
                line
            }
            Answer::NotAskable { why } => format!("not askable: {why}"),
            Answer::Failed { why } => format!("failed: {why}"),
        }
    }
}

/// What the simulator is asked: whose policies, the action, the resource, and what else it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The user's or the role's ARN (a session is simulated as its role).
    pub source: Source,
    pub action: String,
    pub resource: String,
    /// A user caller's ARN, where a resource policy takes part.
    pub caller_arn: Option<String>,
    /// The resource policy to simulate with, fetched by the asker.
    pub resource_policy: Option<Governed>,
    pub context: Vec<(String, Vec<String>)>,
    pub caveat: Option<String>,
}

/// Whose policies the simulator reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    User(String),
    /// A role, by its account and name (its ARN, with its path, is read from IAM).
    Role { account: String, name: String },
}

/// A resource whose own policy takes part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Governed {
    Bucket(String),
    Key(String),
}

/// What to ask about `call` made as `caller` carrying `facts`; Err: why it cannot be asked.
pub fn question(call: &Call, caller: &str, facts: &SessionFacts, partition: &str) -> Result<Question, String> {
    let Authorization::Request { action, resource, governed_by, keys } = call.authorization(partition) else {
        return Err("the simulator answers for an IAM user's or role's request, not for a token, a SAML response or the harness's own lookups".into());
    };
    if facts.policy.is_some() || !facts.policy_arns.is_empty() || facts.federated_from.is_some() {
        return Err("a session policy narrows this session, and the simulator cannot be given one".into());
    }
    let source = source_of(caller)?;
    let is_user = matches!(source, Source::User(_));
    let (resource_policy, caveat) = match governed_by {
        Governing::Role { .. } => (None, Some("the simulator reads the caller's policies, not the role's trust policy, for sts:AssumeRole (aws-cli #10314)".to_string())),
        Governing::Bucket(bucket) => (Some(Governed::Bucket(bucket.to_string())), None),
        Governing::Key(key) if is_user => (Some(Governed::Key(key.to_string())), None),
        Governing::Key(_) => return Err("a KMS key's policy takes part, and the simulator takes a resource policy only with an IAM user as CallerArn".into()),
        Governing::Federation(_) => return Err("GetFederationToken makes a federated user, which the simulator does not simulate".into()),
        Governing::CallerOnly => (None, None),
    };
    let mut context = keys;
    for (key, value) in &facts.tags {
        context.push((format!("aws:PrincipalTag/{key}"), vec![value.clone()]));
    }
    if let Some(identity) = &facts.source_identity {
        context.push(("aws:SourceIdentity".into(), vec![identity.clone()]));
    }
    context.push(("aws:SecureTransport".into(), vec!["true".into()]));
    let caller_arn = is_user.then(|| caller.to_string());
    Ok(Question { source, action: action.to_string(), resource, caller_arn, resource_policy, context, caveat })
}

/// The IAM principal whose policies speak for `caller`.
fn source_of(caller: &str) -> Result<Source, String> {
    let parts: Vec<&str> = caller.splitn(6, ':').collect();
    match (parts.get(2), parts.get(4), parts.get(5)) {
        (Some(&"iam"), Some(_), Some(rest)) if rest.starts_with("user/") => Ok(Source::User(caller.to_string())),
        (Some(&"sts"), Some(account), Some(rest)) if rest.starts_with("assumed-role/") => {
            let name = rest.split('/').nth(1).unwrap_or_default();
            Ok(Source::Role { account: account.to_string(), name: name.to_string() })
        }
        _ => Err(format!("the simulator simulates IAM users, groups and roles; {caller} is none of them")),
    }
}

/// The simulator, reached as the target's admin (who needs iam:SimulatePrincipalPolicy).
#[derive(Debug, Clone)]
pub struct Simulator {
    /// Where SimulatePrincipalPolicy is asked.
    simulator: aws_sdk_iam::Client,
    /// The target's IAM, S3 and KMS: a role's ARN, a resource's policy.
    admin: SdkConfig,
}

impl Simulator {
    /// `endpoint`: where IAM's simulator answers (a stand-in in tests), else the admin's own endpoint.
    pub fn new(admin: &SdkConfig, endpoint: Option<&str>) -> Self {
        let mut config = aws_sdk_iam::config::Builder::from(admin);
        if let Some(url) = endpoint {
            config = config.endpoint_url(url);
        }
        Self { simulator: aws_sdk_iam::Client::from_conf(config.build()), admin: admin.clone() }
    }

    /// Ask about `call`; the opinion says why where it could not.
    pub async fn opinion(&self, call: &Call, caller: &str, facts: &SessionFacts, partition: &str) -> Opinion {
        let question = match question(call, caller, facts, partition) {
            Ok(question) => question,
            Err(why) => return Opinion { answer: Answer::NotAskable { why }, caveat: None, note: None },
        };
        let caveat = question.caveat.clone();
        let answer = match self.ask(&question).await {
            Ok(answer) => answer,
            Err(why) => Answer::Failed { why },
        };
        Opinion { answer, caveat, note: None }
    }

    async fn ask(&self, question: &Question) -> Result<Answer, String> {
        let source = match &question.source {
            Source::User(arn) => arn.clone(),
            Source::Role { name, .. } => {
                let role = aws_sdk_iam::Client::new(&self.admin).get_role().role_name(name).send().await.map_err(|e| format!("iam:GetRole {name}: {}", call_error(&e).code()))?;
                role.role().map(|r| r.arn().to_string()).unwrap_or_default()
            }
        };
        let resource_policy = match &question.resource_policy {
            Some(governed) => match self.resource_policy(governed).await? {
                Some(_) if question.caller_arn.is_none() => {
                    return Ok(Answer::NotAskable { why: "the bucket's policy takes part, and the simulator takes a resource policy only with an IAM user as CallerArn".into() });
                }
                policy => policy,
            },
            None => None,
        };
        let entries: Vec<ContextEntry> = question.context.iter().map(|(key, values)| context_entry(key, values)).collect();
        let answer = self
            .simulator
            .simulate_principal_policy()
            .policy_source_arn(source)
            .action_names(&question.action)
            .resource_arns(&question.resource)
            .set_caller_arn(question.caller_arn.clone().filter(|_| resource_policy.is_some()))
            .set_resource_policy(resource_policy)
            .set_context_entries((!entries.is_empty()).then_some(entries))
            .send()
            .await
            .map_err(|e| format!("iam:SimulatePrincipalPolicy: {}: {}", call_error(&e).code(), call_error(&e).message()))?;
        let Some(result) = answer.evaluation_results().first() else { return Err("the simulator returned no evaluation result".into()) };
        Ok(Answer::Answered {
            decision: decision_name(result.eval_decision()).into(),
            statements: result.matched_statements().iter().map(|s| format!("{} ({})", s.source_policy_id().unwrap_or("?"), s.source_policy_type().map(|t| t.as_str()).unwrap_or("?"))).collect(),
            missing_context: result.missing_context_values().to_vec(),
        })
    }

    /// The resource's own policy (None: a bucket without one).
    async fn resource_policy(&self, governed: &Governed) -> Result<Option<String>, String> {
        match governed {
            Governed::Bucket(bucket) => match crate::sdk::s3_client(&self.admin).get_bucket_policy().bucket(bucket).send().await {
                Ok(out) => Ok(out.policy().map(str::to_string)),
                Err(err) if call_error(&err).code() == "NoSuchBucketPolicy" => Ok(None),
                Err(err) => Err(format!("s3:GetBucketPolicy {bucket}: {}", call_error(&err).code())),
            },
            Governed::Key(key) => match aws_sdk_kms::Client::new(&self.admin).get_key_policy().key_id(key).send().await {
                Ok(out) => Ok(out.policy().map(str::to_string)),
                Err(err) => Err(format!("kms:GetKeyPolicy {key}: {}", call_error(&err).code())),
            },
        }
    }
}

fn decision_name(decision: &PolicyEvaluationDecisionType) -> &str {
    decision.as_str()
}

fn context_entry(key: &str, values: &[String]) -> ContextEntry {
    let kind = if values.len() == 1 { ContextKeyTypeEnum::String } else { ContextKeyTypeEnum::StringList };
    ContextEntry::builder().context_key_name(key).context_key_type(kind).set_context_key_values(Some(values.to_vec())).build()
}

/// Where the simulator's decision differs from AWS's (observed) or the evaluator's (predicted).
pub fn note(answer: &Answer, observed: Option<Decision>, predicted: Option<Decision>, caveat: Option<&str>) -> Option<String> {
    let said = answer.decision()?;
    let mut differs = Vec::new();
    if let Some(observed) = observed.filter(|o| *o != said) {
        differs.push(format!("AWS answered {observed}"));
    }
    if let Some(predicted) = predicted.filter(|p| *p != said) {
        differs.push(format!("the evaluator predicts {predicted}"));
    }
    if differs.is_empty() {
        return None;
    }
    let why = caveat.map(|c| format!(" ({c})")).unwrap_or_default();
    Some(format!("the Policy Simulator says {said}, but {}{why}", differs.join(" and ")))
}

#[cfg(test)]
mod tests;
