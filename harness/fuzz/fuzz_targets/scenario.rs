//! Any bytes as a scenario file: loading, output checks and rendering must
//! return errors, never panic.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use libfuzzer_sys::fuzz_target;

// The parser's own source, so this build needs none of the AWS SDK.
#[path = "../../src/exit_code.rs"]
#[allow(dead_code)]
mod exit_code;
#[path = "../../src/accounts.rs"]
#[allow(dead_code)]
mod accounts;
#[path = "../../src/scenario/mod.rs"]
#[allow(dead_code, unused_imports)]
mod scenario;
#[path = "../../src/template.rs"]
#[allow(dead_code)]
mod template;
// Each service's scenario side: its actions' fields and their parsing (the calls are cfg(not(fuzzing))).
#[path = "../../src/service/mod.rs"]
#[allow(dead_code, unused_imports)]
mod service;
// The reasons a scenario may assert (`because = ...`): the one piece of the evaluator it reads.
#[path = "../../src/policy/reason.rs"]
#[allow(dead_code)]
mod reason;
mod policy {
    pub use super::reason::{Because, ConditionMiss, DeniedBy, PolicyType};
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(parsed) = scenario::Scenario::parse(Path::new("fuzz.toml"), text, Path::new("configs"), None) else { return };
    let declared: BTreeSet<String> = ["instance_id", "bucket_name", "role2_arn"].iter().map(|s| s.to_string()).collect();
    let _ = parsed.check_outputs(|_| Ok::<_, String>(declared.clone()));
    let values: BTreeMap<String, String> = declared.iter().map(|k| (k.clone(), format!("v-{k}"))).collect();
    for principal in parsed.principals.values() {
        match principal {
            scenario::PrincipalSource::Instance { instance, role } => {
                let _ = instance.render(&values);
                let _ = role.as_ref().map(|r| r.render(&values));
            }
            scenario::PrincipalSource::User { access_key_id, secret_access_key } => {
                let _ = access_key_id.render(&values);
                let _ = secret_access_key.render(&values);
            }
            scenario::PrincipalSource::TokenIssuer { issuer } => {
                let _ = issuer.render(&values);
            }
            scenario::PrincipalSource::SamlProvider { provider, .. } => {
                let _ = provider.render(&values);
            }
            scenario::PrincipalSource::Anonymous => {}
        }
    }
    for step in parsed.stages.iter().flat_map(|stage| &stage.steps) {
        if let Some(denied_by) = &step.denied_by {
            let _ = scenario::denied_by::render(denied_by, &values);
        }
    }
    for stage in &parsed.stages {
        for value in stage.variables.values() {
            let _ = parsed.accounts.substitute(value);
        }
    }
    for step in parsed.steps() {
        for template in step.action.templates() {
            let _ = template.render(&values);
        }
    }
});
