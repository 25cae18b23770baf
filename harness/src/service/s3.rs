//! Amazon S3: list a bucket (as `aws s3 ls` in the blog), put an object, get one.

use super::{FieldError, Named, Rendering, StepFields, Written};
use crate::template::Template;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum S3<T> {
    /// `prefix` and `delimiter` go with the request when given (`s3:prefix`, `s3:delimiter`).
    ListBucket { bucket: T, expect_keys: Vec<String>, prefix: Option<String>, delimiter: Option<String> },
    PutObject { bucket: T, key: T, body: String },
    GetObject { bucket: T, key: T, expect_body: Option<String> },
}

/// The KMS action S3 makes as the caller for a put or a get of an object
/// encrypted with a KMS key (SSE-KMS): a data key for a put, a decrypt for a
/// get (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html).
pub fn kms_action_via_s3(s3_action: &str) -> Option<&'static str> {
    match s3_action {
        "s3:PutObject" => Some("kms:GenerateDataKey"),
        "s3:GetObject" => Some("kms:Decrypt"),
        _ => None,
    }
}

/// The keys that KMS request carries beyond the caller's: the service that
/// calls KMS (in the key's region), and `s3_arn` (the object's ARN, the
/// bucket's with an S3 Bucket Key) as the `aws:s3:arn` encryption context.
pub fn kms_keys_via_s3(key_arn: &str, s3_arn: &str) -> Vec<(String, Vec<String>)> {
    let region = key_arn.split(':').nth(3).unwrap_or_default();
    vec![
        ("kms:ViaService".to_string(), vec![format!("s3.{region}.amazonaws.com")]),
        ("aws:ViaAWSService".to_string(), vec!["true".to_string()]),
        ("kms:EncryptionContext:aws:s3:arn".to_string(), vec![s3_arn.to_string()]),
        ("kms:EncryptionContextKeys".to_string(), vec!["aws:s3:arn".to_string()]),
    ]
}

impl<T> Named for S3<T> {
    fn name(&self) -> &'static str {
        match self {
            S3::ListBucket { .. } => "s3:ListBucket",
            S3::PutObject { .. } => "s3:PutObject",
            S3::GetObject { .. } => "s3:GetObject",
        }
    }
}

impl Written for S3<Template> {
    type Made = S3<String>;
    const ACTIONS: &'static [(&'static str, &'static [&'static str])] =
        &[("s3:ListBucket", &["bucket", "expect_keys", "prefix", "delimiter"]), ("s3:PutObject", &["bucket", "key", "body"]), ("s3:GetObject", &["bucket", "key", "expect_body"])];

    fn parse(fields: &StepFields<'_>) -> Result<Self, FieldError> {
        Ok(match fields.action() {
            "s3:ListBucket" => S3::ListBucket {
                bucket: fields.need("bucket")?,
                expect_keys: fields.texts("expect_keys")?.unwrap_or_default(),
                prefix: fields.text("prefix")?,
                delimiter: fields.text("delimiter")?,
            },
            "s3:PutObject" => S3::PutObject { bucket: fields.need("bucket")?, key: fields.need("key")?, body: fields.text("body")?.unwrap_or_default() },
            _ => S3::GetObject { bucket: fields.need("bucket")?, key: fields.need("key")?, expect_body: fields.text("expect_body")? },
        })
    }

    fn templates(&self) -> Vec<&Template> {
        match self {
            S3::ListBucket { bucket, .. } => vec![bucket],
            S3::PutObject { bucket, key, .. } | S3::GetObject { bucket, key, .. } => vec![bucket, key],
        }
    }

    fn render(&self, with: &Rendering<'_>) -> Result<S3<String>, String> {
        let r = |t: &Template| t.render(with.outputs);
        Ok(match self {
            S3::ListBucket { bucket, expect_keys, prefix, delimiter } => {
                S3::ListBucket { bucket: r(bucket)?, expect_keys: expect_keys.clone(), prefix: prefix.clone(), delimiter: delimiter.clone() }
            }
            S3::PutObject { bucket, key, body } => S3::PutObject { bucket: r(bucket)?, key: r(key)?, body: body.clone() },
            S3::GetObject { bucket, key, expect_body } => S3::GetObject { bucket: r(bucket)?, key: r(key)?, expect_body: expect_body.clone() },
        })
    }
}

#[cfg(not(fuzzing))]
pub use made::probe;

// What makes the calls: left out of the fuzz build (cfg fuzzing), which reads scenarios without the SDK.
#[cfg(not(fuzzing))]
mod made {
    use std::time::{Duration, Instant};

    use aws_config::SdkConfig;

