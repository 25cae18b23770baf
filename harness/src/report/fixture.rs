//! A fixed run for tests of the report and its reporters: each verdict, a
//! chain of two stages, a step on an instance, an apply that failed and a
//! destroy that kept the state.

use super::*;
use crate::policy::{PolicyType, Reason};
use crate::scenario::Expectation;
use crate::target_facts::{Capabilities, TargetDescription};

/// One scenario, one passing denial: the smallest report.
pub fn sample() -> RunReport {
    RunReport {
        schema_version: SCHEMA_VERSION,
        run_id: "abc123".into(),
        target: target(),
        scenarios: vec![ScenarioReport {
            name: "problem_demo".into(),
            config: "terraform_configuration/problem_demo".into(),
            passed: true,
            error: None,
            cleanup: Cleanup::Destroyed,
            phases: vec![PhaseReport { name: Phase::Apply(None), latency_ms: 30000.0, ok: true }],
            steps: vec![StepReport { simulator: Some(simulator_agrees()), ..denied_list("role1 cannot list the bucket", None, Verdict::Pass) }],
            accounts: BTreeMap::new(),
            interrupted: false,
            access: None,
        }],
        passed: true,
        strict: false,
        interrupted: false,
        left_out: Vec::new(),
    }
}

/// The sample, its snapshot no longer holding: one new path (an over-grant), one lost.
pub fn access_changed() -> RunReport {
    let mut report = sample();
    report.passed = false;
    report.scenarios[0].passed = false;
    let added = "aws_iam_role.ci -> aws_iam_role.role2 -> aws_s3_bucket.bucket: s3:ListBucket".to_string();
    report.scenarios[0].access = Some(crate::access::AccessReport {
        snapshot: "scenarios/problem_demo.access".into(),
        paths: vec![crate::access::PathReport {
            path: added.clone(),
            places: vec!["aws_iam_role.ci".into(), "aws_iam_role.role2".into(), "aws_s3_bucket.bucket".into()],
            links: vec!["sts:AssumeRole".into(), "s3:ListBucket".into()],
            statements: vec!["statement 0 of aws_iam_role_policy.ci, main.tf:12".into()], chained: false, proof: crate::access::Proof::predicted("its start is any principal of an account: none of the scenario's acts as it"), walk: None }],
        diff: Some(crate::access::Diff { added: vec![added], missing: vec!["aws_iam_role.role2 -> aws_s3_bucket.bucket: s3:ListBucket".into()] }),
        accepted: false,
        unseen: Vec::new(),
        analysis_ms: 1.0,
    });
    report
}

/// Three scenarios: a chain that passes (with an UNVERIFIED step and a
/// warning), one with a DIVERGED and a FAILED step run on an instance, and
/// one stopped by its apply whose destroy kept the state.
pub fn fixed_run() -> RunReport {
    RunReport {
        schema_version: SCHEMA_VERSION,
        run_id: "abc123".into(),
        target: target(),
        scenarios: vec![chain(), broken(), unapplied()],
        passed: false,
        strict: false,
        interrupted: false,
        left_out: vec![LeftOut { name: "rds_iam".into(), why: "its RDS instance takes minutes to create; run it by name (-s rds_iam) to include it".into() }],
    }
}

fn phase(name: Phase, seconds: f64, ok: bool) -> PhaseReport {
    PhaseReport { name, latency_ms: seconds * 1000.0, ok }
}

