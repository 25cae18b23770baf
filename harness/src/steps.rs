//! Making a step's call as a principal: with the SDK here, or through the
//! principal's instance (SSM Run Command); retried as IAM's eventual
//! consistency demands. What the call came to is `outcome`'s; its verdict
//! is `verdict`'s.

use std::time::{Duration, Instant};

use aws_config::SdkConfig;

use crate::on_instance::Shell;
use crate::outcome::{Observed, Performed};
use crate::scenario::Expectation;
use crate::service::Call;
use crate::target::Consistency;

/// Who a step acts as, and where its calls are made.
#[derive(Debug, Clone)]
pub enum Principal {
    /// Here, with the SDK: the emulated instance's role (over the local
    /// IMDS endpoint), a user's key, a session an AssumeRole step returned,
    /// the admin, or no credentials at all (a token issuer's exchange).
    Sdk(Box<SdkConfig>),
    /// On a real instance, by its aws CLI (SSM Run Command): the instance's
    /// own role, or a session an AssumeRole step saved there.
    OnInstance(Shell),
}

/// Make the call as IAM's eventual consistency demands: a call expected to
/// be allowed is retried with backoff while it is denied, until the
/// deadline (the time to success is its propagation latency, apart from
/// the call's own latency); a call expected to be denied is probed again
/// over a window and must stay denied: a denial that flips to allowed was
/// a propagation delay, not a denial, and fails.
pub async fn perform_consistently(call: &Call, principal: &Principal, expect: Expectation, consistency: Consistency) -> Performed {
    let first = Instant::now();
    let mut done = perform(call, principal).await;
    match expect {
        Expectation::Allowed => {
            let mut backoff = Duration::from_millis(500);
            while not_yet_propagated(&done.observed) && first.elapsed() + backoff <= consistency.allow_deadline {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(8));
                let attempts = done.attempts + 1;
                done = perform(call, principal).await;
                done.attempts = attempts;
                if done.observed == Observed::Allowed {
                    done.propagation = Some(first.elapsed());
                }
            }
        }
        // A refusal for an invalid parameter does not wait on propagation.
        Expectation::Error => {}
        Expectation::Denied => {
            for probe in 1..consistency.deny_probes {
                if !matches!(done.observed, Observed::Denied { .. }) {
                    break;
                }
                tokio::time::sleep(consistency.deny_interval).await;
                let again = perform(call, principal).await;
                if !matches!(again.observed, Observed::Denied { .. }) {
                    let after = first.elapsed();
                    done = again;
                    done.detail = format!("denied at first, then {} after {:.1}s (probe {}): {}", done.observed.label(), after.as_secs_f64(), probe + 1, done.detail);
                }
                done.attempts = probe + 1;
            }
        }
    }
    done
}

/// What IAM's eventual consistency shows while a change spreads: a denial,
/// or a new access key not yet known everywhere (InvalidClientTokenId).
fn not_yet_propagated(observed: &Observed) -> bool {
    match observed {
        Observed::Denied { .. } => true,
        Observed::Error { code, .. } => code == "InvalidClientTokenId",
        Observed::Allowed => false,
    }
}

/// Make the call as `principal`: with the SDK here, or with the aws CLI on its instance.
pub async fn perform(call: &Call, principal: &Principal) -> Performed {
    match principal {
        Principal::Sdk(config) => call.perform(config).await,
        Principal::OnInstance(shell) => shell.perform(call).await,
    }
}
