//! Amazon RDS IAM database authentication: connect to a PostgreSQL instance
//! as a database user with an auth token instead of a password
//! (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.html).
//! The token is a SigV4 presigned `connect` URL for the instance's host and
//! port, signed with the principal's credentials by the SDK's signer
//! (aws-sigv4), valid 15 minutes; RDS lets it in only if the principal may
//! `rds-db:connect` on `arn:aws:rds-db:REGION:ACCOUNT:dbuser:DbiResourceId/USER`.
//! The step connects with `psql` and reads `current_user`.

use super::{FieldError, Named, Rendering, StepFields, Written};
use crate::template::Template;

pub const CONNECT: &str = "rds-db:connect";
/// The SQLSTATE of PostgreSQL's refused login (invalid_password), RDS's answer to a token it refuses.
pub const REFUSED: &str = "28P01";

/// A connection as a database user. `via`: where the harness really
/// connects (an embedded target's auth front on loopback), else the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rds<T> {
    Connect {
        host: T,
        port: T,
        /// The instance's DbiResourceId (`aws_db_instance.<name>.resource_id`).
        resource_id: T,
        db_user: String,
        database: String,
        /// Sign the token this many seconds ago (RDS accepts it for 900).
        token_age_seconds: Option<u64>,
        /// Set when rendered: the dbuser ARN the evaluator decides for.
        arn: Option<String>,
        via: Option<String>,
    },
}

impl<T> Named for Rds<T> {
    fn name(&self) -> &'static str {
        CONNECT
    }
}

impl Written for Rds<Template> {
    type Made = Rds<String>;
    const ACTIONS: &'static [(&'static str, &'static [&'static str])] = &[(CONNECT, &["host", "port", "resource_id", "db_user", "database", "token_age_seconds"])];

    fn parse(fields: &StepFields<'_>) -> Result<Self, FieldError> {
        let token_age_seconds = match fields.integer("token_age_seconds")? {
            Some(age) => Some(u64::try_from(age).map_err(|_| fields.error("token_age_seconds", format!("`token_age_seconds` = {age} is negative")))?),
            None => None,
        };
        Ok(Rds::Connect {
            host: fields.need("host")?,
            port: fields.need("port")?,
            resource_id: fields.need("resource_id")?,
            db_user: fields.need_text("db_user")?,
            database: fields.text("database")?.unwrap_or_else(|| "postgres".into()),
            token_age_seconds,
            arn: None,
            via: None,
        })
    }

    fn templates(&self) -> Vec<&Template> {
        let Rds::Connect { host, port, resource_id, .. } = self;
        vec![host, port, resource_id]
    }

    fn render(&self, with: &Rendering<'_>) -> Result<Rds<String>, String> {
        let Rds::Connect { host, port, resource_id, db_user, database, token_age_seconds, .. } = self;
        let (host, port, resource_id) = (host.render(with.outputs)?, port.render(with.outputs)?, resource_id.render(with.outputs)?);
        let region = region_of(&host).unwrap_or("us-east-1");
        let arn = with.account.map(|(partition, account)| format!("arn:{partition}:rds-db:{region}:{account}:dbuser:{resource_id}/{db_user}"));
        let via = with.databases.and_then(|fronts| fronts.front_of(&host, &port));
        Ok(Rds::Connect { host, port, resource_id, db_user: db_user.clone(), database: database.clone(), token_age_seconds: *token_age_seconds, arn, via })
    }
}

/// The region of an instance's endpoint (`<id>.<hash>.<region>.rds.amazonaws.com`).
pub fn region_of(host: &str) -> Option<&str> {
    let labels: Vec<&str> = host.split('.').collect();
    (labels.len() >= 5 && labels[labels.len() - 3] == "rds").then(|| labels[labels.len() - 4])
}

/// Where the harness connects to reach an instance on an embedded target.
pub trait DatabaseFronts: Sync {
    /// The loopback address (`127.0.0.1:PORT`) that stands for the instance at host:port.
    fn front_of(&self, host: &str, port: &str) -> Option<String>;
}

#[cfg(not(fuzzing))]
pub use made::auth_token;

// What makes the calls: left out of the fuzz build (cfg fuzzing), which reads scenarios without the SDK.
#[cfg(not(fuzzing))]
mod made {
    use std::time::{Duration, Instant, SystemTime};

