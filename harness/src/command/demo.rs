//! `harness demo`: the blog, told for a person watching: the story on
//! stdout, a spinner on stderr while terraform works, and the destroy at the
//! end, as the blog's.

use super::{CommandError, Invocation, reporters};
use crate::cli::DemoArgs;
use crate::reporter::{Reporter, story::Story, table::Table};
use crate::runner::RunOptions;

pub async fn demo(args: DemoArgs) -> Result<i32, CommandError> {
    let mut target = args.target.clone();
    target.always_destroy = true;
    let invocation = Invocation::resolve(&target)?;
    let selection = invocation.load_scenarios(std::slice::from_ref(&args.scenario), None)?;
    let options = RunOptions { jobs: 1, always_destroy: true, ..RunOptions::default() };
    let console: Vec<Box<dyn Reporter>> = vec![Box::new(Story::new(std::io::stdout())), Box::new(Table::summary_only(std::io::stdout()))];
    let reporters = reporters(console, &args.files)?;
    invocation.execute(&selection, options, reporters).await
}
