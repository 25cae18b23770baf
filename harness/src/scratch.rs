//! The harness's temporary folders (working copies, the emulator's files):
//! each is removed when its owner drops it, and all of them at once by a hard
//! stop (a second Ctrl-C), which leaves the process without running any
//! destructor. A harness killed outright (SIGKILL) runs nothing at all: each
//! folder names its process in an owner file, and the next harness to start
//! removes the folders whose process is gone.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The folders that exist now, and whether a hard stop has begun (then no new one is made).
struct Folders {
    paths: BTreeSet<PathBuf>,
    stopping: bool,
}

/// Every folder of a run. A folder leaves it only once it is gone from disk
/// (or handed over), and its removal holds the lock: a hard stop, which
/// ends the process as soon as it returns, never races a removal half done.
pub struct Registry(Mutex<Folders>);

static RUN: Registry = Registry::new();

/// The file in a folder that names the process it belongs to. A folder that
/// outlives its run on purpose (kept for a cleanup, handed to a lease) loses it.
const OWNER_FILE: &str = ".harness-owner";

/// Every folder the harness makes starts with this.
const PREFIX: &str = "harness-";

/// A temporary folder named `<prefix><random>` in the system's temporary folder.
pub struct Scratch {
    dir: Option<tempfile::TempDir>,
    registry: &'static Registry,
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Scratch").field(&self.path()).finish()
    }
}

/// Make a folder of this run.
pub fn folder(prefix: &str) -> std::io::Result<Scratch> {
    RUN.folder(prefix)
}

/// The hard stop: no folder is made from now on; every one that exists is
/// removed, but those in `spared` (and under them). Returns the folders left.
pub fn remove_all(spared: &[PathBuf]) -> Vec<PathBuf> {
    RUN.remove_all(spared)
}

impl Registry {
    const fn new() -> Self {
        Self(Mutex::new(Folders { paths: BTreeSet::new(), stopping: false }))
    }

    fn folders(&self) -> MutexGuard<'_, Folders> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Make a folder, registered at once (a hard stop either sees it or prevents it).
    pub fn folder(&'static self, prefix: &str) -> std::io::Result<Scratch> {
        let mut folders = self.folders();
        if folders.stopping {
            return Err(std::io::Error::new(std::io::ErrorKind::Interrupted, "the harness is stopping"));
        }
        let dir = tempfile::Builder::new().prefix(prefix).tempdir()?;
        std::fs::write(dir.path().join(OWNER_FILE), this_process())?;
        folders.paths.insert(dir.path().to_path_buf());
        Ok(Scratch { dir: Some(dir), registry: self })
    }

    pub fn remove_all(&self, spared: &[PathBuf]) -> Vec<PathBuf> {
        let mut folders = self.folders();
        folders.stopping = true;
        let mut left = Vec::new();
        for path in std::mem::take(&mut folders.paths) {
            let is_spared = spared.iter().any(|s| s.starts_with(&path) || path.starts_with(s));
            if is_spared || std::fs::remove_dir_all(&path).is_err() {
                disown(&path);
                left.push(path);
            }
        }
        left
    }
}

impl Scratch {
    pub fn path(&self) -> &Path {
        self.dir.as_ref().map(tempfile::TempDir::path).unwrap_or(Path::new(""))
    }

    /// Leave the folder on disk when dropped (a working copy whose state a
    /// cleanup still needs): it stays this run's, so a hard stop still
    /// removes it unless it spares it.
    pub fn keep(mut self) -> PathBuf {
        let path = self.dir.take().expect("a scratch folder is kept once").keep();
        disown(&path);
        path
    }

    /// Spare the folder from a later start's removal should this run be
    /// killed outright (a working copy whose state names what a target that
    /// outlives the run still holds); the run still removes it when done.
    pub fn outlive_a_kill(&self) {
        disown(self.path());
    }

    /// Hand the folder over to what outlives the run (a kept emulator's
    /// lease): no longer this run's, so not even a hard stop removes it.
    pub fn hand_over(self) -> PathBuf {
        let path = self.path().to_path_buf();
        self.registry.folders().paths.remove(&path);
        self.keep()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let Some(dir) = self.dir.take() else { return };
        let mut folders = self.registry.folders();
        let path = dir.path().to_path_buf();
        if !folders.paths.remove(&path) {
            // A hard stop took it: it removed it, spared it or named it.
            let _ = dir.keep();
            return;
        }
        if dir.close().is_err() && path.exists() {
            // Still on disk (something wrote into it meanwhile): a hard stop retries it and names it.
            folders.paths.insert(path);
        }
    }
}

/// A process as its owner file names it: its id and its start time (in
/// clock ticks since boot), so a later process given the same id is not taken for it.
fn process_line(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses; the start time is field 22.
    let (_, rest) = stat.rsplit_once(')')?;
    let start = rest.split_whitespace().nth(19)?;
    Some(format!("{pid} {start}"))
}

fn this_process() -> String {
    process_line(std::process::id()).unwrap_or_else(|| std::process::id().to_string())
}

/// The folder outlives its run on purpose: no later start may take it for a leftover.
fn disown(path: &Path) {
    let _ = std::fs::remove_file(path.join(OWNER_FILE));
}

/// Remove the folders in the system's temporary folder whose harness process
/// is gone (it was killed before it could remove them). Called as a command starts.
pub fn remove_orphans() {
    remove_orphans_in(&std::env::temp_dir());
}

