//! The demo's narrative for a person watching: each step as the aws CLI
//! command and what it printed, like the blog shows it, and a spinner (on
//! the terminal) while terraform works.

use std::io::Write;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Reporter, Written, progress, writing};
use crate::phase::Phase;
use crate::policy::Decision;
use crate::report::{Event, StepReport};

pub struct Story<W> {
    out: W,
    /// Where the spinner draws (stderr on a terminal; hidden in tests and logs).
    spinner_target: fn() -> ProgressDrawTarget,
    spinner: Option<ProgressBar>,
}

impl<W: Write + Send> Story<W> {
    /// The story on `out`, the spinner on stderr.
    pub fn new(out: W) -> Self {
        Self { out, spinner_target: ProgressDrawTarget::stderr, spinner: None }
    }

    /// The story alone, a line where the spinner would turn (tests, logs).
    pub fn without_spinner(out: W) -> Self {
        Self { out, spinner_target: ProgressDrawTarget::hidden, spinner: None }
    }

    fn terraform_started(&mut self, phase: &Phase) -> std::io::Result<()> {
        let style = ProgressStyle::with_template("{spinner} terraform {msg} {elapsed}").unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bar = ProgressBar::with_draw_target(None, (self.spinner_target)()).with_style(style);
        bar.set_message(phase.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        if bar.is_hidden() {
            writeln!(self.out, "terraform {phase} ...")?;
        }
        self.spinner = Some(bar);
        Ok(())
    }

    fn write(&mut self, event: &Event<'_>) -> std::io::Result<()> {
        match event {
            Event::TargetReady(_) => writeln!(self.out, "{}", progress::line(event)),
            Event::PhaseStarted { phase, .. } if phase.is_steps() => {
                let title = phase.stage().map(|config| format!(" {config} ")).unwrap_or_default();
                writeln!(self.out, "\n=={title}{}", "=".repeat(60usize.saturating_sub(title.len())))
            }
            Event::PhaseStarted { phase, .. } => self.terraform_started(phase),
            Event::PhaseFinished { phase, .. } if !phase.name.is_steps() => {
                if let Some(bar) = self.spinner.take() {
                    bar.finish_and_clear();
                }
                writeln!(self.out, "terraform {}: {} in {:.1}s", phase.name, if phase.ok { "done" } else { "FAILED" }, phase.latency_ms / 1000.0)
            }
            Event::StepFinished { step, .. } => writeln!(self.out, "{}", step_text(step)),
            Event::ScenarioFinished(_) => writeln!(self.out, "\n{}", progress::line(event)),
            Event::PhaseFinished { .. } | Event::ScenarioStarted { .. } => Ok(()),
        }
    }
}

impl<W: Write + Send> Reporter for Story<W> {
    fn event(&mut self, event: &Event<'_>) -> Written {
        self.write(event).map_err(writing("the story"))
    }
}

/// A step as the blog shows one: the command, what it printed, the verdict and why.
pub fn step_text(step: &StepReport) -> String {
    let mut text = format!("\n# {} (as {})\n$ {}\n", step.name, step.principal, step.command);
    if !step.detail.is_empty() {
        text.push_str(&step.detail);
        text.push('\n');
    }
    text.push_str(&format!("-> expected {}: {} ({:.1} ms)", step.expected_text(), step.verdict.label(), step.latency_ms));
    if let Some(why) = &step.why {
        text.push_str(&format!(" - {why}"));
    }
    if let Some(reason) = step.reason.as_ref().filter(|r| r.decision != Decision::Allow) {
        text.push_str(&format!("\n   because {}", reason.text));
    }
    text
}
