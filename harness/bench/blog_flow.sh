#!/usr/bin/env bash
# The blog's flow by hand, as a user runs it with the aws CLI, one config
# after the other: apply; as the instance's role (role1) `aws s3 ls` the
# bucket (AccessDenied); `aws sts assume-role` role2; `aws s3 cp` and
# `aws s3 ls` with role2's session; destroy. Every phase and call is timed
# into $TIMINGS (JSON lines) for bench.py.
#
# Needs: ENDPOINT (moto behind harness/emulator/moto_launcher.py),
# AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (its admin), TIMINGS, CONFIGS_DIR.
set -euo pipefail
: "${ENDPOINT:?}" "${TIMINGS:?}" "${CONFIGS_DIR:?}"
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
admin_key=$AWS_ACCESS_KEY_ID admin_secret=$AWS_SECRET_ACCESS_KEY

now() { date +%s.%N; }
record() { printf '{"kind":"%s","name":"%s","seconds":%s}\n' "$1" "$2" "$(awk "BEGIN { print $(now) - $3 }")" >> "$TIMINGS"; }

# The aws CLI as a given identity; prints the call's output, records its time.
call() {
  local name=$1 key=$2 secret=$3 token=$4; shift 4
  local t0; t0=$(now)
  local rc=0
  AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret AWS_SESSION_TOKEN=$token \
    aws --endpoint-url "$ENDPOINT" "$@" 2>&1 || rc=$?
  record call "$name" "$t0"
  return $rc
}

for config in problem_demo solution_demo solution_demo_root_user; do
  work=$(mktemp -d)
  cp -r "$CONFIGS_DIR/$config/." "$work/"
  cat > "$work/zz_override.tf" <<HCL
provider "aws" {
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true
  endpoints {
    iam = "$ENDPOINT"
    sts = "$ENDPOINT"
    s3  = "$ENDPOINT"
    ec2 = "$ENDPOINT"
  }
}
HCL
  prefix="bench-${config//_/-}-$$"
  t0=$(now); terraform -chdir="$work" init -input=false -no-color >/dev/null; record phase "$config init" "$t0"
  t0=$(now); terraform -chdir="$work" apply -auto-approve -input=false -no-color -var "name_prefix=$prefix" >/dev/null; record phase "$config apply" "$t0"
  bucket=$(terraform -chdir="$work" output -raw bucket_name)
  role2=$(terraform -chdir="$work" output -raw role2_arn)
  instance=$(terraform -chdir="$work" output -raw instance_id)

  # On the instance: role1's credentials as EC2 serves them.
  read -r key1 secret1 token1 < <(curl -sf -X POST "$ENDPOINT/_harness/ec2/instance-credentials" -d "{\"instance_id\":\"$instance\"}" |
    python3 -c 'import json,sys; c=json.load(sys.stdin); print(c["AccessKeyId"], c["SecretAccessKey"], c["Token"])')

  if call "$config s3 ls as role1" "$key1" "$secret1" "$token1" s3 ls "s3://$bucket"; then
    echo "unexpected: role1 could list $bucket" >&2; exit 1
  fi
  if out=$(call "$config sts assume-role" "$key1" "$secret1" "$token1" sts assume-role --role-arn "$role2" --role-session-name bench \
      --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text); then
    read -r key2 secret2 token2 <<< "$out"
    echo hello > "$work/hello"
    call "$config s3 cp as role2" "$key2" "$secret2" "$token2" s3 cp "$work/hello" "s3://$bucket/hello" >/dev/null
    call "$config s3 ls as role2" "$key2" "$secret2" "$token2" s3 ls "s3://$bucket" >/dev/null
  fi

  t0=$(now); terraform -chdir="$work" destroy -auto-approve -input=false -no-color -var "name_prefix=$prefix" >/dev/null; record phase "$config destroy" "$t0"
  rm -rf "$work"
done
