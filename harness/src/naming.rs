//! The names by which the harness knows what it made: AWS tags, container
//! labels, resource-name prefixes. Every module that makes or finds such a
//! thing (runner, probes, sweep, containers) takes the names from here.

/// The principal that looks up the instance's profile (Terraform's identity).
pub const ADMIN_PRINCIPAL: &str = "harness-admin";
/// Tag (key and value) marking every taggable resource as the harness's:
/// what `harness sweep` looks for; containers carry it as a label too.
pub const HARNESS_TAG_KEY: &str = "harness";
pub const HARNESS_TAG_VALUE: &str = "aws-assume-role-harness";
/// Tag put on every taggable resource, with the run id as value.
pub const RUN_TAG: &str = "harness-run";
/// Tag naming the scenario a resource belongs to.
pub const SCENARIO_TAG: &str = "harness-scenario";
/// Label of a container: `<host>:<pid>` of the harness that started it (a
/// container whose harness is gone is an orphan).
pub const OWNER_LABEL: &str = "harness-owner";
/// Name prefix of the capability probes' roles and users (created by the SDK, swept by name).
pub const PROBE_PREFIX: &str = "harness-probe-";
/// The domain of the capability probes' OIDC issuers (`.invalid`: never a real one).
pub const PROBE_ISSUER_DOMAIN: &str = ".oidc.harness.invalid";
