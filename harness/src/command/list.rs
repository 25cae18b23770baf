//! `harness list`: the scenarios of the scenarios folder, one a line.

use super::{CommandError, project_dir};
use crate::cli::ListArgs;
use crate::scenario::{self, Scenario};

pub fn list(args: ListArgs) -> Result<i32, CommandError> {
    let dir = project_dir(args.scenarios_dir, "scenarios");
    let configs = project_dir(None, "terraform_configuration");
    for file in scenario::discover(&dir)? {
        let s = Scenario::load(&file, &configs, None)?;
        println!("{:<26} {:<52} {}", s.name, s.config_label(), s.description.unwrap_or_default());
    }
    Ok(crate::exit_code::SUCCESS)
}

/// `harness bench-access`: the access analysis of synthetic accounts, timed (`make bench` reads the lines).
pub fn bench_access(args: crate::cli::BenchAccessArgs) -> Result<i32, CommandError> {
    for roles in args.roles {
        let (paths, seconds) = crate::access::bench_synthetic(roles, args.buckets)?;
        println!("access analysis: {roles} roles, {} buckets: {paths} paths in {seconds:.2} s", args.buckets);
    }
    Ok(crate::exit_code::SUCCESS)
}
