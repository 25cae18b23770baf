//! Progress lines for a person (the CLI writes them to stderr): the target
//! and what it enforces, each phase, each step with its command, what it
//! printed and why it is not a plain pass, each scenario's end.

use std::io::Write;

use super::{Reporter, Written, count_of_steps, writing};
use crate::policy::Decision;
use crate::report::{Cleanup, Event, StepReport};
use crate::target_facts::TargetDescription;
use crate::verdict::Verdict;

pub struct Progress<W> {
    out: W,
    /// Only the target and each scenario's end (mutation testing runs many).
    quiet: bool,
}

impl<W: Write + Send> Progress<W> {
    pub fn new(out: W) -> Self {
        Self { out, quiet: false }
    }

    pub fn quiet(out: W) -> Self {
        Self { out, quiet: true }
    }
}

impl<W: Write + Send> Reporter for Progress<W> {
    fn event(&mut self, event: &Event<'_>) -> Written {
        if self.quiet && !matches!(event, Event::TargetReady(_) | Event::ScenarioFinished(_)) {
            return Ok(());
        }
        writeln!(self.out, "{}", line(event)).map_err(writing("the progress lines"))
    }
}

/// Which target runs, where, and why: `target: moto 5.2.5 at http://... (reason)`.
pub fn target_line(d: &TargetDescription) -> String {
    let container = match (&d.image, d.network) {
        (Some(image), Some(network)) => format!(", image {image}, {network} network"),
        _ => String::new(),
    };
    format!("target: {} {} at {}{container} ({})", d.kind, d.version.as_deref().unwrap_or("?"), d.endpoint.as_deref().unwrap_or("AWS"), d.reason)
}

/// The line (or lines) an event prints.
pub fn line(event: &Event<'_>) -> String {
    match event {
        Event::TargetReady(target) => {
            let c = &target.capabilities;
            let yes = |b: bool| if b { "yes" } else { "NO" };
            format!(
                "{}\ncapabilities: identity policies enforced: {}, trust policies enforced: {}, role ARN matches its sessions: {}\n  \
                 trust conditions checked: {}, sts:TagSession required: {}, session durations checked: {}, session policies applied: {}, \
                 web identity tokens checked: {}, KMS key policies enforced: {}, SCPs and RCPs enforced: {}, S3 Block Public Access applied: {}, SAML responses checked: {}, RDS IAM auth tokens checked: {}",
                target_line(&target.description),
                yes(c.identity_policies),
                yes(c.trust_policies),
                yes(c.role_session_principals),
                yes(c.trust_conditions),
                yes(c.session_tags),
                yes(c.session_durations),
                yes(c.session_policies),
                yes(c.web_identity),
                yes(c.key_policies),
                yes(c.organization_policies),
                yes(c.public_access_block),
                yes(c.saml),
                yes(c.rds_iam_auth),
            )
        }
        Event::ScenarioStarted { scenario, prefix } => format!("[{scenario}] start (resource prefix {prefix})"),
        Event::PhaseStarted { scenario, phase } => format!("[{scenario}] {phase} ..."),
        Event::PhaseFinished { scenario, phase } => {
            format!("[{scenario}] {} {} {:.1}s", phase.name, if phase.ok { "done" } else { "FAILED" }, phase.latency_ms / 1000.0)
        }
        Event::StepFinished { scenario, step } => step_lines(scenario, step),
        Event::ScenarioFinished(report) => {
            if let Some(phase) = report.interrupted_in() {
                return format!("[{}] INTERRUPTED during {phase} (Ctrl-C)", report.name);
            }
            let mut line = format!("[{}] {}", report.name, if report.passed { "PASSED" } else { "FAILED" });
            let unverified = report.steps.iter().filter(|s| s.verdict == Verdict::Unverified).count();
            if report.passed && unverified > 0 {
                line.push_str(&format!(", {} NOT PROVEN (the target does not enforce what they depend on)", count_of_steps(unverified)));
            }
            if let (None, Some(why)) = (&report.error, report.failed_because()) {
                line.push_str(&format!(": {why}"));
            }
            if let Some(error) = &report.error {
                let indented = error.message.trim_end().replace('\n', "\n    ");
                line.push_str(&format!(": {} failed: {indented}", error.phase));
            }
            if let Cleanup::Kept { dir, command, error } = &report.cleanup {
                line.push_str(&format!("\n    CLEANUP INCOMPLETE: {error}\n    state kept in {dir}; finish with: {command}"));
            }
            line
        }
    }
}

fn step_lines(scenario: &str, step: &StepReport) -> String {
    let mut line = format!(
        "[{scenario}] {:<10} {} | {} {} | expected {}, observed {} | {:.1} ms",
        step.verdict.label(),
        step.name,
        step.principal,
        step.action,
        step.expected_text(),
        step.observed_with_code(),
        step.latency_ms
    );
    match &step.on_instance {
        Some(instance) => line.push_str(&format!("\n    {instance}$ {}   (SSM Run Command)", step.command)),
        None => line.push_str(&format!("\n    $ {}", step.command)),
    }
    for detail in step.detail.lines() {
        line.push_str(&format!("\n    {detail}"));
    }
    if let Some(why) = &step.why {
        line.push_str(&format!("\n    why: {why}"));
    }
    if let Some(reason) = step.reason.as_ref().filter(|r| r.decision != Decision::Allow) {
        line.push_str(&format!("\n    reason: {}", reason.text));
    }
    if let Some(warning) = &step.warning {
        line.push_str(&format!("\n    WARNING: {warning}"));
    }
    // The third opinion: AWS observed, the evaluator predicted, the Policy Simulator says.
    if let Some(opinion) = &step.simulator {
        line.push_str(&format!("\n    simulator: {}", opinion.answer.line()));
        if let Some(note) = &opinion.note {
            line.push_str(&format!("\n    NOTE: {note}"));
        }
    }
    line
}
