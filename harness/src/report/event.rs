//! What the runner tells reporters as it goes: borrowed views of the report
//! being built, in the order things happen within a scenario (scenarios run
//! at once interleave).

use super::{PhaseReport, ScenarioReport, StepReport, TargetReport};
use crate::phase::Phase;

#[derive(Debug, Clone)]
pub enum Event<'a> {
    TargetReady(&'a TargetReport),
    ScenarioStarted { scenario: &'a str, prefix: &'a str },
    PhaseStarted { scenario: &'a str, phase: &'a Phase },
    PhaseFinished { scenario: &'a str, phase: &'a PhaseReport },
    StepFinished { scenario: &'a str, step: &'a StepReport },
    ScenarioFinished(&'a ScenarioReport),
}
