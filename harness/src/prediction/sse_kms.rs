//! S3 with SSE-KMS: a put into a bucket whose default encryption is a KMS
//! key asks KMS for a data key, a get of an object encrypted under one asks
//! KMS to decrypt it, both as the caller, via S3
//! (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html):
//! the key's policy and the caller's own policies decide that call as they
//! would a direct one, with `kms:ViaService` = `s3.<region>.amazonaws.com` and
//! the object's ARN (the bucket's, with an S3 Bucket Key) as the `aws:s3:arn`
//! encryption context.

use super::{AccountClients, Predictor};
use crate::sdk::call_error;
use crate::service::s3::{kms_action_via_s3, kms_keys_via_s3};

/// The KMS request S3 makes on the caller's behalf.
pub(super) struct ViaS3 {
    pub action: &'static str,
    pub key_arn: String,
    /// Keys the request carries besides the caller's: the service, the encryption context.
    pub keys: Vec<(String, Vec<String>)>,
}

impl Predictor {
    /// The KMS call S3 makes for `action` on `resource` (`arn:aws:s3:::bucket/key`)
    /// in a bucket of `owner`: None where it makes none (no SSE-KMS, or AWS's own aws/s3 key).
    pub(super) async fn via_s3(&self, action: &str, resource: &str, owner: &str) -> Result<Option<ViaS3>, String> {
        let (bucket, key) = resource.trim_start_matches("arn:aws:s3:::").split_once('/').unwrap_or_default();
        let Some(kms_action) = kms_action_via_s3(action).filter(|_| !key.is_empty()) else { return Ok(None) };
        let Ok(clients) = self.clients(owner) else { return Ok(None) };
        // A put uses the bucket's default key; a get the key its object was encrypted under.
        let (key_id, bucket_key) = match action {
            "s3:PutObject" => match default_key(clients, bucket).await? {
                Some(default) => default,
                None => return Ok(None),
            },
            _ => {
                let head = clients.s3.head_object().bucket(bucket).key(key).send().await;
                let Ok(head) = head else { return Ok(None) };
                match (head.server_side_encryption().map(|e| e.as_str()), head.ssekms_key_id()) {
                    (Some("aws:kms"), Some(key_id)) => (key_id.to_string(), head.bucket_key_enabled().unwrap_or(false)),
                    _ => return Ok(None),
                }
            }
        };
        let described = clients.kms.describe_key().key_id(&key_id).send().await;
        let described = described.map_err(|err| format!("cannot read the key {key_id} of bucket {bucket}: kms:DescribeKey: {}", call_error(&err).code()))?;
        let metadata = described.key_metadata();
        if metadata.and_then(|m| m.key_manager()).map(|m| m.as_str()) == Some("AWS") {
            return Ok(None);
        }
        let key_arn = metadata.and_then(|m| m.arn()).unwrap_or(&key_id).to_string();
        let arn = if bucket_key { format!("arn:aws:s3:::{bucket}") } else { resource.to_string() };
        let keys = kms_keys_via_s3(&key_arn, &arn);
        Ok(Some(ViaS3 { action: kms_action, key_arn, keys }))
    }
}

/// A bucket's default SSE-KMS key (as written: an id, alias or ARN) and whether it uses an S3 Bucket Key.
async fn default_key(clients: &AccountClients, bucket: &str) -> Result<Option<(String, bool)>, String> {
    let read = match clients.s3.get_bucket_encryption().bucket(bucket).send().await {
        Ok(read) => read,
        Err(err) if call_error(&err).code() == "ServerSideEncryptionConfigurationNotFoundError" => return Ok(None),
        Err(err) => return Err(format!("cannot read the default encryption of {bucket}: s3:GetEncryptionConfiguration: {}", call_error(&err).code())),
    };
    let rules = read.server_side_encryption_configuration().map(|c| c.rules()).unwrap_or_default();
    Ok(rules.iter().find_map(|rule| {
        let default = rule.apply_server_side_encryption_by_default()?;
        let key = default.kms_master_key_id().filter(|_| default.sse_algorithm().as_str() == "aws:kms")?;
        Some((key.to_string(), rule.bucket_key_enabled().unwrap_or(false)))
    }))
}
