//! The phases of a scenario's run, typed: reports show them, and which one
//! failed decides the run's exit code (see `RunReport::exit_code`). Their text
//! (`apply problem_demo`, `scenario`, ...) is what the console and the JSON
//! report show.

use std::fmt;

use serde::{Serialize, Serializer};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Checking the scenario against its config and making the working copy.
    Config,
    Init,
    /// A stage's apply; in a chain, named by the stage's config.
    Apply(Option<String>),
    Outputs(Option<String>),
    /// A stage's steps.
    Steps(Option<String>),
    /// Attaching the SSM overlay to a role (real account).
    SsmOverlay(String),
    /// Waiting for an instance's SSM agent.
    SsmOnline(String),
    SsmOverlayRemoved,
    Destroy,
}

impl Phase {
    /// Terraform could not build what the scenario needs (exit code 5).
    pub fn is_terraform_apply(&self) -> bool {
        matches!(self, Phase::Init | Phase::Apply(_))
    }

    /// A stage's steps (the demo tells them; the rest is terraform).
    pub fn is_steps(&self) -> bool {
        matches!(self, Phase::Steps(_))
    }

    /// The stage's config name, for a chain's phases.
    pub fn stage(&self) -> Option<&str> {
        match self {
            Phase::Apply(stage) | Phase::Outputs(stage) | Phase::Steps(stage) => stage.as_deref(),
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
            Phase::Init => f.write_str("init"),
            Phase::Apply(stage) => staged(f, "apply", stage),
            Phase::Outputs(stage) => staged(f, "outputs", stage),
            Phase::Steps(stage) => staged(f, "scenario", stage),
            Phase::SsmOverlay(role) => write!(f, "ssm overlay {role}"),
            Phase::SsmOnline(instance) => write!(f, "ssm online {instance}"),
            Phase::SsmOverlayRemoved => f.write_str("ssm overlay removed"),
            Phase::Destroy => f.write_str("destroy"),
        }
    }
}

impl Serialize for Phase {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chains_apply_is_an_apply_whatever_its_stage() {
        let staged = Phase::Apply(Some("problem_demo".into()));
        assert_eq!(staged.to_string(), "apply problem_demo");
        assert!(staged.is_terraform_apply() && Phase::Init.is_terraform_apply() && Phase::Apply(None).is_terraform_apply());
        assert!(!Phase::Steps(Some("problem_demo".into())).is_terraform_apply());
        assert_eq!(serde_json::to_value(Phase::Steps(None)).unwrap(), "scenario");
    }
}
