//! What a started target is like, worked out once from what it is: whether
//! it outlives the run, whose answers it gives, whose evaluation they come
//! from, where the workload's steps run, and how IAM changes take effect.

use std::time::Duration;

use super::{Backend, endpoint};
use crate::target_facts::Ground;

/// How long IAM changes take to show, and how a step waits for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consistency {
    /// A step expected to be allowed is retried (with backoff) until this
    /// long after its first attempt while it is denied.
    pub allow_deadline: Duration,
    /// A step expected to be denied is probed this many times...
    pub deny_probes: u32,
    /// ...this far apart, and must be denied every time.
    pub deny_interval: Duration,
}

impl Consistency {
    pub fn immediate() -> Self {
        Self { allow_deadline: Duration::ZERO, deny_probes: 1, deny_interval: Duration::ZERO }
    }

    /// AWS documents IAM changes as eventually consistent: seconds, up to a minute.
    pub fn eventual() -> Self {
        Self { allow_deadline: Duration::from_secs(90), deny_probes: 3, deny_interval: Duration::from_secs(10) }
    }
}

/// A target's facts, fixed when it starts.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    /// The target outlives the run: every applied config must be destroyed
    /// (else its end is the cleanup).
    pub outlives_run: bool,
    /// Whose answers the steps observe: AWS's (the truth) or an emulator's.
    pub ground: Ground,
    /// Whose policy evaluation the target's answers come from (reported with its capabilities).
    pub evaluation: &'static str,
    /// Instance steps run on the instance itself (SSM Run Command): on a
    /// real account its role's credentials exist only there. Elsewhere the
    /// harness plays EC2 and serves them over a local IMDS endpoint.
    pub workload_on_instance: bool,
    /// At once on an emulator; on AWS after a propagation delay (seconds, up to a minute).
    pub consistency: Consistency,
}

impl Profile {
    pub(super) fn of(backend: &Backend) -> Self {
        let aws = matches!(backend, Backend::Aws);
        Profile {
            outlives_run: matches!(backend, Backend::Endpoint { .. } | Backend::Aws),
            ground: if aws { Ground::Aws } else { Ground::Emulator },
            evaluation: evaluation(backend),
            workload_on_instance: aws,
            consistency: if aws { Consistency::eventual() } else { Consistency::immediate() },
        }
    }
}

fn evaluation(backend: &Backend) -> &'static str {
    match backend {
        Backend::Moto(_) | Backend::Endpoint { flavor: endpoint::Flavor::HarnessMoto, .. } | Backend::Container { flavor: endpoint::Flavor::HarnessMoto, .. } => {
            "AWS's documented evaluation, by the harness's launcher (held to the conformance corpus): identity policies with conditions, trust, bucket policies, boundaries, session policies"
        }
        Backend::Aws => "AWS itself",
        Backend::Endpoint { .. } | Backend::Container { .. } => "the emulator's own, as probed (not held to the conformance corpus)",
    }
}
