"""Run the conformance corpus (harness/corpus/*.toml) through the launcher's
evaluator (iam_policy.py, what the embedded target enforces with) and
through stock moto's own evaluation, and print one JSON list:
[{"case": "<file>::<name>", "launcher": "<answer>", "moto": "<answer>"}].

Answers are in the corpus's words: "allow", "deny:<because>",
"no-such-bucket", or the refusing error code. Stock moto has no notion of
why it denies, so its denials are "deny:?" and its figure counts decisions.
Called by `cargo test --features localstack` (tests/conformance.rs).

Usage: python conformance.py CORPUS_DIR
"""

import json
import os
import sys
import tomllib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iam_policy  # noqa: E402


def document_kind(case):
    return iam_policy.TRUST if iam_policy.is_trust_action(case["action"]) else iam_policy.BUCKET


def level_target(index, levels):
    """A level's name in reasons: the root first, the account last, OUs between."""
    if index == 0:
        return "the organization's root"
    return "the account" if index + 1 == levels else f"OU {index}"


def launcher_answer(policies, case):
    try:
        parse = lambda name, kind: iam_policy.parse(name, policies[name], kind)  # noqa: E731
        identity = [parse(n, iam_policy.IDENTITY) for n in case.get("identity", [])]
        session = [parse(n, iam_policy.IDENTITY) for n in case.get("session", [])]
        boundary = parse(case["boundary"], iam_policy.IDENTITY) if "boundary" in case else None
        resource = parse(case["resource_policy"], document_kind(case)) if "resource_policy" in case else None
        levels = lambda key, kind: [(level_target(i, len(case.get(key, []))), [parse(n, kind) for n in names])  # noqa: E731
                                    for i, names in enumerate(case.get(key, []))]
        scps, rcps = levels("scps", iam_policy.SCP), levels("rcps", iam_policy.RCP)
    except iam_policy.Malformed as err:
        return err.code
    caller = iam_policy.Caller.parse(case["caller"])
    decision, reason = iam_policy.evaluate(
        caller, case["action"], case["resource"], case.get("context", {}), identity, resource, boundary, session,
        case.get("resource_exists", True), case.get("resource_account"), scps, rcps, case.get("management_account"),
        case.get("restrict_public", False))
    return f"deny:{reason['because']}" if decision == "deny" else decision


def moto_answer(policies, case):
    """What stock moto (iam/access_control.py) decides: identity policies only,
    then, for AssumeRole into an existing role, its own trust check; no
    bucket policies, boundaries or session policies; authorization before the
    bucket lookup; every document accepted."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    action, resource = case["action"], case["resource"]
    try:
        permitted = False
        for name in case.get("identity", []):
            result = IAMPolicy(policies[name]).is_action_permitted(action, resource)
            if result == PermissionResult.DENIED:
                return "deny:?"
            permitted = permitted or result == PermissionResult.PERMITTED
        role_exists = case.get("resource_exists", True)
        if action.lower() == "sts:assumerole" and role_exists and "resource_policy" in case:
            conditions = {}
            external_id = case.get("context", {}).get("sts:ExternalId")
            if external_id is not None:
                conditions["sts:ExternalId"] = external_id
            trust = IAMPolicy(policies[case["resource_policy"]])
            permitted = permitted and trust.is_action_permitted(
                action, resource, case["caller"], conditions) == PermissionResult.PERMITTED
    except Exception:  # stock moto answers HTTP 500 (e.g. a Service principal)
        return "error"
    if not permitted:
        return "deny:?"
    if not case.get("resource_exists", True) and resource.startswith("arn:aws:s3:::"):
        return "no-such-bucket"
    return "allow"


def main():
    corpus = sys.argv[1]
    rows = []
    for file in sorted(f for f in os.listdir(corpus) if f.endswith(".toml")):
        with open(os.path.join(corpus, file), "rb") as f:
            data = tomllib.load(f)
        stem = file[: -len(".toml")]
        for case in data["case"]:
            rows.append({"case": f"{stem}::{case['name']}",
                         "launcher": launcher_answer(data.get("policies", {}), case),
                         "moto": moto_answer(data.get("policies", {}), case)})
    json.dump(rows, sys.stdout)


if __name__ == "__main__":
    main()
