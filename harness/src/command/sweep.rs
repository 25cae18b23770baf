//! `harness sweep`: find what harness runs left on a target (in the admin's
//! account and each `--sandbox-account NAME=ID`) and, with `--delete`,
//! delete it; `harness release`: end what `run --keep` kept.

use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::{CommandError, Invocation, kept_dir};
use crate::accounts::Accounts;
use crate::cli::{ReleaseArgs, SweepArgs};
use crate::kept::{self, Lease, LeaseError};
use crate::reporter::progress;

pub async fn sweep(args: SweepArgs) -> Result<i32, CommandError> {
    let invocation = Invocation::resolve(&args.target)?;
    let target = invocation.start(&CancellationToken::new()).await?;
    eprintln!("{}", progress::target_line(&target.description));
    let spared = honour_lease(&kept_dir(args.kept_dir.clone()), args.delete);
    // The admin's own account, then each `--sandbox-account NAME=ID` through its access role.
    let mut accounts = vec![(format!("account {}", target.admin.account_id), target.admin_config().await)];
    let reached = match Accounts::new(invocation.sandbox.named.clone()) {
        Ok(named) => target.reach_accounts(&named).await.map_err(CommandError::from),
        Err(err) => Err(CommandError::Usage(err.to_string())),
    };
    match reached {
        // An account reached without a role is the admin's own, swept already.
        Ok(reached) => accounts.extend(reached.into_iter().filter(|r| r.role_arn.is_some()).map(|r| (format!("account {} ({})", r.account.id, r.account.name), r.config))),
        Err(err) => {
            target.stop().await;
            return Err(err);
        }
    }
    // Every account is swept whatever another's sweep met: each error is said as it comes.
    let mut code = crate::exit_code::SUCCESS;
    for (label, admin) in &accounts {
        if accounts.len() > 1 {
            println!("{label}:");
        }
        if let Err(err) = sweep_account(admin, &args, spared.as_deref()).await {
            eprintln!("error: {err}");
            code = err.exit_code();
        }
    }
    target.stop().await;
    Ok(code)
}

/// What harness runs left in one account: listed, and deleted with --delete.
async fn sweep_account(admin: &aws_config::SdkConfig, args: &SweepArgs, spared: Option<&str>) -> Result<(), CommandError> {
    let found = crate::sweep::find(admin, args.older_than).await.map_err(|err| CommandError::Sweep(err.to_string()))?;
    let (kept, found): (Vec<_>, Vec<_>) = found.into_iter().partition(|l| spared.is_some_and(|run| l.of_run(run)));
    for leftover in kept {
        println!("{:?} {}: left alone (kept under a live lease)", leftover.kind, leftover.name);
    }
    if found.is_empty() {
        println!("nothing of the harness's older than {} found", humantime::format_duration(args.older_than));
        return Ok(());
    }
    let mut failures = 0;
    for leftover in &found {
        let action = if args.delete {
            match crate::sweep::delete(admin, leftover).await {
                Ok(()) => "deleted".to_string(),
                Err(code) => {
                    failures += 1;
                    format!("NOT deleted ({code})")
                }
            }
        } else {
            "would delete (dry run; pass --delete)".to_string()
        };
        println!("{:?} {} ({}s old): {action}", leftover.kind, leftover.name, leftover.age_s);
    }
    if failures > 0 { Err(CommandError::NotDeleted(format!("{failures} resources could not be deleted"))) } else { Ok(()) }
}

/// The sweep and a kept target: a live lease's run is spared (its id); an
/// expired lease is released (with --delete; else said).
fn honour_lease(dir: &Path, delete: bool) -> Option<String> {
    let lease = Lease::read(dir).ok().flatten()?;
    if !lease.expired() {
        eprintln!("a target is kept under a lease until {} ({}): what it keeps is left alone", kept::when(lease.expires_at), lease.owner);
        return Some(lease.run_id);
    }
    match delete {
        true => match kept::release(dir, Some(&lease)) {
            Ok(()) => eprintln!("released the expired lease in {} (expired {})", dir.display(), kept::when(lease.expires_at)),
            Err(err) => eprintln!("error: {}", crate::sdk::error_chain(&err)),
        },
        false => eprintln!("the lease in {} expired at {}: --delete releases it", dir.display(), kept::when(lease.expires_at)),
    }
    None
}

/// `harness release`: end the kept emulator, remove the kept state.
pub fn release(args: ReleaseArgs) -> Result<i32, CommandError> {
    let dir = kept_dir(args.kept_dir);
    let lease = match Lease::read(&dir) {
        Ok(None) => {
            eprintln!("nothing is kept in {}", dir.display());
            return Ok(crate::exit_code::SUCCESS);
        }
        Ok(lease) => lease,
        Err(LeaseError::Malformed { .. }) => None,
        Err(err) => return Err(err.into()),
    };
    kept::release(&dir, lease.as_ref())?;
    match lease {
        Some(lease) => eprintln!("released: the emulator at {} and the state of {}", lease.emulator.endpoint, lease.scenarios.keys().cloned().collect::<Vec<_>>().join(", ")),
        None => eprintln!("released: {} (its lease was unreadable)", dir.display()),
    }
    Ok(crate::exit_code::SUCCESS)
}
