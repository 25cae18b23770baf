//! `harness run`: apply each scenario's config, run its steps, report,
//! destroy; with `--keep`/`--reuse`, on an emulator kept under a lease.

use std::path::Path;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use super::{CommandError, Invocation, Selection, kept_dir, reporters, sole};
use crate::access::SnapshotMode;
use crate::cli::{AccessArgs, RunArgs, TargetKind};
use crate::kept::{self, Lease, LeaseError};
use crate::partition::Partition;
use crate::reporter::{Reporter, Reporters, progress::Progress, table::Table};
use crate::runner::{self, RunOptions, Runner, SimulatorChoice, SsmOptions};
use crate::scenario::Scenario;
use crate::target::{Consistency, Target, TargetSpec, moto::MotoOptions};
use crate::terraform::{self, Terraform};

pub async fn run(args: RunArgs) -> Result<i32, CommandError> {
    run_checking(args, SnapshotMode::Check).await
}

/// `harness access`: a run whose scenarios are all analysed, their snapshots compared or written.
pub async fn access(args: AccessArgs) -> Result<i32, CommandError> {
    run_checking(args.run, if args.accept { SnapshotMode::Accept } else { SnapshotMode::Show }).await
}

async fn run_checking(args: RunArgs, access: SnapshotMode) -> Result<i32, CommandError> {
    let invocation = Invocation::resolve(&args.target)?;
    let Selection { scenarios, left_out } = invocation.load_scenarios(&args.scenarios, args.config.as_deref())?;
    check_configs(&scenarios)?;
    check_accounts(&scenarios, &invocation)?;
    check_organization_changes(&scenarios, &invocation)?;
    let scenarios = match args.partition {
        Some(partition) => shard(scenarios, partition)?,
        None => scenarios,
    };
    let selection = Selection { scenarios, left_out };
    let options = RunOptions {
        jobs: args.jobs,
        strict: args.strict,
        always_destroy: args.target.always_destroy,
        consistency: consistency(&args),
        ssm: SsmOptions { overlay: !args.no_ssm_overlay, online_deadline: args.ssm_timeout },
        access,
        simulator: match (&args.simulator_endpoint, args.no_simulator) {
            (_, true) => SimulatorChoice::Off,
            (Some(url), false) => SimulatorChoice::At(url.clone()),
            (None, false) => SimulatorChoice::OnAws,
        },
        ..RunOptions::default()
    };
    let console: Vec<Box<dyn Reporter>> = vec![Box::new(Progress::new(std::io::stderr())), Box::new(Table::new(std::io::stdout()))];
    let reporters = reporters(console, &args.files)?;
    if args.kept.keep || args.kept.reuse {
        run_kept(&selection.scenarios, &args, &invocation, options, reporters).await
    } else {
        invocation.execute(&selection, options, reporters).await
    }
}

/// IAM propagation as the flags say, from the target's own default.
fn consistency(args: &RunArgs) -> Option<Consistency> {
    (args.allow_deadline.is_some() || args.deny_probes.is_some() || args.deny_interval.is_some()).then(|| {
        let base = if args.target.target == Some(TargetKind::Aws) { Consistency::eventual() } else { Consistency::immediate() };
        Consistency {
            allow_deadline: args.allow_deadline.unwrap_or(base.allow_deadline),
            deny_probes: args.deny_probes.unwrap_or(base.deny_probes).max(1),
            deny_interval: args.deny_interval.unwrap_or(base.deny_interval),
        }
    })
}

/// `run --keep` / `--reuse`: the run on the kept emulator (or one started to
/// be kept), every scenario's state kept, then the lease written (renewed).
async fn run_kept(scenarios: &[Scenario], args: &RunArgs, invocation: &Invocation, options: RunOptions, reporters: Reporters) -> Result<i32, CommandError> {
    let dir = kept_dir(args.kept.kept_dir.clone());
    let cancel = CancellationToken::new();
    let (lease, target, terraform) = acquire(args, invocation, &dir, &cancel).await?;
    let options = RunOptions { keep: true, probed: lease.as_ref().map(|l| (l.capabilities, l.probe_notes.clone())), ..options };
    let run_id = lease.as_ref().map(|l| l.run_id.clone()).unwrap_or_else(runner::new_run_id);
    let kept = Mutex::new(lease.as_ref().map(|l| l.scenarios.clone()).unwrap_or_default());
    let runner = Runner { target: target.clone(), terraform, options, cancel: cancel.clone(), run_id: run_id.clone(), kept };
    let result = runner.run(scenarios, &|event| reporters.emit(&event)).await;
    let scenarios = std::mem::take(&mut *runner.kept.lock().unwrap_or_else(|p| p.into_inner()));
    drop(runner);
    let emulator = match lease {
        Some(lease) => lease.emulator,
        None => sole(target).await.and_then(Target::detach).ok_or(CommandError::KeptTargetGone)?,
    };
    let expires_at = kept::now() + args.kept.lease.as_secs();
    let (capabilities, probe_notes) = (result.target.capabilities, result.target.probe_notes.clone());
    let lease = Lease { owner: kept::owner(), expires_at, run_id, emulator, capabilities, probe_notes, scenarios };
    lease.write(&dir)?;
    eprintln!(
        "kept: moto at {} and the state of {} until {} (lease {}); `harness run --reuse` reruns on it, `harness release` ends it now",
        lease.emulator.endpoint,
        lease.scenarios.keys().cloned().collect::<Vec<_>>().join(", "),
        kept::when(expires_at),
        Lease::path(&dir).display()
    );
    reporters.finish(&result)?;
    Ok(result.exit_code(cancel.is_cancelled()))
}

