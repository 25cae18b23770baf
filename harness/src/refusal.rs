//! What an apply refused by IAM says, read from terraform's error: the
//! AWS error code (AccessDenied and its family), the refused call (`operation
//! error STS: AssumeRole` -> `sts:AssumeRole`), who was refused and on what,
//! where the message names them (`User: <arn> is not authorized to perform:
//! <action> on resource: <arn>`). A refused apply is a step of its own.

/// The codes AWS services use to refuse a call for want of permission.
pub const ACCESS_DENIED_CODES: [&str; 5] = ["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "Forbidden"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: String,
    /// `sts:AssumeRole`, `s3:CreateBucket`.
    pub action: String,
    /// The refused caller's ARN, when the message names it.
    pub caller: Option<String>,
    /// What the call was on: the message's resource, or the bucket terraform was creating.
    pub resource: Option<String>,
    /// The line of terraform's error that says it.
    pub message: String,
}

/// The first refusal in terraform's output; None when the apply failed otherwise.
/// Terraform may wrap a diagnostic over lines (and frame it with `│`): the
/// output is read as one text, one diagnostic per `Error: `.
pub fn find(output: &str) -> Option<Refusal> {
    let text: Vec<&str> = output.lines().map(|l| l.trim_start_matches(['│', '╷', '╵']).trim()).filter(|l| !l.is_empty()).collect();
    let text = text.join(" ");
    text.split("Error: ").find_map(refusal_in)
}

/// The refusal one diagnostic states, if it is one.
fn refusal_in(diagnostic: &str) -> Option<Refusal> {
    let code = api_error_code(diagnostic).filter(|code| ACCESS_DENIED_CODES.contains(code))?.to_string();
    // `operation error STS: AssumeRole,` names the service and the operation.
    let operation = diagnostic.split("operation error ").nth(1).and_then(|rest| rest.split(',').next())?;
    let (service, call) = operation.split_once(": ")?;
    let action = format!("{}:{}", service.trim().to_lowercase(), call.trim());
    let caller = between(diagnostic, "User: ", " is not authorized");
    let resource = between(diagnostic, "on resource: ", "").or_else(|| between(diagnostic, "creating S3 Bucket (", ")"));
    let message: String = diagnostic.split("api error ").nth(1).unwrap_or(diagnostic).chars().take(400).collect();
    Some(Refusal { code, action, caller, resource, message: message.trim().to_string() })
}

/// `api error AccessDenied: ...` -> `AccessDenied`.
fn api_error_code(line: &str) -> Option<&str> {
    let rest = line.split("api error ").nth(1)?;
    rest.split(':').next().map(str::trim).filter(|code| !code.is_empty() && !code.contains(' '))
}

/// The text after `start` up to `end` (or the end of the word at the line's end).
fn between(line: &str, start: &str, end: &str) -> Option<String> {
    let rest = line.split(start).nth(1)?;
    let found = if end.is_empty() { rest.split_whitespace().next()? } else { rest.split(end).next()? };
    Some(found.trim().trim_end_matches(['.', ',']).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_assume_role_refused_by_the_trust_policy_names_caller_and_role() {
        let output = "\nError: Cannot assume IAM Role\n\n  with provider[\"registry.terraform.io/hashicorp/aws\"],\n\nIAM Role (arn:aws:iam::123456789012:role/deployer) cannot be assumed.\n\nError: operation error STS: AssumeRole, https response error StatusCode: 403, RequestID: 1, api error AccessDenied: User: arn:aws:iam::123456789012:user/ci is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/deployer\n";
        let refusal = find(output).unwrap();
        assert_eq!(refusal.code, "AccessDenied");
        assert_eq!(refusal.action, "sts:AssumeRole");
        assert_eq!(refusal.caller.as_deref(), Some("arn:aws:iam::123456789012:user/ci"));
        assert_eq!(refusal.resource.as_deref(), Some("arn:aws:iam::123456789012:role/deployer"));
    }

    #[test]
    fn a_bucket_refused_by_s3_names_the_bucket() {
        let output = "Error: creating S3 Bucket (other-bucket): operation error S3: CreateBucket, https response error StatusCode: 403, RequestID: , HostID: , api error AccessDenied: Access Denied\n";
        let refusal = find(output).unwrap();
        assert_eq!((refusal.action.as_str(), refusal.resource.as_deref(), refusal.caller), ("s3:CreateBucket", Some("other-bucket"), None));
    }

    #[test]
    fn a_diagnostic_wrapped_over_lines_and_framed_reads_whole() {
        let output = "╷\n│ Error: operation error STS: AssumeRole, https response error StatusCode:\n│ 403, RequestID: 1, api error AccessDenied: User:\n│ arn:aws:iam::123456789012:user/ci is not authorized to perform:\n│ sts:AssumeRole on resource: arn:aws:iam::123456789012:role/deployer\n╵\n";
        let refusal = find(output).unwrap();
        assert_eq!(refusal.caller.as_deref(), Some("arn:aws:iam::123456789012:user/ci"));
        assert_eq!(refusal.resource.as_deref(), Some("arn:aws:iam::123456789012:role/deployer"));
    }

    #[test]
    fn other_failures_are_not_refusals() {
        assert_eq!(find("Error: creating IAM Role (x): operation error IAM: CreateRole, https response error StatusCode: 409, api error EntityAlreadyExists: Role x exists"), None);
        assert_eq!(find("Error: Unsupported argument\n  An argument named \"nope\" is not expected here."), None);
    }
}
