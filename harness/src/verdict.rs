//! The one table that decides a step's verdict from what the scenario
//! expected, what the target answered, whether the target enforces the
//! policy involved, what the policy evaluator predicted, and whether the
//! target is AWS itself. Every other place (reports, JUnit, exit codes)
//! reads the verdict this gives; the README's "Verdicts" section is this
//! table in words.
//!
//! | expected | observed | target enforces | prediction | verdict |
//! |---|---|---|---|---|
//! | any | an error that is not a denial | any | any | FAIL (its code) |
//! | allowed | allowed, a content check fails | any | any | FAIL |
//! | any | denied or allowed | yes, emulator | disagrees | DIVERGED (fails the run: emulator or evaluator is wrong) |
//! | allowed | allowed | any | agrees or none | PASS |
//! | allowed | allowed | no (emulator) | deny | UNVERIFIED (AWS would deny it; the target proves nothing) |
//! | allowed | allowed | AWS | disagrees | PASS + warning (the evaluator does not model ACLs, VPC endpoint policies...) |
//! | allowed | denied | any | any | FAIL |
//! | denied | denied | yes | agrees or none; `because` matches | PASS |
//! | denied | denied | yes | `because` differs from the predicted reason | FAIL |
//! | denied | denied | AWS | disagrees | PASS + warning |
//! | denied | allowed | yes (or AWS) | any | FAIL |
//! | denied | any | no (emulator) | shown | UNVERIFIED (fails with --strict; JUnit: skipped) |
//! | error C | error C | yes (or AWS) | any | PASS |
//! | error C | another code, a denial, or allowed | yes (or AWS) | any | FAIL (what was observed) |
//! | error C | any | no (emulator: it does not check the parameter) | shown | UNVERIFIED |
//!
//! JUnit: PASS success, FAIL and DIVERGED failure, UNVERIFIED skipped
//! (failure with --strict). On AWS nothing is UNVERIFIED: it enforces by definition.

use serde::{Deserialize, Serialize};

use crate::policy::{Because, Decision, DeniedBy, Reason};
use crate::scenario::Expectation;
use crate::outcome::{Observed, Performed};
use crate::target_facts::Ground;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    /// A negative step on a target that does not enforce the policy it depends on.
    Unverified,
    /// An emulator and the evaluator disagree: nothing is proven.
    Diverged,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Unverified => "UNVERIFIED",
            Verdict::Diverged => "DIVERGED",
        }
    }
}

/// What the step's verdict rests on.
pub struct Evidence<'a> {
    pub expect: Expectation,
    /// For an expected denial: the reason the scenario asserts.
    pub because: Option<Because>,
    /// For an expected denial: the statement the scenario says it comes from.
    pub denied_by: Option<&'a DeniedBy>,
    /// For an expected error: its code.
    pub error_code: Option<&'a str>,
    pub performed: &'a Performed,
    /// Ok: the target enforces the policy the step depends on; Err: why not.
    pub enforced: Result<(), &'static str>,
    /// The evaluator's answer for the step, when it could make one.
    pub predicted: Option<&'a Reason>,
    pub ground: Ground,
}

/// A verdict, why it is not a plain pass, and a warning that does not fail it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub verdict: Verdict,
    pub reason: Option<String>,
    pub warning: Option<String>,
}

fn judgement(verdict: Verdict, reason: Option<String>) -> Judgement {
    Judgement { verdict, reason, warning: None }
}

/// What the target answered, as the evaluator's decision (None: neither allowed nor denied).
fn observed_decision(observed: &Observed) -> Option<Decision> {
    match observed {
        Observed::Allowed => Some(Decision::Allow),
        Observed::Denied { .. } => Some(Decision::Deny),
        Observed::Error { code, .. } if code == "NoSuchBucket" => Some(Decision::NoSuchBucket),
        Observed::Error { code, .. } if ["ValidationError", "InvalidIdentityToken", "ExpiredTokenException"].contains(&code.as_str()) => Some(Decision::Invalid),
        Observed::Error { .. } => None,
    }
}