fn chain() -> ScenarioReport {
    let stage = |name: &str| Some(name.to_string());
    let mut unverified = denied_list("role1 cannot list role2's bucket", stage("problem_demo"), Verdict::Unverified);
    unverified.observed = "allowed".into();
    unverified.error_code = None;
    unverified.why = Some("allowed, but the target does not enforce identity policies".into());
    let mut assumed = allowed("role1 assumes role2", stage("solution_demo"), "sts:AssumeRole");
    assumed.command = "aws sts assume-role --role-arn arn:aws:iam::123456789012:role/role2 --role-session-name harness".into();
    assumed.warning = Some("the target answered allow, the policy evaluator predicts deny".into());
    let mut listed = allowed("role2 lists its bucket", stage("solution_demo"), "s3:ListBucket");
    listed.principal = "role2".into();
    listed.detail = "2026-11-30 03:15:47         12 hello.txt".into();
    ScenarioReport {
        name: "blog_demo".into(),
        config: "problem_demo -> solution_demo".into(),
        passed: true,
        error: None,
        cleanup: Cleanup::TargetEnded,
        phases: vec![
            phase(Phase::Init(None), 1.5, true),
            phase(Phase::Apply(stage("problem_demo")), 20.0, true),
            phase(Phase::Outputs(stage("problem_demo")), 0.5, true),
            phase(Phase::Steps(stage("problem_demo")), 0.1, true),
            phase(Phase::Apply(stage("solution_demo")), 4.0, true),
            phase(Phase::Outputs(stage("solution_demo")), 0.5, true),
            phase(Phase::Steps(stage("solution_demo")), 0.2, true),
        ],
        steps: vec![unverified, assumed, listed],
        accounts: BTreeMap::new(),
        interrupted: false,
        access: None,
    }
}

fn broken() -> ScenarioReport {
    let mut lookup = allowed("role1 is the role of instance i-0abc's profile", None, "ec2:DescribeInstances+iam:GetInstanceProfile");
    lookup.principal = "harness-admin".into();
    lookup.resource = Some("i-0abc".into());
    lookup.yields = Some("role1".into());
    lookup.command = "aws ec2 describe-instances --instance-ids i-0abc".into();
    lookup.predicted = None;
    lookup.reason = None;
    lookup.prediction_error = Some("the harness's own lookup, made as the admin".into());
    let mut diverged = denied_list("role1 cannot list the bucket", None, Verdict::Diverged);
    diverged.why = Some("the emulator denied, the policy evaluator predicts allow: nothing proven".into());
    let mut failed = allowed("role1 uploads", None, "s3:PutObject");
    failed.verdict = Verdict::Fail;
    failed.observed = "denied".into();
    failed.error_code = Some("AccessDenied".into());
    failed.on_instance = Some("i-0abc".into());
    failed.command = "aws s3 cp ./hello.txt s3://b/hello.txt".into();
    failed.why = Some("expected allowed, observed denied (AccessDenied)".into());
    ScenarioReport {
        name: "broken".into(),
        config: "terraform_configuration/solution_demo".into(),
        passed: false,
        error: None,
        cleanup: Cleanup::Destroyed,
        phases: vec![phase(Phase::Apply(None), 25.0, true), phase(Phase::Steps(None), 0.3, true), phase(Phase::Destroy, 9.0, true)],
        steps: vec![lookup, diverged, failed],
        accounts: BTreeMap::new(),
        interrupted: false,
        access: None,
    }
}

fn unapplied() -> ScenarioReport {
    ScenarioReport {
        name: "unapplied".into(),
        config: "terraform_configuration/problem_demo".into(),
        passed: false,
        error: Some(ScenarioStop { phase: Phase::Apply(None), message: "terraform apply: exited with exit status: 1\nError: creating IAM Role".into() }),
        cleanup: Cleanup::Kept {
            dir: "/tmp/harness-unapplied".into(),
            command: "terraform -chdir=/tmp/harness-unapplied destroy".into(),
            error: "terraform destroy: timed out after 600s".into(),
        },
        phases: vec![phase(Phase::Apply(None), 3.0, false), phase(Phase::Destroy, 600.0, false)],
        steps: vec![],
        accounts: BTreeMap::new(),
        interrupted: false,
        access: None,
    }
}

fn target() -> TargetReport {
    TargetReport {
        description: TargetDescription {
            kind: "moto".into(),
            endpoint: Some("http://127.0.0.1:5000".into()),
            version: Some("5.2.5".into()),
            image: None,
            network: None,
            reason: "default".into(),
            startup_ms: 1500.0,
        },
        capabilities: Capabilities::ENFORCED,
        evaluation: "AWS's documented evaluation".into(),
        probe_notes: vec![],
        probe_ms: 40.0,
    }
}

/// The Policy Simulator's answer where it agrees (a real account's run).
fn simulator_agrees() -> crate::simulator::Opinion {
    let answer = crate::simulator::Answer::Answered { decision: "implicitDeny".into(), statements: Vec::new(), missing_context: Vec::new() };
    crate::simulator::Opinion { answer, caveat: None, note: None }
}

