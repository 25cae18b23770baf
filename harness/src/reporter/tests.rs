//! Each reporter's output for a fixed run (snapshots under `snapshots/`,
//! reviewed with `cargo insta review` or by reading the diff), and what the
//! output must always say.

use std::io::Write;
use std::sync::{Arc, Mutex};

use super::graph::Graph;
use super::html::{self, Html};
use super::json::Json;
use super::junit::JUnit;
use super::progress::{self, Progress};
use super::story::Story;
use super::table::Table;
use super::{Reporter, replay};
use crate::report::fixture::{access_changed, fixed_run, sample};
use crate::phase::Phase;
use crate::report::{Event, RunReport, StepReport};
use crate::scenario::Expectation;
use crate::verdict::Verdict;

/// A writer the test reads back after the reporter has written to it.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().write(bytes)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the reporter `make` builds writes for `report` replayed through it.
fn render<R: Reporter>(make: impl FnOnce(Buffer) -> R, report: &RunReport) -> String {
    let buffer = Buffer::default();
    replay(report, &mut make(buffer.clone())).unwrap();
    String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
}

#[test]
fn progress_snapshot() {
    insta::assert_snapshot!(render(Progress::new, &fixed_run()));
}

#[test]
fn quiet_progress_snapshot() {
    insta::assert_snapshot!(render(Progress::quiet, &fixed_run()));
}

#[test]
fn story_snapshot() {
    insta::assert_snapshot!(render(Story::without_spinner, &fixed_run()));
}

#[test]
fn table_snapshot() {
    insta::assert_snapshot!(render(Table::new, &fixed_run()));
}

#[test]
fn summary_snapshot() {
    insta::assert_snapshot!(render(Table::summary_only, &fixed_run()));
}

#[test]
fn junit_snapshot() {
    insta::assert_snapshot!(render(JUnit::new, &fixed_run()));
}

#[test]
fn json_snapshot() {
    insta::assert_snapshot!(render(Json::new, &fixed_run()));
}

#[test]
fn graph_snapshot() {
    insta::assert_snapshot!(render(Graph::new, &fixed_run()));
}

#[test]
fn the_graph_has_an_edge_per_two_nodes_and_expectation_coloured_by_its_verdict() {
    let dot = render(Graph::new, &fixed_run());
    let edges = dot.lines().filter(|l| l.contains(" -> ")).count();
    // The fixture's steps go between distinct nodes or expect differently: one edge each.
    let steps: usize = fixed_run().scenarios.iter().map(|s| s.steps.len()).sum();
    assert_eq!(edges, steps, "{dot}");
    assert!(dot.contains("\"blog_demo/principal:role1\" -> \"blog_demo/bucket:b\" [label=\"s3:ListBucket UNVERIFIED 4.2 ms\", color=darkorange"), "{dot}");
    assert!(dot.contains("\"blog_demo/principal:role1\" -> \"blog_demo/role:role2\" [label=\"sts:AssumeRole PASS"), "{dot}");
    assert!(dot.contains("\"blog_demo/role:role2\" -> \"blog_demo/bucket:b\""), "the session acts from its role's node: {dot}");
    assert!(dot.contains("\"broken/instance:i-0abc\" -> \"broken/principal:role1\" [label=\"instance profile PASS"), "{dot}");
    assert!(dot.contains("style=dashed"), "an expected denial is dashed: {dot}");
}

#[test]
fn json_is_the_report_itself() {
    let written: serde_json::Value = serde_json::from_str(&render(Json::new, &fixed_run())).unwrap();
    assert_eq!(written, serde_json::to_value(fixed_run()).unwrap());
}

#[test]
fn replay_gives_each_stage_its_own_steps() {
    let story = render(Story::without_spinner, &fixed_run());
    let second_stage = story.find("== solution_demo ==").unwrap();
    assert!(story.find("# role1 cannot list role2's bucket").unwrap() < second_stage, "{story}");
    assert!(story.find("# role1 assumes role2").unwrap() > second_stage, "{story}");
}

#[test]
fn a_denial_shows_its_predicted_reason() {
    let report = sample();
    let step = &report.scenarios[0].steps[0];
    let line = progress::line(&Event::StepFinished { scenario: "problem_demo", step });
    assert!(line.contains("\n    reason: no statement of the identity policies of assumed-role/role1/i-1 allows s3:ListBucket"), "{line}");
    // The third opinion, where the Policy Simulator was asked: it agrees, so no note.
    assert!(line.ends_with("\n    simulator: implicitDeny"), "{line}");
    let story = super::story::step_text(step);
    assert!(story.contains("because no statement of the identity policies"), "{story}");
}

