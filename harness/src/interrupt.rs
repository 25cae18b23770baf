//! Ctrl-C. The first one cancels the run, which still cleans up (destroys
//! what was applied where the target outlives the run; elsewhere the
//! emulator's end is the cleanup). A second one stops waiting: every child
//! (terraform, its providers, the emulator) is stopped and reaped, every
//! container removed and every temporary folder deleted, except the working
//! copies whose state is still needed to destroy what they applied on a
//! target that outlives the run: those are named, with the command that
//! finishes the cleanup. Any further Ctrl-C changes nothing.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::{exit_code, process, scratch, target, terraform};

/// How long terraform gets, on a target that outlives the run, to stop on
/// its own and save its state before it is killed.
const TERRAFORM_GRACE: Duration = Duration::from_secs(3);
/// How long the kernel gets to end what was killed.
const REAP_DEADLINE: Duration = Duration::from_secs(10);
/// How long the engine gets to remove the run's containers.
const CONTAINER_DEADLINE: Duration = Duration::from_secs(15);

/// Set when the second Ctrl-C begins the hard stop, which ends the process.
static HARD_STOPPING: AtomicBool = AtomicBool::new(false);
/// Longer than a hard stop takes (terraform's grace, the reaping, the containers).
const HARD_STOP_BOUND: Duration = Duration::from_secs(60);

/// Called when a command has returned, before the runtime ends: while a
/// hard stop is under way the command's own end (a destroy it refused to
/// start, say) must not win the race to exit; the hard stop ends the process.
pub async fn settle() {
    if HARD_STOPPING.load(Ordering::SeqCst) {
        let _ = tokio::time::timeout(HARD_STOP_BOUND, std::future::pending::<()>()).await;
    }
}

/// What a hard stop left, for the person who pressed Ctrl-C twice.
#[derive(Debug, Default)]
pub struct HardStop {
    /// Processes that still ran at the deadline (pids).
    pub still_running: Vec<i32>,
    /// The destroy command of each working copy kept for it.
    pub destroy_hints: Vec<String>,
    /// Temporary folders that could not be deleted.
    pub not_deleted: Vec<PathBuf>,
    pub target_outlives_run: bool,
}

/// Watch for Ctrl-C. First: stop and clean up (destroy still runs where the
/// run `destroys`). Second: stop waiting, reap every child, say what is left
/// to clean up by hand, and leave at once: the run's own tasks may still be
/// waiting on what was just killed, so this is the one place outside `main`
/// that ends the process.
pub fn watch(cancel: CancellationToken, target_outlives_run: bool, destroys: bool) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!("\n{}", first_message(destroys));
        cancel.cancel();
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        // Any later Ctrl-C reaches tokio's handler, which nobody awaits: it changes nothing.
        HARD_STOPPING.store(true, Ordering::SeqCst);
        for line in hard_stop(target_outlives_run).await.lines() {
            eprintln!("{line}");
        }
        std::process::exit(exit_code::INTERRUPTED);
    });
}

/// The line said at the first Ctrl-C.
pub fn first_message(destroys: bool) -> String {
    // Say what will really happen: on the embedded emulator nothing is destroyed, it ends.
    let cleanup = if destroys { "destroying what was applied" } else { "the emulator's end is the cleanup" };
    format!("interrupted: stopping; {cleanup} (Ctrl-C again to stop waiting)")
}

/// The second Ctrl-C: stop and reap every child, remove the containers and
/// the temporary folders (but the working copies a cleanup still needs).
pub async fn hard_stop(target_outlives_run: bool) -> HardStop {
    // On an emulator that ends with the run nothing of terraform's is worth waiting for.
    let grace = if target_outlives_run { TERRAFORM_GRACE } else { Duration::ZERO };
    let still_running = tokio::task::spawn_blocking(move || process::kill_every_child(grace, REAP_DEADLINE)).await.unwrap_or_default();
    let _ = tokio::time::timeout(CONTAINER_DEADLINE, target::container::remove_active()).await;
    let (spared, destroy_hints) = if target_outlives_run { terraform::active_copies().into_iter().unzip() } else { (Vec::new(), Vec::new()) };
    let not_deleted = scratch::remove_all(&spared).into_iter().filter(|p| !spared.iter().any(|s| s.starts_with(p))).collect();
    HardStop { still_running, destroy_hints, not_deleted, target_outlives_run }
}

impl HardStop {
    /// What a person reads before the harness exits.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec!["stopped waiting; cleanup may be incomplete.".to_string()];
        if !self.still_running.is_empty() {
            lines.push(format!("these processes of the run still ran when the harness gave up on them: {:?}", self.still_running));
        }
        if self.target_outlives_run {
            lines.push("terraform was stopped; its working copy is kept. Finish the cleanup with the target's credentials:".into());
            lines.extend(self.destroy_hints.iter().map(|hint| format!("  {hint}")));
            lines.push("  (what terraform was creating when it stopped may be missing from its state: `harness sweep` lists what runs left)".into());
        } else {
            lines.push("the emulator stopped with the harness: nothing it held outlives this run.".into());
        }
        lines.extend(self.not_deleted.iter().map(|path| format!("could not delete {}: remove it by hand", path.display())));
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lines_name_every_kept_working_copy_and_what_was_not_deleted() {
        let stop = HardStop {
            destroy_hints: vec!["cd /tmp/harness-tf-x && terraform destroy".into()],
            not_deleted: vec![PathBuf::from("/tmp/harness-moto-y")],
            target_outlives_run: true,
            ..HardStop::default()
        };
        let text = stop.lines().join("\n");
        assert!(text.contains("\n  cd /tmp/harness-tf-x && terraform destroy\n"), "{text}");
        assert!(text.contains("could not delete /tmp/harness-moto-y"), "{text}");
        let embedded = HardStop::default().lines().join("\n");
        assert!(embedded.contains("nothing it held outlives this run") && !embedded.contains("destroy"), "{embedded}");
    }
}
