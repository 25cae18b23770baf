//! The scenario file: which Terraform config to apply, who the principals
//! are, and the steps with their expected outcome. Files are TOML; every
//! error names `file:line:column`.
//!
//! ```toml
//! description = "role1 assumes role2 to reach role2's bucket"
//! config = "solution_demo"        # a folder under terraform_configuration/, or a path
//!
//! [principals.role1]
//! instance = "${instance_id}"     # the workload: the credentials of this instance's profile
//! role = "${role1_name}"          # optional: the role that profile must carry
//!
//! [[steps]]
//! as = "role1"
//! action = "s3:ListBucket"
//! bucket = "${bucket_name}"
//! expect = "denied"
//! ```
//! `${name}` is a Terraform output of the config.
//!
//! A scenario may also be a chain of stages, each a config applied IN PLACE
//! over the previous stage's state (as a user upgrades their config), each
//! with its own steps:
//!
//! ```toml
//! [[stages]]
//! config = "problem_demo"
//! [[stages.steps]]
//! # ...
//! [[stages]]
//! config = "solution_demo"        # applied over problem_demo's state
//! [[stages.steps]]
//! # ...
//! ```

pub mod denied_by;
mod discovery;
mod model;
mod parse;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use discovery::{discover, find};
pub use model::*;

/// The file extension of scenario files.
pub const EXTENSION: &str = "toml";
/// The newest scenario format this harness reads (`format = N` in a file;
/// absent means 1). 2 added AssumeRole's parameters, `expect = "error"`,
/// user and OIDC provider principals, sts:AssumeRoleWithWebIdentity: a
/// file using them says `format = 2`, so an older harness names the version
/// instead of an unknown field.
pub const FORMAT: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{path}: cannot read the scenario file: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {message}", location(path, *line, *column))]
    Invalid { path: PathBuf, line: usize, column: usize, message: String },
    #[error("unknown scenario `{name}`{}; known: {} (see `harness list`)", did_you_mean(name, known.iter().map(String::as_str)), known.join(", "))]
    Unknown { name: String, known: Vec<String> },
    #[error("{dir}: no scenario files (*.{EXTENSION}) found")]
    NoneFound { dir: PathBuf },
    #[error("scenario {scenario}: {message}")]
    Config { scenario: String, message: String },
    #[error("{}: [accounts]: {message}", location(path, *line, *column))]
    Accounts { path: PathBuf, line: usize, column: usize, message: String },
    #[error("scenario {name} issues its own web identity tokens, which AWS refuses (only a provider's own tokens exist there); run it on an emulator (--target moto)")]
    EmulatorOnly { name: String },
}

impl ScenarioError {
    /// The harness's exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            ScenarioError::Invalid { .. } => crate::exit_code::SCENARIO_INVALID,
            ScenarioError::Accounts { .. } => crate::exit_code::ACCOUNTS_INVALID,
            ScenarioError::Config { .. } => crate::exit_code::CONFIG_MISSING,
            ScenarioError::Read { .. } | ScenarioError::Unknown { .. } | ScenarioError::NoneFound { .. } | ScenarioError::EmulatorOnly { .. } => {
                crate::exit_code::USAGE
            }
        }
    }
}

/// `; did you mean `x`?` for the known name closest to a mistyped one, if any is close.
pub fn did_you_mean<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    known
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(&word.to_lowercase(), &candidate.to_lowercase()), candidate))
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| format!(" (did you mean `{candidate}`?)"))
        .unwrap_or_default()
}

fn location(path: &Path, line: usize, column: usize) -> String {
    format!("{}:{line}:{column}", path.display())
}

