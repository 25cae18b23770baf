#!/usr/bin/env bash
# The nightly job's steps, runnable by hand with sandbox credentials:
#   ci/nightly.sh sweep   delete what harness runs left (older than SWEEP_OLDER_THAN, default 2h)
#   ci/nightly.sh run     the scenarios on --target aws (the shard $PARTITION, e.g. 1/2,
#                         when set), reports in $REPORTS
#   ci/nightly.sh merge REPORT.json...   the shards' reports as one, in $REPORTS
#   ci/nightly.sh summary the run's verdicts as Markdown (for $GITHUB_STEP_SUMMARY)
# sweep and run need HARNESS_SANDBOX_ACCOUNT_ID: the harness refuses any other account.
# With SANDBOX_SECOND_ACCOUNT_ID too, the cross-account scenarios run (their dev is
# the sandbox account, their prod the second one, reached through the role
# SANDBOX_ACCOUNT_ROLE names, default OrganizationAccountAccessRole) and both are
# swept; without it they are skipped, and said so.
set -euo pipefail
cd "$(dirname "$0")/.."
harness=target/debug/harness
reports=${REPORTS:-target/nightly}
sandbox() { : "${HARNESS_SANDBOX_ACCOUNT_ID:?set HARNESS_SANDBOX_ACCOUNT_ID to the sandbox account id}"; }
accounts=()
if [ -n "${SANDBOX_SECOND_ACCOUNT_ID:-}" ]; then
  accounts=(--sandbox-account "dev=$HARNESS_SANDBOX_ACCOUNT_ID" --sandbox-account "prod=$SANDBOX_SECOND_ACCOUNT_ID")
  if [ -n "${SANDBOX_ACCOUNT_ROLE:-}" ]; then accounts+=(--account-role "$SANDBOX_ACCOUNT_ROLE"); fi
fi

case "${1:-}" in
  sweep)
    sandbox
    "$harness" sweep --target aws "${accounts[@]}" --older-than "${SWEEP_OLDER_THAN:-2h}" --delete
    ;;
  run)
    sandbox
    mkdir -p "$reports"
    # --strict: nothing may pass unproven in the sandbox.
    "$harness" run --target aws "${accounts[@]}" --strict ${PARTITION:+--partition "$PARTITION"} \
      --report-json "$reports/report.json" --junit "$reports/report.xml"
    ;;
  merge)
    shift
    mkdir -p "$reports"
    "$harness" merge-reports "$@" --report-json "$reports/report.json" --junit "$reports/report.xml"
    ;;
  summary)
    # Markdown for $GITHUB_STEP_SUMMARY: the result, every step's verdict and its reason, then the scenarios left out and why.
    python3 - "$reports/report.json" <<'PY'
import json, sys
try:
    report = json.load(open(sys.argv[1]))
except OSError as err:
    sys.exit(f"no report to summarise: {err}")
steps = [(s["name"], st) for s in report["scenarios"] for st in s["steps"]]
count = lambda v: sum(1 for _, st in steps if st["verdict"] == v)
warnings = sum(1 for _, st in steps if st.get("warning"))
print(f"## Sandbox run: {'PASSED' if report['passed'] else 'FAILED'}")
print(f"{count('pass')} passed, {count('fail')} failed, {count('diverged')} diverged, {count('unverified')} unverified, {warnings} warnings (strict: {report['strict']})\n")
print("| scenario | step | expected | observed | verdict | reason |")
print("|---|---|---|---|---|---|")
for scenario, st in steps:
    observed = st["observed"] + (f" ({st['error_code']})" if st.get("error_code") else "")
    reason = (st.get("why") or (st.get("reason") or {}).get("text") or "").replace("|", "\\|")
    print(f"| {scenario} | {st['name']} | {st['expected']} | {observed} | **{st['verdict'].upper()}** | {reason} |")
left_out = report.get("left_out", [])
if left_out:
    print("\n### Left out of this run\n")
    for left in left_out:
        print(f"- **{left['name']}**: {left['why']}")
PY
    ;;
  *)
    echo "usage: ci/nightly.sh sweep|run|merge REPORT.json...|summary" >&2
    exit 2
    ;;
esac