fn denied_list(name: &str, stage: Option<String>, verdict: Verdict) -> StepReport {
    StepReport {
        name: name.into(),
        stage,
        principal: "role1".into(),
        action: "s3:ListBucket".into(),
        resource: Some("b".into()),
        yields: None,
        expected: Expectation::Denied,
        expected_error_code: None,
        observed: "denied".into(),
        error_code: Some("AccessDenied".into()),
        verdict,
        latency_ms: 4.2,
        attempts: 1,
        propagation_ms: None,
        on_instance: None,
        command: "aws s3 ls s3://b".into(),
        detail: String::new(),
        why: None,
        because: None,
        denied_by: None,
        predicted: Some(Decision::Deny),
        reason: Some(Reason {
            decision: Decision::Deny,
            policy_type: Some(PolicyType::Identity),
            policy: None,
            statement: None,
            explicit: false,
            text: "no statement of the identity policies of assumed-role/role1/i-1 allows s3:ListBucket on arn:aws:s3:::b".into(),
            condition: None,
        }),
        prediction_error: None,
        warning: None,
        simulator: None,
    }
}

fn allowed(name: &str, stage: Option<String>, action: &str) -> StepReport {
    StepReport {
        name: name.into(),
        stage,
        principal: "role1".into(),
        action: action.into(),
        resource: Some(if action == "sts:AssumeRole" { "role2".into() } else { "b".into() }),
        yields: (action == "sts:AssumeRole").then(|| "role2".into()),
        expected: Expectation::Allowed,
        expected_error_code: None,
        observed: "allowed".into(),
        error_code: None,
        verdict: Verdict::Pass,
        latency_ms: 6.8,
        attempts: 1,
        propagation_ms: None,
        on_instance: None,
        command: "aws s3 ls s3://b".into(),
        detail: String::new(),
        why: None,
        because: None,
        denied_by: None,
        predicted: Some(Decision::Allow),
        reason: Some(Reason {
            decision: Decision::Allow,
            policy_type: Some(PolicyType::Identity),
            policy: Some("role1 inline policy".into()),
            statement: Some("0".into()),
            explicit: false,
            text: format!("role1's identity policy allows {action}"),
            condition: None,
        }),
        prediction_error: None,
        warning: None,
        simulator: None,
    }
}

/// A config of fifteen principals, for the page's pictures at the size a
/// platform team's config reaches: users and instance roles with long names
/// listing, reading and uploading, chains through three roles, sessions saved
/// in two stages, expected denials, and an access report of the same
/// fifteen with conditions, walked and predicted paths, new and lost ones.
pub fn fifteen_principals() -> RunReport {
    let mut steps = Vec::new();
    let buckets = ["acme-artifacts-production-eu-west-1", "acme-terraform-state", "acme-logs"];
    let roles = ["acme-platform-deployer", "acme-readonly-auditor", "acme-break-glass-administrator"];
    for i in 0..12 {
        let principal = format!("{}-{i:02}", if i % 2 == 0 { "ci-pipeline-user" } else { "service-instance-role" });
        let mut list = allowed(&format!("{principal} lists"), Some("baseline".into()), "s3:ListBucket");
        list.principal = principal.clone();
        list.resource = Some(buckets[i % 3].into());
        let mut denied = denied_list(&format!("{principal} cannot list the state"), Some("baseline".into()), Verdict::Pass);
        denied.principal = principal.clone();
        denied.resource = Some(buckets[1].into());
        let mut assume = allowed(&format!("{principal} assumes"), Some("fixed".into()), "sts:AssumeRole");
        assume.principal = principal.clone();
        assume.resource = Some(roles[i % 3].into());
        assume.yields = Some(format!("{}-session-{i}", roles[i % 3]));
        steps.extend([list, denied, assume]);
    }
    for (r, role) in roles.iter().enumerate() {
        for (b, bucket) in buckets.iter().enumerate().filter(|(b, _)| (b + r) % 2 == 0) {
            let mut put = allowed(&format!("{role} uploads to {bucket}"), Some("fixed".into()), if b == 0 { "s3:PutObject" } else { "s3:GetObject" });
            put.principal = format!("{role}-session-{r}");
            put.resource = Some(format!("{bucket}/reports/2026/hello.txt"));
            steps.push(put);
        }
    }
    let mut chained = allowed("the deployer chains into the administrator", Some("fixed".into()), "sts:AssumeRole");
    chained.principal = format!("{}-session-0", roles[0]);
    chained.resource = Some(roles[2].into());
    chained.yields = Some("break-glass".into());
    steps.push(chained);
    let mut run = fixed_run();
    run.scenarios = vec![ScenarioReport {
        name: "fifteen_principals".into(),
        config: "terraform_configuration/platform_baseline -> terraform_configuration/platform_fixed".into(),
        passed: false,
        error: None,
        cleanup: Cleanup::Destroyed,
        phases: vec![
            phase(Phase::Apply(Some("baseline".into())), 40.0, true),
            phase(Phase::Steps(Some("baseline".into())), 1.0, true),
            phase(Phase::Apply(Some("platform_fixed_with_a_long_stage_name".into())), 12.0, true),
            phase(Phase::Steps(Some("platform_fixed_with_a_long_stage_name".into())), 1.0, true),
            phase(Phase::Destroy, 30.0, true),
        ],
        steps,
        accounts: BTreeMap::new(),
        interrupted: false,
        access: Some(fifteen_principals_access()),
    }];
    run
}

