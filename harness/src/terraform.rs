//! Terraform as the harness drives it: find the binary, make `init` work
//! offline where the machine ships a provider mirror, copy a config into a
//! temporary working copy pointed at the target, then init, apply, read the
//! outputs and destroy. The user's config folder is never written to.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::process::{Command, Output, ProcessError};
use crate::root_module::{self, ModuleError, RootModule};
use crate::secret::Secret;

pub const INIT_TIMEOUT: Duration = Duration::from_secs(5 * 60);
pub const APPLY_TIMEOUT: Duration = Duration::from_secs(20 * 60);
pub const DESTROY_TIMEOUT: Duration = Duration::from_secs(20 * 60);
const QUICK_TIMEOUT: Duration = Duration::from_secs(60);

/// Where provider mirrors are looked for when `HARNESS_TF_PROVIDER_MIRROR` is unset:
/// Terraform's own implied mirror folders and this project's CI image.
const MIRROR_CANDIDATES: &[&str] = &["/opt/tf-plugins", "/usr/local/share/terraform/plugins", "/usr/share/terraform/plugins"];

/// The file the harness adds to a working copy to point the provider at its target.
pub const OVERRIDE_FILE: &str = "zz_harness_override.tf";
const PROVIDER_FILE: &str = "zz_harness_provider.tf";
const VARS_FILE: &str = "zz_harness.auto.tfvars.json";
/// The CLI config written into a working copy when providers come from a mirror.
const CLI_CONFIG_FILE: &str = ".harness-terraform.tfrc";
/// Replaces the config's remote backend for the run (an override file may replace a backend).
const BACKEND_FILE: &str = "zz_harness_backend_override.tf";
const BACKEND_OVERRIDE: &str = "# Written by the harness: the run keeps its state in this working copy, not in your backend.\nterraform {\n  backend \"local\" {}\n}\n";

