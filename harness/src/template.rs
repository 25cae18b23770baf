//! A string of a scenario with `${output}` references to the applied
//! config's Terraform outputs, and where it is written.

use std::collections::BTreeMap;

/// A string with `${output}` references, rendered once the config is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub text: String,
    pub line: usize,
    pub column: usize,
}

impl Template {
    /// The output names this template refers to.
    pub fn references(&self) -> Vec<&str> {
        references(&self.text)
    }

    /// Replace every `${name}` by its value; the error is the first unknown name.
    pub fn render(&self, values: &BTreeMap<String, String>) -> Result<String, String> {
        let mut out = self.text.clone();
        for name in self.references() {
            let value = values.get(name).ok_or_else(|| name.to_string())?;
            out = out.replace(&format!("${{{name}}}"), value);
        }
        Ok(out)
    }
}

/// Every `${name}` in `text`: the names, in order.
pub fn references(text: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                names.push(&after[..end]);
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    names
}
