//! What STS checks of an AssumeRole request besides the policies: the
//! session's duration. Its bounds
//! (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use.html):
//! from 900 seconds up to the role's maximum session duration (1 to 12
//! hours, 1 hour unless set), 1 hour by default; and "when you use role
//! chaining, your new credentials are limited to a maximum duration of one
//! hour". A session of an instance profile's role assuming another role is
//! role chaining too.

/// The duration AWS gives a session when the request names none.
pub const DEFAULT_SECONDS: i32 = 3600;
/// The shortest session.
pub const MIN_SECONDS: i32 = 900;
/// The cap on a session made by a role's session (role chaining).
pub const CHAIN_SECONDS: i32 = 3600;

/// Why STS refuses the requested duration (its ValidationError message), if it does.
pub fn duration_refusal(requested: Option<i32>, role_max_seconds: i32, chained: bool) -> Option<String> {
    let seconds = requested.unwrap_or(DEFAULT_SECONDS);
    if seconds < MIN_SECONDS {
        return Some(format!(
            "1 validation error detected: Value '{seconds}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to {MIN_SECONDS}"
        ));
    }
    // Only a duration the request names can exceed the chain's cap: the default is one hour.
    if chained && requested.is_some_and(|s| s > CHAIN_SECONDS) {
        return Some("The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.".into());
    }
    (seconds > role_max_seconds).then(|| "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    // https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use.html: 15 minutes up to the
    // role's maximum session duration setting; one hour when role chaining.
    #[test]
    fn a_duration_within_the_roles_maximum_is_accepted() {
        assert_eq!(duration_refusal(None, 3600, false), None);
        assert_eq!(duration_refusal(Some(43200), 43200, false), None);
        assert_eq!(duration_refusal(Some(900), 3600, true), None);
        assert_eq!(duration_refusal(None, 3600, true), None, "the default hour is within the chain's cap");
    }

    #[test]
    fn above_the_maximum_or_the_chains_hour_or_below_15_minutes_is_refused() {
        assert!(duration_refusal(Some(7200), 3600, false).unwrap().contains("MaxSessionDuration"));
        assert!(duration_refusal(Some(7200), 43200, true).unwrap().contains("role chaining"));
        assert!(duration_refusal(Some(899), 3600, false).unwrap().contains("greater than or equal to 900"));
    }
}
