//! AWS KMS: encrypt under a key, decrypt what an earlier step encrypted,
//! generate a data key. A key's policy takes part in every call (and grants
//! its account nothing implicitly); the target must enforce key policies for
//! a refusal to be evidence, which `probe` finds out.

use std::collections::BTreeMap;

use super::{FieldError, Named, Rendering, StepFields, Written};
use crate::template::Template;

const ENCRYPT: &str = "kms:Encrypt";
const DECRYPT: &str = "kms:Decrypt";
const GENERATE_DATA_KEY: &str = "kms:GenerateDataKey";

/// `key`: the key's ARN (the evaluator reads its account and policy from it);
/// `context`: the encryption context the call names (`kms:EncryptionContext:*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kms<T> {
    Encrypt { key: T, plaintext: String, context: BTreeMap<String, String> },
    /// Decrypts what the last allowed `kms:Encrypt` step of the run encrypted under the key.
    Decrypt { key: T, expect_plaintext: Option<String>, context: BTreeMap<String, String> },
    /// A 256-bit data key: its plaintext is a secret, never shown.
    GenerateDataKey { key: T, context: BTreeMap<String, String> },
}

impl<T> Kms<T> {
    fn key(&self) -> &T {
        match self {
            Kms::Encrypt { key, .. } | Kms::Decrypt { key, .. } | Kms::GenerateDataKey { key, .. } => key,
        }
    }

    fn context(&self) -> &BTreeMap<String, String> {
        match self {
            Kms::Encrypt { context, .. } | Kms::Decrypt { context, .. } | Kms::GenerateDataKey { context, .. } => context,
        }
    }
}

impl Kms<String> {
    /// The keys the request carries: its encryption context
    /// (https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-encryption-context).
    pub fn request_keys(&self) -> Vec<(String, Vec<String>)> {
        let context = self.context();
        let mut keys: Vec<(String, Vec<String>)> = context.iter().map(|(k, v)| (format!("kms:EncryptionContext:{k}"), vec![v.clone()])).collect();
        if !context.is_empty() {
            keys.push(("kms:EncryptionContextKeys".into(), context.keys().cloned().collect()));
        }
        keys
    }

    /// The CLI's `--encryption-context` flag, each value written by `quote`.
    fn context_flag(&self, quote: impl Fn(&str) -> String) -> String {
        let pairs: Vec<String> = self.context().iter().map(|(k, v)| format!("{k}={v}")).collect();
        if pairs.is_empty() { String::new() } else { format!(" --encryption-context {}", quote(&pairs.join(","))) }
    }
}

impl<T> Named for Kms<T> {
    fn name(&self) -> &'static str {
        match self {
            Kms::Encrypt { .. } => ENCRYPT,
            Kms::Decrypt { .. } => DECRYPT,
            Kms::GenerateDataKey { .. } => GENERATE_DATA_KEY,
        }
    }
}

impl Written for Kms<Template> {
    type Made = Kms<String>;
    const ACTIONS: &'static [(&'static str, &'static [&'static str])] =
        &[(ENCRYPT, &["key", "plaintext", "encryption_context"]), (DECRYPT, &["key", "expect_plaintext", "encryption_context"]), (GENERATE_DATA_KEY, &["key", "encryption_context"])];

    fn parse(fields: &StepFields<'_>) -> Result<Self, FieldError> {
        let key = fields.need("key")?;
        let context = fields.table("encryption_context")?.unwrap_or_default();
        Ok(match fields.action() {
            ENCRYPT => Kms::Encrypt { key, plaintext: fields.text("plaintext")?.unwrap_or_else(|| "harness".into()), context },
            DECRYPT => Kms::Decrypt { key, expect_plaintext: fields.text("expect_plaintext")?, context },
            _ => Kms::GenerateDataKey { key, context },
        })
    }

    fn templates(&self) -> Vec<&Template> {
        vec![self.key()]
    }

    fn render(&self, with: &Rendering<'_>) -> Result<Kms<String>, String> {
        let (key, context) = (self.key().render(with.outputs)?, self.context().clone());
        Ok(match self {
            Kms::Encrypt { plaintext, .. } => Kms::Encrypt { key, plaintext: plaintext.clone(), context },
            Kms::Decrypt { expect_plaintext, .. } => Kms::Decrypt { key, expect_plaintext: expect_plaintext.clone(), context },
            Kms::GenerateDataKey { .. } => Kms::GenerateDataKey { key, context },
        })
    }
}

