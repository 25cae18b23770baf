//! AWS's policy evaluation, as AWS documents it: which policies apply to a
//! request (identity, resource — a role's trust policy or a bucket policy —,
//! permissions boundary, session policies), in which order, and why the
//! answer is what it is. The harness predicts every step with it; the
//! conformance corpus (`harness/corpus/`) is its contract, and the moto
//! launcher's twin (`harness/emulator/iam_policy.py`) is held to the same
//! corpus.
//!
//! Organizations' SCPs and RCPs cap both ([`organization`]).
//!
//! Not modelled (a real account may still differ): ACLs, VPC endpoint
//! policies, S3 Block Public Access.

mod condition;
mod context;
mod document;
mod element;
mod evaluate;
mod matching;
pub mod organization;
mod principal;
pub mod public;
mod reason;
pub mod session;

pub use condition::ConditionEntry;
pub use document::{Effect, Matcher, Policy, PolicyError, Statement};
pub use element::DocumentKind;
pub use context::Context;
pub use matching::{action_matches, arn_like, glob};
pub use evaluate::{Evaluation, PolicySet, Request, ResourceKind, allowing_statements, evaluate, is_trust_action, resource_grant};
pub use principal::{Caller, PrincipalElement, PrincipalMatch};
pub use organization::OrgLevel;
pub use reason::{Because, ConditionMiss, Decision, DeniedBy, PolicyType, Reason};
