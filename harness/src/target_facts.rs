//! What a run knows of its target, for verdicts and reports, without
//! reaching into how a target is run: how it was described, what it
//! enforces (probed), and whose answers it gives.

/// What ran, for the console banner and the JSON report.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TargetDescription {
    pub kind: String,
    pub endpoint: Option<String>,
    pub version: Option<String>,
    /// The container image, for container targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// How a container target is reached (host network or bridge).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    /// Why this target was chosen.
    pub reason: String,
    /// Time to start (or reach) it and bootstrap its admin identity.
    pub startup_ms: f64,
}

impl TargetDescription {
    /// A target started (or reached) at `started`: its startup time is until now.
    pub fn new(kind: &str, endpoint: Option<String>, version: Option<String>, reason: String, started: std::time::Instant) -> Self {
        let startup_ms = crate::timestamp::millis(started.elapsed());
        Self { kind: kind.to_string(), endpoint, version, image: None, network: None, reason, startup_ms }
    }
}

/// How the service is reached from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// The host's network; the service listens on a free 127.0.0.1 port.
    Host,
    /// Docker's bridge; the service's port is mapped to a free host port.
    Bridge,
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Network::Host => "host",
            Network::Bridge => "bridge",
        })
    }
}

impl std::str::FromStr for Network {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "host" => Ok(Network::Host),
            "bridge" => Ok(Network::Bridge),
            other => Err(format!("unknown container network {other:?}: use host or bridge")),
        }
    }
}

/// What the target enforces, as probed before any scenario (AWS: everything).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Capabilities {
    pub identity_policies: bool,
    pub trust_policies: bool,
    pub role_session_principals: bool,
    pub trust_conditions: bool,
    pub session_tags: bool,
    pub session_durations: bool,
    pub session_policies: bool,
    pub web_identity: bool,
    /// KMS key policies take part in KMS calls (absent from older reports: not enforced).
    #[serde(default)]
    pub key_policies: bool,
    /// An Organization's SCPs and RCPs cap requests (absent from older reports: not enforced).
    #[serde(default)]
    pub organization_policies: bool,
    /// S3 Block Public Access (RestrictPublicBuckets) limits a public bucket policy
    /// (absent from older reports: not applied).
    #[serde(default)]
    pub public_access_block: bool,
    /// AssumeRoleWithSAML checks the response's signature against the provider
    /// and the role's trust (absent from older reports: not checked).
    #[serde(default)]
    pub saml: bool,
    /// An RDS instance lets a connection in only with a valid IAM auth token
    /// its principal may use (absent from older reports: not checked).
    #[serde(default)]
    pub rds_iam_auth: bool,
}

impl Capabilities {
    /// What both targets enforce: the cautious reading of two runs' targets.
    pub fn both(self, other: Capabilities) -> Capabilities {
        Capabilities {
            identity_policies: self.identity_policies && other.identity_policies,
            trust_policies: self.trust_policies && other.trust_policies,
            role_session_principals: self.role_session_principals && other.role_session_principals,
            trust_conditions: self.trust_conditions && other.trust_conditions,
            session_tags: self.session_tags && other.session_tags,
            session_durations: self.session_durations && other.session_durations,
            session_policies: self.session_policies && other.session_policies,
            web_identity: self.web_identity && other.web_identity,
            key_policies: self.key_policies && other.key_policies,
            organization_policies: self.organization_policies && other.organization_policies,
            public_access_block: self.public_access_block && other.public_access_block,
            saml: self.saml && other.saml,
            rds_iam_auth: self.rds_iam_auth && other.rds_iam_auth,
        }
    }

    /// What AWS itself enforces (it is not probed).
    pub const ENFORCED: Capabilities = Capabilities {
        identity_policies: true,
        trust_policies: true,
        role_session_principals: true,
        trust_conditions: true,
        session_tags: true,
        session_durations: true,
        session_policies: true,
        web_identity: true,
        key_policies: true,
        organization_policies: true,
        public_access_block: true,
        saml: true,
        rds_iam_auth: true,
    };
}

/// Where the observation comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ground {
    /// An emulator: its answers are only as good as its policy evaluation.
    Emulator,
    /// AWS itself: the observation is the truth.
    Aws,
}
