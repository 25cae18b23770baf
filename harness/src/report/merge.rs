//! One report from the reports of a run's shards (`harness run --partition
//! K/N` on several CI runners): their scenarios side by side, by name, as an
//! unsharded run would report them. The target is the first shard's, with
//! the capabilities every shard's target had (the most cautious reading).

use std::path::Path;

use super::{RunReport, SCHEMA_VERSION};

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("cannot read the report {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a harness JSON report ({cause}); give the files --report-json wrote")]
    NotAReport { path: String, cause: String },
    #[error("{path} has schema_version {found}, this harness reads {SCHEMA_VERSION}; merge reports of one harness version")]
    Version { path: String, found: u64 },
    #[error("scenario {name} is in two reports: the shards overlap; give each shard's report once, all of one --partition total")]
    Overlap { name: String },
    #[error("no report to merge; give the shards' JSON reports")]
    Nothing,
}

impl MergeError {
    pub fn exit_code(&self) -> i32 {
        match self {
            MergeError::Read { .. } => crate::exit_code::IO,
            MergeError::NotAReport { .. } | MergeError::Version { .. } | MergeError::Overlap { .. } | MergeError::Nothing => crate::exit_code::USAGE,
        }
    }
}

/// A shard's JSON report, checked for its schema version first.
pub fn read(path: &Path) -> Result<RunReport, MergeError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| MergeError::Read { path: shown.clone(), source })?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| MergeError::NotAReport { path: shown.clone(), cause: e.to_string() })?;
    match json.get("schema_version").and_then(serde_json::Value::as_u64) {
        Some(version) if version == u64::from(SCHEMA_VERSION) => {}
        Some(found) => return Err(MergeError::Version { path: shown, found }),
        None => return Err(MergeError::NotAReport { path: shown, cause: "no schema_version".into() }),
    }
    serde_json::from_value(json).map_err(|e| MergeError::NotAReport { path: shown, cause: e.to_string() })
}

/// The shards' reports as one run's.
pub fn merge(reports: Vec<RunReport>) -> Result<RunReport, MergeError> {
    let mut reports = reports.into_iter();
    let mut merged = reports.next().ok_or(MergeError::Nothing)?;
    for shard in reports {
        merged.run_id = format!("{}+{}", merged.run_id, shard.run_id);
        merged.strict |= shard.strict;
        merged.target.capabilities = merged.target.capabilities.both(shard.target.capabilities);
        merged.target.probe_notes.extend(shard.target.probe_notes);
        for scenario in shard.scenarios {
            if merged.scenarios.iter().any(|s| s.name == scenario.name) {
                return Err(MergeError::Overlap { name: scenario.name });
            }
            merged.scenarios.push(scenario);
        }
        // Every shard leaves out the same scenarios (they are chosen before the cut): each once.
        for left_out in shard.left_out {
            if !merged.left_out.iter().any(|l| l.name == left_out.name) {
                merged.left_out.push(left_out);
            }
        }
    }
    merged.scenarios.sort_by(|a, b| a.name.cmp(&b.name));
    merged.passed = !merged.scenarios.is_empty() && merged.scenarios.iter().all(|s| s.passed);
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::fixed_run;

    /// The fixed run cut in two shards, as two runners would report it.
    fn shards() -> (RunReport, RunReport) {
        let whole = fixed_run();
        let mut first = whole.clone();
        let mut second = whole;
        let cut = first.scenarios.split_off(1);
        second.scenarios.truncate(1);
        first.scenarios = cut;
        second.run_id = "def456".into();
        (first, second)
    }

    #[test]
    fn merged_shards_report_what_the_whole_run_reports() {
        let (first, second) = shards();
        let merged = merge(vec![first, second]).unwrap();
        let whole = fixed_run();
        let verdicts = |r: &RunReport| r.scenarios.iter().map(|s| (s.name.clone(), s.passed, s.steps.iter().map(|t| t.verdict).collect::<Vec<_>>())).collect::<Vec<_>>();
        assert_eq!(verdicts(&merged), verdicts(&whole));
        assert_eq!((merged.passed, merged.run_id.as_str()), (whole.passed, "abc123+def456"));
        assert_eq!(merged.exit_code(false), whole.exit_code(false));
        assert_eq!(merged.left_out, whole.left_out, "each scenario left out is said once");
    }

    #[test]
    fn a_report_reads_back_from_its_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shard.json");
        std::fs::write(&path, serde_json::to_string(&fixed_run()).unwrap()).unwrap();
        let read_back = read(&path).unwrap();
        assert_eq!(serde_json::to_value(read_back).unwrap(), serde_json::to_value(fixed_run()).unwrap());
    }

    #[test]
    fn overlapping_shards_and_other_versions_are_refused() {
        let (first, _) = shards();
        assert!(matches!(merge(vec![first.clone(), first]), Err(MergeError::Overlap { .. })));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.json");
        std::fs::write(&path, r#"{"schema_version": 2, "scenarios": []}"#).unwrap();
        let err = read(&path).unwrap_err();
        assert!(err.to_string().contains("has schema_version 2, this harness reads 3"), "{err}");
        assert!(matches!(merge(Vec::new()), Err(MergeError::Nothing)));
    }
}
