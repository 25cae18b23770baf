//! The policy-evaluation conformance corpus (`harness/corpus/*.toml`): every
//! case is a trial against the harness's evaluator (`corpus::<file>::<case>`)
//! and, with the `localstack` feature, against the moto launcher's twin
//! (`launcher::<file>::<case>`), which decides what the embedded target
//! enforces. Stock moto's agreement is printed as a figure (README).
//! An empty corpus folder is a failure, not a silent pass.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use harness::policy::{self, Because, Caller, Decision, DocumentKind, Policy, PolicySet, Request};
use libtest_mimic::{Arguments, Failed, Trial};
use serde::Deserialize;

/// A corpus file: named policies, then cases that use them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CorpusFile {
    #[serde(default)]
    policies: BTreeMap<String, String>,
    case: Vec<Case>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Values {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    caller: String,
    action: String,
    resource: String,
    #[serde(default)]
    identity: Vec<String>,
    resource_policy: Option<String>,
    boundary: Option<String>,
    #[serde(default)]
    session: Vec<String>,
    /// The SCPs over the caller's account: a list of policies per level, the organization's root first.
    #[serde(default)]
    scps: Vec<Vec<String>>,
    /// The RCPs over the resource's account, likewise.
    #[serde(default)]
    rcps: Vec<Vec<String>>,
    management_account: Option<String>,
    /// Block Public Access's RestrictPublicBuckets over the bucket.
    #[serde(default)]
    restrict_public: bool,
    #[serde(default)]
    context: BTreeMap<String, Values>,
    resource_account: Option<String>,
    #[serde(default = "yes")]
    resource_exists: bool,
    /// allow | deny | no-such-bucket | MalformedPolicyDocument | MalformedPolicy
    expect: String,
    because: Option<String>,
    source: String,
    basis: String,
    quote: Option<String>,
}

fn yes() -> bool {
    true
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// Every case of every file, checked for its own completeness.
fn load() -> Result<Vec<(String, CorpusFile)>, String> {
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("{}: the corpus is empty", dir.display()));
    }
    files
        .into_iter()
        .map(|path| {
            let stem = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let file: CorpusFile = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok((stem, file))
        })
        .collect()
}

/// A level's name in reasons: the root first, the account last, OUs between.
fn level_target(index: usize, levels: usize) -> String {
    match index {
        0 => "the organization's root".into(),
        i if i + 1 == levels => "the account".into(),
        i => format!("OU {i}"),
    }
}

fn document_kind(case: &Case) -> DocumentKind {
    if policy::is_trust_action(&case.action) { DocumentKind::Trust } else { DocumentKind::Bucket }
}

/// The request and its policies; Err: a policy AWS refuses (its error code).
fn build(file: &CorpusFile, case: &Case) -> Result<Result<(Request, PolicySet), String>, Failed> {
    let doc = |name: &String| file.policies.get(name).ok_or_else(|| Failed::from(format!("no policy named {name}")));
    let parse = |name: &String, kind| -> Result<Result<Policy, String>, Failed> {
        Ok(Policy::parse(name, doc(name)?, kind).map_err(|e| e.code().to_string()))
    };
    let mut set = PolicySet { resource_exists: case.resource_exists, ..PolicySet::default() };
    for name in &case.identity {
        match parse(name, DocumentKind::Identity)? {
            Ok(p) => set.identity.push(p),
            Err(code) => return Ok(Err(code)),
        }
    }
    for name in &case.session {
        match parse(name, DocumentKind::Identity)? {
            Ok(p) => set.session.push(p),
            Err(code) => return Ok(Err(code)),
        }
    }
    if let Some(name) = &case.boundary {
        match parse(name, DocumentKind::Identity)? {
            Ok(p) => set.boundary = Some(p),
            Err(code) => return Ok(Err(code)),
        }
    }
    if let Some(name) = &case.resource_policy {
        match parse(name, document_kind(case))? {
            Ok(p) => set.resource = Some(p),
            Err(code) => return Ok(Err(code)),
        }
    }
    for (levels, kind, into) in [(&case.scps, DocumentKind::Scp, &mut set.scps), (&case.rcps, DocumentKind::Rcp, &mut set.rcps)] {
        for (index, names) in levels.iter().enumerate() {
            let mut policies = Vec::new();
            for name in names {
                match parse(name, kind)? {
                    Ok(p) => policies.push(p),
                    Err(code) => return Ok(Err(code)),
                }
            }
            into.push(policy::OrgLevel { target: level_target(index, levels.len()), policies });
        }
    }
    set.management_account = case.management_account.clone();
    set.restrict_public = case.restrict_public;
    let caller = Caller::parse(&case.caller).ok_or_else(|| Failed::from(format!("caller {} is not an ARN the evaluator knows", case.caller)))?;
    let mut context = policy::Context::default();
    for (key, values) in &case.context {
        let values = match values {
            Values::One(v) => vec![v.clone()],
            Values::Many(v) => v.clone(),
        };
        context.insert(key, values);
    }
    let request = Request {
        caller,
        action: case.action.clone(),
        resource: case.resource.clone(),
        resource_account: case.resource_account.clone(),
        context,
    };
    Ok(Ok((request, set)))
}

