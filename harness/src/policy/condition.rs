//! Condition operators as IAM's reference defines them
//! (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
//! several operators and several keys are ANDed, several values of one key
//! ORed (a negated operator: none may match). A key absent from the request
//! makes the condition false, except for negated operators (true),
//! `...IfExists` (true), `Null` (tests presence) and `ForAllValues:` (true).

use std::net::IpAddr;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::context::Context;
use super::matching::{arn_like, glob, substitute};

/// One key of one operator of a statement's Condition block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionEntry {
    /// As written, e.g. `ForAnyValue:StringLikeIfExists`.
    pub operator: String,
    pub key: String,
    pub values: Vec<String>,
}

const BASE_OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
    "Null",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQualifier {
    None,
    ForAllValues,
    ForAnyValue,
}

struct Operator<'a> {
    base: &'a str,
    set: SetQualifier,
    if_exists: bool,
}

fn parse_operator(text: &str) -> Option<Operator<'_>> {
    let (set, rest) = if let Some(rest) = text.strip_prefix("ForAllValues:") {
        (SetQualifier::ForAllValues, rest)
    } else if let Some(rest) = text.strip_prefix("ForAnyValue:") {
        (SetQualifier::ForAnyValue, rest)
    } else {
        (SetQualifier::None, text)
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) if base != "Null" => (base, true),
        _ => (rest, false),
    };
    BASE_OPERATORS.contains(&base).then_some(Operator { base, set, if_exists })
}

pub fn is_known_operator(text: &str) -> bool {
    parse_operator(text).is_some()
}

fn negated(base: &str) -> bool {
    base.contains("Not")
}

/// Does one context value match one policy value, for the operator's
/// positive form (the negation is applied across all values by the caller)?
/// None: the values cannot be compared (a malformed number or date): no match.
fn positive_match(base: &str, context: &str, policy: &str) -> Option<bool> {
    let positive = base.replace("Not", "");
    Some(match positive.as_str() {
        "StringEquals" => context == policy,
        "StringEqualsIgnoreCase" => context.to_lowercase() == policy.to_lowercase(),
        "StringLike" => glob(policy, context),
        "NumericEquals" => number(context)? == number(policy)?,
        "NumericLessThan" => number(context)? < number(policy)?,
        "NumericLessThanEquals" => number(context)? <= number(policy)?,
        "NumericGreaterThan" => number(context)? > number(policy)?,
        "NumericGreaterThanEquals" => number(context)? >= number(policy)?,
        "DateEquals" => date(context)? == date(policy)?,
        "DateLessThan" => date(context)? < date(policy)?,
        "DateLessThanEquals" => date(context)? <= date(policy)?,
        "DateGreaterThan" => date(context)? > date(policy)?,
        "DateGreaterThanEquals" => date(context)? >= date(policy)?,
        "Bool" => context.eq_ignore_ascii_case(policy),
        "BinaryEquals" => context == policy,
        "IpAddress" => in_cidr(context, policy)?,
        // ArnEquals and ArnLike both compare part by part with wildcards.
        "ArnEquals" | "ArnLike" => arn_like(policy, context),
        _ => return None,
    })
}

fn number(text: &str) -> Option<f64> {
    text.trim().parse().ok()
}

/// ISO 8601 (RFC 3339) or epoch seconds.
fn date(text: &str) -> Option<i128> {
    if let Ok(epoch) = text.trim().parse::<i64>() {
        return Some(i128::from(epoch) * 1_000_000_000);
    }
    let text = if text.len() == 10 { format!("{text}T00:00:00Z") } else { text.to_string() };
    OffsetDateTime::parse(&text, &Rfc3339).ok().map(|d| d.unix_timestamp_nanos())
}

fn in_cidr(address: &str, cidr: &str) -> Option<bool> {
    let address: IpAddr = address.trim().parse().ok()?;
    let (network, bits) = match cidr.split_once('/') {
        Some((network, bits)) => (network.parse::<IpAddr>().ok()?, bits.parse::<u32>().ok()?),
        None => {
            let network = cidr.parse::<IpAddr>().ok()?;
            (network, if network.is_ipv4() { 32 } else { 128 })
        }
    };
    Some(match (address, network) {
        (IpAddr::V4(a), IpAddr::V4(n)) if bits <= 32 => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) if bits <= 128 => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    })
}

/// Does the statement's condition block hold for the request? All entries must.
pub fn holds(entries: &[ConditionEntry], context: &Context) -> bool {
    entries.iter().all(|entry| entry_holds(entry, context))
}

pub(crate) fn entry_holds(entry: &ConditionEntry, context: &Context) -> bool {
    let Some(op) = parse_operator(&entry.operator) else { return false };
    let present = context.get(&entry.key).filter(|v| !v.is_empty());
    if op.base == "Null" {
        let want_absent = entry.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
        return present.is_none() == want_absent;
    }
    // Policy values may hold variables; one with no value matches nothing.
    let policy: Vec<String> = entry.values.iter().filter_map(|v| substitute(v, context)).collect();
    let negate = negated(op.base);
    let Some(values) = present else {
        return match op.set {
            SetQualifier::ForAllValues => true,
            SetQualifier::ForAnyValue => op.if_exists,
            SetQualifier::None => op.if_exists || negate,
        };
    };
    // One context value against the policy's values: any matches (OR);
    // negated: none matches.
    let one = |value: &String| -> bool {
        let any = policy.iter().any(|p| positive_match(op.base, value, p) == Some(true));
        if negate { !any } else { any }
    };
    match op.set {
        SetQualifier::ForAllValues => values.iter().all(one),
        // A single-valued key with several values: any one decides.
        SetQualifier::ForAnyValue | SetQualifier::None => values.iter().any(one),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_and_dates_compare_as_values() {
        assert_eq!(in_cidr("203.0.113.9", "203.0.113.0/24"), Some(true));
        assert_eq!(in_cidr("203.0.114.9", "203.0.113.0/24"), Some(false));
        assert_eq!(in_cidr("2001:db8::1", "2001:db8::/32"), Some(true));
        assert!(date("2026-01-01T00:00:00Z") < date("2026-06-01T00:00:00Z"));
        assert_eq!(date("1767225600"), date("2026-01-01T00:00:00Z"));
    }

    #[test]
    fn operators_parse_with_their_qualifiers() {
        assert!(is_known_operator("ForAnyValue:StringLikeIfExists"));
        assert!(is_known_operator("Null"));
        assert!(!is_known_operator("NullIfExists"));
        assert!(!is_known_operator("StringEqualz"));
    }
}