    use aws_config::SdkConfig;
    use aws_credential_types::provider::ProvideCredentials;
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
    use aws_sigv4::sign::v4;

    use super::{REFUSED, Rds, region_of};
    use crate::outcome::{Observed, Performed};
    use crate::policy::Reason;
    use crate::secret::Secret;
    use crate::service::{Authorization, Governing, InstanceCommand, Made, identity_rules_enforced};
    use crate::target_facts::Capabilities;

    /// RDS's limit on a token's life.
    const LIFETIME: Duration = Duration::from_secs(900);

    /// The auth token for `user` at host:port, signed at `at` with the config's credentials.
    pub async fn auth_token(config: &SdkConfig, host: &str, port: &str, user: &str, at: SystemTime) -> Result<Secret, String> {
        let provider = config.credentials_provider().ok_or("the principal has no credentials to sign a token with")?;
        let credentials = provider.provide_credentials().await.map_err(|e| format!("no credentials: {e}"))?;
        let identity = credentials.into();
        let mut settings = SigningSettings::default();
        settings.expires_in = Some(LIFETIME);
        settings.signature_location = SignatureLocation::QueryParams;
        let region = region_of(host).or(config.region().map(|r| r.as_ref())).unwrap_or("us-east-1").to_string();
        let params = v4::SigningParams::builder().identity(&identity).region(&region).name("rds-db").time(at).settings(settings).build().map_err(|e| e.to_string())?;
        let url = format!("https://{host}:{port}/?Action=connect&DBUser={}", encode(user));
        let request = SignableRequest::new("GET", &url, std::iter::empty(), SignableBody::Bytes(&[])).map_err(|e| e.to_string())?;
        let (instructions, _) = sign(request, &params.into()).map_err(|e| e.to_string())?.into_parts();
        let mut token = url.trim_start_matches("https://").to_string();
        for (name, value) in instructions.params() {
            token.push_str(&format!("&{name}={}", encode(value)));
        }
        Ok(Secret::new(token))
    }

    /// A query value as the SDK's signer writes its URL (form encoding).
    fn encode(value: &str) -> String {
        form_urlencoded::byte_serialize(value.as_bytes()).collect()
    }

    impl Made for Rds<String> {
        fn operation(&self) -> &'static str {
            "connect"
        }

        /// The database user, of its instance.
        fn resource(&self) -> Option<String> {
            let Rds::Connect { resource_id, db_user, .. } = self;
            Some(format!("dbuser:{resource_id}/{db_user}"))
        }

        fn cli(&self) -> String {
            let Rds::Connect { host, port, db_user, database, token_age_seconds, .. } = self;
            let aged = token_age_seconds.map(|age| format!(" (a token signed {age} s ago)")).unwrap_or_default();
            format!(
                "PGPASSWORD=\"$(aws rds generate-db-auth-token --hostname {host} --port {port} --username {db_user})\" psql \"host={host} port={port} user={db_user} dbname={database} sslmode=require\" -Atc 'select current_user'{aged}"
            )
        }