    use super::S3;
    use crate::outcome::{self, Listed, Performed};
    use crate::sdk::{self, call_error, is_access_denied};
    use crate::service::{Authorization, Governing, InstanceCommand, Made, Named};
    use crate::shell::quote;

    impl S3<String> {
        /// The keys of what this request sends, the same from the SDK and the CLI: a
        /// header-signed SigV4 request, and a list's prefix and delimiter when it sends them
        /// (https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html).
        fn request_keys(&self) -> Vec<(String, Vec<String>)> {
            let mut keys = vec![("s3:authType".to_string(), vec!["REST-HEADER".to_string()]), ("s3:signatureversion".to_string(), vec!["AWS4-HMAC-SHA256".to_string()])];
            if let S3::ListBucket { prefix, delimiter, .. } = self {
                keys.extend(prefix.iter().map(|p| ("s3:prefix".to_string(), vec![p.clone()])));
                keys.extend(delimiter.iter().map(|d| ("s3:delimiter".to_string(), vec![d.clone()])));
            }
            keys
        }

        /// The CLI's ListObjects with what this list sends.
        fn list_objects(&self) -> String {
            let mut cli = format!("aws s3api list-objects --bucket {}", quote(self.bucket()));
            if let S3::ListBucket { prefix, delimiter, .. } = self {
                for (flag, value) in [("--prefix", prefix), ("--delimiter", delimiter)] {
                    if let Some(value) = value {
                        cli.push_str(&format!(" {flag} {}", quote(value)));
                    }
                }
            }
            cli
        }

        fn bucket(&self) -> &str {
            match self {
                S3::ListBucket { bucket, .. } | S3::PutObject { bucket, .. } | S3::GetObject { bucket, .. } => bucket,
            }
        }
    }

    impl Made for S3<String> {
        fn operation(&self) -> &'static str {
            match self {
                // ListObjects (v1), as `aws s3 ls` in the blog: the same s3:ListBucket permission as v2.
                S3::ListBucket { .. } => "ListObjects",
                S3::PutObject { .. } => "PutObject",
                S3::GetObject { .. } => "GetObject",
            }
        }

        fn resource(&self) -> Option<String> {
            Some(self.bucket().to_string())
        }

        fn cli(&self) -> String {
            match self {
                // As the blog types it; its delimiter is the CLI's, not the request the harness sends.
                S3::ListBucket { bucket, prefix: None, delimiter: None, .. } => format!("aws s3 ls s3://{bucket}"),
                S3::ListBucket { .. } => self.list_objects(),
                S3::PutObject { bucket, key, .. } => format!("aws s3 cp ./{key} s3://{bucket}/{key}"),
                S3::GetObject { bucket, key, .. } => format!("aws s3 cp s3://{bucket}/{key} -"),
            }
        }

