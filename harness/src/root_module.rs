//! What a Terraform root module declares that the harness adapts to, read
//! with an HCL parser (not by matching lines): its outputs, its `aws`
//! provider blocks (aliases included), the backend it names, the local
//! modules it calls (directly or through them), and the variables it takes
//! of those the harness sets (`name_prefix`, `region`, `tags`). A user's
//! repository runs as it is: local modules are copied beside it, a remote
//! backend gives way to a local one for the run, `name_prefix` is optional.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The variables the harness gives every root module that declares them.
pub const HARNESS_VARIABLES: [&str; 3] = ["name_prefix", "region", "tags"];

#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    #[error("config folder {0} does not exist or holds no *.tf file; pass an existing Terraform root module with --config")]
    Missing(PathBuf),
    #[error("{file}: not valid HCL ({message}); `terraform validate` there shows where")]
    Syntax { file: PathBuf, message: String },
    #[error("{file}: module `{name}` calls {source_dir}, which does not exist; fix its `source`")]
    ModuleMissing { file: PathBuf, name: String, source_dir: PathBuf },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootModule {
    pub outputs: BTreeSet<String>,
    /// Each `provider "aws"` block: None for the default one, else its alias.
    pub aws_providers: Vec<Option<String>>,
    /// Those of them with an `assume_role` block of their own: the config
    /// reaches its account itself, and the harness leaves that to it.
    pub assuming_providers: BTreeSet<Option<String>>,
    /// The backend the `terraform` block names (`s3`, `remote`, ...).
    pub backend: Option<String>,
    /// Every local module folder it calls, directly or through another (canonical paths).
    pub local_modules: BTreeSet<PathBuf>,
    /// The variables it declares (the harness sets those of [`HARNESS_VARIABLES`] among them).
    pub variables: BTreeSet<String>,
    /// The resource types it manages, its local modules' included (`aws_iam_role`, ...).
    pub resource_types: BTreeSet<String>,
}

/// One module folder's `*.tf` files, parsed.
fn bodies(dir: &Path) -> Result<Vec<(PathBuf, hcl::Body)>, ModuleError> {
    let entries = std::fs::read_dir(dir).map_err(|_| ModuleError::Missing(dir.to_path_buf()))?;
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "tf")).collect();
    files.sort();
    if files.is_empty() {
        return Err(ModuleError::Missing(dir.to_path_buf()));
    }
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).map_err(|e| ModuleError::Syntax { file: file.clone(), message: e.to_string() })?;
            let body = hcl::parse(&text).map_err(|e| ModuleError::Syntax { file: file.clone(), message: e.to_string().lines().next().unwrap_or_default().to_string() })?;
            Ok((file, body))
        })
        .collect()
}

fn label(block: &hcl::Block, index: usize) -> Option<&str> {
    block.labels().get(index).map(hcl::BlockLabel::as_str)
}

fn string_attribute<'b>(body: &'b hcl::Body, key: &str) -> Option<&'b str> {
    body.attributes().find(|a| a.key() == key).and_then(|a| match a.expr() {
        hcl::Expression::String(s) => Some(s.as_str()),
        _ => None,
    })
}

impl RootModule {
    pub fn read(dir: &Path) -> Result<Self, ModuleError> {
        let mut module = RootModule::default();
        for (file, body) in bodies(dir)? {
            for block in body.blocks() {
                match (block.identifier(), label(block, 0)) {
                    ("output", Some(name)) => {
                        module.outputs.insert(name.to_string());
                    }
                    ("variable", Some(name)) => {
                        module.variables.insert(name.to_string());
                    }
                    ("resource", Some(kind)) => {
                        module.resource_types.insert(kind.to_string());
                    }
                    ("provider", Some("aws")) => {
                        let alias = string_attribute(block.body(), "alias").map(str::to_string);
                        if block.body().blocks().any(|b| b.identifier() == "assume_role") {
                            module.assuming_providers.insert(alias.clone());
                        }
                        module.aws_providers.push(alias);
                    }
                    ("terraform", _) => {
                        if let Some(backend) = block.body().blocks().find(|b| b.identifier() == "backend") {
                            module.backend = label(backend, 0).map(str::to_string);
                        }
                    }
                    _ => {}
                }
            }
            collect_modules(&file, &body, &mut module.local_modules)?;
        }
        for dir in &module.local_modules {
            for (_, body) in bodies(dir)? {
                let kinds = body.blocks().filter(|b| b.identifier() == "resource").filter_map(|b| label(b, 0));
                module.resource_types.extend(kinds.map(str::to_string));
            }
        }
        Ok(module)
    }

    pub fn takes_name_prefix(&self) -> bool {
        self.variables.contains("name_prefix")
    }