#[test]
fn junit_has_a_case_per_step_with_its_time() {
    let mut report = sample();
    let failing = StepReport { name: "fails".into(), verdict: Verdict::Fail, ..report.scenarios[0].steps[0].clone() };
    report.scenarios[0].steps.push(failing);
    let xml = render(JUnit::new, &report);
    assert!(xml.contains("<testsuite name=\"problem_demo\" tests=\"2\""), "{xml}");
    assert!(xml.contains("<testcase name=\"role1 cannot list the bucket\" time=\"0.004"), "{xml}");
    assert!(xml.contains("<failure message=\"FAIL: expected denied"), "{xml}");
}

// The access snapshot's paths are cases of their own: walked (passing),
// predicted only (skipped, with why), refused by the target or new to the
// snapshot (failing), and a lost path fails too.
#[test]
fn junit_carries_each_access_path_with_what_stands_behind_it() {
    use crate::access::{PathReport, Proof};
    let mut report = crate::report::fixture::access_changed();
    let access = report.scenarios[0].access.as_mut().unwrap();
    let path = |text: &str, proof: Proof| PathReport { path: text.into(), places: Vec::new(), links: Vec::new(), statements: Vec::new(), chained: false, proof, walk: None };
    access.paths.push(path("aws_iam_role.role2 -> aws_s3_bucket.data: s3:GetObject", Proof::Proven { calls: 2, latency_ms: 12.0 }));
    access.paths.push(path("aws_iam_role.role3 -> aws_s3_bucket.data: s3:ListBucket", Proof::Refused { call: "s3:ListBucket on data".into(), code: "AccessDenied".into() }));
    let xml = render(JUnit::new, &report);
    assert!(xml.contains("<testcase name=\"access: aws_iam_role.role2 -&gt; aws_s3_bucket.data: s3:GetObject\" time=\"0.012"), "{xml}");
    assert!(xml.contains("<failure message=\"the target refused s3:ListBucket on data (AccessDenied); the evaluator says AWS allows this path\""), "{xml}");
    assert!(xml.contains("<failure message=\"new path, not in scenarios/problem_demo.access; opened by statement 0 of aws_iam_role_policy.ci, main.tf:12"), "{xml}");
    assert!(xml.contains("<testcase name=\"access: aws_iam_role.role2 -&gt; aws_s3_bucket.bucket: s3:ListBucket\"") && xml.contains("lost path"), "{xml}");
    // The new path was predicted only: it still fails, as new.
    assert_eq!(xml.matches("<skipped").count(), 0, "{xml}");
}

/// The sample with its step UNVERIFIED (a target that does not enforce IAM).
fn unverified(strict: bool) -> RunReport {
    let mut report = sample();
    let step = &mut report.scenarios[0].steps[0];
    step.verdict = Verdict::Unverified;
    step.observed = "allowed".into();
    step.why = Some("allowed, but the target does not enforce identity policies".into());
    report.strict = strict;
    report.passed = !strict;
    report
}

#[test]
fn unverified_steps_are_never_silent() {
    let text = render(Table::summary_only, &unverified(false));
    assert!(text.contains("result: PASSED | 0 passed, 0 failed, 1 unverified | 1 step NOT PROVEN"), "{text}");
    let text = render(Table::summary_only, &unverified(true));
    assert!(
        text.contains("result: FAILED | 0 passed, 0 failed, 1 unverified | 1 step NOT PROVEN: the target cannot show their denial (see capabilities); they fail the run (--strict)"),
        "{text}"
    );
    // The scenario's own line says it too.
    let report = unverified(false);
    let line = progress::line(&Event::ScenarioFinished(&report.scenarios[0]));
    assert_eq!(line, "[problem_demo] PASSED, 1 step NOT PROVEN (the target does not enforce what they depend on)");
    // Under --strict the FAILED lines say why: nothing failed, nothing was proven.
    let mut report = unverified(true);
    report.scenarios[0].passed = false;
    let line = progress::line(&Event::ScenarioFinished(&report.scenarios[0]));
    assert_eq!(line, "[problem_demo] FAILED: 1 step NOT PROVEN, --strict");
    let text = render(Table::summary_only, &report);
    assert!(text.contains("problem_demo: FAILED (1 step NOT PROVEN, --strict) | apply 30.0s | cleanup: destroyed"), "{text}");
}

#[test]
fn an_interrupted_run_says_so_and_shows_no_empty_table() {
    let mut report = sample();
    report.passed = false;
    report.interrupted = true;
    let scenario = &mut report.scenarios[0];
    scenario.steps.clear();
    scenario.passed = false;
    scenario.interrupted = true;
    scenario.error = Some(crate::report::ScenarioStop { phase: Phase::Apply(None), message: "terraform apply: interrupted".into() });
    let line = progress::line(&Event::ScenarioFinished(&report.scenarios[0]));
    assert_eq!(line, "[problem_demo] INTERRUPTED during apply (Ctrl-C)");
    let text = render(Table::new, &report);
    assert!(!text.contains("SCENARIO") && !text.contains("FAILED"), "{text}");
    assert!(text.contains("problem_demo: INTERRUPTED during apply | apply 30.0s | cleanup: destroyed"), "{text}");
    assert!(text.contains("result: INTERRUPTED | 0 passed, 0 failed, 0 unverified | interrupted by Ctrl-C: problem_demo (apply)"), "{text}");
}

