//! What to run the scenarios on, described before anything starts (as
//! testcontainers describes an image before a runner starts it): the CLI
//! builds a [`TargetSpec`], and [`TargetSpec::start`] makes the auto
//! choice and starts or reaches it.

use tokio_util::sync::CancellationToken;

use super::container::Placement;
use super::moto::MotoOptions;
use super::{AutoChoice, Target, TargetError, auto_choice, localstack, moto};

#[derive(Debug, Clone)]
pub enum TargetSpec {
    /// The best this machine has (see [`auto_choice`]); a Python for moto names the host process.
    Auto { moto: MotoOptions, images: Images, placement: Placement },
    /// moto behind the launcher, as a host process.
    Moto(MotoOptions),
    /// The same launcher in a container.
    MotoContainer { image: Option<String>, placement: Placement },
    /// LocalStack in a container: licensed with a token, else Community.
    LocalStack { image: Option<String>, placement: Placement },
    /// An AWS-compatible endpoint the user runs.
    Endpoint { url: String, region: String },
    /// A real sandbox account; `endpoint` points the same path at the launcher (offline tests).
    /// `accounts`: how the accounts scenarios name are reached there.
    Aws { region: Option<String>, sandbox_account: String, accounts: super::AccountReach, endpoint: Option<String> },
}

/// Images the user named for container targets (None: the defaults).
#[derive(Debug, Clone, Default)]
pub struct Images {
    pub moto: Option<String>,
    pub localstack: Option<String>,
}

impl TargetSpec {
    /// Start (or reach) the target; `reason` says why it was chosen, for the report.
    pub async fn start(self, reason: String, cancel: &CancellationToken) -> Result<Target, TargetError> {
        match self.resolve().await {
            (TargetSpec::Auto { moto, .. } | TargetSpec::Moto(moto), auto) => Target::start_moto(&moto, auto.unwrap_or(reason)).await,
            (TargetSpec::MotoContainer { image, placement }, auto) => {
                let image = image.unwrap_or_else(moto::official_image);
                Target::start_moto_container(&image, placement, auto.unwrap_or(reason), cancel).await
            }
            (TargetSpec::LocalStack { image, placement }, auto) => {
                let reason = auto.unwrap_or(reason);
                match localstack::token() {
                    Some(token) => Target::start_localstack(&image.unwrap_or_else(|| localstack::IMAGE.into()), Some(&token), placement, reason, cancel).await,
                    // Without a token, Community: HARNESS_LOCALSTACK_COMMUNITY_IMAGE (what ci/containers.sh builds), else the official tag.
                    None => {
                        let reason = format!("{reason}; no {}: Community, which enforces no IAM", localstack::TOKEN_VAR);
                        Target::start_localstack(&image.unwrap_or_else(localstack::community_image), None, placement, reason, cancel).await
                    }
                }
            }
            (TargetSpec::Endpoint { url, region }, _) => Target::connect_endpoint(&url, &region).await,
            (TargetSpec::Aws { region, sandbox_account, accounts, endpoint }, _) => {
                Target::connect_aws(region.as_deref(), &sandbox_account, accounts, endpoint.as_deref()).await
            }
        }
    }

    /// The auto choice made: the target it names, and why it was chosen.
    async fn resolve(self) -> (TargetSpec, Option<String>) {
        let TargetSpec::Auto { moto, images, placement } = self else { return (self, None) };
        if moto.python.is_some() {
            return (TargetSpec::Moto(moto), Some("--moto-python".into()));
        }
        let (choice, why) = auto_choice().await;
        let spec = match choice {
            AutoChoice::LocalStack => TargetSpec::LocalStack { image: images.localstack, placement },
            AutoChoice::MotoContainer => TargetSpec::MotoContainer { image: images.moto, placement },
            AutoChoice::MotoProcess => TargetSpec::Moto(moto),
        };
        (spec, Some(format!("auto: {why}")))
    }

    /// Whether what runs outlives the harness (an endpoint, an account): then
    /// everything applied must be destroyed.
    pub fn outlives_run(&self) -> bool {
        matches!(self, TargetSpec::Endpoint { .. } | TargetSpec::Aws { .. })
    }
}
