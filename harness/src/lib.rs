//! End-to-end verification of AWS IAM assume-role setups written in Terraform.
//!
//! The flow, one module per stage:
//! [`scenario`] (what to verify, in which [`accounts`]) -> [`terraform`] (apply the config) ->
//! [`target`] (where: an IAM-enforcing emulator, probed for what it enforces) ->
//! [`identity`] (each principal's credentials, the workload's over IMDS) ->
//! [`steps`] (one AWS call, through its [`service`], and what it observed) -> [`prediction`] (what
//! AWS should answer, by the [`policy`] evaluator) -> [`verdict`] (the one
//! table) -> [`runner`] (the whole run, destroy included, as [`report`]
//! events and a report) -> [`reporter`]s (console, story, table, JSON, JUnit,
//! DOT, HTML). Between runs: what a run [`kept`] for the next (`--keep`,
//! `--reuse`) and the edit-and-verify loop's [`watch`]ing.

pub mod access;
pub mod accounts;
pub mod cli;
pub mod command;
pub mod exit_code;
pub mod identity;
pub mod interrupt;
pub mod kept;
pub mod mutants;
pub mod naming;
pub mod on_instance;
pub mod partition;
pub mod outcome;
pub mod phase;
pub mod policy;
pub mod prediction;
pub mod refusal;
pub mod process;
pub mod report;
pub mod root_module;
pub mod reporter;
pub mod runner;
pub mod saml_idp;
pub mod scenario;
pub mod scratch;
pub mod sdk;
pub mod secret;
pub mod service;
pub mod shell;
pub mod simulator;
pub mod steps;
pub mod sweep;
pub mod target;
pub mod target_facts;
pub mod template;
pub mod terraform;
pub mod timestamp;
pub mod verdict;
pub mod watch;
pub mod web_token;