        fn authorization(&self, partition: &str) -> Authorization<'_> {
            let resource = match self {
                S3::ListBucket { bucket, .. } => format!("arn:{partition}:s3:::{bucket}"),
                S3::PutObject { bucket, key, .. } | S3::GetObject { bucket, key, .. } => format!("arn:{partition}:s3:::{bucket}/{key}"),
            };
            Authorization::Request { action: self.name(), resource, governed_by: Governing::Bucket(self.bucket()), keys: self.request_keys() }
        }

        async fn perform(&self, config: &SdkConfig) -> Performed {
            let start = Instant::now();
            let client = sdk::s3_client(config);
            let failed = |err| outcome::failed(self.operation(), err, start.elapsed());
            match self {
                S3::ListBucket { bucket, expect_keys, prefix, delimiter } => match client.list_objects().bucket(bucket).set_prefix(prefix.clone()).set_delimiter(delimiter.clone()).send().await {
                    Ok(out) => {
                        let objects: Vec<Listed> = out
                            .contents()
                            .iter()
                            .map(|o| Listed {
                                key: o.key().unwrap_or_default().to_string(),
                                size: o.size().unwrap_or(0),
                                last_modified: o.last_modified().map(|t| t.to_string()).unwrap_or_default(),
                            })
                            .collect();
                        outcome::listed(expect_keys, &objects, start.elapsed())
                    }
                    Err(err) => failed(call_error(&err)),
                },
                S3::PutObject { bucket, key, body } => match client.put_object().bucket(bucket).key(key).body(body.clone().into_bytes().into()).send().await {
                    Ok(_) => outcome::uploaded(bucket, key, body.len(), start.elapsed()),
                    Err(err) => failed(call_error(&err)),
                },
                S3::GetObject { bucket, key, expect_body } => match client.get_object().bucket(bucket).key(key).send().await {
                    Ok(out) => {
                        let body = out.body.collect().await.map(|b| String::from_utf8_lossy(&b.into_bytes()).into_owned()).unwrap_or_default();
                        outcome::downloaded(expect_body.as_deref(), body, start.elapsed())
                    }
                    Err(err) => failed(call_error(&err)),
                },
            }
        }

        fn on_instance(&self) -> Result<InstanceCommand, &'static str> {
            Ok(match self {
                S3::ListBucket { .. } => InstanceCommand::printing(format!("{} --output json", self.list_objects())),
                S3::PutObject { bucket, key, body } => InstanceCommand {
                    prepare: format!("printf '%s' {} >\"body.$$\"", quote(body)),
                    ..InstanceCommand::printing(format!("aws s3api put-object --bucket {} --key {} --body \"body.$$\" --output json", quote(bucket), quote(key)))
                },
                S3::GetObject { bucket, key, .. } => InstanceCommand {
                    prepare: String::new(),
                    command: format!("aws s3api get-object --bucket {} --key {} \"obj.$$\" --output json", quote(bucket), quote(key)),
                    stdout_to: "/dev/null".into(),
                    on_success: "cat \"obj.$$\" >\"out.$$\"".into(),
                    saves: None,
                },
            })
        }

        fn read_on_instance(&self, stdout: &str, elapsed: Duration) -> Performed {
            match self {
                S3::ListBucket { expect_keys, .. } => {
                    let answer = serde_json::from_str::<serde_json::Value>(stdout).unwrap_or(serde_json::Value::Null);
                    let text = |v: &serde_json::Value, key: &str| v[key].as_str().unwrap_or_default().to_string();
                    let objects: Vec<Listed> = answer["Contents"]
                        .as_array()
                        .map(|objects| objects.iter().map(|o| Listed { key: text(o, "Key"), size: o["Size"].as_i64().unwrap_or(0), last_modified: text(o, "LastModified") }).collect())
                        .unwrap_or_default();
                    outcome::listed(expect_keys, &objects, elapsed)
                }
                S3::PutObject { bucket, key, body } => outcome::uploaded(bucket, key, body.len(), elapsed),
                S3::GetObject { expect_body, .. } => outcome::downloaded(expect_body.as_deref(), stdout.to_string(), elapsed),
            }
        }
    }

    /// Whether the target applies Block Public Access: a bucket whose policy
    /// grants everyone a read must serve an unsigned read, then refuse it
    /// once the bucket restricts public buckets. Everything made is deleted.
    pub async fn probe(admin: &SdkConfig, endpoint: &crate::sdk::Endpoint, bucket: &str) -> Result<bool, String> {
        let client = sdk::s3_client(admin);
        client.create_bucket().bucket(bucket).send().await.map_err(|e| failed("CreateBucket", call_error(&e).code()))?;
        let result = probe_bucket(&client, endpoint, bucket).await;
        let _ = client.delete_object().bucket(bucket).key("probe").send().await;
        let _ = client.delete_bucket_policy().bucket(bucket).send().await;
        let _ = client.delete_public_access_block().bucket(bucket).send().await;
        let _ = client.delete_bucket().bucket(bucket).send().await;
        result
    }

    fn failed(what: &str, code: &str) -> String {
        format!("block public access probe: {what} failed: {code}")
    }

    async fn probe_bucket(client: &aws_sdk_s3::Client, endpoint: &crate::sdk::Endpoint, bucket: &str) -> Result<bool, String> {
        use aws_sdk_s3::types::PublicAccessBlockConfiguration;
        client.put_object().bucket(bucket).key("probe").body(b"probe".to_vec().into()).send().await.map_err(|e| failed("PutObject", call_error(&e).code()))?;
        let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::{bucket}/*")}]});
        client.put_bucket_policy().bucket(bucket).policy(policy.to_string()).send().await.map_err(|e| failed("PutBucketPolicy", call_error(&e).code()))?;
        let anyone = sdk::s3_client(&sdk::anonymous_config(endpoint).await);
        if let Err(err) = anyone.get_object().bucket(bucket).key("probe").send().await {
            return Err(failed("an unsigned read of a public object", call_error(&err).code()));
        }
        let restrict = PublicAccessBlockConfiguration::builder().restrict_public_buckets(true).build();
        client.put_public_access_block().bucket(bucket).public_access_block_configuration(restrict).send().await.map_err(|e| failed("PutPublicAccessBlock", call_error(&e).code()))?;
        match anyone.get_object().bucket(bucket).key("probe").send().await {
            Ok(_) => Ok(false),
            Err(err) if is_access_denied(call_error(&err).code()) => Ok(true),
            Err(err) => Err(failed("the unsigned read once restricted", call_error(&err).code())),
        }
    }
}
