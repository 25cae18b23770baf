//! Steps made on a real instance, as the blog makes them over ssh: the aws
//! CLI on the instance, as the instance's own role (its instance-profile
//! credentials, which never leave it) or as a session an earlier AssumeRole
//! step saved there. The harness reaches the instance through SSM Run
//! Command (`ssm`); the script and the reading of its output are `script`;
//! what the harness adds to the config under test for that is `overlay`.

pub mod overlay;
pub mod script;
pub mod ssm;

use std::sync::Arc;

use crate::service::Call;
use crate::outcome::Performed;

/// A principal on an instance: where its calls run, and as whom.
#[derive(Clone)]
pub struct Shell {
    ssm: Arc<ssm::Ssm>,
    workspace: script::Workspace,
    /// The file of a saved session; None: the instance's own role.
    session: Option<String>,
}

impl std::fmt::Debug for Shell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shell").field("instance", &self.ssm.instance_id()).field("session", &self.session).finish()
    }
}

impl Shell {
    pub fn new(ssm: Arc<ssm::Ssm>, workspace: script::Workspace) -> Self {
        Self { ssm, workspace, session: None }
    }

    pub fn instance_id(&self) -> &str {
        self.ssm.instance_id()
    }

    /// The principal of a session saved on the same instance.
    pub fn with_session(&self, file: String) -> Self {
        Self { session: Some(file), ..self.clone() }
    }

    /// Make the call on the instance; an SSM failure is the step's error, never a verdict.
    pub async fn perform(&self, call: &Call) -> Performed {
        let script = match script::Script::render(call, &self.workspace, self.session.as_deref()) {
            Ok(script) => script,
            Err(why) => return Performed::error("NotOnInstance", why.to_string()),
        };
        let mut done = match self.ssm.run(script.text()).await {
            Ok(invocation) => script.read(call, &invocation.stdout),
            Err(err) => Performed::error("SsmRunCommand", err.to_string()),
        };
        done.on_instance = Some(self.instance_id().to_string());
        done.command = Some(script.shown().to_string());
        done
    }
}
