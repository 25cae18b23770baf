//! The harness's exit codes: each kind of trouble has its own, so CI can
//! tell a failed verification from a broken setup.

/// Every step passed and everything applied was destroyed.
pub const SUCCESS: i32 = 0;
/// A step failed (or was UNVERIFIED and that was not allowed).
pub const STEPS_FAILED: i32 = 1;
/// Bad input: arguments, a malformed or unknown scenario, a missing config folder.
pub const USAGE: i32 = 2;
/// The machine lacks something: terraform, moto, a free port.
pub const ENVIRONMENT: i32 = 3;
/// The target could not be started or reached.
pub const TARGET: i32 = 4;
/// terraform init or apply failed.
pub const APPLY_FAILED: i32 = 5;
/// A destroy failed: resources may be left; the report names the kept state.
pub const CLEANUP_FAILED: i32 = 6;
/// Interrupted by Ctrl-C (cleanup was still attempted).
pub const INTERRUPTED: i32 = 130;
