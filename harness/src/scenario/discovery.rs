//! Where scenario files are: every file of the scenarios folder, or the one
//! a `--scenario` argument names.

use std::path::{Path, PathBuf};

use super::{EXTENSION, ScenarioError};

/// All scenario files of a folder, sorted by name.
pub fn discover(dir: &Path) -> Result<Vec<PathBuf>, ScenarioError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ScenarioError::Read { path: dir.to_path_buf(), source })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == EXTENSION))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(ScenarioError::NoneFound { dir: dir.to_path_buf() });
    }
    Ok(files)
}

/// A `--scenario` argument: a file path, or the name of a file in `dir`.
pub fn find(dir: &Path, name_or_path: &str) -> Result<PathBuf, ScenarioError> {
    let as_path = Path::new(name_or_path);
    if as_path.is_file() {
        return Ok(as_path.to_path_buf());
    }
    let files = discover(dir)?;
    files
        .iter()
        .find(|file| file.file_stem().is_some_and(|stem| stem == name_or_path))
        .cloned()
        .ok_or_else(|| ScenarioError::Unknown {
            name: name_or_path.to_string(),
            known: files.iter().filter_map(|f| f.file_stem().map(|s| s.to_string_lossy().into_owned())).collect(),
        })
}