/// The table above.
pub fn decide(evidence: &Evidence<'_>) -> Judgement {
    let performed = evidence.performed;
    let observed = observed_decision(&performed.observed);
    let disagreement = match (evidence.predicted, observed) {
        (Some(p), Some(o)) if p.decision != o => Some(format!("the target answered {o}, the policy evaluator predicts {}: {}", p.decision, p.text)),
        _ => None,
    };
    // An emulator that enforces the policy and disagrees with the evaluator proves nothing.
    if let (Some(why), Ground::Emulator, Ok(()), Some(_)) = (&disagreement, evidence.ground, evidence.enforced, observed) {
        return judgement(Verdict::Diverged, Some(format!("{why} (the emulator or the evaluator is wrong)")));
    }
    let warning = match (evidence.ground, &disagreement) {
        (Ground::Aws, Some(why)) => Some(format!("{why}; AWS is the truth here, the evaluator does not model ACLs or VPC endpoint policies, nor SCPs and RCPs it could not read (without the Organization's management account)")),
        _ => None,
    };
    let mut result = match (evidence.expect, &performed.observed) {
        (Expectation::Error, observed) => expected_error(evidence, observed),
        (_, Observed::Error { code, message }) => judgement(Verdict::Fail, Some(format!("{code}: {message}"))),
        (Expectation::Allowed, Observed::Allowed) => match (&performed.mismatch, evidence.ground, evidence.enforced, evidence.predicted) {
            (Some(why), ..) => judgement(Verdict::Fail, Some(why.clone())),
            // A target that enforces nothing allows anything: where AWS would deny, nothing is shown.
            (None, Ground::Emulator, Err(why), Some(p)) if matches!(p.decision, Decision::Deny | Decision::Invalid) => {
                judgement(Verdict::Unverified, Some(format!("allowed, but {why}, and the policy evaluator predicts AWS denies it: {}", p.text)))
            }
            (None, ..) => judgement(Verdict::Pass, None),
        },
        (Expectation::Allowed, Observed::Denied { code, message }) => judgement(Verdict::Fail, Some(format!("expected allowed, got {code}: {message}"))),
        (Expectation::Denied, observed) => match (evidence.ground, evidence.enforced) {
            (Ground::Emulator, Err(why)) => {
                let seen = if matches!(observed, Observed::Allowed) { format!("allowed, but {why}") } else { why.to_string() };
                judgement(Verdict::Unverified, Some(seen))
            }
            _ if matches!(observed, Observed::Allowed) => judgement(Verdict::Fail, Some("expected AccessDenied, the call was allowed".into())),
            _ => denial_reason(evidence.because, evidence.denied_by, evidence.predicted),
        },
    };
    result.warning = warning;
    result
}

/// An expected error passes as exactly its code, on a target that checks
/// what the step depends on; elsewhere nothing is shown.
fn expected_error(evidence: &Evidence<'_>, observed: &Observed) -> Judgement {
    let wanted = evidence.error_code.unwrap_or("?");
    if let (Ground::Emulator, Err(why)) = (evidence.ground, evidence.enforced) {
        return judgement(Verdict::Unverified, Some(format!("observed {}, but {why}", observed.label())));
    }
    match observed {
        Observed::Error { code, .. } if code == wanted => judgement(Verdict::Pass, None),
        Observed::Error { code, message } | Observed::Denied { code, message } => judgement(Verdict::Fail, Some(format!("expected {wanted}, got {code}: {message}"))),
        Observed::Allowed => judgement(Verdict::Fail, Some(format!("expected {wanted}, the call was allowed"))),
    }
}

