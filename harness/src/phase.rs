//! The phases of a scenario's run, typed: reports show them, and which one
//! failed decides the run's exit code (see `RunReport::exit_code`). Their text
//! (`apply problem_demo`, `scenario`, ...) is what the console and the JSON
//! report show.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Checking the scenario against its config and making the working copy.
    Config,
    /// Starting what the scenario's steps need besides the target: the SAML
    /// identity provider (its Python), the local PostgreSQL of RDS steps.
    Tools,
    /// Reaching the accounts the scenario names (each through its access role).
    Accounts,
    /// terraform init of a working copy: the chain's (None), or a stage's own (`apply_as`).
    Init(Option<String>),
    /// A stage's apply; in a chain, named by the stage's config.
    Apply(Option<String>),
    Outputs(Option<String>),
    /// A kept stage whose config is as it was applied: no apply, no terraform call.
    Unchanged(Option<String>),
    /// A stage's steps.
    Steps(Option<String>),
    /// Attaching the SSM overlay to a role (real account).
    SsmOverlay(String),
    /// Waiting for an instance's SSM agent.
    SsmOnline(String),
    SsmOverlayRemoved,
    /// The access analysis of what the stages applied, checked against the scenario's snapshot.
    Access,
    Destroy,
}

impl Phase {
    /// Terraform could not build what the scenario needs (exit code 5).
    pub fn is_terraform_apply(&self) -> bool {
        matches!(self, Phase::Init(_) | Phase::Apply(_))
    }

    /// A stage's steps (the demo tells them; the rest is terraform).
    pub fn is_steps(&self) -> bool {
        matches!(self, Phase::Steps(_))
    }

    /// The stage's config name, for a chain's phases.
    pub fn stage(&self) -> Option<&str> {
        match self {
            Phase::Init(stage) | Phase::Apply(stage) | Phase::Outputs(stage) | Phase::Unchanged(stage) | Phase::Steps(stage) => stage.as_deref(),
            _ => None,
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let staged = |f: &mut fmt::Formatter<'_>, name: &str, stage: &Option<String>| match stage {
            Some(stage) => write!(f, "{name} {stage}"),
            None => f.write_str(name),
        };
        match self {
            Phase::Config => f.write_str("config"),
            Phase::Accounts => f.write_str("accounts"),
            Phase::Tools => f.write_str("tools"),
            Phase::Init(stage) => staged(f, "init", stage),
            Phase::Apply(stage) => staged(f, "apply", stage),
            Phase::Outputs(stage) => staged(f, "outputs", stage),
            Phase::Unchanged(stage) => staged(f, "unchanged", stage),
            Phase::Steps(stage) => staged(f, "scenario", stage),
            Phase::SsmOverlay(role) => write!(f, "ssm overlay {role}"),
            Phase::SsmOnline(instance) => write!(f, "ssm online {instance}"),
            Phase::SsmOverlayRemoved => f.write_str("ssm overlay removed"),
            Phase::Access => f.write_str("access"),
            Phase::Destroy => f.write_str("destroy"),
        }
    }
}

impl Serialize for Phase {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Phase {
    /// A phase from its text (what `Display` writes): reports read back.
    pub fn parse(text: &str) -> Option<Phase> {
        let staged = |rest: &str| (!rest.is_empty()).then(|| rest.to_string());
        let (word, rest) = text.split_once(' ').unwrap_or((text, ""));
        Some(match (word, rest) {
            ("config", "") => Phase::Config,
            ("accounts", "") => Phase::Accounts,
            ("tools", "") => Phase::Tools,
            ("init", stage) => Phase::Init(staged(stage)),
            ("destroy", "") => Phase::Destroy,
            ("access", "") => Phase::Access,
            ("apply", stage) => Phase::Apply(staged(stage)),
            ("outputs", stage) => Phase::Outputs(staged(stage)),
            ("unchanged", stage) => Phase::Unchanged(staged(stage)),
            ("scenario", stage) => Phase::Steps(staged(stage)),
            ("ssm", "overlay removed") => Phase::SsmOverlayRemoved,
            ("ssm", rest) => match rest.split_once(' ')? {
                ("overlay", role) => Phase::SsmOverlay(role.to_string()),
                ("online", instance) => Phase::SsmOnline(instance.to_string()),
                _ => return None,
            },
            _ => return None,
        })
    }
}

impl<'de> Deserialize<'de> for Phase {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Phase::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("unknown phase `{text}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chains_apply_is_an_apply_whatever_its_stage() {
        let staged = Phase::Apply(Some("problem_demo".into()));
        assert_eq!(staged.to_string(), "apply problem_demo");
        assert!(staged.is_terraform_apply() && Phase::Init(None).is_terraform_apply() && Phase::Apply(None).is_terraform_apply());
        assert!(!Phase::Steps(Some("problem_demo".into())).is_terraform_apply());
        assert_eq!(serde_json::to_value(Phase::Steps(None)).unwrap(), "scenario");
    }

    #[test]
    fn every_phase_reads_back_from_its_text() {
        let stage = || Some("solution_demo".to_string());
        let all = [
            Phase::Config,
            Phase::Accounts,
            Phase::Tools,
            Phase::Init(None),
            Phase::Init(stage()),
            Phase::Apply(None),
            Phase::Apply(stage()),
            Phase::Outputs(stage()),
            Phase::Unchanged(None),
            Phase::Unchanged(stage()),
            Phase::Steps(None),
            Phase::Steps(stage()),
            Phase::SsmOverlay("role1".into()),
            Phase::SsmOnline("i-1".into()),
            Phase::SsmOverlayRemoved,
            Phase::Access,
            Phase::Destroy,
        ];
        for phase in all {
            assert_eq!(Phase::parse(&phase.to_string()), Some(phase.clone()), "{phase}");
        }
        assert_eq!(Phase::parse("apply-ish"), None);
    }
}
