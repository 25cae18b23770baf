//! A step's own fields as a scenario writes them (`bucket`, `role_arn`,
//! ...), handed to the service whose action the step names: each service
//! reads its fields here, typed, and every mistake keeps where it is written.

use std::collections::BTreeMap;

use toml::{Spanned, Value};

use crate::template::Template;

/// A mistake in a step's fields, at a byte offset of the scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub offset: usize,
    pub message: String,
}

/// Makes a template of a string written at an offset (the scenario knows
/// lines and columns, and what a well-formed reference is).
pub type MakeTemplate<'a> = &'a dyn Fn(&str, usize) -> Result<Template, FieldError>;

/// The fields of one step beside the ones every step has (`as`, `action`, `expect`, ...).
pub struct StepFields<'a> {
    action: &'a str,
    /// Where the step starts: a missing field is reported there.
    step_start: usize,
    values: &'a BTreeMap<String, Spanned<Value>>,
    /// Whether the step is expected to be allowed (a session it makes is then named).
    expects_success: bool,
    template: MakeTemplate<'a>,
}

impl<'a> StepFields<'a> {
    pub fn new(action: &'a str, step_start: usize, values: &'a BTreeMap<String, Spanned<Value>>, expects_success: bool, template: MakeTemplate<'a>) -> Self {
        Self { action, step_start, values, expects_success, template }
    }

    /// The IAM action the step names.
    pub fn action(&self) -> &str {
        self.action
    }

    /// The field names written, each with where its value starts.
    pub fn written(&self) -> impl Iterator<Item = (&str, usize)> {
        self.values.iter().map(|(name, value)| (name.as_str(), value.span().start))
    }

    /// An error about field `name` (at its value), or the step when it is absent.
    pub fn error(&self, name: &str, message: impl Into<String>) -> FieldError {
        let offset = self.values.get(name).map_or(self.step_start, |v| v.span().start);
        FieldError { offset, message: message.into() }
    }

    fn typed<T>(&self, name: &str, what: &str, read: impl Fn(&Value) -> Option<T>) -> Result<Option<T>, FieldError> {
        let Some(value) = self.values.get(name) else { return Ok(None) };
        read(value.get_ref()).map(Some).ok_or_else(|| self.error(name, format!("`{name}` must be {what}, not {}", shown(value.get_ref()))))
    }

    pub fn text(&self, name: &str) -> Result<Option<String>, FieldError> {
        self.typed(name, "a string", |v| v.as_str().map(str::to_string))
    }

    pub fn integer(&self, name: &str) -> Result<Option<i64>, FieldError> {
        self.typed(name, "an integer", Value::as_integer)
    }

    pub fn texts(&self, name: &str) -> Result<Option<Vec<String>>, FieldError> {
        self.typed(name, "a list of strings", |v| v.as_array()?.iter().map(|e| e.as_str().map(str::to_string)).collect())
    }

    /// A table of strings (`tags = { team = "data" }`).
    pub fn table(&self, name: &str) -> Result<Option<BTreeMap<String, String>>, FieldError> {
        self.typed(name, "a table of strings", |v| v.as_table()?.iter().map(|(k, e)| Some((k.clone(), e.as_str()?.to_string()))).collect())
    }

    /// A string that may hold `${output}` references.
    pub fn template(&self, name: &str) -> Result<Option<Template>, FieldError> {
        let Some(text) = self.text(name)? else { return Ok(None) };
        (self.template)(&text, self.values[name].span().start).map(Some)
    }

    /// A template the action cannot do without.
    pub fn need(&self, name: &str) -> Result<Template, FieldError> {
        self.template(name)?.ok_or_else(|| FieldError { offset: self.step_start, message: format!("a `{}` step needs `{name}`", self.action) })
    }

    /// A plain string field the step must have.
    pub fn need_text(&self, name: &str) -> Result<String, FieldError> {
        self.text(name)?.ok_or_else(|| FieldError { offset: self.step_start, message: format!("a `{}` step needs `{name}`", self.action) })
    }

    /// A list of templates (`policy_arns = ["${arn}"]`).
    pub fn templates(&self, name: &str) -> Result<Vec<Template>, FieldError> {
        let Some(texts) = self.texts(name)? else { return Ok(Vec::new()) };
        let at = self.values[name].span().start;
        texts.iter().map(|text| (self.template)(text, at)).collect()
    }

    /// `save_as`, the principal name of the session a step makes; a step
    /// expected to be denied or to fail makes none, so needs none.
    pub fn save_as(&self) -> Result<Option<String>, FieldError> {
        match (self.text("save_as")?, self.expects_success) {
            (None, true) => Err(FieldError {
                offset: self.step_start,
                message: format!("a `{}` step expected to be allowed needs `save_as`, the principal name of the new session", self.action),
            }),
            (save_as, _) => Ok(save_as),
        }
    }
}

/// A value as an error shows it: its kind, and a short string as written.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => format!("a string (\"{s}\")"),
        Value::Integer(i) => format!("an integer ({i})"),
        Value::Float(f) => format!("a float ({f})"),
        Value::Boolean(b) => format!("a boolean ({b})"),
        Value::Datetime(d) => format!("a date ({d})"),
        Value::Array(_) => "a list".into(),
        Value::Table(_) => "a table".into(),
    }
}