    /// A resource it manages that changes an AWS Organization's guardrails, if any.
    /// The resource that changes an account's own S3 Block Public Access, if the config manages it.
    pub fn account_public_access_resource(&self) -> Option<&'static str> {
        const CHANGING: &str = "aws_s3_account_public_access_block";
        self.resource_types.contains(CHANGING).then_some(CHANGING)
    }

    pub fn organization_resource(&self) -> Option<&'static str> {
        const CHANGING: [&str; 3] = ["aws_organizations_organization", "aws_organizations_policy", "aws_organizations_policy_attachment"];
        CHANGING.into_iter().find(|kind| self.resource_types.contains(*kind))
    }
}

/// The local module folders `body` (in `file`) calls, and theirs, into `found`.
fn collect_modules(file: &Path, body: &hcl::Body, found: &mut BTreeSet<PathBuf>) -> Result<(), ModuleError> {
    let here = file.parent().unwrap_or(Path::new("."));
    for block in body.blocks().filter(|b| b.identifier() == "module") {
        let Some(source) = string_attribute(block.body(), "source") else { continue };
        // Terraform's rule: a local path starts with ./ or ../; anything else is a registry or remote source.
        if !(source.starts_with("./") || source.starts_with("../")) {
            continue;
        }
        let name = label(block, 0).unwrap_or_default().to_string();
        let dir = here.join(source).canonicalize().map_err(|_| ModuleError::ModuleMissing { file: file.to_path_buf(), name, source_dir: here.join(source) })?;
        if found.insert(dir.clone()) {
            for (inner_file, inner) in bodies(&dir)? {
                collect_modules(&inner_file, &inner, found)?;
            }
        }
    }
    Ok(())
}

/// Where a root module and the local modules it calls sit relative to one
/// another: their nearest common folder, and the root's path under it. A
/// working copy reproduces that layout so every `source = "../x"` resolves.
pub fn layout(root: &Path, modules: &BTreeSet<PathBuf>) -> (PathBuf, PathBuf) {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let mut base = root.clone();
    for module in modules {
        while !module.starts_with(&base) {
            if !base.pop() {
                break;
            }
        }
    }
    let relative = root.strip_prefix(&base).map(Path::to_path_buf).unwrap_or_default();
    (base, relative)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, files: &[(&str, &str)]) {
        for (name, text) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }

    #[test]
    fn reads_providers_backend_outputs_variables_and_modules_through_modules() {
        let repo = tempfile::tempdir().unwrap();
        write(
            repo.path(),
            &[
                (
                    "live/main.tf",
                    r#"
terraform {
  backend "s3" {
    bucket = "company-state"
    key    = "live.tfstate"
  }
}
provider "aws" { region = "eu-west-1" }
provider "aws" {
  alias  = "prod"
  region = "eu-west-1"
}
variable "tags" { type = map(string) }
variable "environment" {}
module "reader" { source = "../modules/reader" }
module "vpc" { source = "terraform-aws-modules/vpc/aws" }
output "role_arn" { value = module.reader.arn }
"#,
                ),
                ("modules/reader/main.tf", "module \"policy\" {\n  source = \"../policy\"\n}\noutput \"arn\" { value = \"x\" }\n"),
                ("modules/policy/main.tf", "output \"json\" { value = \"{}\" }\n"),
            ],
        );
        let live = repo.path().join("live");
        let module = RootModule::read(&live).unwrap();
        assert_eq!(module.aws_providers, [None, Some("prod".to_string())]);
        assert_eq!(module.backend.as_deref(), Some("s3"));
        assert_eq!(module.outputs, BTreeSet::from(["role_arn".to_string()]));
        assert_eq!(module.variables, BTreeSet::from(["environment".to_string(), "tags".to_string()]));
        assert!(!module.takes_name_prefix());
        let modules: Vec<String> = module.local_modules.iter().map(|m| m.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(modules, ["policy", "reader"], "a module's own local module too; the registry one is not local");
        let (base, relative) = layout(&live, &module.local_modules);
        assert_eq!((base, relative), (repo.path().canonicalize().unwrap(), PathBuf::from("live")));
    }

    #[test]
    fn a_missing_module_and_bad_hcl_are_named_with_their_file() {
        let repo = tempfile::tempdir().unwrap();
        write(repo.path(), &[("main.tf", "module \"gone\" {\n  source = \"./nowhere\"\n}\n")]);
        let err = RootModule::read(repo.path()).unwrap_err();
        assert!(matches!(err, ModuleError::ModuleMissing { ref name, .. } if name == "gone"), "{err}");
        write(repo.path(), &[("main.tf", "resource \"aws_iam_role\" {\n")]);
        let err = RootModule::read(repo.path()).unwrap_err();
        assert!(matches!(err, ModuleError::Syntax { .. }) && err.to_string().contains("main.tf"), "{err}");
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(RootModule::read(empty.path()), Err(ModuleError::Missing(_))));
    }

    #[test]
    fn a_module_beside_nothing_lays_out_as_itself() {
        let dir = tempfile::tempdir().unwrap();
        let (base, relative) = layout(dir.path(), &BTreeSet::new());
        assert_eq!((base, relative), (dir.path().canonicalize().unwrap(), PathBuf::new()));
    }
}
