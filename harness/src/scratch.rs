//! The harness's temporary folders (working copies, the emulator's files):
//! each is removed when its owner drops it, and all of them at once by a hard
//! stop (a second Ctrl-C), which leaves the process without running any
//! destructor.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// The folders that exist now, and whether a hard stop has begun (then no new one is made).
struct Folders {
    paths: BTreeSet<PathBuf>,
    stopping: bool,
}

static FOLDERS: Mutex<Folders> = Mutex::new(Folders { paths: BTreeSet::new(), stopping: false });

fn folders() -> MutexGuard<'static, Folders> {
    FOLDERS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A temporary folder named `<prefix><random>` in the system's temporary folder.
#[derive(Debug)]
pub struct Scratch {
    dir: Option<tempfile::TempDir>,
}

/// Make a folder, registered at once (a hard stop either sees it or prevents it).
pub fn folder(prefix: &str) -> std::io::Result<Scratch> {
    let mut folders = folders();
    if folders.stopping {
        return Err(std::io::Error::new(std::io::ErrorKind::Interrupted, "the harness is stopping"));
    }
    let dir = tempfile::Builder::new().prefix(prefix).tempdir()?;
    folders.paths.insert(dir.path().to_path_buf());
    Ok(Scratch { dir: Some(dir) })
}

impl Scratch {
    pub fn path(&self) -> &Path {
        self.dir.as_ref().map(tempfile::TempDir::path).unwrap_or(Path::new(""))
    }

    /// Leave the folder on disk when dropped (a working copy whose state a
    /// cleanup still needs): it stays this run's, so a hard stop still
    /// removes it unless it spares it.
    pub fn keep(mut self) -> PathBuf {
        self.dir.take().expect("a scratch folder is kept once").keep()
    }

    /// Hand the folder over to what outlives the run (a kept emulator's
    /// lease): no longer this run's, so not even a hard stop removes it.
    pub fn hand_over(self) -> PathBuf {
        let path = self.path().to_path_buf();
        folders().paths.remove(&path);
        self.keep()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            folders().paths.remove(dir.path());
        }
    }
}

/// The hard stop: no folder is made from now on; every one that exists is
/// removed, but those in `spared` (and under them). Returns the folders left.
pub fn remove_all(spared: &[PathBuf]) -> Vec<PathBuf> {
    let mut folders = folders();
    folders.stopping = true;
    let mut left = Vec::new();
    for path in std::mem::take(&mut folders.paths) {
        let is_spared = spared.iter().any(|s| s.starts_with(&path) || path.starts_with(s));
        if is_spared || std::fs::remove_dir_all(&path).is_err() {
            left.push(path);
        }
    }
    left
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_folder_goes_with_its_owner_unless_kept() {
        let gone = folder("harness-test-").unwrap();
        let path = gone.path().to_path_buf();
        assert!(path.is_dir());
        drop(gone);
        assert!(!path.exists());
        let kept = folder("harness-test-").unwrap().keep();
        assert!(kept.is_dir() && folders().paths.contains(&kept), "a kept folder is still the run's");
        folders().paths.remove(&kept);
        std::fs::remove_dir_all(kept).unwrap();
        let handed = folder("harness-test-").unwrap().hand_over();
        assert!(handed.is_dir() && !folders().paths.contains(&handed));
        std::fs::remove_dir_all(handed).unwrap();
    }
}