#[derive(Debug, thiserror::Error)]
pub enum TerraformError {
    #[error("terraform was not found (looked for `terraform` and `tofu` on PATH); install Terraform >= 1.5 or pass --terraform PATH (env HARNESS_TERRAFORM)")]
    NotInstalled,
    #[error("the terraform binary `{0}` does not exist; fix --terraform / HARNESS_TERRAFORM")]
    BadPath(PathBuf),
    #[error("config folder {0} does not exist or holds no *.tf file; pass an existing Terraform root module with --config")]
    ConfigMissing(PathBuf),
    #[error("cannot prepare the working copy of {config}")]
    WorkingCopy {
        config: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Process(#[from] ProcessError),
    #[error("cannot read `terraform output -json`: {0}")]
    Outputs(String),
    #[error(transparent)]
    Module(ModuleError),
    #[error("{config} sits elsewhere relative to its local modules than the chain's first config; keep a chain's configs at the same depth")]
    Layout { config: PathBuf },
    #[error("the stage sets variable `{name}`, which {config} does not declare; declare it or drop it from the stage's `variables`")]
    UndeclaredVariable { config: PathBuf, name: String },
}

/// The terraform (or tofu) binary and the environment every call shares.
#[derive(Debug, Clone)]
pub struct Terraform {
    pub binary: PathBuf,
    /// A filesystem provider mirror to install hashicorp/aws from (offline machines).
    pub mirror: Option<PathBuf>,
    /// Where there is no mirror: one plugin cache for every working copy, so
    /// the provider (~700 MB) is downloaded once, not once per scenario.
    pub plugin_cache: Option<PathBuf>,
}

impl Terraform {
    /// `explicit` is the user's --terraform; otherwise PATH is searched.
    pub fn locate(explicit: Option<&Path>) -> Result<Self, TerraformError> {
        let binary = match explicit {
            Some(path) if path.is_file() => path.to_path_buf(),
            Some(path) if !path.as_os_str().to_string_lossy().contains('/') => {
                find_on_path(&path.to_string_lossy()).ok_or_else(|| TerraformError::BadPath(path.to_path_buf()))?
            }
            Some(path) => return Err(TerraformError::BadPath(path.to_path_buf())),
            None => find_on_path("terraform").or_else(|| find_on_path("tofu")).ok_or(TerraformError::NotInstalled)?,
        };
        Ok(Self { binary, mirror: None, plugin_cache: None })
    }

    /// Where the machine ships a provider mirror and no CLI config file
    /// exists, every working copy gets a CLI config that installs from it,
    /// so `init` works offline. On a normal laptop nothing is found and init
    /// downloads as usual.
    ///
    /// Without a mirror, and unless the user set TF_PLUGIN_CACHE_DIR, the
    /// working copies share a plugin cache under the user's cache folder.
    pub fn arrange_providers(&mut self) {
        let configured = std::env::var_os("TF_CLI_CONFIG_FILE").map(PathBuf::from);
        if !configured.as_ref().is_some_and(|file| file.is_file()) {
            self.mirror = find_provider_mirror();
        }
        if let Some(mirror) = &self.mirror {
            tracing::info!(mirror = %mirror.display(), "terraform providers come from the local mirror");
        } else if std::env::var_os("TF_PLUGIN_CACHE_DIR").is_none() {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
                .map(|dir| dir.join("aws-assume-role-harness/terraform-plugins"));
            self.plugin_cache = cache.filter(|dir| std::fs::create_dir_all(dir).is_ok());
        }
    }

    pub async fn version(&self) -> Option<String> {
        let out = Command::new("read the terraform version", &self.binary, QUICK_TIMEOUT)
            .args(["version", "-json"])
            .run(&CancellationToken::new())
            .await
            .ok()?;
        let json: serde_json::Value = serde_json::from_str(&out.stdout).ok()?;
        json.get("terraform_version").and_then(|v| v.as_str()).map(str::to_string)
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}

fn find_provider_mirror() -> Option<PathBuf> {
    let from_env = std::env::var_os("HARNESS_TF_PROVIDER_MIRROR").map(PathBuf::from);
    from_env
        .into_iter()
        .chain(MIRROR_CANDIDATES.iter().map(PathBuf::from))
        .find(|root| root.join("registry.terraform.io/hashicorp/aws").is_dir())
}

pub fn cli_config_for_mirror(mirror: &Path) -> String {
    format!(
        r#"# Written by the harness: hashicorp/aws from the machine's filesystem mirror.
provider_installation {{
  filesystem_mirror {{
    path    = "{}"
    include = ["registry.terraform.io/hashicorp/aws"]
  }}
  direct {{
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }}
}}
"#,
        mirror.display()
    )
}

/// The names of the `output` blocks a config declares, read from its files
/// so a scenario's references are checked before anything is applied.
pub fn declared_outputs(config: &Path) -> Result<BTreeSet<String>, TerraformError> {
    Ok(read_module(config)?.outputs)
}

/// The root module at `config`, its absence said as such.
pub fn read_module(config: &Path) -> Result<RootModule, TerraformError> {
    RootModule::read(config).map_err(|err| match err {
        ModuleError::Missing(dir) => TerraformError::ConfigMissing(dir),
        other => TerraformError::Module(other),
    })
}

/// How the provider reaches the target.
#[derive(Debug, Clone)]
pub struct ProviderTarget {
    pub region: String,
    /// An emulator's endpoint; None for a real account.
    pub endpoint: Option<String>,
    /// Environment for every terraform call (credentials of the admin identity).
    pub env: Vec<(String, Secret)>,
    /// The role each `aws` provider block (by alias; None: the unaliased one)
    /// assumes to reach its account; absent: the credentials' own account.
    pub account_roles: BTreeMap<Option<String>, String>,
    /// What is applied outlives the harness (an endpoint, an account): a
    /// killed run's working copy then stays, its state naming what to destroy.
    pub outlives_run: bool,
}

/// Variables every harness run sets: the per-run name prefix and tags.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunVariables {
    pub name_prefix: String,
    pub region: String,
    pub tags: BTreeMap<String, String>,
    /// A stage's own values for variables its config declares (`variables = {...}`).
    #[serde(flatten)]
    pub extra: BTreeMap<String, String>,
    /// The metadata of the harness's SAML identity provider, for a config's
    /// `aws_iam_saml_provider` (a scenario with a `saml_provider` principal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub saml_metadata: Option<String>,
    /// The files (relative to the root module) that metadata replaces in the
    /// working copy, where the config's provider reads a file instead.
    #[serde(skip)]
    pub saml_metadata_files: Vec<PathBuf>,
}

/// Working copies that exist right now (folder -> destroy command), so an
/// impatient second Ctrl-C can still say where the state is.
static ACTIVE: Mutex<BTreeMap<PathBuf, String>> = Mutex::new(BTreeMap::new());

/// Every working copy that exists right now: its folder and its destroy command.
pub fn active_copies() -> Vec<(PathBuf, String)> {
    ACTIVE.lock().map(|map| map.iter().map(|(path, hint)| (path.clone(), hint.clone())).collect()).unwrap_or_default()
}

/// A temporary copy of a config, set up for one target. Dropping it removes
/// the folder; `keep` leaves it (with its state) for a manual cleanup.
#[derive(Debug)]
pub struct WorkingCopy {
    dir: Option<crate::scratch::Scratch>,
    /// The copy's top folder: the root module's, or the one above it that holds its local modules too.
    root: PathBuf,
    /// The root module's folder in the copy: where terraform runs.
    path: PathBuf,
    terraform: Terraform,
    target: ProviderTarget,
    /// The entries copied from the current config and its local modules (replaced by `use_config`).
    copied: Vec<PathBuf>,
    /// Kept because its destroy failed: its state is needed to finish the cleanup.
    kept_for_cleanup: bool,
    /// The variables the run sets (each config gets those it declares); None: a kept copy's stay.
    vars: Option<RunVariables>,
}

impl Drop for WorkingCopy {
    fn drop(&mut self) {
        // A copy kept for its cleanup stays named: a hard stop says where it is.
        if self.kept_for_cleanup {
            return;
        }
        if let Ok(mut map) = ACTIVE.lock() {
            map.remove(&self.path);
        }
    }
}

impl WorkingCopy {
    /// A copy of `config` (with the local modules it calls, at the same
    /// places relative to it) for this target and these variables.
    pub fn create(terraform: &Terraform, config: &Path, target: &ProviderTarget, vars: &RunVariables) -> Result<Self, TerraformError> {
        let wrap = |source| TerraformError::WorkingCopy { config: config.to_path_buf(), source };
        let module = read_module(config)?;
        let (_, relative) = root_module::layout(config, &module.local_modules);
        let dir = crate::scratch::folder("harness-tf-").map_err(wrap)?;
        if target.outlives_run {
            dir.outlive_a_kill();
        }
        let path = dir.path().join(relative);
        std::fs::create_dir_all(&path).map_err(wrap)?;
        if let Some(mirror) = &terraform.mirror {
            // In the copy itself, so a kept copy stays usable by hand.
            std::fs::write(path.join(CLI_CONFIG_FILE), cli_config_for_mirror(mirror)).map_err(wrap)?;
        }
        let root = dir.path().to_path_buf();
        let mut copy = Self { dir: Some(dir), root, path, terraform: terraform.clone(), target: target.clone(), copied: Vec::new(), kept_for_cleanup: false, vars: Some(vars.clone()) };
        copy.use_config(config)?;
        if let Ok(mut map) = ACTIVE.lock() {
            map.insert(copy.path.clone(), copy.destroy_hint());
        }
        Ok(copy)
    }

    /// Put `config`'s files (and its local modules') in place of the current
    /// config's, keeping the state, `.terraform` and the harness's own files:
    /// the next apply upgrades what exists IN PLACE, as a user does when
    /// fixing a config. Every `aws` provider block (aliases too) is pointed
    /// at an emulator; a remote backend gives way to a local one.
    pub fn use_config(&mut self, config: &Path) -> Result<RootModule, TerraformError> {
        let module = read_module(config)?;
        if let Some(name) = self.vars.iter().flat_map(|v| v.extra.keys()).find(|name| !module.variables.contains(*name)) {
            return Err(TerraformError::UndeclaredVariable { config: config.to_path_buf(), name: name.clone() });
        }
        let wrap = |source| TerraformError::WorkingCopy { config: config.to_path_buf(), source };
        let (base, relative) = root_module::layout(config, &module.local_modules);
        // The folder the layout's base maps to: the copy's root module sits `relative` below it.
        let copy_base = self.path.ancestors().nth(relative.components().count()).filter(|_| self.path.ends_with(&relative));
        let copy_base = copy_base.ok_or_else(|| TerraformError::Layout { config: config.to_path_buf() })?.to_path_buf();
        for entry in self.copied.drain(..) {
            let removed = if entry.is_dir() { std::fs::remove_dir_all(&entry) } else { std::fs::remove_file(&entry) };
            removed.map_err(wrap)?;
        }
        self.copied = copy_config(config, &self.path).map_err(wrap)?;
        for local in &module.local_modules {
            let into = copy_base.join(local.strip_prefix(&base).unwrap_or(local));
            std::fs::create_dir_all(&into).map_err(wrap)?;
            copy_config(local, &into).map_err(wrap)?;
            self.copied.push(into);
        }
        self.write_harness_files(&module).map_err(wrap)?;
        Ok(module)
    }

    /// The variables the config declares, the provider overrides and the backend.
    fn write_harness_files(&self, module: &RootModule) -> std::io::Result<()> {
        if let Some(vars) = &self.vars {
            let all = serde_json::to_value(vars).map_err(std::io::Error::other)?;
            let declared: serde_json::Map<String, serde_json::Value> =
                all.as_object().into_iter().flatten().filter(|(k, _)| module.variables.contains(*k)).map(|(k, v)| (k.clone(), v.clone())).collect();
            std::fs::write(self.path.join(VARS_FILE), serde_json::to_string_pretty(&declared).map_err(std::io::Error::other)?)?;
            // The copy's file only: the user's own metadata stays in their config.
            if let Some(metadata) = &vars.saml_metadata {
                for file in vars.saml_metadata_files.iter().map(|file| self.path.join(file)).filter(|file| file.is_file()) {
                    std::fs::write(file, metadata)?;
                }
            }
        }
        for file in [OVERRIDE_FILE, PROVIDER_FILE, BACKEND_FILE] {
            let _ = std::fs::remove_file(self.path.join(file));
        }
        // Override files may only override provider blocks that exist (matched by alias).
        let standalone = module.aws_providers.is_empty();
        let blocks: Vec<Option<String>> = if standalone { vec![None] } else { module.aws_providers.clone() };
        let text: String = blocks
            .iter()
            .filter_map(|alias| {
                // A block with its own assume_role reaches its account itself.
                let role = self.target.account_roles.get(alias).filter(|_| !module.assuming_providers.contains(alias));
                provider_block(self.target.endpoint.as_deref(), role.map(String::as_str), &self.target.region, standalone, alias.as_deref())
            })
            .collect();
        if !text.is_empty() {
            std::fs::write(self.path.join(if standalone { PROVIDER_FILE } else { OVERRIDE_FILE }), text)?;
        }
        if module.backend.as_deref().is_some_and(|b| b != "local") {
            std::fs::write(self.path.join(BACKEND_FILE), BACKEND_OVERRIDE)?;
        }
        Ok(())
    }

    /// A copy a previous run kept (`run --keep`, `watch`): its state and
    /// `.terraform` as they were; `copied` are its config's entries, replaced
    /// by the next `use_config`. Its folder stays when dropped: the kept
    /// target's end (`harness release`, the watch's end) removes it.
    pub fn adopt(terraform: &Terraform, (root, path): (&Path, &Path), copied: Vec<PathBuf>, target: &ProviderTarget, vars: Option<&RunVariables>) -> Self {
        let (root, path) = (root.to_path_buf(), path.to_path_buf());
        let copy = Self { dir: None, root, path, terraform: terraform.clone(), target: target.clone(), copied, kept_for_cleanup: false, vars: vars.cloned() };
        if let Ok(mut map) = ACTIVE.lock() {
            map.insert(copy.path.clone(), copy.destroy_hint());
        }
        copy
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The variables the next `use_config` gives its config.
    pub fn set_variables(&mut self, vars: RunVariables) {
        self.vars = Some(vars);
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The config's entries in the copy (what `use_config` replaces).
    pub fn copied(&self) -> &[PathBuf] {
        &self.copied
    }

    /// Leave the folder in place for a destroy that failed, and return it:
    /// it stays this run's, named (with its destroy command) if a hard stop comes.
    pub fn keep(mut self) -> PathBuf {
        if let Some(dir) = self.dir.take() {
            let _ = dir.keep();
        }
        self.kept_for_cleanup = true;
        self.path.clone()
    }

    /// Hand the folder to the next run (`--keep`, `watch`): no longer this run's.
    pub fn hand_over(mut self) -> PathBuf {
        if let Some(dir) = self.dir.take() {
            let _ = dir.hand_over();
        }
        self.path.clone()
    }

    fn command(&self, summary: &str, timeout: Duration, args: &[&str]) -> Command {
        let mut cmd = Command::new(summary, &self.terraform.binary, timeout)
            .args(args.iter().copied())
            .cwd(&self.path)
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .env("CHECKPOINT_DISABLE", "1")
            .cancel_signal(libc::SIGINT);
        // Terraform's plugin sockets go in a folder of the copy: a provider
        // killed by a hard stop leaves its socket folder there, removed with
        // the copy. Made only inside a copy that still exists: a command
        // prepared after a hard stop removed it must not bring it back.
        let tmp = self.root.join(".tmp");
        if tmp.is_dir() || std::fs::create_dir(&tmp).is_ok() {
            cmd = cmd.env("TMPDIR", tmp);
        }
        if self.terraform.mirror.is_some() {
            cmd = cmd.env("TF_CLI_CONFIG_FILE", self.path.join(CLI_CONFIG_FILE));
        }
        if let Some(cache) = &self.terraform.plugin_cache {
            cmd = cmd.env("TF_PLUGIN_CACHE_DIR", cache);
        }
        if self.target.endpoint.is_some() {
            // An emulator run must never pick up the user's real credentials.
            for key in ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"] {
                cmd = cmd.env_remove(key);
            }
        }
        for (key, value) in &self.target.env {
            cmd = cmd.env(key.clone(), value.expose());
        }
        cmd
    }

    /// The command a person runs to finish the cleanup of a kept copy
    /// (with the target's credentials in their environment).
    pub fn destroy_hint(&self) -> String {
        let cli_config = if self.terraform.mirror.is_some() { format!("TF_CLI_CONFIG_FILE={CLI_CONFIG_FILE} ") } else { String::new() };
        format!("cd {} && {cli_config}{} destroy -auto-approve -lock-timeout=5m", self.path.display(), self.terraform.binary.display())
    }

    pub fn init_command(&self) -> Command {
        self.command("terraform init", INIT_TIMEOUT, &["init", "-input=false", "-no-color"])
    }

    pub fn apply_command(&self) -> Command {
        self.command("terraform apply", APPLY_TIMEOUT, &["apply", "-auto-approve", "-input=false", "-no-color"])
    }

    pub fn destroy_command(&self) -> Command {
        self.command("terraform destroy", DESTROY_TIMEOUT, &["destroy", "-auto-approve", "-input=false", "-no-color"])
    }

    pub async fn init(&self, cancel: &CancellationToken) -> Result<Output, TerraformError> {
        // Terraform's plugin cache is not safe for concurrent inits: take turns.
        static SHARED_CACHE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let _turn = match self.terraform.plugin_cache {
            Some(_) => Some(SHARED_CACHE.lock().await),
            None => None,
        };
        Ok(self.init_command().run(cancel).await?)
    }

    pub async fn apply(&self, cancel: &CancellationToken) -> Result<Output, TerraformError> {
        Ok(self.apply_command().run(cancel).await?)
    }

    /// Destroy is never cancelled by the run's Ctrl-C: it IS the cleanup.
    pub async fn destroy(&self) -> Result<Output, TerraformError> {
        Ok(self.destroy_command().run(&CancellationToken::new()).await?)
    }

    /// The config's outputs, each rendered as a string.
    pub async fn outputs(&self, cancel: &CancellationToken) -> Result<BTreeMap<String, String>, TerraformError> {
        let out = self.command("terraform output", QUICK_TIMEOUT, &["output", "-json", "-no-color"]).run(cancel).await?;
        parse_outputs(&out.stdout)
    }

    /// The state file: every working copy keeps its state in its own folder
    /// (a remote backend is replaced by a local one), so it is read there.
    pub fn state_file(&self) -> PathBuf {
        self.path.join("terraform.tfstate")
    }

    /// Whether the state still holds resources (after a failed destroy, or a
    /// refused apply), data sources aside.
    pub fn state_is_empty(&self) -> bool {
        let Ok(text) = std::fs::read_to_string(self.state_file()) else { return true };
        let state: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        !state["resources"].as_array().into_iter().flatten().any(|resource| resource["mode"] == "managed")
    }
}

pub fn parse_outputs(json: &str) -> Result<BTreeMap<String, String>, TerraformError> {
    let parsed: BTreeMap<String, serde_json::Value> = serde_json::from_str(json).map_err(|e| TerraformError::Outputs(e.to_string()))?;
    Ok(parsed
        .into_iter()
        .map(|(name, output)| {
            let value = match output.get("value") {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            (name, value)
        })
        .collect())
}

/// What the harness sets in one provider block, merged over the config's
/// own (or standing alone when the config has none): an emulator's endpoints,
/// the role that reaches the block's account; None when neither applies.
fn provider_block(endpoint: Option<&str>, role: Option<&str>, region: &str, standalone: bool, alias: Option<&str>) -> Option<String> {
    let setting = |name: &str, value: &str| format!("  {name:<27} = \"{value}\"\n");
    let mut body = alias.map(|a| setting("alias", a)).unwrap_or_default();
    if standalone {
        body += &setting("region", region);
    }
    if let Some(endpoint) = endpoint {
        body += &format!(
            r#"  skip_credentials_validation = true
  # An emulator answers at once or not at all: fail fast when it is gone.
  max_retries                 = 2
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true

  endpoints {{
    iam = "{endpoint}"
    sts = "{endpoint}"
    s3  = "{endpoint}"
    ec2 = "{endpoint}"
    kms = "{endpoint}"
    organizations = "{endpoint}"
    rds = "{endpoint}"
  }}
"#
        );
    }
    if let Some(arn) = role {
        body += &format!("\n  # The account this block addresses, reached as its Organization reaches it.\n  assume_role {{\n    role_arn     = \"{arn}\"\n    session_name = \"harness\"\n  }}\n");
    }
    let what = match (endpoint, role) {
        (None, None) => return None,
        (Some(_), None) => "points the aws provider at the emulator",
        (Some(_), Some(_)) => "points the aws provider at the emulator, in the account its block addresses",
        (None, Some(_)) => "the account this aws provider block addresses",
    };
    Some(format!("# Written by the harness: {what}.\nprovider \"aws\" {{\n{body}}}\n"))
}

/// What a config's files are, as one number: every file's path and bytes
/// (terraform's own folders and state aside). Equal fingerprints: nothing to
/// apply, no terraform call. Not a security hash, a change detector.
/// The local modules it calls count as its files.
pub fn fingerprint(config: &Path) -> std::io::Result<u64> {
    use std::hash::Hasher;
    let modules = RootModule::read(config).map(|m| m.local_modules).unwrap_or_default();
    let mut hash = fnv::FnvHasher::default();
    for dir in std::iter::once(config.to_path_buf()).chain(modules) {
        let mut files = Vec::new();
        collect_files(&dir, &dir, &mut files)?;
        files.sort();
        hash.write(dir.to_string_lossy().as_bytes());
        for relative in files {
            hash.write(relative.to_string_lossy().as_bytes());
            hash.write_u8(0);
            hash.write(&std::fs::read(dir.join(&relative))?);
            hash.write_u8(0);
        }
    }
    Ok(hash.finish())
}

fn collect_files(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == ".terraform" || name.starts_with("terraform.tfstate") || name == ".terraform.lock.hcl" {
            continue;
        }
        if entry.file_type()?.is_dir() {
            collect_files(root, &entry.path(), files)?;
        } else {
            files.push(entry.path().strip_prefix(root).unwrap_or(&entry.path()).to_path_buf());
        }
    }
    Ok(())
}

/// Copy a config folder, leaving out local state and caches; returns the
/// top-level entries it created.
fn copy_config(from: &Path, to: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut created = Vec::new();
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if name_str == ".terraform" || name_str.starts_with("terraform.tfstate") || name_str == ".terraform.lock.hcl" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type()?.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_config(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
        created.push(target);
    }
    Ok(created)
}

#[cfg(test)]
mod tests;
