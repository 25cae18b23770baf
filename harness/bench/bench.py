#!/usr/bin/env python3
"""`make bench`: the blog's flow by hand (blog_flow.sh, aws CLI) against the
harness suite, on the embedded emulator (moto behind the harness launcher),
in one run; prints the ratios measured.

  (a) script:  blog_flow.sh, the three configs one after the other.
  (b) harness: `harness run` of the three blog scenarios, as a user runs it
      (its own embedded emulator, several scenarios at once, no destroy: the
      emulator's end is the cleanup);
  (c) harness, like for like with (a): on (a)'s emulator through --endpoint,
      one scenario at a time (--jobs 1), destroying as the script does.

  (d) the edit-and-verify loop, on solution_demo: a cold `harness run` (as
      today: start the emulator, init, apply, steps); `run --keep`, then
      `run --reuse` with nothing changed (no terraform call), and after a
      one-line trust-policy edit (applied in place), and after undoing it.

Ratios: per-step call latency script / harness (medians, (a) against (c): the
same calls under the same load, one config at a time; under (b) a step's
calls share the emulator with the other scenarios' terraform), suite wall
time harness / script ((b) and (c)), and the harness's overhead as a share of
its wall time in (b): everything but the emulator's start-up, the probes,
and the terraform phases and emulator calls on the critical path.
"""

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HARNESS = ROOT / "target" / "debug" / "harness"
PYTHON = ROOT / ".venv" / "bin" / "python"
SCENARIOS = ["problem_demo", "solution_demo", "solution_demo_root_user"]
TARGETS = {"per_step": 50.0, "suite": 0.3, "overhead": 0.05, "warm_unchanged": 0.05, "warm_edit": 0.25}
# role2 trusts role1; the edit makes it trust role3 (role1 is then refused).
TRUSTS_ROLE1 = "identifiers = [aws_iam_role.role1.arn]"
TRUSTS_ROLE3 = "identifiers = [aws_iam_role.role3.arn]"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_emulator(tmp):
    port = free_port()
    creds = tmp / "admin.json"
    proc = subprocess.Popen(
        [str(PYTHON), str(ROOT / "harness/emulator/moto_launcher.py"), "--port", str(port),
         "--credentials-file", str(creds), "--parent-pid", str(os.getpid())],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/_harness/health", timeout=2).read()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                sys.exit("error: the bench emulator did not start; run `make setup`")
            time.sleep(0.05)
    return proc, url, json.loads(creds.read_text())


def terraform_env():
    env = dict(os.environ)
    configured = env.get("TF_CLI_CONFIG_FILE")
    if configured and Path(configured).is_file():
        return env
    for mirror in [env.get("HARNESS_TF_PROVIDER_MIRROR"), "/opt/tf-plugins"]:
        if mirror and (Path(mirror) / "registry.terraform.io/hashicorp/aws").is_dir():
            rc = Path(tempfile.mkdtemp()) / "bench.tfrc"
            rc.write_text(f'provider_installation {{\n filesystem_mirror {{\n path = "{mirror}"\n'
                          ' include = ["registry.terraform.io/hashicorp/aws"]\n }\n'
                          ' direct {\n exclude = ["registry.terraform.io/hashicorp/aws"]\n }\n}\n')
            env["TF_CLI_CONFIG_FILE"] = str(rc)
    return env


def run_script(url, admin, tmp):
    timings = tmp / "script.jsonl"
    env = terraform_env() | {
        "ENDPOINT": url, "TIMINGS": str(timings), "CONFIGS_DIR": str(ROOT / "terraform_configuration"),
        "AWS_ACCESS_KEY_ID": admin["access_key_id"], "AWS_SECRET_ACCESS_KEY": admin["secret_access_key"],
    }
    env.pop("AWS_PROFILE", None)
    started = time.monotonic()
    subprocess.run(["bash", str(ROOT / "harness/bench/blog_flow.sh")], env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - started
    rows = [json.loads(line) for line in timings.read_text().splitlines()]
    return wall, rows


def run_harness(report, extra_args, env=None):
    # The host-process moto target: the script's emulator, so the comparison is like for like.
    args = [str(HARNESS), "run", "--target", "moto", "--report-json", str(report)]
    for name in SCENARIOS:
        args += ["-s", name]
    started = time.monotonic()
    subprocess.run(args + extra_args, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    wall = time.monotonic() - started
    return wall, json.loads(report.read_text())


def timed(args, check=True):
    started = time.monotonic()
    done = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    if check and done.returncode != 0:
        sys.exit(f"error: {' '.join(args[:3])}... exited {done.returncode}")
    return time.monotonic() - started


def edit_loop(tmp):
    """(d): cold run, then warm reruns on what --keep left; seconds each."""
    configs, kept, report = tmp / "configs", tmp / "kept", tmp / "warm.json"
    subprocess.run(["cp", "-r", str(ROOT / "terraform_configuration"), str(configs)], check=True)
    main_tf = configs / "solution_demo" / "main.tf"
    base = [str(HARNESS), "run", "-s", "solution_demo", "--configs-dir", str(configs)]
    reuse = base + ["--reuse", "--kept-dir", str(kept), "--report-json", str(report)]

    def edit(old, new):
        main_tf.write_text(main_tf.read_text().replace(old, new, 1))

    def role1_gets_in():
        steps = json.loads(report.read_text())["scenarios"][0]["steps"]
        return next(s for s in steps if s["name"] == "role1 assumes role2")["observed"] == "allowed"

    cold = timed(base + ["--target", "moto"])
    timed(base + ["--keep", "--kept-dir", str(kept)])
    try:
        bare = bare_apply_of_the_edit(kept, main_tf, edit)
        unchanged = [timed(reuse) for _ in range(3)]
        edit(TRUSTS_ROLE1, TRUSTS_ROLE3)
        edited = [timed(reuse, check=False)]
        if role1_gets_in():
            sys.exit("error: the trust edit was not applied (role1 still gets in)")
        edit(TRUSTS_ROLE3, TRUSTS_ROLE1)
        edited.append(timed(reuse))
        if not role1_gets_in():
            sys.exit("error: undoing the trust edit did not let role1 in again")
    finally:
        subprocess.run([str(HARNESS), "release", "--kept-dir", str(kept)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cold, statistics.median(unchanged), statistics.median(edited), bare


def bare_apply_of_the_edit(kept, main_tf, edit):
    """A bare `terraform apply` of the same one-line trust edit (and of its
    undoing) in the kept working copy, on the kept emulator: what the edit
    costs terraform alone, so the warm loop's own cost shows beside it."""
    lease = json.loads((kept / "lease.json").read_text())
    copy = Path(lease["scenarios"]["solution_demo"]["dir"])
    emulator = lease["emulator"]
    env = terraform_env() | {"AWS_ACCESS_KEY_ID": emulator["admin_access_key_id"], "AWS_SECRET_ACCESS_KEY": emulator["admin_secret"]}
    env.pop("AWS_PROFILE", None)
    if (copy / ".harness-terraform.tfrc").is_file():
        env["TF_CLI_CONFIG_FILE"] = str(copy / ".harness-terraform.tfrc")

    def apply():
        (copy / "main.tf").write_text(main_tf.read_text())
        started = time.monotonic()
        subprocess.run(["terraform", "apply", "-auto-approve", "-input=false", "-no-color"], cwd=copy, env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.monotonic() - started

    edit(TRUSTS_ROLE1, TRUSTS_ROLE3)
    applied = [apply()]
    edit(TRUSTS_ROLE3, TRUSTS_ROLE1)
    applied.append(apply())
    return statistics.median(applied)


def access_costs_ms(report):
    """The access analysis of each shipped scenario run: the analysis itself, and the phase (reading the states too)."""
    analysis = [sc["access"]["analysis_ms"] for sc in report["scenarios"] if sc.get("access")]
    phases = [p["latency_ms"] for sc in report["scenarios"] for p in sc["phases"] if p["name"] == "access"]
    return max(analysis, default=0.0), max(phases, default=0.0)


def synthetic_access():
    """The analysis of synthetic accounts built in memory: 100 and 1,000 roles, 500 buckets."""
    out = subprocess.run([str(HARNESS), "bench-access", "--roles", "100", "--roles", "1000", "--buckets", "500"],
                         check=True, capture_output=True, text=True, cwd=ROOT).stdout
    # "access analysis: 100 roles, 500 buckets: 3200 paths in 0.47 s"
    return [(int(line.split()[2]), int(line.split(": ")[2].split()[0]), float(line.split(" in ")[1].split()[0]))
            for line in out.splitlines() if line.startswith("access analysis:")]


def critical_path_seconds(report):
    """Per scenario: terraform phases + emulator calls; the longest scenario
    is the critical path of a concurrent run."""
    paths = []
    for scenario in report["scenarios"]:
        # every phase but "scenario" is terraform (init, apply, outputs, destroy)
        terraform = sum(p["latency_ms"] for p in scenario["phases"] if not p["name"].startswith("scenario"))
        calls = sum(s["latency_ms"] for s in scenario["steps"])
        paths.append((terraform + calls) / 1000)
    return max(paths)


def workload_latencies_ms(report):
    return [s["latency_ms"] for sc in report["scenarios"] for s in sc["steps"] if s["principal"] != "harness-admin"]


def main():
    if not HARNESS.is_file():
        sys.exit("error: target/debug/harness is missing; run `cargo build` (make bench does)")
    tmp = Path(tempfile.mkdtemp(prefix="harness-bench-"))
    proc, url, admin = start_emulator(tmp)
    try:
        script_wall, rows = run_script(url, admin, tmp)
        embedded_wall, embedded = run_harness(tmp / "embedded.json", [])
        endpoint_env = dict(os.environ) | {"AWS_ACCESS_KEY_ID": admin["access_key_id"],
                                           "AWS_SECRET_ACCESS_KEY": admin["secret_access_key"]}
        endpoint_env.pop("AWS_PROFILE", None)
        endpoint_wall, on_endpoint = run_harness(tmp / "endpoint.json", ["--endpoint", url, "--jobs", "1"], endpoint_env)
    finally:
        proc.terminate()
    cold_s, unchanged_s, edited_s, bare_s = edit_loop(tmp)
    analysis_ms, access_phase_ms = access_costs_ms(embedded)
    synthetic = synthetic_access()

    cli_calls_ms = [r["seconds"] * 1000 for r in rows if r["kind"] == "call"]
    harness_calls_ms = workload_latencies_ms(on_endpoint)
    concurrent_calls_ms = workload_latencies_ms(embedded)
    per_step = statistics.median(cli_calls_ms) / statistics.median(harness_calls_ms)
    suite = embedded_wall / script_wall
    suite_endpoint = endpoint_wall / script_wall
    # The emulator's start-up and the probes' calls are emulator time too.
    emulator_s = (embedded["target"]["startup_ms"] + embedded["target"]["probe_ms"]) / 1000
    overhead = max(0.0, embedded_wall - emulator_s - critical_path_seconds(embedded)) / embedded_wall

    def verdict(ok):
        return "meets target" if ok else "MISSES target"

    results = {
        "script_wall_s": round(script_wall, 1),
        "harness_wall_s": round(embedded_wall, 1),
        "harness_on_script_emulator_wall_s": round(endpoint_wall, 1),
        "cli_call_median_ms": round(statistics.median(cli_calls_ms), 1),
        "harness_call_median_ms": round(statistics.median(harness_calls_ms), 2),
        "harness_call_median_ms_concurrent": round(statistics.median(concurrent_calls_ms), 2),
        "per_step_ratio": round(per_step, 1),
        "suite_ratio": round(suite, 3),
        "suite_ratio_one_at_a_time_with_destroy": round(suite_endpoint, 3),
        "overhead_share": round(overhead, 4),
        "cold_run_s": round(cold_s, 2),
        "warm_unchanged_s": round(unchanged_s, 2),
        "warm_after_trust_edit_s": round(edited_s, 2),
        "bare_terraform_apply_of_the_edit_s": round(bare_s, 2),
        "warm_unchanged_ratio": round(unchanged_s / cold_s, 4),
        "warm_after_trust_edit_ratio": round(edited_s / cold_s, 3),
        "access_analysis_max_ms": round(analysis_ms, 2),
        "access_phase_max_ms": round(access_phase_ms, 2),
        "access_synthetic": [{"roles": r, "paths": p, "seconds": s} for r, p, s in synthetic],
    }
    (ROOT / "target").mkdir(exist_ok=True)
    (ROOT / "target/bench.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"machine: {os.cpu_count()} cores; emulator: moto {embedded['target']['version']} (harness launcher)")
    print(f"script (aws CLI, sequential, with destroy):       {script_wall:7.1f} s wall")
    print(f"harness suite (embedded, concurrent):             {embedded_wall:7.1f} s wall")
    print(f"harness like the script (one at a time, destroy): {endpoint_wall:7.1f} s wall")
    print(f"per-step call latency  CLI / harness: {results['cli_call_median_ms']:.0f} ms / "
          f"{results['harness_call_median_ms']:.1f} ms = {per_step:.0f}x   ({verdict(per_step >= TARGETS['per_step'])} >= 50x); "
          f"in the concurrent suite a call takes {results['harness_call_median_ms_concurrent']:.1f} ms")
    print(f"suite wall time   harness / script: {suite:.2f}   ({verdict(suite <= TARGETS['suite'])} <= 0.3); "
          f"one at a time with destroy: {suite_endpoint:.2f}")
    print(f"harness overhead share of wall time: {overhead:.1%}   ({verdict(overhead <= TARGETS['overhead'])} <= 5%); "
          f"emulator start-up {embedded['target']['startup_ms'] / 1000:.1f} s and probes {embedded['target']['probe_ms']:.0f} ms excluded")
    print(f"edit loop (solution_demo): cold run {cold_s:.1f} s; rerun on the kept state, nothing changed {unchanged_s:.2f} s, "
          f"after a one-line trust edit {edited_s:.1f} s")
    print(f"the same trust edit by a bare `terraform apply` in the kept copy: {bare_s:.1f} s; "
          f"the warm loop's own cost beside it: {edited_s - bare_s:+.1f} s ({edited_s / bare_s:.2f}x)")
    print(f"warm rerun / cold run, unchanged:        {unchanged_s / cold_s:.3f}   ({verdict(unchanged_s / cold_s <= TARGETS['warm_unchanged'])} <= 0.05)")
    print(f"warm rerun / cold run, after trust edit: {edited_s / cold_s:.2f}   ({verdict(edited_s / cold_s <= TARGETS['warm_edit'])} <= 0.25)")
    print(f"access analysis per shipped scenario: at most {analysis_ms:.1f} ms, {access_phase_ms:.1f} ms with reading its states   "
          f"({verdict(access_phase_ms <= 1000)} <= 1 s)")
    for roles, paths, seconds in synthetic:
        print(f"access analysis, synthetic account of {roles} roles and 500 buckets: {paths} paths in {seconds:.2f} s")
    if len(synthetic) == 2:
        (small_roles, _, small_s), (large_roles, _, large_s) = synthetic
        print(f"  {large_roles // small_roles}x the roles took {large_s / max(small_s, 1e-9):.1f}x the time   "
              f"({verdict(large_s <= 10)} <= 10 s for {large_roles} roles)")


if __name__ == "__main__":
    main()
