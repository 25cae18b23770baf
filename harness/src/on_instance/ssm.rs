//! SSM Run Command as the harness's ssh: send a script to one instance
//! (`AWS-RunShellScript`) and poll its invocation until it ends, within a
//! deadline. And wait for the instance's SSM agent to answer at all: after
//! launch it must boot, then register, which its role must permit.

use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_ssm::types::CommandInvocationStatus;
use tokio_util::sync::CancellationToken;

use crate::sdk::call_error;

const DOCUMENT: &str = "AWS-RunShellScript";
/// How long SSM may take to deliver a command (its minimum is 30 s).
const DELIVERY_TIMEOUT_SECONDS: i32 = 60;
/// How long the script may run on the instance.
const EXECUTION_TIMEOUT_SECONDS: u32 = 120;
/// Delivery, execution and the polling around them.
const RUN_DEADLINE: Duration = Duration::from_secs(200);
/// What the readiness probe prints.
const ONLINE: &str = "harness-online";

#[derive(Debug, thiserror::Error)]
pub enum SsmError {
    #[error("ssm:SendCommand to {instance} failed: {code}: {message}")]
    Send { instance: String, code: String, message: String },
    #[error("ssm:GetCommandInvocation for {instance} failed: {code}: {message}")]
    Poll { instance: String, code: String, message: String },
    #[error("the command on {instance} ended {status} ({details}): {stderr}")]
    Ended { instance: String, status: String, details: String, stderr: String },
    #[error("the command on {instance} did not end within {}s", RUN_DEADLINE.as_secs())]
    Timeout { instance: String },
    #[error(
        "instance {instance} did not answer SSM Run Command within {}s ({cause}); it needs the SSM agent (Amazon Linux 2023 has it), a route to the SSM endpoints, and a role that lets the agent register: the harness's overlay (not --no-ssm-overlay) or the account's Default Host Management Configuration",
        waited.as_secs()
    )]
    NotOnline { instance: String, waited: Duration, cause: String },
    #[error("interrupted while waiting for instance {instance}")]
    Interrupted { instance: String },
}

/// What a script printed on the instance: all the harness reads, its
/// call's stderr included (marked), is on stdout.
#[derive(Debug)]
pub struct Invocation {
    pub stdout: String,
}

/// Run Command on one instance, as the admin.
pub struct Ssm {
    client: aws_sdk_ssm::Client,
    instance_id: String,
}

impl Ssm {
    pub fn new(admin: &SdkConfig, instance_id: &str) -> Self {
        Self { client: aws_sdk_ssm::Client::new(admin), instance_id: instance_id.to_string() }
    }

    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// Run `script` with sh on the instance (as root, as the agent does) and return its output.
    pub async fn run(&self, script: &str) -> Result<Invocation, SsmError> {
        let instance = || self.instance_id.clone();
        let sent = self
            .client
            .send_command()
            .instance_ids(&self.instance_id)
            .document_name(DOCUMENT)
            .comment("aws-assume-role-harness step")
            .timeout_seconds(DELIVERY_TIMEOUT_SECONDS)
            .parameters("commands", vec![script.to_string()])
            .parameters("executionTimeout", vec![EXECUTION_TIMEOUT_SECONDS.to_string()])
            .send()
            .await
            .map_err(|e| {
                let e = call_error(&e);
                SsmError::Send { instance: instance(), code: e.code().to_string(), message: e.message().to_string() }
            })?;
        let command_id = sent.command().and_then(|c| c.command_id()).unwrap_or_default().to_string();
        let deadline = Instant::now() + RUN_DEADLINE;
        let mut pause = Duration::from_millis(200);
        loop {
            // Poll: the invocation exists a moment after SendCommand, then runs.
            tokio::time::sleep(pause).await;
            pause = (pause * 3 / 2).min(Duration::from_secs(2));
            match self.client.get_command_invocation().command_id(&command_id).instance_id(&self.instance_id).send().await {
                Ok(out) => match out.status() {
                    Some(CommandInvocationStatus::Success) => {
                        return Ok(Invocation { stdout: out.standard_output_content().unwrap_or_default().to_string() });
                    }
                    None | Some(CommandInvocationStatus::Pending | CommandInvocationStatus::InProgress | CommandInvocationStatus::Delayed) => {}
                    Some(status) => {
                        return Err(SsmError::Ended {
                            instance: instance(),
                            status: status.as_str().to_string(),
                            details: out.status_details().unwrap_or_default().to_string(),
                            stderr: out.standard_error_content().unwrap_or_default().trim().to_string(),
                        });
                    }
                },
                Err(e) => {
                    let e = call_error(&e);
                    if e.code() != "InvocationDoesNotExist" {
                        return Err(SsmError::Poll { instance: instance(), code: e.code().to_string(), message: e.message().to_string() });
                    }
                }
            }
            if Instant::now() >= deadline {
                return Err(SsmError::Timeout { instance: instance() });
            }
        }
    }

    /// Wait until the instance's agent runs a probe. Until it has registered
    /// SSM answers InvalidInstanceId; any other error ends the wait.
    pub async fn wait_online(&self, deadline: Duration, cancel: &CancellationToken) -> Result<(), SsmError> {
        let started = Instant::now();
        let mut pause = Duration::from_secs(2);
        loop {
            let cause = match self.run(&format!("echo {ONLINE}")).await {
                Ok(invocation) if invocation.stdout.contains(ONLINE) => return Ok(()),
                Ok(invocation) => format!("the probe printed {:?}", invocation.stdout.trim()),
                Err(SsmError::Send { code, message, .. }) if code == "InvalidInstanceId" => format!("{code}: {message}"),
                Err(err) => return Err(err),
            };
            if started.elapsed() + pause > deadline {
                return Err(SsmError::NotOnline { instance: self.instance_id.clone(), waited: started.elapsed(), cause });
            }
            tokio::select! {
                _ = cancel.cancelled() => return Err(SsmError::Interrupted { instance: self.instance_id.clone() }),
                _ = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(Duration::from_secs(15));
        }
    }
}