fn remove_orphans_in(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else { return };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if !entry.file_name().to_string_lossy().starts_with(PREFIX) {
            continue;
        }
        let Ok(owner) = std::fs::read_to_string(path.join(OWNER_FILE)) else { continue };
        let pid = owner.split_whitespace().next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| process_line(pid).as_deref() != Some(owner.trim())) {
            tracing::info!("removing {}, left by harness process {}, which is gone", path.display(), owner.trim());
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> &'static Registry {
        Box::leak(Box::new(Registry::new()))
    }

    #[test]
    fn a_scratch_folder_goes_with_its_owner_unless_kept() {
        let run = registry();
        let gone = run.folder("harness-test-").unwrap();
        let path = gone.path().to_path_buf();
        assert!(path.is_dir());
        drop(gone);
        assert!(!path.exists() && run.folders().paths.is_empty());
        let kept = run.folder("harness-test-").unwrap().keep();
        assert!(kept.is_dir() && run.folders().paths.contains(&kept), "a kept folder is still the run's");
        assert!(!kept.join(OWNER_FILE).exists(), "a kept folder would be removed by the next start once the run ends");
        let handed = run.folder("harness-test-").unwrap().hand_over();
        assert!(handed.is_dir() && !run.folders().paths.contains(&handed));
        assert_eq!(run.remove_all(&[]), Vec::<PathBuf>::new());
        assert!(!kept.exists(), "a hard stop removes a kept folder it does not spare");
        assert!(handed.is_dir(), "a handed-over folder outlives even a hard stop");
        std::fs::remove_dir_all(handed).unwrap();
    }

    #[test]
    fn a_working_copy_on_a_lasting_target_outlives_a_kill_but_not_its_run() {
        let run = registry();
        let copy = run.folder("harness-test-").unwrap();
        copy.outlive_a_kill();
        let path = copy.path().to_path_buf();
        assert!(!path.join(OWNER_FILE).exists(), "a later start would remove the state a killed run's destroy needs");
        drop(copy);
        assert!(!path.exists(), "a run that ends removes its working copy all the same");
    }

    #[test]
    fn a_folder_spared_by_a_hard_stop_survives_its_owner() {
        let run = registry();
        let copy = run.folder("harness-test-").unwrap();
        let path = copy.path().to_path_buf();
        assert_eq!(run.remove_all(std::slice::from_ref(&path)), vec![path.clone()]);
        drop(copy);
        assert!(path.is_dir(), "the working copy a printed destroy command needs was removed");
        assert!(run.folder("harness-test-").is_err(), "no folder is made once a hard stop began");
        std::fs::remove_dir_all(path).unwrap();
    }

    #[test]
    fn a_start_removes_the_folders_of_gone_processes_only() {
        let base = tempfile::tempdir().unwrap();
        let folder = |name: &str, owner: Option<&str>| {
            let path = base.path().join(name);
            std::fs::create_dir(&path).unwrap();
            std::fs::write(path.join("terraform.tfstate"), "{}").unwrap();
            if let Some(owner) = owner {
                std::fs::write(path.join(OWNER_FILE), owner).unwrap();
            }
            path
        };
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let gone_pid = gone.id();
        gone.wait().unwrap();
        let orphan = folder("harness-tf-orphan", Some(&format!("{gone_pid} 1")));
        // Our own id with another start time: the process that made it is gone and its id reused.
        let reused = folder("harness-moto-reused", Some(&format!("{} 1", std::process::id())));
        let live = folder("harness-tf-live", Some(&this_process()));
        let kept = folder("harness-tf-kept", None);
        let foreign = folder("other-tool", Some(&format!("{gone_pid} 1")));
        remove_orphans_in(base.path());
        assert!(!orphan.exists() && !reused.exists(), "the folders of gone processes are still there");
        assert!(live.is_dir() && kept.is_dir() && foreign.is_dir(), "a live run's, a kept or a foreign folder was removed");
    }

    // The hard stop ends the process the moment it returns, so an owner's
    // drop on another thread must never be caught half done: every folder is
    // then either gone or in the list of those left.
    #[test]
    fn a_hard_stop_during_owners_drops_leaves_no_unnamed_folder() {
        let run = registry();
        let owned: Vec<Scratch> = (0..4).map(|_| run.folder("harness-test-").unwrap()).collect();
        let paths: Vec<PathBuf> = owned.iter().map(|s| s.path().to_path_buf()).collect();
        for (n, path) in paths.iter().enumerate() {
            for i in 0..if n == 0 { 5000 } else { 10 } {
                std::fs::write(path.join(i.to_string()), "x").unwrap();
            }
        }
        let dropping = std::thread::spawn(move || drop(owned));
        // The hard stop comes once the first folder's drop has begun (it no longer counts as the run's).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while run.folders().paths.contains(&paths[0]) {
            assert!(std::time::Instant::now() < deadline, "the owner's drop never began");
            std::thread::yield_now();
        }
        let left = run.remove_all(&[]);
        let unnamed: Vec<&PathBuf> = paths.iter().filter(|p| p.exists() && !left.contains(p)).collect();
        dropping.join().unwrap();
        assert!(unnamed.is_empty(), "a hard stop returned while {unnamed:?} was being removed");
        paths.iter().for_each(|p| _ = std::fs::remove_dir_all(p));
    }
}