#[test]
fn junit_skips_unverified_steps_unless_strict() {
    let xml = render(JUnit::new, &unverified(false));
    assert!(xml.contains("<skipped message=\"UNVERIFIED: allowed, but the target does not enforce identity policies\""), "{xml}");
    let xml = render(JUnit::new, &unverified(true));
    assert!(xml.contains("<failure message=\"UNVERIFIED: expected denied"), "{xml}");
}

#[test]
fn diverged_steps_and_warnings_are_counted() {
    let text = render(Table::summary_only, &fixed_run());
    assert!(text.contains("result: FAILED | 3 passed, 1 failed, 1 unverified, 1 diverged (the emulator and the policy evaluator disagree"), "{text}");
    assert!(text.contains("| 1 warnings: AWS answered otherwise"), "{text}");
}

#[test]
fn table_shows_every_step_and_the_result() {
    let text = render(Table::new, &sample());
    assert!(text.lines().next().unwrap().starts_with("SCENARIO"));
    assert!(text.contains("role1 cannot list the bucket"));
    assert!(text.contains("denied (AccessDenied)"));
    assert!(text.contains("problem_demo: passed | apply 30.0s | cleanup: destroyed"));
    assert!(text.trim_end().ends_with("result: PASSED | 1 passed, 0 failed, 0 unverified"));
}

#[test]
fn html_snapshot() {
    insta::assert_snapshot!(render(Html::new, &fixed_run()));
}

/// The page read back as XML: each element with a class, its attributes, and
/// the text inside it (children's included).
#[derive(Debug)]
struct Element {
    name: String,
    attributes: std::collections::BTreeMap<String, String>,
    text: String,
}

fn elements(page: &str) -> Vec<Element> {
    use quick_xml::events::Event as Xml;
    let mut reader = quick_xml::Reader::from_str(page);
    let (mut all, mut open): (Vec<Element>, Vec<usize>) = (Vec::new(), Vec::new());
    loop {
        match reader.read_event().unwrap_or_else(|e| panic!("the page is not well-formed at {}: {e}", reader.buffer_position())) {
            Xml::Start(tag) => {
                all.push(element(&tag));
                open.push(all.len() - 1);
            }
            Xml::Empty(tag) => all.push(element(&tag)),
            Xml::End(_) => {
                open.pop();
            }
            Xml::Text(text) => {
                let text = text.decode().unwrap();
                for &i in &open {
                    all[i].text.push_str(&text);
                }
            }
            Xml::GeneralRef(entity) => {
                let name = entity.decode().unwrap();
                let resolved = quick_xml::escape::resolve_predefined_entity(&name).unwrap_or_else(|| panic!("&{name}; is not XML's"));
                for &i in &open {
                    all[i].text.push_str(resolved);
                }
            }
            Xml::Eof => break,
            _ => {}
        }
    }
    assert!(open.is_empty(), "unclosed elements");
    all
}

fn element(tag: &quick_xml::events::BytesStart<'_>) -> Element {
    let attributes = tag
        .attributes()
        .map(|a| {
            let a = a.unwrap();
            (String::from_utf8(a.key.as_ref().to_vec()).unwrap(), a.unescape_value().unwrap().to_string())
        })
        .collect();
    Element { name: String::from_utf8(tag.name().as_ref().to_vec()).unwrap(), attributes, text: String::new() }
}

fn with_class<'e>(all: &'e [Element], class: &str) -> Vec<&'e Element> {
    all.iter().filter(|e| e.attributes.get("class").is_some_and(|c| c.split(' ').any(|c| c == class))).collect()
}

