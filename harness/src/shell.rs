//! Values written into shell commands: the scripts a real instance runs,
//! and the commands a report shows a person.

/// Single-quoted for sh, whatever the value holds.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A value as a person types it in a shell: bare when that is safe, else single-quoted.
pub fn word(value: &str) -> String {
    let bare = !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || "=,:/_.-@+".contains(c));
    if bare { value.to_string() } else { quote(value) }
}
