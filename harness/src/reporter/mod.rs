//! Reporters consume a run's events as it goes and its report at the end,
//! each writing to the writer it was given (as cargo-nextest's reporter
//! does): [`progress`] lines for a person, the demo's [`story`], the
//! [`table`], [`json`], [`junit`], the [`graph`] (DOT) and the [`html`] page;
//! the two pictures draw [`reach`], the page also [`could_reach`], both laid out by [`layout`]. A new output format is one file here that
//! implements [`Reporter`].

pub mod could_reach;
pub mod graph;
pub mod html;
pub mod json;
pub mod junit;
pub mod layout;
pub mod progress;
pub mod reach;
pub mod story;
pub mod table;

use std::sync::Mutex;

use crate::report::{Event, RunReport};

/// A report that could not be written, and where it was going.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {what}")]
pub struct WriteError {
    pub what: String,
    #[source]
    pub source: std::io::Error,
}

pub type Written = Result<(), WriteError>;

pub trait Reporter: Send {
    /// Something happened (the runner's events, in order).
    fn event(&mut self, _event: &Event<'_>) -> Written {
        Ok(())
    }

    /// The run is over: its whole report.
    fn finish(&mut self, _report: &RunReport) -> Written {
        Ok(())
    }
}

/// Every reporter of a run, fed the same events in the same order.
pub struct Reporters {
    reporters: Mutex<Vec<Box<dyn Reporter>>>,
}

impl Reporters {
    pub fn new(reporters: Vec<Box<dyn Reporter>>) -> Self {
        Self { reporters: Mutex::new(reporters) }
    }

    /// Hand an event to every reporter. A console that cannot be written
    /// to must not stop the run (its cleanup above all): said once in the log.
    pub fn emit(&self, event: &Event<'_>) {
        for reporter in self.reporters.lock().unwrap_or_else(|p| p.into_inner()).iter_mut() {
            if let Err(err) = reporter.event(event) {
                tracing::warn!("{err}: {}", err.source);
            }
        }
    }

    /// The report to every reporter; the first that cannot write it is the error.
    pub fn finish(self, report: &RunReport) -> Written {
        let mut first = Ok(());
        for mut reporter in self.reporters.into_inner().unwrap_or_else(|p| p.into_inner()) {
            let written = reporter.finish(report);
            if first.is_ok() {
                first = written;
            }
        }
        first
    }
}

/// The events a finished report tells, in the order a run with one job
/// emits them: what a reporter sees when the report is replayed.
pub fn replay(report: &RunReport, reporter: &mut dyn Reporter) -> Written {
    reporter.event(&Event::TargetReady(&report.target))?;
    for scenario in &report.scenarios {
        let name = scenario.name.as_str();
        reporter.event(&Event::ScenarioStarted { scenario: name, prefix: &format!("{}-{}", name, report.run_id) })?;
        let mut steps = scenario.steps.iter().peekable();
        for phase in &scenario.phases {
            reporter.event(&Event::PhaseStarted { scenario: name, phase: &phase.name })?;
            // A stage's steps belong to its steps phase.
            if phase.name.is_steps() {
                while let Some(step) = steps.next_if(|s| s.stage.as_deref() == phase.name.stage()) {
                    reporter.event(&Event::StepFinished { scenario: name, step })?;
                }
            }
            reporter.event(&Event::PhaseFinished { scenario: name, phase })?;
        }
        reporter.event(&Event::ScenarioFinished(scenario))?;
    }
    reporter.finish(report)
}

/// `1 step` / `2 steps`.
fn count_of_steps(n: usize) -> String {
    format!("{n} {}", if n == 1 { "step" } else { "steps" })
}

/// An io error of writing `what`.
fn writing(what: &str) -> impl FnOnce(std::io::Error) -> WriteError + '_ {
    move |source| WriteError { what: what.to_string(), source }
}


#[cfg(test)]
mod tests;
