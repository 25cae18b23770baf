//! `harness merge-reports`: the shards' reports as one run's: the summary on
//! stdout, the merged JSON and JUnit where asked, the run's exit code.

use super::{CommandError, reporters};
use crate::cli::MergeArgs;
use crate::report::merge;
use crate::reporter::table::Table;

pub fn merge_reports(args: MergeArgs) -> Result<i32, CommandError> {
    let merged = args.reports.iter().map(|path| merge::read(path)).collect::<Result<Vec<_>, _>>().and_then(merge::merge)?;
    eprintln!("merged {} reports: {} scenarios", args.reports.len(), merged.scenarios.len());
    let reporters = reporters(vec![Box::new(Table::summary_only(std::io::stdout()))], &args.files)?;
    reporters.finish(&merged)?;
    Ok(merged.exit_code(false))
}