/// The corpus's own rules: every case says where it comes from and how.
fn check_case(case: &Case) -> Result<(), Failed> {
    if !case.source.starts_with("https://docs.aws.amazon.com/") {
        return Err(format!("source must be an AWS documentation page, not {}", case.source).into());
    }
    match (case.basis.as_str(), &case.quote) {
        ("quoted", Some(q)) if !q.trim().is_empty() => {}
        ("quoted", _) => return Err("basis = \"quoted\" needs the quote".into()),
        ("inferred", _) => {}
        (other, _) => return Err(format!("basis must be quoted or inferred, not {other}").into()),
    }
    match (case.expect.as_str(), &case.because) {
        ("deny", Some(b)) if Because::parse(b).is_some() => Ok(()),
        ("deny", _) => Err(format!("a denial needs because = one of {:?}", Because::ALL.map(Because::name)).into()),
        ("allow" | "no-such-bucket" | "MalformedPolicyDocument" | "MalformedPolicy", None) => Ok(()),
        (expect, because) => Err(format!("expect {expect} with because {because:?}").into()),
    }
}

/// What the evaluator answers, in the corpus's words: `allow`, `deny:<because>`, ...
fn answer(file: &CorpusFile, case: &Case) -> Result<String, Failed> {
    Ok(match build(file, case)? {
        Err(code) => code,
        Ok((request, set)) => {
            let evaluation = policy::evaluate(&request, &set);
            match evaluation.decision {
                Decision::Deny => format!("deny:{}", evaluation.reason.because().map(Because::name).unwrap_or("?")),
                other => other.to_string(),
            }
        }
    })
}

fn expected(case: &Case) -> String {
    match &case.because {
        Some(b) => format!("{}:{b}", case.expect),
        None => case.expect.clone(),
    }
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    match load() {
        Err(message) => trials.push(Trial::test("corpus::loaded", move || Err(message.into()))),
        Ok(files) => {
            let count: usize = files.iter().map(|(_, f)| f.case.len()).sum();
            eprintln!("conformance: {count} cases in {} files", files.len());
            let files: Vec<(String, std::sync::Arc<CorpusFile>)> = files.into_iter().map(|(s, f)| (s, std::sync::Arc::new(f))).collect();
            for (stem, file) in &files {
                for case in &file.case {
                    let (file, case) = (file.clone(), case.clone());
                    trials.push(Trial::test(format!("corpus::{stem}::{}", case.name), move || {
                        check_case(&case)?;
                        let got = answer(&file, &case)?;
                        if got == expected(&case) { Ok(()) } else { Err(format!("expected {}, the evaluator says {got}", expected(&case)).into()) }
                    }));
                }
            }
            #[cfg(feature = "localstack")]
            trials.extend(launcher::trials(&args, &files));
        }
    }
    libtest_mimic::run(&args, trials).exit_code()
}

/// The launcher's twin and stock moto, run once over the whole corpus by
/// `harness/emulator/conformance.py` (the launcher's Python, no server).
#[cfg(feature = "localstack")]
mod launcher {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::*;

    pub fn trials(args: &Arguments, files: &[(String, Arc<CorpusFile>)]) -> Vec<Trial> {
        let names: Vec<String> = files.iter().flat_map(|(stem, f)| f.case.iter().map(move |c| format!("launcher::{stem}::{}", c.name))).collect();
        let wanted = !args.list && names.iter().any(|n| !args.skip.iter().any(|s| n.contains(s)) && args.filter.as_ref().is_none_or(|f| n.contains(f)));
        let answers: Result<BTreeMap<String, (String, String)>, String> = if wanted { run_python() } else { Ok(BTreeMap::new()) };
        if let Ok(answers) = &answers {
            let total = files.iter().map(|(_, f)| f.case.len()).sum::<usize>();
            // Stock moto cannot say why it denies: its figure counts decisions only.
            let decision = |answer: &str| answer.split(':').next().unwrap_or_default().to_string();
            let agree = |same: &dyn Fn(&(String, String), &Case) -> bool| {
                files.iter().flat_map(|(stem, f)| f.case.iter().map(move |c| (format!("{stem}::{}", c.name), c))).filter(|(key, case)| answers.get(key).is_some_and(|a| same(a, case))).count()
            };
            if !answers.is_empty() {
                let launcher = agree(&|a, case| a.0 == expected(case));
                let moto = agree(&|a, case| decision(&a.1) == decision(&expected(case)));
                eprintln!("conformance: the launcher agrees with {launcher} of {total} cases (decision and reason); stock moto (pinned) with {moto} of {total} (decision only)");
            }
        }
        let answers = Arc::new(answers);
        let mut trials = Vec::new();
        for (stem, file) in files {
            for case in &file.case {
                let key = format!("{stem}::{}", case.name);
                let (answers, case) = (answers.clone(), case.clone());
                trials.push(Trial::test(format!("launcher::{key}"), move || {
                    let answers = answers.as_ref().as_ref().map_err(|e| Failed::from(e.clone()))?;
                    let (launcher, _) = answers.get(&key).ok_or("the launcher's runner gave no answer for this case")?;
                    if *launcher == expected(&case) { Ok(()) } else { Err(format!("expected {}, the launcher says {launcher}", expected(&case)).into()) }
                }));
            }
        }
        trials
    }

    /// `{ "<file>::<case>": (launcher answer, stock moto answer) }`.
    fn run_python() -> Result<BTreeMap<String, (String, String)>, String> {
        let python = harness::target::moto::find_python(None);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("emulator/conformance.py");
        let out = std::process::Command::new(&python)
            .arg(&script)
            .arg(corpus_dir())
            .output()
            .map_err(|e| format!("{}: {e} (run `make setup`)", python.display()))?;
        if !out.status.success() {
            return Err(format!("{} failed: {}", script.display(), String::from_utf8_lossy(&out.stderr)));
        }
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).map_err(|e| format!("conformance.py printed no JSON: {e}"))?;
        Ok(rows
            .iter()
            .map(|r| {
                let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
                (s("case"), (s("launcher"), s("moto")))
            })
            .collect())
    }
}
