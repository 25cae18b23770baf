//! Amazon EC2 (with IAM's instance profiles): the harness's own first step
//! for a workload on an instance, made as the admin: which role does the
//! instance really carry? Never written in a scenario.

use super::{FieldError, Named, Rendering, StepFields, Written};
use crate::template::Template;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ec2<T> {
    /// `expect_role`: the role name the instance's profile must carry.
    InstanceProfileRole { instance_id: T, expect_role: Option<T> },
}

impl<T> Named for Ec2<T> {
    fn name(&self) -> &'static str {
        "ec2:DescribeInstances+iam:GetInstanceProfile"
    }
}

impl Written for Ec2<Template> {
    type Made = Ec2<String>;
    const ACTIONS: &'static [(&'static str, &'static [&'static str])] = &[];

    fn parse(fields: &StepFields<'_>) -> Result<Self, FieldError> {
        Err(fields.error("action", "the instance-profile lookup is the harness's own, not a step's"))
    }

    fn templates(&self) -> Vec<&Template> {
        let Ec2::InstanceProfileRole { instance_id, expect_role } = self;
        std::iter::once(instance_id).chain(expect_role).collect()
    }

    fn render(&self, with: &Rendering<'_>) -> Result<Ec2<String>, String> {
        let Ec2::InstanceProfileRole { instance_id, expect_role } = self;
        Ok(Ec2::InstanceProfileRole { instance_id: instance_id.render(with.outputs)?, expect_role: expect_role.as_ref().map(|t| t.render(with.outputs)).transpose()? })
    }
}

// What makes the calls: left out of the fuzz build (cfg fuzzing), which reads scenarios without the SDK.
#[cfg(not(fuzzing))]
mod made {
    use std::time::{Duration, Instant};

    use aws_config::SdkConfig;

    use super::Ec2;
    use crate::identity::{self, InstanceRoleError};
    use crate::outcome::{self, Observed, Performed};
    use crate::service::{Authorization, InstanceCommand, Made};

    impl Made for Ec2<String> {
        fn operation(&self) -> &'static str {
            "DescribeInstances"
        }

        fn resource(&self) -> Option<String> {
            let Ec2::InstanceProfileRole { instance_id, .. } = self;
            Some(instance_id.clone())
        }

        fn cli(&self) -> String {
            let Ec2::InstanceProfileRole { instance_id, .. } = self;
            format!("aws ec2 describe-instances --instance-ids {instance_id} && aws iam get-instance-profile --instance-profile-name <its profile>")
        }

        fn authorization(&self, _partition: &str) -> Authorization<'_> {
            Authorization::Harness("the harness's own lookup, made as the admin")
        }

        async fn perform(&self, admin: &SdkConfig) -> Performed {
            let Ec2::InstanceProfileRole { instance_id, expect_role } = self;
            let start = Instant::now();
            let found = identity::instance_role(admin, instance_id).await;
            let latency = start.elapsed();
            let role = match found {
                Ok(role) => role,
                Err(InstanceRoleError::Call(err)) => return outcome::failed(self.operation(), err, latency),
                Err(InstanceRoleError::NoProfile) => {
                    let mut done = Performed::new(Observed::Allowed, latency);
                    done.mismatch = Some(format!("instance {instance_id} has no IAM instance profile"));
                    return done;
                }
            };
            let mut done = Performed::new(Observed::Allowed, latency);
            done.detail = format!("instance profile {} -> role {}", role.profile_name, role.role_name.as_deref().unwrap_or("(none)"));
            match (&role.role_name, expect_role.as_deref()) {
                (None, _) => done.mismatch = Some(format!("instance profile {} has no role", role.profile_name)),
                (Some(name), Some(expected)) if name != expected => done.mismatch = Some(format!("the instance carries {name}, expected {expected}")),
                _ => {}
            }
            done.role_name = role.role_name;
            done
        }

        fn on_instance(&self) -> Result<InstanceCommand, &'static str> {
            Err("the instance-profile lookup runs as the harness's admin, not on the instance")
        }

        fn read_on_instance(&self, _stdout: &str, elapsed: Duration) -> Performed {
            let mut done = Performed::new(Observed::Allowed, elapsed);
            done.mismatch = Some("this call is the harness's, it does not run on the instance".into());
            done
        }
    }
}
