use super::*;

fn config_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

#[test]
fn reads_declared_outputs() {
    let dir = config_dir(&[("outputs.tf", "output \"a\" {\n value = 1\n}\n  output \"b_c\" { value = 2 }\n"), ("x.txt", "output \"no\"")]);
    let outputs = declared_outputs(dir.path()).unwrap();
    assert_eq!(outputs.into_iter().collect::<Vec<_>>(), ["a", "b_c"]);
}

#[test]
fn a_missing_config_is_reported() {
    let err = declared_outputs(Path::new("/nonexistent/config")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/config does not exist"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(declared_outputs(empty.path()), Err(TerraformError::ConfigMissing(_))));
}

#[test]
fn working_copy_points_the_provider_at_the_emulator_and_leaves_the_config_alone() {
    let config = config_dir(&[("main.tf", "provider \"aws\" {\n  region = var.region\n}\n"), ("terraform.tfstate", "{}")]);
    let tf = Terraform { binary: PathBuf::from("terraform"), mirror: None, plugin_cache: None };
    let target = ProviderTarget { region: "us-east-1".into(), endpoint: Some("http://127.0.0.1:4000".into()), env: vec![], account_roles: BTreeMap::new(), outlives_run: false };
    let vars = RunVariables { name_prefix: "p-1".into(), region: "us-east-1".into(), tags: BTreeMap::new(), extra: BTreeMap::new(), saml_metadata: None, saml_metadata_files: Vec::new() };
    let copy = WorkingCopy::create(&tf, config.path(), &target, &vars).unwrap();
    let override_text = std::fs::read_to_string(copy.path().join(OVERRIDE_FILE)).unwrap();
    assert!(override_text.contains("s3  = \"http://127.0.0.1:4000\""));
    assert!(!override_text.contains("region"), "an override must not replace the config's region");
    assert!(!copy.path().join("terraform.tfstate").exists(), "local state is not copied");
    assert!(copy.path().join(VARS_FILE).exists());
    assert_eq!(std::fs::read_dir(config.path()).unwrap().count(), 2, "the user's folder is untouched");
}

// A hard stop removes the copy while the runner may still prepare a
// command (its cleanup): preparing it must not make the folder again.
#[test]
fn a_command_prepared_after_the_copy_was_removed_leaves_no_folder() {
    let config = config_dir(&[("main.tf", "provider \"aws\" {}\n")]);
    let tf = Terraform { binary: PathBuf::from("terraform"), mirror: None, plugin_cache: None };
    let target = ProviderTarget { region: "us-east-1".into(), endpoint: Some("http://127.0.0.1:4000".into()), env: vec![], account_roles: BTreeMap::new(), outlives_run: false };
    let vars = RunVariables { name_prefix: "p-1".into(), region: "us-east-1".into(), tags: BTreeMap::new(), extra: BTreeMap::new(), saml_metadata: None, saml_metadata_files: Vec::new() };
    let copy = WorkingCopy::create(&tf, config.path(), &target, &vars).unwrap();
    let _ = copy.command("terraform plan", Duration::from_secs(1), &["plan"]);
    assert!(copy.root.join(".tmp").is_dir(), "terraform's TMPDIR lives in the copy");
    std::fs::remove_dir_all(&copy.root).unwrap();
    let _ = copy.command("terraform destroy", Duration::from_secs(1), &["destroy"]);
    assert!(!copy.root.exists(), "preparing a command brought the removed copy back");
}

#[test]
fn switching_config_keeps_state_and_harness_files() {
    let first = config_dir(&[("main.tf", "provider \"aws\" {}\n"), ("old.tf", "# only in the first\n")]);
    let second = config_dir(&[("main.tf", "# no provider block\n")]);
    let tf = Terraform { binary: PathBuf::from("terraform"), mirror: Some(PathBuf::from("/mirror")), plugin_cache: None };
    let target = ProviderTarget { region: "us-east-1".into(), endpoint: Some("http://127.0.0.1:4000".into()), env: vec![], account_roles: BTreeMap::new(), outlives_run: false };
    let vars = RunVariables { name_prefix: "p-1".into(), region: "us-east-1".into(), tags: BTreeMap::new(), extra: BTreeMap::new(), saml_metadata: None, saml_metadata_files: Vec::new() };
    let mut copy = WorkingCopy::create(&tf, first.path(), &target, &vars).unwrap();
    std::fs::write(copy.path().join("terraform.tfstate"), "{}").unwrap();
    copy.use_config(second.path()).unwrap();
    let p = copy.path();
    assert!(!p.join("old.tf").exists(), "the previous config's files are gone");
    assert!(p.join("terraform.tfstate").exists(), "the state stays");
    assert!(p.join(VARS_FILE).exists() && p.join(CLI_CONFIG_FILE).exists());
    assert!(!p.join(OVERRIDE_FILE).exists() && p.join(PROVIDER_FILE).exists(), "a config without provider block gets a standalone one");
    assert!(copy.destroy_hint().contains("TF_CLI_CONFIG_FILE=.harness-terraform.tfrc"));
}

#[test]
fn a_repository_is_copied_with_its_local_modules_its_backend_replaced_and_every_provider_pointed() {
    let repo = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = repo.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("live/main.tf", "terraform {\n  backend \"s3\" {\n    bucket = \"state\"\n  }\n}\nprovider \"aws\" {}\nprovider \"aws\" {\n  alias = \"prod\"\n}\nvariable \"tags\" {}\nmodule \"r\" {\n  source = \"../modules/r\"\n}\n");
    write("modules/r/main.tf", "output \"arn\" { value = \"x\" }\n");
    let tf = Terraform { binary: PathBuf::from("terraform"), mirror: None, plugin_cache: None };
    let target = ProviderTarget { region: "us-east-1".into(), endpoint: Some("http://127.0.0.1:4000".into()), env: vec![], account_roles: BTreeMap::new(), outlives_run: false };
    let vars = RunVariables { name_prefix: "p-1".into(), region: "us-east-1".into(), tags: BTreeMap::from([("harness".into(), "x".into())]), extra: BTreeMap::new(), saml_metadata: None, saml_metadata_files: Vec::new() };
    let before = fingerprint(&repo.path().join("live")).unwrap();
    let copy = WorkingCopy::create(&tf, &repo.path().join("live"), &target, &vars).unwrap();
    assert!(copy.path().ends_with("live") && copy.root().join("modules/r/main.tf").is_file(), "the module sits where `../modules/r` finds it");
    let backend = std::fs::read_to_string(copy.path().join(BACKEND_FILE)).unwrap();
    assert!(backend.contains("backend \"local\" {}"), "{backend}");
    let overrides = std::fs::read_to_string(copy.path().join(OVERRIDE_FILE)).unwrap();
    assert_eq!(overrides.matches("provider \"aws\"").count(), 2, "{overrides}");
    assert!(overrides.contains("alias                       = \"prod\""), "{overrides}");
    let vars: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(copy.path().join(VARS_FILE)).unwrap()).unwrap();
    assert_eq!(vars.as_object().unwrap().keys().collect::<Vec<_>>(), ["tags"], "only what the config declares");
    // The repository itself is untouched; an edit in the module changes the config's fingerprint.
    assert_eq!(fingerprint(&repo.path().join("live")).unwrap(), before);
    write("modules/r/main.tf", "output \"arn\" { value = \"y\" }\n");
    assert_ne!(fingerprint(&repo.path().join("live")).unwrap(), before);
}

