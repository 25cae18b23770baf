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

/// Measures the page as the browser laid it out and appends what it found
/// (`OK`, or one problem a line) as `<pre id="layout-check">`.
const LAYOUT_CHECK: &str = r#"<script>
(function () {
  const problems = [];
  const apart = (a, b) => a.x + a.width <= b.x + 1 || b.x + b.width <= a.x + 1 || a.y + a.height <= b.y + 1 || b.y + b.height <= a.y + 1;
  document.querySelectorAll('svg').forEach((svg) => {
    const view = svg.viewBox.baseVal;
    const texts = [...svg.querySelectorAll('text')].map((t) => ({ text: t.textContent, box: t.getBBox() }));
    for (const { text, box } of texts) {
      if (box.x < view.x - 0.5 || box.y < view.y - 0.5 || box.x + box.width > view.x + view.width + 0.5 || box.y + box.height > view.y + view.height + 0.5) {
        problems.push('cut off: ' + text);
      }
    }
    if (!svg.classList.contains('graph')) return;
    texts.forEach((a, i) => texts.slice(i + 1).forEach((b) => { if (!apart(a.box, b.box)) problems.push('labels overlap: ' + a.text + ' | ' + b.text); }));
    svg.querySelectorAll('g.node').forEach((node) => {
      const rect = node.querySelector('rect').getBBox();
      node.querySelectorAll('text').forEach((t) => {
        const box = t.getBBox();
        if (box.x < rect.x || box.x + box.width > rect.x + rect.width) problems.push('wider than its node: ' + t.textContent);
      });
    });
    const ids = [...svg.querySelectorAll('g.node')].map((n) => n.dataset.node);
    ids.filter((id, i) => ids.indexOf(id) !== i).forEach((id) => problems.push('drawn twice: ' + id));
    const scale = svg.getBoundingClientRect().width / view.width;
    if (scale < 0.99) problems.push('shrunk to ' + scale.toFixed(2) + ': ' + svg.getAttribute('aria-label'));
  });
  if (document.documentElement.scrollWidth > window.innerWidth) problems.push('the page is ' + document.documentElement.scrollWidth + ' px wide in a ' + window.innerWidth + ' px window');
  const out = document.createElement('pre');
  out.id = 'layout-check';
  out.textContent = problems.length ? problems.join('\n') : 'OK';
  document.body.appendChild(out);
})();
</script>"#;

/// The page of a report, written by `merge-reports --report-html`.
fn page_of(report: &str, dir: &Path) -> Result<PathBuf, Failed> {
    let page = dir.join("report.html");
    let merged = Command::new(env!("CARGO_BIN_EXE_harness")).arg("merge-reports").arg(project(report)).arg("--report-html").arg(&page).output()?;
    if !page.is_file() {
        return Err(format!("merge-reports wrote no page: {} {}", merged.status, String::from_utf8_lossy(&merged.stderr)).into());
    }
    Ok(page)
}

/// What the layout check found on `page` in a window `width` pixels wide.
fn layout_problems(page: &Path, width: u32) -> Result<Vec<String>, Failed> {
    let checked = page.with_extension("checked.html");
    std::fs::write(&checked, std::fs::read_to_string(page)?.replace("</body>", &format!("{LAYOUT_CHECK}\n</body>")))?;
    let (dom, stderr) = open(&checked, &[&format!("--window-size={width},2000"), "--dump-dom"])?;
    if let [first, ..] = console_lines(&stderr)[..] {
        return Err(format!("the layout check logged to the console: {first}").into());
    }
    let found = dom.split("<pre id=\"layout-check\">").nth(1).and_then(|rest| rest.split("</pre>").next()).ok_or("the layout check did not run")?;
    Ok(found.lines().filter(|l| *l != "OK").map(|l| l.replace("&amp;", "&").replace("&gt;", ">").replace("&lt;", "<")).collect())
}

/// A config of fifteen principals: every node drawn once, every label whole
/// and apart from every other, nothing shrunk, and the page (its steps table
/// included) as wide as a 1300-pixel window.
fn fifteen_principals_keep_every_label_whole_and_apart() -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let page = page_of("harness/tests/fixtures/reports/fifteen_principals.json", dir.path())?;
    let dom = open(&page, &["--dump-dom"])?.0;
    // Both pictures are there, with every principal of the fixture.
    for (needle, at_least) in [("<svg class=\"graph\"", 1), ("<svg class=\"graph access\"", 1), ("data-node=\"principal:ci-pipeline-user-", 6), ("data-node=\"principal:aws_iam_user.ci_pipeline_", 12)] {
        if dom.matches(needle).count() < at_least {
            return Err(format!("the page has fewer than {at_least} of `{needle}`").into());
        }
    }
    match layout_problems(&page, 1300)?.as_slice() {
        [] => Ok(()),
        problems => Err(format!("{} layout problems at 1300 px:\n{}", problems.len(), problems.join("\n")).into()),
    }
}

/// The layout check itself: labels drawn on top of each other and a page
/// wider than its window are caught.
fn a_page_with_overlapping_labels_is_caught() -> Result<(), Failed> {
    let dir = tempfile::tempdir()?;
    let page = dir.path().join("overlap.html");
    let svg = "<svg class=\"graph\" aria-label=\"t\" width=\"200\" height=\"50\" viewBox=\"0 0 200 50\"><text x=\"10\" y=\"20\">one label</text><text x=\"14\" y=\"22\">another</text></svg>";
    std::fs::write(&page, format!("<!DOCTYPE html><html><body>{svg}<div style=\"width:2000px\">wide</div></body></html>"))?;
    let problems = layout_problems(&page, 1300)?;
    let seen = |what: &str| problems.iter().any(|p| p.starts_with(what));
    if seen("labels overlap: one label | another") && seen("the page is 2") {
        Ok(())
    } else {
        Err(format!("the check missed a problem: {problems:?}").into())
    }
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
        ("browser::fifteen_principals_keep_every_label_whole_and_apart", fifteen_principals_keep_every_label_whole_and_apart),
        ("browser::a_page_with_overlapping_labels_is_caught", a_page_with_overlapping_labels_is_caught),
    ]
    .into_iter()
    .map(|(name, test)| Trial::test(name, test).with_ignored_flag(missing && !required))
    .collect();
    libtest_mimic::run(&args, trials).exit_code()
}
