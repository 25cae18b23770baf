//! The request context: the condition keys a request carries, as the
//! evaluator's conditions and policy variables read them.

use std::collections::BTreeMap;

/// The request context: condition keys (names ignore case) and their values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context(BTreeMap<String, Vec<String>>);

impl Context {
    pub fn get(&self, key: &str) -> Option<&Vec<String>> {
        self.0.get(&key.to_lowercase())
    }

    pub fn insert(&mut self, key: &str, values: Vec<String>) {
        self.0.insert(key.to_lowercase(), values);
    }

    /// What a request the harness signs carries besides its own keys: it
    /// goes over HTTPS (the emulators stand for AWS), and its principal's
    /// tags are `aws:PrincipalTag/*`.
    pub fn signed<'a>(principal_tags: impl IntoIterator<Item = (&'a String, &'a String)>) -> Context {
        let mut context = Context::default();
        context.insert("aws:SecureTransport", vec!["true".into()]);
        for (key, value) in principal_tags {
            context.insert(&format!("aws:PrincipalTag/{key}"), vec![value.clone()]);
        }
        context
    }

    pub(crate) fn insert_default(&mut self, key: &str, value: String) {
        self.0.entry(key.to_lowercase()).or_insert_with(|| vec![value]);
    }
}
