#!/usr/bin/env bash
# The nightly job's steps, runnable by hand with sandbox credentials:
#   ci/nightly.sh sweep   delete what harness runs left (older than SWEEP_OLDER_THAN, default 2h)
#   ci/nightly.sh run     the scenarios on --target aws, reports in $REPORTS
# Both need HARNESS_SANDBOX_ACCOUNT_ID: the harness refuses any other account.
set -euo pipefail
cd "$(dirname "$0")/.."
harness=target/debug/harness
: "${HARNESS_SANDBOX_ACCOUNT_ID:?set HARNESS_SANDBOX_ACCOUNT_ID to the sandbox account id}"
reports=${REPORTS:-target/nightly}

case "${1:-}" in
  sweep)
    "$harness" sweep --target aws --older-than "${SWEEP_OLDER_THAN:-2h}" --delete
    ;;
  run)
    mkdir -p "$reports"
    # --strict: nothing may pass unproven in the sandbox.
    "$harness" run --target aws --strict --report-json "$reports/report.json" --junit "$reports/report.xml"
    ;;
  *)
    echo "usage: ci/nightly.sh sweep|run" >&2
    exit 2
    ;;
esac
