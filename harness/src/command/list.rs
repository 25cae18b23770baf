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
