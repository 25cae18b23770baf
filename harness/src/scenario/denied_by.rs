//! A step's `denied_by`: the statement its denial must come from, compared
//! exactly with the prediction's reason.
//!
//! ```toml
//! because = "trust"
//! denied_by = { policy = "${name_prefix}-partner's trust policy", statement = "0",
//!               key = "sts:ExternalId", operator = "StringEquals", expected = ["Unique-1234"], request = "absent" }
//! ```
//! `denied_by = "no statement"`: nothing came near (the side `because`
//! names grants nothing). Without `key`, the statement denied explicitly or
//! allowed but for nothing a condition names. `request` is the request's
//! values of the key, or "absent".

use std::collections::BTreeMap;

use toml::Value;
use toml::Spanned;

use crate::policy::{ConditionMiss, DeniedBy};
use crate::template::Template;

/// What went wrong reading `denied_by`: where (a byte offset) and why.
pub struct Invalid {
    pub offset: usize,
    pub message: String,
}

const FIELDS: [&str; 6] = ["policy", "statement", "key", "operator", "expected", "request"];

/// Read `denied_by`; `template` makes the policy's name a template written at an offset.
pub fn parse(value: &Spanned<Value>, template: &dyn Fn(&str, usize) -> Result<Template, String>) -> Result<DeniedBy<Template>, Invalid> {
    let offset = value.span().start;
    let invalid = |message: String| Invalid { offset, message };
    let table = match value.get_ref() {
        Value::String(text) if text == "no statement" => return Ok(DeniedBy::NoStatement),
        Value::Table(table) => table,
        other => return Err(invalid(format!("`denied_by` is \"no statement\" or a table ({}), not {}", FIELDS.join(", "), describe(other)))),
    };
    if let Some(unknown) = table.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(invalid(format!("unknown field `{unknown}` of denied_by; its fields: {}", FIELDS.join(", "))));
    }
    let text = |name: &str| -> Result<Option<String>, Invalid> {
        match table.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(invalid(format!("denied_by's `{name}` must be a string, not {}", describe(other)))),
        }
    };
    let need = |name: &str| text(name)?.ok_or_else(|| invalid(format!("denied_by names a statement: it needs `{name}`")));
    let policy = template(&need("policy")?, offset).map_err(invalid)?;
    let statement = need("statement")?;
    let condition = match text("key")? {
        None if FIELDS[3..].iter().any(|f| table.contains_key(*f)) => return Err(invalid("denied_by's `operator`, `expected` and `request` go with `key`".into())),
        None => None,
        Some(key) => Some(ConditionMiss {
            key,
            operator: need("operator")?,
            expected: values(table.get("expected")).ok_or_else(|| invalid("denied_by's `expected` is the condition's values: a string or a list of strings".into()))?,
            actual: match table.get("request") {
                Some(Value::String(absent)) if absent == "absent" => None,
                found => Some(values(found).ok_or_else(|| invalid("denied_by's `request` is the request's values of the key (a string or a list of strings), or \"absent\"".into()))?),
            },
        }),
    };
    Ok(DeniedBy::Statement { policy, statement, condition })
}

/// Every template a `denied_by` writes: its policy's name, its condition's key
/// (a provider's issuer) and values (an external ID may hold the run's prefix),
/// located at the policy.
pub fn templates(denied_by: &DeniedBy<Template>) -> Vec<Template> {
    let DeniedBy::Statement { policy, condition, .. } = denied_by else { return Vec::new() };
    let values = condition.iter().flat_map(|miss| std::iter::once(&miss.key).chain(&miss.expected).chain(miss.actual.iter().flatten()));
    std::iter::once(policy.clone()).chain(values.map(|text| Template { text: text.clone(), ..policy.clone() })).collect()
}

/// Render the policy's name and the condition's key and values with the run's values.
pub fn render(denied_by: &DeniedBy<Template>, values: &BTreeMap<String, String>) -> Result<DeniedBy, String> {
    let DeniedBy::Statement { policy, statement, condition } = denied_by else { return Ok(DeniedBy::NoStatement) };
    let each = |texts: &[String]| texts.iter().map(|text| Template { text: text.clone(), ..policy.clone() }.render(values)).collect::<Result<Vec<_>, _>>();
    let condition = match condition {
        None => None,
        Some(miss) => Some(ConditionMiss {
            key: Template { text: miss.key.clone(), ..policy.clone() }.render(values)?,
            operator: miss.operator.clone(),
            expected: each(&miss.expected)?,
            actual: miss.actual.as_deref().map(each).transpose()?,
        }),
    };
    Ok(DeniedBy::Statement { policy: policy.render(values)?, statement: statement.clone(), condition })
}

fn values(value: Option<&Value>) -> Option<Vec<String>> {
    match value? {
        Value::String(one) => Some(vec![one.clone()]),
        Value::Array(many) => many.iter().map(|v| v.as_str().map(str::to_string)).collect(),
        _ => None,
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(text) => format!("\"{text}\""),
        other => other.type_str().to_string(),
    }
}