fn fifteen_principals_access() -> crate::access::AccessReport {
    use crate::access::{AccessReport, Diff, PathReport, Proof};
    let mut paths = Vec::new();
    let path = |places: &[String], links: &[&str], proof: Proof| {
        let text = places.iter().zip(std::iter::once(&"").chain(links)).map(|(p, _)| p.clone()).collect::<Vec<_>>().join(" -> ");
        PathReport {
            path: format!("{text}: {}", links.last().unwrap_or(&"")),
            places: places.to_vec(),
            links: links.iter().map(|l| l.to_string()).collect(),
            statements: vec!["statement 0 of aws_iam_role.deployer trust policy, main.tf:12".into()],
            chained: places.len() > 3,
            proof,
            walk: None,
        }
    };
    let walked = || Proof::Proven { calls: 2, latency_ms: 8.0 };
    let role = |r: usize| format!("aws_iam_role.{}", ["deployer", "auditor", "break_glass"][r]);
    let bucket = |b: usize| format!("aws_s3_bucket.{}", ["artifacts", "terraform_state", "logs"][b]);
    for i in 0..12 {
        let start = format!("aws_iam_user.ci_pipeline_{i:02}");
        let assume = if i % 4 == 0 { "sts:AssumeRole [sts:ExternalId StringEquals deploy-${prefix}]" } else { "sts:AssumeRole" };
        paths.push(path(&[start.clone(), role(i % 3), bucket(i % 3)], &[assume, "s3:GetObject, s3:ListBucket, s3:PutObject"], if i % 2 == 0 { walked() } else { Proof::predicted("no credentials for it") }));
    }
    paths.push(path(&["any principal of account self granted it".into(), role(2), bucket(1)], &["sts:AssumeRole", "s3:GetObject, s3:ListBucket"], Proof::predicted("its start is any principal of an account")));
    paths.push(path(&["users of aws_iam_openid_connect_provider.github".into(), role(0), role(2), bucket(1)], &["sts:AssumeRoleWithWebIdentity [token.actions.githubusercontent.com:sub StringLike repo:acme/*]", "sts:AssumeRole", "s3:PutObject"], walked()));
    paths.push(path(&["anonymous".into(), bucket(2)], &["s3:GetObject"], Proof::Refused { call: "s3:GetObject".into(), code: "AccessDenied".into() }));
    let added = vec![paths[12].path.clone(), paths[14].path.clone()];
    AccessReport {
        snapshot: "scenarios/fifteen_principals.access".into(),
        paths,
        diff: Some(Diff { added, missing: vec!["aws_iam_role.auditor -> aws_s3_bucket.logs: s3:ListBucket".into()] }),
        accepted: false,
        unseen: Vec::new(),
        analysis_ms: 3.0,
    }
}