/// The kept emulator (`--reuse`: reached again, its lease renewed at once)
/// or a new one started to be kept (`--keep`: refused while a live lease
/// holds the folder; an expired one is released first).
async fn acquire(args: &RunArgs, invocation: &Invocation, dir: &Path, cancel: &CancellationToken) -> Result<(Option<Lease>, Arc<Target>, Terraform), CommandError> {
    let mut terraform = Terraform::locate(args.target.terraform.as_deref())?;
    terraform.arrange_providers();
    let existing = Lease::read(dir)?;
    let expires_at = kept::now() + args.kept.lease.as_secs();
    crate::interrupt::watch(cancel.clone(), false, false);
    if args.kept.reuse {
        let mut lease = existing.ok_or_else(|| LeaseError::NoLease(dir.to_path_buf()))?;
        if lease.expired() {
            let _ = kept::release(dir, Some(&lease));
            return Err(LeaseError::Expired { dir: dir.to_path_buf(), at: kept::when(lease.expires_at) }.into());
        }
        let target = Target::reconnect(&lease.emulator)
            .await
            .map_err(|err| LeaseError::Gone { endpoint: lease.emulator.endpoint.clone(), cause: crate::sdk::error_chain(&err) })?;
        lease.expires_at = expires_at;
        lease.write(dir)?;
        return Ok((Some(lease), Arc::new(target), terraform));
    }
    match existing {
        Some(lease) if !lease.expired() => {
            return Err(LeaseError::Occupied { dir: dir.to_path_buf(), until: kept::when(lease.expires_at), owner: lease.owner }.into());
        }
        Some(lease) => kept::release(dir, Some(&lease))?,
        None => {}
    }
    if !matches!(invocation.kind, TargetKind::Auto | TargetKind::Moto) {
        return Err(CommandError::Usage("--keep keeps the embedded emulator only: drop --target/--endpoint (or use --target moto)".into()));
    }
    std::fs::create_dir_all(dir).map_err(|source| CommandError::KeptDir { path: dir.to_path_buf(), source })?;
    kept::write_expiry(dir, expires_at)?;
    let moto = MotoOptions { python: args.target.moto_python.clone(), port: args.target.port, lease: Some(Lease::path(dir)), ..MotoOptions::default() };
    eprintln!("starting the target (moto, to be kept) ...");
    match TargetSpec::Moto(moto).start("--keep: the embedded emulator, kept under a lease".into(), cancel).await {
        Ok(target) => Ok((None, Arc::new(target), terraform)),
        Err(err) => {
            let _ = kept::release(dir, None);
            Err(err.into())
        }
    }
}

/// What the scenarios' configs ask of the run, said before it starts: a
/// remote backend gives way to a local one; a config with no `name_prefix`
/// names its resources itself, so two such scenarios in one run (on one
/// target) would collide: refused; an `aws` provider alias of a config the
/// admin applies must name an account of its scenario (else it would act in
/// an account nobody chose).
pub fn check_configs(scenarios: &[Scenario]) -> Result<(), CommandError> {
    let mut unprefixed: Vec<&str> = Vec::new();
    for scenario in scenarios {
        for stage in &scenario.stages {
            // A config that cannot be read was named already (its outputs were checked).
            let Ok(module) = terraform::read_module(&stage.config) else { continue };
            if let Some(backend) = module.backend.as_deref().filter(|b| *b != "local") {
                eprintln!("[{}] {} declares backend \"{backend}\": the run keeps its state in its working copy (a local backend); yours is not touched", scenario.name, stage.config.display());
            }
            // A config the admin applies acts in the scenario's accounts: every alias must name one.
            let admin_applies = !scenario.accounts.is_empty() && stage.apply.as_principal.is_none();
            if let Some(alias) = module.aws_providers.iter().flatten().find(|alias| admin_applies && scenario.accounts.get(alias).is_none()) {
                return Err(CommandError::AliasWithoutAccount {
                    scenario: scenario.name.clone(),
                    config: stage.config.display().to_string(),
                    alias: alias.clone(),
                    accounts: scenario.accounts.names().join(", "),
                });
            }
            if !module.takes_name_prefix() && !unprefixed.contains(&scenario.name.as_str()) {
                eprintln!("[{}] {} declares no `name_prefix` variable: its resources keep the names it gives them and may collide with another run's on the same target", scenario.name, stage.config.display());
                unprefixed.push(&scenario.name);
            }
        }
    }
    if unprefixed.len() > 1 {
        return Err(CommandError::Usage(format!(
            "{} name their resources themselves (no `name_prefix`), so they would collide on one target; run them one per run, or declare `variable \"name_prefix\"` and use it in every name",
            unprefixed.join(" and ")
        )));
    }
    Ok(())
}