#[test]
fn the_html_page_draws_every_step_on_an_edge_coloured_by_its_worst_verdict() {
    let run = fixed_run();
    let page = render(Html::new, &run);
    let all = elements(&page);
    let steps: Vec<&StepReport> = run.scenarios.iter().flat_map(|s| &s.steps).collect();
    let edges = with_class(&all, "edge");
    let on_edges: Vec<&str> = edges.iter().flat_map(|e| e.attributes["data-steps"].split("; ")).collect();
    // Every step of the fixture reaches something (the lookup, AssumeRole, s3), each on one edge.
    assert_eq!(on_edges.len(), steps.len(), "{page}");
    let paths: Vec<&Element> = all.iter().filter(|e| e.name == "path" && e.attributes.contains_key("stroke")).collect();
    for (edge, path) in edges.iter().zip(&paths) {
        let mine: Vec<&&StepReport> = steps.iter().filter(|s| edge.attributes["data-steps"].split("; ").any(|n| n == s.name)).collect();
        let worst = mine.iter().map(|s| s.verdict).max_by_key(|v| [Verdict::Pass, Verdict::Unverified, Verdict::Diverged, Verdict::Fail].iter().position(|w| w == v)).unwrap();
        assert_eq!(edge.attributes["data-verdict"], worst.label());
        assert_eq!(path.attributes["stroke"], html::colour(worst), "{}", edge.attributes["data-steps"]);
        assert_eq!(path.attributes.contains_key("stroke-dasharray"), mine.iter().all(|s| s.expected == Expectation::Denied));
        if let [step] = mine.as_slice() {
            assert!(edge.text.contains(&format!("{} {:.1} ms", step.verdict.label(), step.latency_ms)), "{}", edge.text);
        }
    }
    let nodes: Vec<&str> = with_class(&all, "node").iter().map(|n| n.attributes["data-node"].as_str()).collect();
    for node in ["principal:role1", "role:role2", "bucket:b", "instance:i-0abc"] {
        assert!(nodes.contains(&node), "{nodes:?}");
    }
    let chain = edges.iter().find(|e| e.attributes["data-steps"] == "role1 assumes role2").unwrap();
    assert_eq!((chain.attributes["data-from"].as_str(), chain.attributes["data-to"].as_str()), ("principal:role1", "role:role2"));
}

#[test]
fn the_html_page_draws_who_could_reach_what_with_new_paths_in_red() {
    let run = access_changed();
    let all = elements(&render(Html::new, &run));
    let new: Vec<&Element> = with_class(&all, "edge").into_iter().filter(|e| e.attributes["class"].contains("new")).collect();
    // The fixture's only path is the new one: both its links are new.
    let labels: Vec<&str> = new.iter().map(|e| e.text.as_str()).collect();
    assert!(labels.len() == 2 && labels[0].ends_with("NEW sts:AssumeRole") && labels[1].ends_with("NEW s3:ListBucket"), "{labels:?}");
    let lists = [("new-path", "aws_iam_role.ci -> aws_iam_role.role2"), ("lost-path", "aws_iam_role.role2 -> aws_s3_bucket.bucket")];
    for (class, text) in lists {
        let items = with_class(&all, class);
        assert!(items.len() == 1 && items[0].text.contains(text), "{class}: {items:?}");
    }
}

#[test]
fn the_html_page_gives_each_denial_its_reason_the_timeline_and_the_table() {
    let run = fixed_run();
    let all = elements(&render(Html::new, &run));
    let reasons = with_class(&all, "reason");
    let denials: Vec<&StepReport> = run.scenarios.iter().flat_map(|s| &s.steps).filter(|s| s.expected == Expectation::Denied || s.observed == "denied").collect();
    assert_eq!(reasons.len(), denials.len());
    for (li, step) in reasons.iter().zip(&denials) {
        assert_eq!(li.attributes["data-step"], step.name);
        assert!(li.text.contains(&step.reason.as_ref().unwrap().text), "{}", li.text);
    }
    let phases = with_class(&all, "phase");
    assert_eq!(phases.len(), run.scenarios.iter().map(|s| s.phases.len()).sum::<usize>());
    assert!(phases.iter().any(|p| p.attributes["data-phase"] == "apply problem_demo" && p.text.contains("20.0 s")), "{phases:?}");
    assert_eq!(with_class(&all, "step").len(), run.scenarios.iter().map(|s| s.steps.len()).sum::<usize>());
    // Self-contained: no script, nothing loaded from anywhere.
    assert!(all.iter().all(|e| e.name != "script" && e.name != "link" && !e.attributes.contains_key("src") && !e.attributes.contains_key("href")));
    let result = with_class(&all, "result");
    assert_eq!(result[0].text, "FAILED");
}

/// The browser test opens pages of these fixtures' reports, read from
/// JSON files: each file is its fixture as it is now.
/// HARNESS_WRITE_FIXTURES=1 rewrites them.
#[test]
fn the_browser_tests_report_files_are_the_fixtures() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reports");
    for (file, report) in [("fixed_run.json", fixed_run()), ("fifteen_principals.json", crate::report::fixture::fifteen_principals())] {
        let json = serde_json::to_string_pretty(&report).unwrap() + "\n";
        if std::env::var("HARNESS_WRITE_FIXTURES").is_ok_and(|v| v == "1") {
            std::fs::write(dir.join(file), &json).unwrap();
        }
        let held: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
        assert!(held == serde_json::to_value(&report).unwrap(), "{file} is not its fixture: HARNESS_WRITE_FIXTURES=1 cargo test --features localstack --lib browser_tests");
    }
}