#[test]
fn each_provider_block_reaches_its_account_through_its_role_unless_it_assumes_one_itself() {
    let config = config_dir(&[(
        "main.tf",
        "provider \"aws\" {}\nprovider \"aws\" {\n  alias = \"prod\"\n}\nprovider \"aws\" {\n  alias = \"own\"\n  assume_role {\n    role_arn = \"arn:aws:iam::333333333333:role/theirs\"\n  }\n}\n",
    )]);
    let tf = Terraform { binary: PathBuf::from("terraform"), mirror: None, plugin_cache: None };
    let role = |id: &str| format!("arn:aws:iam::{id}:role/OrganizationAccountAccessRole");
    let account_roles = BTreeMap::from([(None, role("111111111111")), (Some("prod".to_string()), role("222222222222")), (Some("own".to_string()), role("333333333333"))]);
    let vars = RunVariables { name_prefix: "p-1".into(), region: "us-east-1".into(), tags: BTreeMap::new(), extra: BTreeMap::new(), saml_metadata: None, saml_metadata_files: Vec::new() };
    for endpoint in [Some("http://127.0.0.1:4000".to_string()), None] {
        let target = ProviderTarget { region: "us-east-1".into(), endpoint: endpoint.clone(), env: vec![], account_roles: account_roles.clone(), outlives_run: false };
        let copy = WorkingCopy::create(&tf, config.path(), &target, &vars).unwrap();
        let overrides = std::fs::read_to_string(copy.path().join(OVERRIDE_FILE)).unwrap();
        let blocks: Vec<&str> = overrides.split("provider \"aws\"").skip(1).collect();
        assert_eq!(blocks.len(), if endpoint.is_some() { 3 } else { 2 }, "{overrides}");
        assert!(blocks[0].contains(&format!("role_arn     = \"{}\"", role("111111111111"))), "the unaliased block: the first account's\n{overrides}");
        assert!(blocks[1].contains("\"prod\"") && blocks[1].contains(&role("222222222222")), "{overrides}");
        assert!(!overrides.contains(&role("333333333333")), "a block with its own assume_role keeps it\n{overrides}");
        assert_eq!(overrides.contains("endpoints {"), endpoint.is_some(), "{overrides}");
    }
    let plain = ProviderTarget { region: "us-east-1".into(), endpoint: None, env: vec![], account_roles: BTreeMap::new(), outlives_run: false };
    let copy = WorkingCopy::create(&tf, config.path(), &plain, &vars).unwrap();
    assert!(!copy.path().join(OVERRIDE_FILE).exists(), "a real account in the credentials' own account: the config as it is");
}

#[test]
fn outputs_become_strings() {
    let outputs = parse_outputs(r#"{"a":{"value":"x","type":"string"},"n":{"value":3,"type":"number"}}"#).unwrap();
    assert_eq!(outputs["a"], "x");
    assert_eq!(outputs["n"], "3");
}

#[test]
fn mirror_cli_config_names_the_mirror() {
    let text = cli_config_for_mirror(Path::new("/opt/mirror"));
    assert!(text.contains("path    = \"/opt/mirror\""));
    assert!(text.contains("exclude = [\"registry.terraform.io/hashicorp/aws\"]"));
}