        fn authorization(&self, _partition: &str) -> Authorization<'_> {
            match self {
                // RDS authenticates the token (its signature and its life) before it asks IAM.
                Rds::Connect { token_age_seconds: Some(age), .. } if *age >= LIFETIME.as_secs() => Authorization::Refused {
                    rule: crate::policy::PolicyType::TokenExpiry,
                    why: format!("the auth token was signed {age} s ago: RDS accepts one for {} s after its X-Amz-Date", LIFETIME.as_secs()),
                },
                Rds::Connect { arn: Some(arn), .. } => Authorization::Request { action: super::CONNECT, resource: arn.clone(), governed_by: Governing::CallerOnly, keys: Vec::new() },
                Rds::Connect { .. } => Authorization::Harness("the dbuser ARN needs the target's account"),
            }
        }

        /// RDS's own check of the token: the target must make it.
        fn denial_verifiable(&self, caps: &Capabilities, predicted: Option<&Reason>) -> Result<(), &'static str> {
            if !caps.rds_iam_auth {
                return Err("the target does not check IAM database authentication tokens");
            }
            identity_rules_enforced(caps, predicted)
        }

        async fn perform(&self, config: &SdkConfig) -> Performed {
            let Rds::Connect { host, port, db_user, database, token_age_seconds, via, .. } = self;
            let start = Instant::now();
            let at = SystemTime::now() - Duration::from_secs(token_age_seconds.unwrap_or(0));
            let token = match auth_token(config, host, port, db_user, at).await {
                Ok(token) => token,
                Err(why) => return Performed::new(Observed::Error { code: "NoToken".into(), message: why }, start.elapsed()),
            };
            let (connect_host, connect_port, tls) = match via.as_deref().and_then(|v| v.rsplit_once(':')) {
                Some((h, p)) => (h.to_string(), p.to_string(), "disable"),
                None => (host.clone(), port.clone(), "require"),
            };
            let dsn = format!("host={connect_host} port={connect_port} user={db_user} dbname={database} sslmode={tls} connect_timeout=10");
            let psql = crate::process::Command::new("connect with psql", "psql", Duration::from_secs(30))
                .args(["-X", "-A", "-t", "-w", &dsn, "-c", "select current_user"])
                .env("PGPASSWORD", token.expose());
            let output = psql.run(&tokio_util::sync::CancellationToken::new()).await;
            answer(db_user, output, start.elapsed())
        }

        fn on_instance(&self) -> Result<InstanceCommand, &'static str> {
            Err("the harness connects to the database itself, not on the instance")
        }

        fn read_on_instance(&self, _stdout: &str, elapsed: Duration) -> Performed {
            let mut done = Performed::new(Observed::Allowed, elapsed);
            done.mismatch = Some("this call is the harness's, it does not run on the instance".into());
            done
        }
    }

    /// What psql's run says: connected as the user (allowed), a login refused (RDS's PAM failure), or another failure.
    fn answer(db_user: &str, output: Result<crate::process::Output, crate::process::ProcessError>, latency: Duration) -> Performed {
        use crate::process::ProcessError;
        let stderr = match output {
            Ok(output) => {
                let user = output.stdout.trim().to_string();
                let mut done = Performed::new(Observed::Allowed, latency);
                done.detail = format!("connected; current_user = {user}");
                if user != db_user {
                    done.mismatch = Some(format!("connected as {user}, not {db_user}"));
                }
                return done;
            }
            Err(ProcessError::NotFound { .. }) => {
                let message = "psql is not installed; install PostgreSQL's client (Debian: postgresql-client-15); `make setup` checks for it".to_string();
                return Performed::new(Observed::Error { code: "NoPsql".into(), message }, latency);
            }
            Err(ProcessError::Failed { output, .. }) => output.stderr.trim().to_string(),
            Err(err) => return Performed::new(Observed::Error { code: "PsqlFailed".into(), message: err.to_string() }, latency),
        };
        let line = stderr.lines().find(|l| l.contains("FATAL")).or(stderr.lines().last()).unwrap_or("no output").to_string();
        let observed = if line.contains("authentication failed") {
            Observed::Denied { code: REFUSED.into(), message: line.trim_start_matches("psql: error: ").to_string() }
        } else {
            Observed::Error { code: "ConnectionFailed".into(), message: line }
        };
        let mut done = Performed::new(observed, latency);
        done.detail = stderr;
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_names_its_region() {
        assert_eq!(region_of("app.aaaaaaaaaa.eu-west-1.rds.amazonaws.com"), Some("eu-west-1"));
        assert_eq!(region_of("localhost"), None);
    }

    /// The token is the SDK signer's presigned URL: its form is AWS's
    /// (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.Connecting.html),
    /// and the aws-sdk-rust RDS signer's own test vector signs to the same signature.
    #[tokio::test]
    async fn a_token_is_the_sdks_presigned_connect_url() {
        let credentials = aws_credential_types::Credentials::new("akid", "secret", None, None, "test");
        let config = aws_config::SdkConfig::builder()
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(credentials))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_724_709_600);
        let token = auth_token(&config, "prod-instance.us-east-1.rds.amazonaws.com", "3306", "peccy", at).await.unwrap();
        assert_eq!(
            token.expose(),
            "prod-instance.us-east-1.rds.amazonaws.com:3306/?Action=connect&DBUser=peccy&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=akid%2F20240826%2Fus-east-1%2Frds-db%2Faws4_request&X-Amz-Date=20240826T220000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=dd0cba843009474347af724090233265628ace491ea17ce3eb3da098b983ad89"
        );
    }
}
