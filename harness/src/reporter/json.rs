//! The JSON report (`--report-json`): the whole [`RunReport`], pretty, for
//! other tools; its `schema_version` says which contract it keeps.

use std::io::Write;

use super::{Reporter, Written, writing};
use crate::report::RunReport;

pub struct Json<W> {
    out: W,
}

impl<W: Write + Send> Json<W> {
    pub fn new(out: W) -> Self {
        Self { out }
    }
}

impl<W: Write + Send> Reporter for Json<W> {
    fn finish(&mut self, report: &RunReport) -> Written {
        let what = "the JSON report";
        serde_json::to_writer_pretty(&mut self.out, report).map_err(|e| writing(what)(e.into()))?;
        writeln!(self.out).and_then(|()| self.out.flush()).map_err(writing(what))
    }
}