/// An observed denial passes when the scenario asserts no reason, or the
/// predicted one: its side (`because`) and its statement (`denied_by`), exactly.
fn denial_reason(because: Option<Because>, denied_by: Option<&DeniedBy>, predicted: Option<&Reason>) -> Judgement {
    let Some(wanted) = because else { return judgement(Verdict::Pass, None) };
    match predicted.and_then(Reason::because) {
        Some(_) if predicted.is_some_and(|p| p.is_because(wanted)) => match (denied_by, predicted.map(Reason::denied_by)) {
            (Some(expected), Some(actual)) if *expected != actual => {
                judgement(Verdict::Fail, Some(format!("denied because {wanted} as expected, but by {actual}; the scenario expects {expected}")))
            }
            _ => judgement(Verdict::Pass, None),
        },
        Some(actual) => judgement(Verdict::Fail, Some(format!("denied because {actual}, the scenario expects because {wanted}: {}", predicted.map(|p| p.text.as_str()).unwrap_or_default()))),
        None => judgement(Verdict::Fail, Some(format!("denied, but no prediction says why, so `because = \"{wanted}\"` cannot be checked"))),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::policy::PolicyType;
    use crate::sdk::CallError;

    fn performed(observed: Observed) -> Performed {
        Performed::new(observed, Duration::from_millis(3))
    }

    fn denied(code: &str) -> Observed {
        Observed::from_error(CallError::Service { code: code.into(), message: "m".into() })
    }

    fn reason(decision: Decision, policy_type: PolicyType) -> Reason {
        Reason { decision, policy_type: Some(policy_type), policy: None, statement: None, explicit: false, text: "t".into(), condition: None }
    }

    fn evidence<'a>(expect: Expectation, performed: &'a Performed, predicted: Option<&'a Reason>) -> Evidence<'a> {
        Evidence { expect, because: None, denied_by: None, error_code: None, performed, enforced: Ok(()), predicted, ground: Ground::Emulator }
    }

    #[test]
    fn only_access_denied_codes_count_as_denial() {
        for code in ["AccessDenied", "AccessDeniedException", "UnauthorizedOperation"] {
            assert!(matches!(denied(code), Observed::Denied { .. }), "{code}");
        }
        for code in ["SignatureDoesNotMatch", "InvalidAccessKeyId", "Throttling", "InternalError", "NoSuchBucket"] {
            assert!(matches!(denied(code), Observed::Error { .. }), "{code}");
        }
    }

    #[test]
    fn an_expected_denial_passes_only_as_access_denied_on_an_enforcing_target() {
        let done = performed(denied("AccessDenied"));
        assert_eq!(decide(&evidence(Expectation::Denied, &done, None)).verdict, Verdict::Pass);
        let done = performed(denied("SignatureDoesNotMatch"));
        let judged = decide(&evidence(Expectation::Denied, &done, None));
        assert_eq!(judged.verdict, Verdict::Fail);
        assert!(judged.reason.unwrap().starts_with("SignatureDoesNotMatch"));
        let done = performed(Observed::Allowed);
        assert_eq!(decide(&evidence(Expectation::Denied, &done, None)).verdict, Verdict::Fail);
    }

    /// A denial for the side the scenario names, but from another statement or
    /// condition value, fails: the scenario's claim about why is wrong.
    #[test]
    fn a_denial_from_another_statement_than_denied_by_fails() {
        use crate::policy::ConditionMiss;
        let done = performed(denied("AccessDenied"));
        let miss = |expected: &str| ConditionMiss { key: "sts:ExternalId".into(), operator: "StringEquals".into(), expected: vec![expected.into()], actual: None };
        let predicted = Reason { policy: Some("partner's trust policy".into()), statement: Some("0".into()), condition: Some(miss("Unique-1234")), ..reason(Decision::Deny, PolicyType::Trust) };
        let claim = |expected: &str| DeniedBy::Statement { policy: "partner's trust policy".into(), statement: "0".into(), condition: Some(miss(expected)) };
        let judge = |claimed: &DeniedBy| {
            let mut evidence = evidence(Expectation::Denied, &done, Some(&predicted));
            evidence.because = Some(Because::Trust);
            evidence.denied_by = Some(claimed);
            decide(&evidence)
        };
        assert_eq!(judge(&claim("Unique-1234")).verdict, Verdict::Pass);
        let judged = judge(&claim("Unique-9999"));
        assert_eq!(judged.verdict, Verdict::Fail);
        let why = judged.reason.unwrap();
        assert!(why.contains("sts:ExternalId StringEquals Unique-1234; the request has no sts:ExternalId; the scenario expects"), "{why}");
        assert_eq!(judge(&DeniedBy::NoStatement).verdict, Verdict::Fail);
    }

    #[test]
    fn a_missing_bucket_is_not_a_denial() {
        let done = performed(denied("NoSuchBucket"));
        let predicted = Reason { decision: Decision::NoSuchBucket, policy_type: None, policy: None, statement: None, explicit: false, text: "t".into(), condition: None };
        assert_eq!(decide(&evidence(Expectation::Denied, &done, Some(&predicted))).verdict, Verdict::Fail);
    }

    #[test]
    fn an_emulator_that_disagrees_with_the_evaluator_diverges() {
        // The target allowed what the evaluator denies: whatever was expected, nothing is proven.
        let allowed = performed(Observed::Allowed);
        let deny = reason(Decision::Deny, PolicyType::Trust);
        for expect in [Expectation::Allowed, Expectation::Denied] {
            let judged = decide(&evidence(expect, &allowed, Some(&deny)));
            assert_eq!(judged.verdict, Verdict::Diverged, "{expect}");
            assert!(judged.reason.unwrap().contains("the target answered allow, the policy evaluator predicts deny"));
        }
        let denied_call = performed(denied("AccessDenied"));
        let allow = reason(Decision::Allow, PolicyType::Identity);
        assert_eq!(decide(&evidence(Expectation::Denied, &denied_call, Some(&allow))).verdict, Verdict::Diverged);
    }

    #[test]
    fn on_aws_the_observation_is_the_truth_with_a_warning() {
        let done = performed(denied("AccessDenied"));
        let allow = reason(Decision::Allow, PolicyType::Identity);
        let judged = decide(&Evidence { ground: Ground::Aws, ..evidence(Expectation::Denied, &done, Some(&allow)) });
        assert_eq!(judged.verdict, Verdict::Pass);
        assert!(judged.warning.unwrap().contains("SCPs"));
        // An over-grant on AWS is a FAIL, never UNVERIFIED, whatever a probe said.
        let allowed = performed(Observed::Allowed);
        let judged = decide(&Evidence { ground: Ground::Aws, enforced: Err("probe failed"), ..evidence(Expectation::Denied, &allowed, None) });
        assert_eq!(judged.verdict, Verdict::Fail);
    }

    #[test]
    fn a_negative_step_on_a_non_enforcing_emulator_is_unverified() {
        let done = performed(Observed::Allowed);
        let deny = reason(Decision::Deny, PolicyType::Identity);
        let not = Evidence { enforced: Err("the target does not enforce identity policies"), ..evidence(Expectation::Denied, &done, Some(&deny)) };
        let judged = decide(&not);
        assert_eq!(judged.verdict, Verdict::Unverified);
        assert_eq!(judged.reason.as_deref(), Some("allowed, but the target does not enforce identity policies"));
        // A positive step does not depend on enforcement...
        let positive = Evidence { expect: Expectation::Allowed, predicted: None, ..not };
        assert_eq!(decide(&positive).verdict, Verdict::Pass);
        // ...unless AWS would deny it: then the non-enforcing target's "allowed" proves nothing.
        let doubtful = Evidence { expect: Expectation::Allowed, predicted: Some(&deny), ..positive };
        let judged = decide(&doubtful);
        assert_eq!(judged.verdict, Verdict::Unverified);
        assert!(judged.reason.unwrap().contains("the policy evaluator predicts AWS denies it"));
    }

    #[test]
    fn a_denial_for_another_reason_than_the_scenario_asserts_fails() {
        let done = performed(denied("AccessDenied"));
        let identity = reason(Decision::Deny, PolicyType::Identity);
        let wanted = |because| Evidence { because: Some(because), ..evidence(Expectation::Denied, &done, Some(&identity)) };
        assert_eq!(decide(&wanted(Because::Identity)).verdict, Verdict::Pass);
        let judged = decide(&wanted(Because::Trust));
        assert_eq!(judged.verdict, Verdict::Fail);
        assert!(judged.reason.unwrap().starts_with("denied because identity, the scenario expects because trust"));
    }

    // An SCP's (or RCP's) Deny is an explicit deny and the Organization's
    // refusal at once: a scenario may assert either; an identity policy's Deny is no SCP's.
    #[test]
    fn an_organization_policys_deny_is_both_explicit_and_its_kind() {
        let done = performed(denied("AccessDenied"));
        let mut scp_deny = reason(Decision::Deny, PolicyType::Scp);
        scp_deny.explicit = true;
        let mut identity_deny = reason(Decision::Deny, PolicyType::Identity);
        identity_deny.explicit = true;
        let judged = |predicted: &Reason, because| decide(&Evidence { because: Some(because), ..evidence(Expectation::Denied, &done, Some(predicted)) }).verdict;
        assert_eq!(judged(&scp_deny, Because::Scp), Verdict::Pass);
        assert_eq!(judged(&scp_deny, Because::ExplicitDeny), Verdict::Pass);
        assert_eq!(judged(&scp_deny, Because::Rcp), Verdict::Fail);
        assert_eq!(judged(&identity_deny, Because::Scp), Verdict::Fail);
        assert_eq!(judged(&reason(Decision::Deny, PolicyType::Rcp), Because::Rcp), Verdict::Pass, "no Allow at a level of RCPs");
    }

    #[test]
    fn an_allowed_call_whose_check_fails_is_a_failure() {
        let mut done = performed(Observed::Allowed);
        done.mismatch = Some("expected keys missing".into());
        assert_eq!(decide(&evidence(Expectation::Allowed, &done, None)).verdict, Verdict::Fail);
        let denied_call = performed(denied("AccessDenied"));
        assert_eq!(decide(&evidence(Expectation::Allowed, &denied_call, None)).verdict, Verdict::Fail);
    }

    fn error(code: &str) -> Observed {
        Observed::Error { code: code.into(), message: "m".into() }
    }

    #[test]
    fn an_expected_error_passes_only_as_its_code_where_the_target_checks_it() {
        let expect_validation = |done: &Performed, enforced, ground| {
            decide(&Evidence { expect: Expectation::Error, because: None, denied_by: None, error_code: Some("ValidationError"), performed: done, enforced, predicted: None, ground })
        };
        let refused = performed(error("ValidationError"));
        assert_eq!(expect_validation(&refused, Ok(()), Ground::Emulator).verdict, Verdict::Pass);
        assert_eq!(expect_validation(&refused, Ok(()), Ground::Aws).verdict, Verdict::Pass);
        for other in [error("InvalidParameterValue"), denied("AccessDenied"), Observed::Allowed] {
            let judged = expect_validation(&performed(other.clone()), Ok(()), Ground::Emulator);
            assert_eq!(judged.verdict, Verdict::Fail, "{other:?}");
            assert!(judged.reason.unwrap().starts_with("expected ValidationError"), "{other:?}");
        }
        let ignored = expect_validation(&performed(Observed::Allowed), Err("the target does not check session durations"), Ground::Emulator);
        assert_eq!(ignored.verdict, Verdict::Unverified);
        // On AWS a target that "does not check" does not exist: the observation stands.
        assert_eq!(expect_validation(&performed(Observed::Allowed), Err("x"), Ground::Aws).verdict, Verdict::Fail);
    }

    #[test]
    fn a_refusal_the_evaluator_predicts_diverges_from_an_enforcing_emulator_that_allows() {
        let invalid = Reason { decision: Decision::Invalid, policy_type: None, policy: None, statement: None, explicit: false, text: "ValidationError: t".into(), condition: None };
        let done = performed(Observed::Allowed);
        let judged = decide(&Evidence { expect: Expectation::Error, because: None, denied_by: None, error_code: Some("ValidationError"), performed: &done, enforced: Ok(()), predicted: Some(&invalid), ground: Ground::Emulator });
        assert_eq!(judged.verdict, Verdict::Diverged);
    }
}