#[cfg(not(fuzzing))]
pub use made::probe;

// What makes the calls: left out of the fuzz build (cfg fuzzing), which reads scenarios without the SDK.
#[cfg(not(fuzzing))]
mod made {
    use std::collections::{BTreeMap, HashMap};
    use std::sync::{Mutex, PoisonError};
    use std::time::{Duration, Instant};

    use aws_config::SdkConfig;
    use aws_smithy_types::Blob;

    use super::Kms;
    use crate::outcome::{self, Observed, Performed};
    use crate::policy::Reason;
    use crate::sdk::{call_error, is_access_denied};
    use crate::service::{Authorization, Governing, InstanceCommand, Made, Named, identity_rules_enforced};
    use crate::shell::{quote, word};
    use crate::target_facts::Capabilities;

    /// The ciphertext each key's last allowed Encrypt made, for a later Decrypt.
    static CIPHERTEXTS: Mutex<BTreeMap<String, Vec<u8>>> = Mutex::new(BTreeMap::new());

    impl Made for Kms<String> {
        fn operation(&self) -> &'static str {
            match self {
                Kms::Encrypt { .. } => "Encrypt",
                Kms::Decrypt { .. } => "Decrypt",
                Kms::GenerateDataKey { .. } => "GenerateDataKey",
            }
        }

        /// The key, by its id.
        fn resource(&self) -> Option<String> {
            Some(self.key().rsplit('/').next().unwrap_or(self.key()).to_string())
        }

        fn cli(&self) -> String {
            match self {
                Kms::Encrypt { key, .. } => format!("aws kms encrypt --key-id {key}{} --plaintext fileb://./plaintext --query CiphertextBlob --output text", self.context_flag(word)),
                Kms::Decrypt { key, .. } => format!("aws kms decrypt --key-id {key}{} --ciphertext-blob fileb://./ciphertext --query Plaintext --output text", self.context_flag(word)),
                Kms::GenerateDataKey { key, .. } => format!("aws kms generate-data-key --key-id {key}{} --key-spec AES_256 --query KeyId --output text", self.context_flag(word)),
            }
        }

