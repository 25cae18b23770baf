//! Wildcards and policy variables as IAM applies them: `*` any run of
//! characters, `?` one character, everything else literal (no regular
//! expressions); action names ignore case, resource ARNs do not; `${key}`
//! is replaced from the request context, and a statement whose variable has
//! no value does not match.

use super::context::Context;

/// What `${*}` and `${?}` become: a `*` or `?` that is not a wildcard.
const LITERAL_STAR: char = '\u{E000}';
const LITERAL_QUESTION: char = '\u{E001}';

fn same(pattern: char, text: char) -> bool {
    match pattern {
        LITERAL_STAR => text == '*',
        LITERAL_QUESTION => text == '?',
        p => p == text,
    }
}

/// Glob match of `text` against `pattern` (`*`, `?`), by characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || same(p[pi], t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// `s3:listbucket` matches `S3:List*`: service and action names ignore case.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    glob(&pattern.to_lowercase(), &action.to_lowercase())
}

/// ARN conditions (ArnLike, ArnEquals) compare each of the six colon-separated
/// parts on its own, so a wildcard never spans a colon before the resource part.
pub fn arn_like(pattern: &str, arn: &str) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    p.len() == 6 && a.len() == 6 && p.iter().zip(&a).all(|(p, a)| glob(p, a))
}

/// Replace `${key}` (and `${key, 'default'}`, `${*}`, `${?}`, `${$}`) from
/// the context. None: a variable with no value, so the element cannot match.
pub fn substitute(text: &str, context: &Context) -> Option<String> {
    if !text.contains("${") {
        return Some(text.to_string());
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Some(out);
        };
        let inner = after[..end].trim();
        match inner {
            "*" => out.push(LITERAL_STAR),
            "?" => out.push(LITERAL_QUESTION),
            "$" => out.push('$'),
            _ => {
                let (key, default) = match inner.split_once(',') {
                    Some((key, default)) => (key.trim(), Some(default.trim().trim_matches('\'').to_string())),
                    None => (inner, None),
                };
                // A multi-valued key cannot be a variable; a single value can.
                let value = context.get(key).and_then(|v| if v.len() == 1 { Some(v[0].clone()) } else { None });
                out.push_str(&value.or(default)?);
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// A Resource pattern, its variables replaced, against the request's resource.
pub fn resource_matches(pattern: &str, resource: &str, context: &Context) -> bool {
    substitute(pattern, context).is_some_and(|p| glob(&p, resource))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_are_not_regular_expressions() {
        assert!(glob("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b.txt"));
        assert!(!glob("arn:aws:s3:::my.bucket", "arn:aws:s3:::myxbucket"));
        assert!(glob("arn:aws:s3:::b?", "arn:aws:s3:::b1"));
        assert!(!glob("arn:aws:s3:::b+", "arn:aws:s3:::bb"));
        assert!(glob("*", ""));
        assert!(action_matches("S3:List*", "s3:ListBucket"));
        assert!(!glob("arn:aws:s3:::B", "arn:aws:s3:::b"));
    }

    #[test]
    fn arn_like_compares_part_by_part() {
        assert!(arn_like("arn:aws:iam::*:role/ci-*", "arn:aws:iam::111111111111:role/ci-deploy"));
        assert!(!arn_like("arn:aws:iam::*", "arn:aws:iam::111111111111:role/x"));
    }
}