/// Before anything starts, on a real account: every account a scenario names
/// has a sandbox id, and every `--sandbox-account NAME=ID` names one of them.
pub fn check_accounts(scenarios: &[Scenario], invocation: &Invocation) -> Result<(), CommandError> {
    if invocation.kind != TargetKind::Aws {
        return Ok(());
    }
    let sandbox = &invocation.sandbox;
    let named: Vec<&str> = scenarios.iter().flat_map(|s| s.accounts.names()).collect();
    if let Some(name) = sandbox.named.keys().find(|name| !named.contains(&name.as_str())) {
        let known = if named.is_empty() { "none names any".to_string() } else { format!("they name: {}", named.join(", ")) };
        return Err(CommandError::SandboxAccountUnused { name: name.clone(), known });
    }
    for scenario in scenarios {
        scenario.accounts.with_ids(&sandbox.named).map_err(|source| CommandError::Accounts { scenario: Some(scenario.name.clone()), source })?;
    }
    Ok(())
}

/// On a real account a config that would create or attach an Organization's
/// policies runs only where `--allow-organization-changes` names its scenario;
/// one that changes the account's own Block Public Access never runs.
pub fn check_organization_changes(scenarios: &[Scenario], invocation: &Invocation) -> Result<(), CommandError> {
    if invocation.kind != TargetKind::Aws {
        return Ok(());
    }
    for scenario in scenarios {
        if let Some(config) = super::account_setting_change(scenario) {
            return Err(CommandError::AccountSettingChange { scenario: scenario.name.clone(), config });
        }
    }
    for scenario in scenarios.iter().filter(|s| !invocation.args.allow_organization_changes.contains(&s.name)) {
        if let Some((config, resource)) = super::organization_change(scenario) {
            return Err(CommandError::OrganizationChange { scenario: scenario.name.clone(), config, resource: resource.to_string() });
        }
    }
    Ok(())
}

/// The scenarios of one shard, said on stderr; a shard with none is refused.
pub fn shard(scenarios: Vec<Scenario>, partition: Partition) -> Result<Vec<Scenario>, CommandError> {
    let all = scenarios.len();
    let selected: Vec<String> = partition.select(scenarios.iter().map(|s| s.name.as_str())).into_iter().map(str::to_string).collect();
    if selected.is_empty() {
        return Err(CommandError::Usage(format!("--partition {partition} selects none of the {all} scenarios; use fewer shards, or count: (every shard gets one while N <= {all})")));
    }
    eprintln!("partition {partition}: {} of {all} scenarios: {}", selected.len(), selected.join(", "));
    Ok(scenarios.into_iter().filter(|s| selected.contains(&s.name)).collect())
}

#[cfg(test)]
mod tests {
    use super::super::tests::run_args;
    use super::*;
    use crate::exit_code;