        fn authorization(&self, _partition: &str) -> Authorization<'_> {
            Authorization::Request { action: self.name(), resource: self.key().clone(), governed_by: Governing::Key(self.key()), keys: self.request_keys() }
        }

        fn denial_verifiable(&self, caps: &Capabilities, predicted: Option<&Reason>) -> Result<(), &'static str> {
            if !caps.key_policies {
                return Err("the target does not enforce KMS key policies");
            }
            identity_rules_enforced(caps, predicted)
        }

        async fn perform(&self, config: &SdkConfig) -> Performed {
            let start = Instant::now();
            let client = aws_sdk_kms::Client::new(config);
            let failed = |err| outcome::failed(self.operation(), err, start.elapsed());
            let context = (!self.context().is_empty()).then(|| self.context().clone().into_iter().collect::<HashMap<_, _>>());
            match self {
                Kms::Encrypt { key, plaintext, .. } => match client.encrypt().key_id(key).plaintext(Blob::new(plaintext.as_bytes())).set_encryption_context(context).send().await {
                    Ok(out) => {
                        let ciphertext = out.ciphertext_blob().map(|b| b.as_ref().to_vec()).unwrap_or_default();
                        let detail = format!("encrypted {} bytes under {key}: {} bytes of ciphertext", plaintext.len(), ciphertext.len());
                        CIPHERTEXTS.lock().unwrap_or_else(PoisonError::into_inner).insert(key.clone(), ciphertext);
                        allowed(detail, start.elapsed())
                    }
                    Err(err) => failed(call_error(&err)),
                },
                Kms::Decrypt { key, expect_plaintext, .. } => {
                    let Some(ciphertext) = CIPHERTEXTS.lock().unwrap_or_else(PoisonError::into_inner).get(key).cloned() else {
                        let why = format!("nothing was encrypted under {key} yet: an allowed kms:Encrypt step must come before a kms:Decrypt step");
                        return Performed::new(Observed::Error { code: "NoCiphertext".into(), message: why }, Duration::ZERO);
                    };
                    match client.decrypt().key_id(key).ciphertext_blob(Blob::new(ciphertext)).set_encryption_context(context).send().await {
                        Ok(out) => {
                            let plaintext = out.plaintext().map(|b| String::from_utf8_lossy(b.as_ref()).into_owned()).unwrap_or_default();
                            outcome::downloaded(expect_plaintext.as_deref(), plaintext, start.elapsed())
                        }
                        Err(err) => failed(call_error(&err)),
                    }
                }
                Kms::GenerateDataKey { key, .. } => match client.generate_data_key().key_id(key).key_spec(aws_sdk_kms::types::DataKeySpec::Aes256).set_encryption_context(context).send().await {
                    Ok(out) => allowed(format!("a data key under {}: its plaintext is not shown", out.key_id().unwrap_or(key)), start.elapsed()),
                    Err(err) => failed(call_error(&err)),
                },
            }
        }

        fn on_instance(&self) -> Result<InstanceCommand, &'static str> {
            match self {
                Kms::Encrypt { key, plaintext, .. } => Ok(InstanceCommand {
                    prepare: format!("printf '%s' {} >\"body.$$\"", quote(plaintext)),
                    ..InstanceCommand::printing(format!("aws kms encrypt --key-id {}{} --plaintext fileb://body.$$ --query KeyId --output text", quote(key), self.context_flag(quote)))
                }),
                // Only the key's id is printed: SSM keeps a command's output, and a data key is a secret.
                Kms::GenerateDataKey { key, .. } => {
                    Ok(InstanceCommand::printing(format!("aws kms generate-data-key --key-id {}{} --key-spec AES_256 --query KeyId --output text", quote(key), self.context_flag(quote))))
                }
                Kms::Decrypt { .. } => Err("a kms:Decrypt step decrypts what the harness encrypted: it runs here, with the SDK, not on an instance"),
            }
        }

        fn read_on_instance(&self, stdout: &str, elapsed: Duration) -> Performed {
            allowed(format!("{} under {}", self.name(), stdout.trim()), elapsed)
        }
    }

    fn allowed(detail: String, latency: Duration) -> Performed {
        let mut done = Performed::new(Observed::Allowed, latency);
        done.detail = detail;
        done
    }

    /// Whether the target enforces key policies: a key whose policy lets the
    /// admin manage it but not encrypt; enforced if the admin's Encrypt is refused
    /// (its identity policy allows everything). The key is scheduled for deletion.
    pub async fn probe(admin: &SdkConfig, admin_arn: &str, description: &str) -> Result<bool, String> {
        let client = aws_sdk_kms::Client::new(admin);
        let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Sid": "ManageOnly", "Effect": "Allow", "Principal": {"AWS": admin_arn},
            "Action": ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:TagResource"], "Resource": "*"}]});
        let created = client.create_key().description(description).policy(policy.to_string()).bypass_policy_lockout_safety_check(true).send().await;
        let key = created.map_err(|err| format!("kms probe: CreateKey failed: {}", call_error(&err).code()))?;
        let key_id = key.key_metadata().map(|m| m.key_id().to_string()).unwrap_or_default();
        let encrypted = client.encrypt().key_id(&key_id).plaintext(Blob::new("probe")).send().await;
        let _ = client.schedule_key_deletion().key_id(&key_id).pending_window_in_days(7).send().await;
        match encrypted {
            Ok(_) => Ok(false),
            Err(err) if is_access_denied(call_error(&err).code()) => Ok(true),
            Err(err) => Err(format!("kms probe: Encrypt got {}", call_error(&err).code())),
        }
    }
}
