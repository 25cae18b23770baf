//! The HTML report as a browser builds it: headless Chromium (Debian's
//! `chromium`) opens the page `merge-reports --report-html` writes for a fixed
//! run, its DOM holds every graph, edge, reason and row, nothing is logged to
//! its console, and a screenshot is left in target/ for a person to look at.
//! Without Chromium the trial is ignored, unless HARNESS_REQUIRE_CHROMIUM=1
//! (CI), which fails it.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use libtest_mimic::{Arguments, Failed, Trial};

fn project(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("HARNESS_CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    path.is_file().then_some(path)
}

/// Chromium headless on a local file, with nothing of its own going to the
/// network (the machine has none; its background requests would be refused).
fn open(page: &Path, extra: &[&str]) -> Result<(String, String), Failed> {
    let profile = tempfile::tempdir()?;
    let out = Command::new(chromium().ok_or("chromium is not installed (apt-get install chromium)")?)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync", "--enable-logging=stderr", "--log-level=0", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()?;
    if !out.status.success() {
        return Err(format!("chromium exited with {}: {}", out.status, String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok((String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned()))
}

/// What the page logged to its console (script errors included).
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

fn the_report_page_renders_whole_with_no_console_errors() -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let page = dir.path().join("report.html");
    let merged = Command::new(env!("CARGO_BIN_EXE_harness"))
        .arg("merge-reports")
        .arg(project("harness/tests/fixtures/reports/fixed_run.json"))
        .arg("--report-html")
        .arg(&page)
        .output()?;
    // The fixed run's destroy kept a state: exit 6 (cleanup failed), the page written all the same.
    if merged.status.code() != Some(harness::exit_code::CLEANUP_FAILED) || !page.is_file() {
        return Err(format!("merge-reports: {} {}", merged.status, String::from_utf8_lossy(&merged.stderr)).into());
    }
    let (dom, stderr) = open(&page, &["--dump-dom"])?;
    let count = |needle: &str| dom.matches(needle).count();
    // The fixed run: three scenarios, six steps (each an edge and a row), three denials.
    let expected = [("<svg class=\"graph\"", 2), ("<g class=\"edge\"", 6), ("<tr class=\"step\"", 6), ("<li class=\"reason\"", 3), ("<g class=\"phase\"", 12)];
    for (needle, n) in expected {
        if count(needle) != n {
            return Err(format!("the browser's DOM has {} of `{needle}`, expected {n}", count(needle)).into());
        }
    }
    if !dom.contains("stroke=\"#e67e00\"") || !dom.contains("no statement of the identity policies") {
        return Err("the DOM lost the UNVERIFIED edge's colour or a denial's reason".into());
    }
    if let [first, ..] = console_lines(&stderr)[..] {
        return Err(format!("the page logged to the console: {first}").into());
    }
    let shot = project("target/report-page.png");
    open(&page, &["--window-size=1400,2200", &format!("--screenshot={}", shot.display())])?;
    let png = std::fs::read(&shot)?;
    if !png.starts_with(b"\x89PNG") || png.len() < 10_000 {
        return Err(format!("no screenshot at {} ({} bytes)", shot.display(), png.len()).into());
    }
    Ok(())
}

/// The console check itself: a page with a script error is caught.
fn a_page_with_a_script_error_is_caught() -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let page = dir.path().join("broken.html");
    std::fs::write(&page, "<!DOCTYPE html><html><body><script>undefined_function();</script></body></html>")?;
    let (_, stderr) = open(&page, &["--dump-dom"])?;
    match console_lines(&stderr)[..] {
        [line, ..] if line.contains("ReferenceError") => Ok(()),
        _ => Err(format!("the script error was not seen on the console:\n{stderr}").into()),
    }
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let required = std::env::var("HARNESS_REQUIRE_CHROMIUM").is_ok_and(|v| v == "1" || v == "true");
    let missing = chromium().is_none();
    if missing {
        eprintln!("browser: chromium not found{}", if required { "" } else { "; the trials are ignored (HARNESS_REQUIRE_CHROMIUM=1 fails them)" });
    }
    let trials: Vec<Trial> = [
        ("browser::the_report_page_renders_whole_with_no_console_errors", the_report_page_renders_whole_with_no_console_errors as fn() -> Result<(), Failed>),
        ("browser::a_page_with_a_script_error_is_caught", a_page_with_a_script_error_is_caught),
    ]
    .into_iter()
    .map(|(name, test)| Trial::test(name, test).with_ignored_flag(missing && !required))
    .collect();
    libtest_mimic::run(&args, trials).exit_code()
}