    /// The cross-account scenario with its `[accounts]` table replaced, in a folder of its own.
    fn cross_account_with(accounts: &str) -> (tempfile::TempDir, Scenario) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(root.join("scenarios/cross_account_deployer.toml")).unwrap();
        let text = text.replacen("[accounts]\ndev = \"111111111111\"\nprod = \"222222222222\"\n", accounts, 1).replace("${accounts.prod}", "${accounts.staging}");
        let file = dir.path().join("accounts.toml");
        std::fs::write(&file, text).unwrap();
        let scenario = Scenario::load(&file, &root.join("terraform_configuration"), None).unwrap();
        (dir, scenario)
    }

    #[test]
    fn an_alias_that_names_no_account_is_refused() {
        let (_dir, scenario) = cross_account_with("[accounts]\ndev = \"111111111111\"\nstaging = \"222222222222\"\n");
        let err = check_configs(&[scenario]).unwrap_err();
        assert_eq!(err.exit_code(), exit_code::ALIAS_WITHOUT_ACCOUNT);
        assert!(err.to_string().contains("alias \"prod\", which names no account of the scenario (its [accounts]: dev, staging)"), "{err}");
    }

    #[test]
    fn sandbox_accounts_and_scenario_accounts_must_match() {
        let (_dir, scenario) = cross_account_with("[accounts]\ndev = \"111111111111\"\nstaging = \"222222222222\"\n");
        let invocation = |extra: &[&str]| Invocation::resolve(&run_args(&[&["--target", "aws", "--sandbox-account", "123456789012"], extra].concat()).target).unwrap();
        let unused = check_accounts(std::slice::from_ref(&scenario), &invocation(&["--sandbox-account", "qa=333333333333"])).unwrap_err();
        assert_eq!(unused.exit_code(), exit_code::ACCOUNT_UNMAPPED);
        let unmapped = check_accounts(std::slice::from_ref(&scenario), &invocation(&["--sandbox-account", "dev=111111111111"])).unwrap_err();
        assert_eq!(unmapped.exit_code(), exit_code::ACCOUNT_UNMAPPED);
        assert!(unmapped.to_string().starts_with("[accounts] account `staging` has no sandbox id"), "{unmapped}");
        let both = ["--sandbox-account", "dev=111111111111", "--sandbox-account", "staging=222222222222"];
        check_accounts(std::slice::from_ref(&scenario), &invocation(&both)).unwrap();
        // Elsewhere nothing is mapped: nothing to check.
        check_accounts(&[scenario], &Invocation::resolve(&run_args(&["--target", "moto"]).target).unwrap()).unwrap();
    }

    #[test]
    fn on_a_real_account_a_config_that_changes_the_organization_needs_its_scenario_named() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let scenario = Scenario::load(&root.join("scenarios/organization_guardrails.toml"), &root.join("terraform_configuration"), None).unwrap();
        let aws = |extra: &[&str]| Invocation::resolve(&run_args(&[&["--target", "aws", "--sandbox-account", "123456789012"], extra].concat()).target).unwrap();
        let refused = check_organization_changes(std::slice::from_ref(&scenario), &aws(&[])).unwrap_err();
        assert_eq!(refused.exit_code(), exit_code::ORGANIZATION_CHANGE);
        assert!(refused.to_string().contains("manages aws_organizations_organization") && refused.to_string().ends_with("--allow-organization-changes organization_guardrails to let it"), "{refused}");
        check_organization_changes(std::slice::from_ref(&scenario), &aws(&["--allow-organization-changes", "organization_guardrails"])).unwrap();
        // On an emulator the Organization is the emulator's own.
        check_organization_changes(&[scenario], &Invocation::resolve(&run_args(&["--target", "moto"]).target).unwrap()).unwrap();
    }

    #[test]
    fn on_a_real_account_a_config_that_changes_the_accounts_block_public_access_never_runs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("open_account")).unwrap();
        std::fs::write(dir.path().join("open_account/main.tf"), "resource \"aws_s3_account_public_access_block\" \"this\" {\n  restrict_public_buckets = false\n}\n").unwrap();
        let text = "config = \"open_account\"\n\n[principals.anyone]\nanonymous = true\n\n[[steps]]\nas = \"anyone\"\naction = \"s3:ListBucket\"\nbucket = \"b\"\nexpect = \"denied\"\n";
        let scenario = Scenario::parse(&dir.path().join("open.toml"), text, dir.path(), None).unwrap();
        let aws = |extra: &[&str]| Invocation::resolve(&run_args(&[&["--target", "aws", "--sandbox-account", "123456789012"], extra].concat()).target).unwrap();
        let refused = check_organization_changes(std::slice::from_ref(&scenario), &aws(&["--allow-organization-changes", "open"])).unwrap_err();
        assert_eq!(refused.exit_code(), exit_code::ACCOUNT_SETTING_CHANGE);
        assert!(refused.to_string().contains("the harness never changes it on a real account"), "{refused}");
        check_organization_changes(&[scenario], &Invocation::resolve(&run_args(&["--target", "moto"]).target).unwrap()).unwrap();
    }

    #[test]
    fn a_shard_that_selects_nothing_is_refused() {
        let (_dir, scenario) = cross_account_with("[accounts]\ndev = \"111111111111\"\nstaging = \"222222222222\"\n");
        let err = shard(vec![scenario.clone()], "2/2".parse().unwrap()).unwrap_err();
        assert_eq!(err.exit_code(), exit_code::USAGE);
        assert_eq!(shard(vec![scenario], "1/2".parse().unwrap()).unwrap().len(), 1);
    }
}
