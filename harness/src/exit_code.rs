//! The harness's exit codes: each kind of trouble has its own, so CI (and a
//! person) can tell a failed verification from a broken setup, and one
//! broken setup from another.

/// Every step passed and everything applied was cleaned up.
pub const SUCCESS: i32 = 0;
/// A step failed (or was UNVERIFIED and that was not allowed).
pub const STEPS_FAILED: i32 = 1;
/// Bad arguments, or a scenario name that does not exist.
pub const USAGE: i32 = 2;
/// A tool is missing: terraform, moto (the emulator is not installed), a container image.
pub const MISSING_TOOL: i32 = 3;
/// The target could not be started or reached, or does not answer like AWS.
pub const TARGET: i32 = 4;
/// terraform init or apply failed.
pub const APPLY_FAILED: i32 = 5;
/// A destroy failed: resources may be left; the report names the kept state.
pub const CLEANUP_FAILED: i32 = 6;
/// A scenario file is malformed: syntax, unknown action, principal or output.
pub const SCENARIO_INVALID: i32 = 7;
/// A Terraform config folder does not exist or holds no *.tf file.
pub const CONFIG_MISSING: i32 = 8;
/// The emulator's port is already in use.
pub const PORT_IN_USE: i32 = 9;
/// The target refused the admin credentials, or they belong to another account than the sandbox.
pub const CREDENTIALS: i32 = 10;
/// The harness could not write its reports or temporary files.
pub const IO: i32 = 11;
/// A container target was asked for (or needed) and no Docker engine answers.
pub const NO_DOCKER: i32 = 12;
/// A scenario's [accounts] table is malformed (an id that is not 12 digits, a
/// name no provider alias could have, one id twice, a reference to no account).
pub const ACCOUNTS_INVALID: i32 = 13;
/// A config applied as the admin has an `aws` provider alias that names none
/// of its scenario's accounts: it would act in an account nobody chose.
pub const ALIAS_WITHOUT_ACCOUNT: i32 = 14;
/// `--sandbox-account NAME=ID` names an account no scenario of the run has, or
/// a scenario's account has no `--sandbox-account` on a real account.
pub const ACCOUNT_UNMAPPED: i32 = 15;
/// The config opens a path its scenario's access snapshot does not hold, or
/// no longer opens one it holds (`harness access --accept` takes the change).
pub const ACCESS_CHANGED: i32 = 16;
/// On a real account, a config would create or attach an Organization's
/// policies and `--allow-organization-changes` does not name its scenario.
pub const ORGANIZATION_CHANGE: i32 = 17;
/// On a real account, a config would change the account's own S3 Block
/// Public Access, which the harness never does.
pub const ACCOUNT_SETTING_CHANGE: i32 = 18;
/// Interrupted by Ctrl-C (cleanup was still attempted).
pub const INTERRUPTED: i32 = 130;
