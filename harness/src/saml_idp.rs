//! The SAML 2.0 identity provider a scenario's `saml_provider` principal
//! stands for: per scenario run a key pair and a certificate, the metadata a
//! config's `aws_iam_saml_provider` takes (the `saml_metadata` variable), and
//! a signed response for each AssumeRoleWithSAML step. The signing is
//! signxml's (emulator/saml_idp.py, run with the project's Python), the
//! library the embedded target verifies with; AWS verifies the same
//! responses itself, so `--target aws` needs no emulator.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::scratch::Scratch;
use crate::service::sts::saml::{AUDIENCE, AssertionRequest, AssertionSigner, Form, SignedResponse};

const SCRIPT: &str = include_str!("../emulator/saml_idp.py");
const SCRIPT_NAME: &str = "saml_idp.py";
/// How long a response is valid (its subject confirmation's NotOnOrAfter).
const LIFETIME: std::time::Duration = std::time::Duration::from_secs(300);

/// Why the identity provider could not start or sign.
#[derive(Debug, thiserror::Error)]
pub enum SamlError {
    #[error("cannot make the SAML identity provider's folder")]
    Folder(#[source] std::io::Error),
    #[error("cannot run {python}: {source}; run `make setup` (it installs signxml into .venv)")]
    Python {
        python: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the SAML identity provider failed: {0}; run `make setup` (it installs signxml, lxml and cryptography into .venv)")]
    Failed(String),
}

/// A run's identity provider: its folder holds the key (never printed).
#[derive(Debug)]
pub struct IdentityProvider {
    dir: Scratch,
    python: PathBuf,
    pub entity_id: String,
    /// The IdP metadata: its entity id and signing certificate.
    pub metadata: String,
    /// The signing certificate, base64 DER as the metadata holds it.
    pub certificate: String,
}

impl IdentityProvider {
    /// A new key pair and certificate; `name` makes the entity id this run's.
    pub fn start(python: &Path, name: &str) -> Result<Self, SamlError> {
        let dir = crate::scratch::folder("harness-saml-").map_err(SamlError::Folder)?;
        std::fs::write(dir.path().join(SCRIPT_NAME), SCRIPT).map_err(SamlError::Folder)?;
        let entity_id = format!("https://idp.harness.invalid/{name}");
        let output = run(python, dir.path(), &["keygen", &dir.path().display().to_string(), &entity_id], None)?;
        let certificate = between(&output, "<ds:X509Certificate>", "</ds:X509Certificate>").unwrap_or_default().to_string();
        Ok(Self { dir, python: python.to_path_buf(), entity_id, metadata: output.trim().to_string(), certificate })
    }
}

impl AssertionSigner for IdentityProvider {
    fn sign(&self, request: &AssertionRequest<'_>) -> Result<SignedResponse, String> {
        let now = std::time::SystemTime::now();
        let until = if request.form == Form::Expired { now - std::time::Duration::from_secs(60) } else { now + LIFETIME };
        let form = if request.form == Form::Expired { Form::Signed } else { request.form };
        let body = serde_json::json!({
            "entity_id": self.entity_id,
            "recipient": request.recipient,
            "audience": AUDIENCE,
            "subject": request.subject,
            "not_on_or_after": crate::timestamp::format_timestamp(until),
            "attributes": request.attributes,
            "form": form.as_str(),
        });
        let dir = self.dir.path().display().to_string();
        let encoded = run(&self.python, self.dir.path(), &["respond", &dir], Some(&body.to_string())).map_err(|e| e.to_string())?;
        Ok(SignedResponse { encoded: encoded.trim().to_string(), issuer: self.entity_id.clone(), certificate: self.certificate.clone() })
    }
}

/// Run the script with `args`; its stdout, or why it failed (its last stderr line).
fn run(python: &Path, dir: &Path, args: &[&str], stdin: Option<&str>) -> Result<String, SamlError> {
    let mut child = Command::new(python)
        .arg(dir.join(SCRIPT_NAME))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| SamlError::Python { python: python.to_path_buf(), source })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes()).map_err(|source| SamlError::Python { python: python.to_path_buf(), source })?;
    }
    let output = child.wait_with_output().map_err(|source| SamlError::Python { python: python.to_path_buf(), source })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(SamlError::Failed(stderr.trim_end().lines().last().unwrap_or("no output").to_string()));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    Some(&text[from..from + text[from..].find(end)?])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::sts::saml::RECIPIENT;

    #[test]
    fn the_identity_provider_signs_what_a_step_asks_and_names_its_certificate_in_its_metadata() {
        let python = crate::target::moto::find_python(None);
        let idp = IdentityProvider::start(&python, "unit").expect("make setup installs signxml");
        assert!(idp.metadata.contains(r#"entityID="https://idp.harness.invalid/unit""#) && idp.certificate.len() > 500, "{}", idp.metadata);
        let attributes = [("https://aws.amazon.com/SAML/Attributes/RoleSessionName".to_string(), vec!["alice".to_string()])].into();
        let request = AssertionRequest { recipient: RECIPIENT, subject: "alice", attributes, form: Form::Signed };
        let signed = idp.sign(&request).unwrap();
        let xml = String::from_utf8(base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &signed.encoded).unwrap()).unwrap();
        assert!(xml.contains("SignatureValue") && xml.contains(&format!(r#"Recipient="{RECIPIENT}""#)) && xml.contains(">alice<"), "{xml}");
        assert!(!format!("{signed:?}").contains(&signed.encoded), "a response is a credential: its Debug must not show it");
        let unsigned = idp.sign(&AssertionRequest { form: Form::Unsigned, ..request }).unwrap();
        let xml = String::from_utf8(base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &unsigned.encoded).unwrap()).unwrap();
        assert!(!xml.contains("Signature"), "{xml}");
    }
}
