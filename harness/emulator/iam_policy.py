"""AWS's policy evaluation for the moto launcher: the twin of the harness's
Rust evaluator (harness/src/policy/), held to the same conformance corpus
(harness/corpus/, run by conformance.py under `cargo test`).

evaluate(request, policies) -> (decision, reason) where decision is "allow",
"deny" or "no-such-bucket" and reason a dict {because, policy_type, policy,
statement, text}. parse(name, document, kind) refuses what IAM and S3 refuse
by raising Malformed(code, message). Pure functions: no moto import.
"""

import ipaddress
import json
import re
from datetime import datetime, timezone

TRUST, BUCKET, IDENTITY, SCP, RCP = "trust", "bucket", "identity", "scp", "rcp"


class Malformed(Exception):
    """A document IAM (MalformedPolicyDocument) or S3 (MalformedPolicy) refuses."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


# ---------------------------------------------------------------------------
# Callers and principals
# ---------------------------------------------------------------------------

class Caller:
    """kind: user | session | root | service | federated | anonymous (an unsigned request: "*") |
    federated-user (an IAM user's GetFederationToken session)."""

    def __init__(self, kind, arn, account=None, name=None, role=None, partition="aws"):
        self.kind, self.arn, self.account, self.name, self.role, self.partition = kind, arn, account, name, role, partition

    @staticmethod
    def parse(text):
        if text == "*":
            return Caller("anonymous", "*")
        if not text.startswith("arn:"):
            return Caller("service", text) if text.endswith(".amazonaws.com") else None
        parts = text.split(":", 5)
        if len(parts) != 6:
            return None
        _, partition, service, region, account, resource = parts
        if region or not re.fullmatch(r"\d{12}", account):
            return None
        if service == "iam" and resource == "root":
            return Caller("root", text, account, partition=partition)
        if service == "iam" and resource.startswith("user/"):
            return Caller("user", text, account, name=resource.rsplit("/", 1)[-1], partition=partition)
        if service == "iam" and (resource.startswith("oidc-provider/") or resource.startswith("saml-provider/")):
            return Caller("federated", text)
        if service == "sts" and resource.startswith("federated-user/") and resource.split("/", 1)[1]:
            return Caller("federated-user", text, account, name=resource.split("/", 1)[1], partition=partition)
        if service == "sts" and resource.startswith("assumed-role/"):
            pieces = resource.split("/", 2)
            if len(pieces) != 3:
                return None
            return Caller("session", text, account, name=pieces[2], role=pieces[1], partition=partition)
        return None

    def principal_arn(self):
        if self.kind == "session":
            return f"arn:{self.partition}:iam::{self.account}:role/{self.role}"
        return self.arn

    def principal_type(self):
        return {"user": "User", "session": "AssumedRole", "root": "Account", "service": "Service",
                "federated": "WebIdentityUser", "anonymous": "Anonymous", "federated-user": "FederatedUser"}[self.kind]

    def short(self):
        if self.kind == "anonymous":
            return "an anonymous caller"
        if self.kind in ("user", "session", "federated-user"):
            return self.arn.split(":", 5)[5]
        return self.arn


# How a Principal element named the caller; the strongest wins.
NONE, ACCOUNT, ROLE, DIRECT = 0, 1, 2, 3


def _parse_aws_principal(text):
    """("everyone",) | ("account", A) | ("user", A, name) | ("role", A, name) | ("session", arn) | None."""
    if text == "*":
        return ("everyone",)
    if re.fullmatch(r"\d{12}", text):
        return ("account", text)
    if "*" in text or "?" in text:
        return None
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or parts[3] != "" or not re.fullmatch(r"\d{12}", parts[4]):
        return None
    service, account, resource = parts[2], parts[4], parts[5]
    name = resource.rsplit("/", 1)[-1]
    if service == "iam" and resource == "root":
        return ("account", account)
    if service == "iam" and resource.startswith("user/") and name:
        return ("user", account, name)
    if service == "iam" and resource.startswith("role/") and name:
        return ("role", account, name)
    if service == "sts" and resource.startswith("assumed-role/") and resource.count("/") == 2:
        return ("session", text)
    if service == "sts" and resource.startswith("federated-user/") and name:
        return ("session", text)
    return None


def _aws_matches(entry, caller):
    kind = entry[0]
    if kind == "everyone":
        return DIRECT if caller.kind in ("user", "session", "root", "federated-user", "anonymous") else NONE
    if kind == "account":
        return ACCOUNT if caller.account == entry[1] else NONE
    if kind == "user" and caller.kind == "user":
        return DIRECT if (caller.account, caller.name) == entry[1:] else NONE
    if kind == "role" and caller.kind == "session":
        return ROLE if (caller.account, caller.role) == entry[1:] else NONE
    if kind == "session" and caller.kind in ("session", "federated-user"):
        return DIRECT if caller.arn == entry[1] else NONE
    return NONE


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _strings(value):
    """A string or a list of strings (numbers and booleans as their text); None if neither."""
    def one(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (str, int, float)):
            return str(v)
        return None
    items = [one(v) for v in _as_list(value)]
    return None if any(i is None for i in items) else items


class PrincipalElement:
    def __init__(self, value, kind):
        self.everyone, self.aws, self.services, self.federated = False, [], [], []
        if value == "*":
            self.everyone = True
        elif isinstance(value, dict):
            for key, entries in value.items():
                entries = _strings(entries)
                if entries is None:
                    raise ValueError(f"Principal {key} must be a string or a list of strings")
                if key == "AWS":
                    for entry in entries:
                        parsed = _parse_aws_principal(entry)
                        if parsed is None:
                            raise ValueError(f'Invalid principal in policy: "AWS":"{entry}"')
                        self.aws.append(parsed)
                elif key == "Service":
                    self.services += entries
                elif key == "Federated" and kind == TRUST:
                    self.federated += entries
                elif key == "CanonicalUser" and kind == BUCKET:
                    pass
                else:
                    raise ValueError(f"Invalid principal in policy: unknown principal type {key}")
        else:
            raise ValueError('Principal must be "*" or an object')

    def spares(self, caller):
        """Whether a Deny's NotPrincipal spares the caller: AWS checks the account,
        then the user (or the role, then its session): both must be listed."""
        if self.everyone:
            return True
        levels = [_aws_matches(e, caller) for e in self.aws]
        if caller.kind in ("user", "session", "federated-user"):
            return ACCOUNT in levels and any(level >= ROLE for level in levels)
        if caller.kind == "root":
            return ACCOUNT in levels
        return self.matches(caller) != NONE

    def matches(self, caller):
        if self.everyone:
            return DIRECT
        best = max([_aws_matches(e, caller) for e in self.aws] or [NONE])
        if caller.kind == "service" and any(s.lower() == caller.arn.lower() for s in self.services):
            best = max(best, DIRECT)
        if caller.kind == "federated" and caller.arn in self.federated:
            best = max(best, DIRECT)
        return best


# ---------------------------------------------------------------------------
# Documents
# ---------------------------------------------------------------------------

class Statement:
    def __init__(self, sid, effect, principal, not_principal, action, resource, conditions):
        self.sid, self.effect, self.principal, self.not_principal = sid, effect, principal, not_principal
        self.action, self.resource, self.conditions = action, resource, conditions


class Policy:
    def __init__(self, name, statements):
        self.name, self.statements = name, statements


def parse(name, document, kind):
    """A Policy from a JSON text or dict, refused as AWS refuses it."""
    code = "MalformedPolicy" if kind == BUCKET else "MalformedPolicyDocument"
    try:
        doc = json.loads(document) if isinstance(document, (str, bytes)) else document
    except ValueError as err:
        raise Malformed(code, f"not JSON: {err}")
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        raise Malformed(code, "no Statement")
    try:
        parsed = [_parse_statement(s, i, kind) for i, s in enumerate(statements)]
    except ValueError as err:
        raise Malformed(code, str(err))
    if doc.get("Version") != VARIABLES_VERSION:
        parsed = [_literal_variables(s) for s in parsed]
    return Policy(name, parsed)


# Only this version has policy variables: elsewhere ${aws:username} is literal text
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html).
VARIABLES_VERSION = "2012-10-17"


def _literal_variables(statement):
    """The statement with every ${ where variables are replaced (Resource,
    NotResource, condition values) written so substitution gives it back: ${$} is $."""
    literal = lambda text: text.replace("${", "${$}{")
    resource = statement.resource and (statement.resource[0], [literal(p) for p in statement.resource[1]])
    conditions = [(operator, key, [literal(v) for v in values]) for operator, key, values in statement.conditions]
    return Statement(statement.sid, statement.effect, statement.principal, statement.not_principal,
                     statement.action, resource, conditions)


def _parse_statement(value, index, kind):
    if not isinstance(value, dict):
        raise ValueError(f"statement {index} is not an object")
    sid = value.get("Sid") if isinstance(value.get("Sid"), str) else str(index)
    effect = value.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise ValueError(f"statement {sid}: Effect must be Allow or Deny, not {effect!r}")

    def element(key):
        if key not in value:
            return None
        items = _strings(value[key])
        if items is None:
            raise ValueError(f"statement {sid}: {key} must be a string or a list of strings")
        return items

    action, not_action = element("Action"), element("NotAction")
    if (action is None) == (not_action is None):
        raise ValueError(f"statement {sid}: exactly one of Action and NotAction is required")
    resource, not_resource = element("Resource"), element("NotResource")
    if resource is not None and not_resource is not None:
        raise ValueError(f"statement {sid}: Resource and NotResource together")
    try:
        principal = PrincipalElement(value["Principal"], kind) if "Principal" in value else None
        not_principal = PrincipalElement(value["NotPrincipal"], kind) if "NotPrincipal" in value else None
    except ValueError as err:
        raise ValueError(f"statement {sid}: {err}")
    has_resource = resource is not None or not_resource is not None
    if kind == IDENTITY and (principal or not_principal):
        raise ValueError(f"statement {sid}: Principal is not allowed in an identity-based policy")
    if kind == IDENTITY and not has_resource:
        raise ValueError(f"statement {sid}: Resource is required")
    if kind == TRUST and not_principal:
        raise ValueError(f"statement {sid}: NotPrincipal is not allowed in a trust policy")
    if kind == TRUST and not principal:
        raise ValueError(f"statement {sid}: Principal is required in a trust policy")
    if kind == BUCKET and not principal and not not_principal:
        raise ValueError(f"statement {sid}: Principal is required in a bucket policy")
    if kind == BUCKET and not has_resource:
        raise ValueError(f"statement {sid}: Resource is required")
    if kind == SCP and (principal or not_principal):
        raise ValueError(f"statement {sid}: Principal and NotPrincipal are not allowed in a service control policy")
    if kind == RCP and not_principal:
        raise ValueError(f"statement {sid}: NotPrincipal is not allowed in a resource control policy")
    if kind == RCP and value.get("Principal") != "*":
        raise ValueError(f'statement {sid}: a resource control policy\'s Principal must be "*"')
    conditions = []
    block = value.get("Condition", {})
    if not isinstance(block, dict):
        raise ValueError(f"statement {sid}: Condition must be an object")
    for operator, keys in block.items():
        if not isinstance(keys, dict):
            raise ValueError(f"statement {sid}: Condition {operator} must map keys to values")
        if _parse_operator(operator) is None:
            raise ValueError(f"statement {sid}: unknown condition operator {operator}")
        for key, values in keys.items():
            values = _strings(values)
            if values is None:
                raise ValueError(f"statement {sid}: Condition {operator} {key}: values must be strings")
            conditions.append((operator, key, values))
    return Statement(sid, effect, principal, not_principal,
                     ("any", action) if action is not None else ("not", not_action),
                     None if not has_resource else (("any", resource) if resource is not None else ("not", not_resource)),
                     conditions)


# ---------------------------------------------------------------------------
# Wildcards and variables
# ---------------------------------------------------------------------------

LITERAL_STAR, LITERAL_QUESTION = "\ue000", "\ue001"


def glob(pattern, text):
    """`*` any run, `?` one character, everything else literal."""
    p, t = pattern, text
    pi = ti = 0
    star, mark = None, 0
    while ti < len(t):
        if pi < len(p) and (p[pi] == "?" or _same(p[pi], t[ti])):
            pi += 1
            ti += 1
        elif pi < len(p) and p[pi] == "*":
            star, mark = pi, ti
            pi += 1
        elif star is not None:
            pi = star + 1
            mark += 1
            ti = mark
        else:
            return False
    return all(c == "*" for c in p[pi:])


def _same(pattern, text):
    if pattern == LITERAL_STAR:
        return text == "*"
    if pattern == LITERAL_QUESTION:
        return text == "?"
    return pattern == text


def action_matches(pattern, action):
    return glob(pattern.lower(), action.lower())


def arn_like(pattern, arn):
    p, a = pattern.split(":", 5), arn.split(":", 5)
    return len(p) == 6 and len(a) == 6 and all(glob(x, y) for x, y in zip(p, a))


def substitute(text, context):
    """Replace ${key}, ${key, 'default'}, ${*}, ${?}, ${$}; None: a variable with no value."""
    if "${" not in text:
        return text
    out, rest = "", text
    while "${" in rest:
        start = rest.index("${")
        out += rest[:start]
        after = rest[start + 2:]
        if "}" not in after:
            return out + rest[start:]
        end = after.index("}")
        inner = after[:end].strip()
        if inner == "*":
            out += LITERAL_STAR
        elif inner == "?":
            out += LITERAL_QUESTION
        elif inner == "$":
            out += "$"
        else:
            key, default = inner, None
            if "," in inner:
                key, default = (s.strip() for s in inner.split(",", 1))
                default = default.strip("'")
            values = context.get(key.lower())
            value = values[0] if values and len(values) == 1 else default
            if value is None:
                return None
            out += value
        rest = after[end + 1:]
    return out + rest


def resource_matches(pattern, resource, context):
    pattern = substitute(pattern, context)
    return pattern is not None and glob(pattern, resource)


# ---------------------------------------------------------------------------
# Conditions
# ---------------------------------------------------------------------------

BASE_OPERATORS = {
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike",
    "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
    "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals", "DateNotEquals", "DateLessThan",
    "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals", "Bool", "BinaryEquals", "IpAddress",
    "NotIpAddress", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Null",
}


def _parse_operator(text):
    """(base, set qualifier or None, if_exists) or None."""
    qualifier = None
    for prefix in ("ForAllValues:", "ForAnyValue:"):
        if text.startswith(prefix):
            qualifier, text = prefix[:-1], text[len(prefix):]
    if_exists = text.endswith("IfExists") and text != "NullIfExists"
    base = text[: -len("IfExists")] if if_exists else text
    return (base, qualifier, if_exists) if base in BASE_OPERATORS else None


def _number(text):
    return float(text.strip())


def _date(text):
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if len(text) == 10:
        text += "T00:00:00Z"
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def _in_cidr(address, cidr):
    return ipaddress.ip_address(address.strip()) in ipaddress.ip_network(cidr.strip(), strict=False)


def _positive_match(base, context, policy):
    """One context value against one policy value, for the operator's positive form; None: incomparable."""
    positive = base.replace("Not", "")
    try:
        if positive == "StringEquals":
            return context == policy
        if positive == "StringEqualsIgnoreCase":
            return context.lower() == policy.lower()
        if positive == "StringLike":
            return glob(policy, context)
        if positive.startswith("Numeric"):
            a, b = _number(context), _number(policy)
        elif positive.startswith("Date"):
            a, b = _date(context), _date(policy)
        elif positive == "Bool":
            return context.lower() == policy.lower()
        elif positive == "BinaryEquals":
            return context == policy
        elif positive == "IpAddress":
            return _in_cidr(context, policy)
        elif positive in ("ArnEquals", "ArnLike"):
            return arn_like(policy, context)
        else:
            return None
    except (ValueError, TypeError):
        return None
    op = positive.replace("Numeric", "").replace("Date", "")
    return {"Equals": a == b, "LessThan": a < b, "LessThanEquals": a <= b,
            "GreaterThan": a > b, "GreaterThanEquals": a >= b}.get(op)


def _entry_holds(operator, key, values, context):
    parsed = _parse_operator(operator)
    if parsed is None:
        return False
    base, qualifier, if_exists = parsed
    present = context.get(key.lower()) or None
    if base == "Null":
        want_absent = any(v.lower() == "true" for v in values)
        return (present is None) == want_absent
    policy = [v for v in (substitute(v, context) for v in values) if v is not None]
    negate = "Not" in base
    if present is None:
        if qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return if_exists
        return if_exists or negate

    def one(value):
        hit = any(_positive_match(base, value, p) is True for p in policy)
        return not hit if negate else hit

    if qualifier == "ForAllValues":
        return all(one(v) for v in present)
    return any(one(v) for v in present)


def conditions_hold(conditions, context):
    return all(_entry_holds(op, key, values, context) for op, key, values in conditions)


# ---------------------------------------------------------------------------
# Evaluation order
# ---------------------------------------------------------------------------

def full_context(caller, context, resource_account=None, kind=None):
    """The request context (keys lowercased) with the keys AWS fills from the
    caller and the resource (reference_policies_condition-keys.html):
    aws:PrincipalIsAWSService and aws:ViaAWSService in every request signed
    with AWS credentials, aws:ResourceAccount in most, aws:MultiFactorAuthPresent
    only with temporary credentials (a role session, no MFA)."""
    full = {k.lower(): (v if isinstance(v, list) else [v]) for k, v in (context or {}).items()}
    if caller.kind == "anonymous":
        return full
    full.setdefault("aws:principalarn", [caller.principal_arn()])
    full.setdefault("aws:principaltype", [caller.principal_type()])
    if caller.account:
        full.setdefault("aws:principalaccount", [caller.account])
    if caller.kind == "user":
        full.setdefault("aws:username", [caller.name])
    signed_by_credentials = caller.kind in ("user", "session", "root", "federated-user")
    if signed_by_credentials or caller.kind == "service":
        full.setdefault("aws:principalisawsservice", ["true" if caller.kind == "service" else "false"])
    if signed_by_credentials:
        full.setdefault("aws:viaawsservice", ["false"])
    if caller.kind in ("session", "federated-user"):
        full.setdefault("aws:multifactorauthpresent", ["false"])
    if resource_account:
        full.setdefault("aws:resourceaccount", [resource_account])
    if kind == "key" and caller.account:  # every KMS request carries the caller's account
        full.setdefault("kms:calleraccount", [caller.account])
    return full


def _applies(statement, caller, action, resource, context, bounded):
    kind, patterns = statement.action
    hit = any(action_matches(p, action) for p in patterns)
    if (kind == "any") != hit:
        return NONE
    if statement.resource is not None:
        kind, patterns = statement.resource
        hit = any(resource_matches(p, resource, context) for p in patterns)
        if (kind == "any") != hit:
            return NONE
    if not conditions_hold(statement.conditions, context):
        return NONE
    if statement.principal is not None:
        return statement.principal.matches(caller)
    if statement.not_principal is not None:
        # A Deny with NotPrincipal always denies a principal with a permissions boundary;
        # else it spares only whom it lists as AWS checks (reference_policies_elements_notprincipal).
        return DIRECT if bounded or not statement.not_principal.spares(caller) else NONE
    return DIRECT


def _find(policies, effect, caller, action, resource, context, bounded=False):
    best = None
    for policy in policies:
        for statement in policy.statements:
            if statement.effect != effect:
                continue
            how = _applies(statement, caller, action, resource, context, bounded)
            if how != NONE and (best is None or how > best[2]):
                best = (policy, statement, how)
    return best


def is_trust_action(action):
    """Actions on a role that its trust policy authorizes: AssumeRole* and the
    permissions-only actions an AssumeRole's parameters also need."""
    action = action.lower()
    return action.startswith("sts:assumerole") or action in ("sts:tagsession", "sts:setsourceidentity")


TRUST_POLICY = "the role's trust policy"


def resource_kind(action, resource):
    if is_trust_action(action):
        return "role"
    if resource.startswith("arn:aws:s3:::") or (resource.startswith("arn:aws-") and ":s3:::" in resource):
        return "bucket"
    if resource.split(":")[2:3] == ["kms"]:
        return "key"
    return "other"


# The services whose actions RCPs apply to, as AWS listed them at RCPs' launch (2024-11-13; read
# again 2026-12-06 for the harness's services: S3, STS, KMS listed, EC2 not)
# (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html).
RCP_SERVICES = ("s3", "sts", "kms", "sqs", "secretsmanager")


def _service_linked(caller):
    return caller.kind == "session" and (caller.role or "").startswith("AWSServiceRoleFor")


def organization_levels(caller, action, resource_account, scps, rcps, management_account):
    """The SCP levels that cap the caller and the RCP levels that cap the resource (SCP and RCP
    evaluation pages): members only, never the management account nor a service-linked role;
    RCPs only for the services AWS lists."""
    member = caller.account is not None and caller.account != management_account
    scps_apply = member and caller.kind in ("user", "session", "root", "federated-user") and not _service_linked(caller)
    rcps_apply = (resource_account is not None and resource_account != management_account
                  and action.split(":")[0].lower() in RCP_SERVICES and not _service_linked(caller))
    return (list(scps) if scps_apply else []), (list(rcps) if rcps_apply else [])


# ---------------------------------------------------------------------------
# Block Public Access: when S3 calls a bucket policy public
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html)
# ---------------------------------------------------------------------------

_LIMITING_KEYS = {"aws:sourceip", "aws:sourcearn", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceowner",
                  "aws:sourceaccount", "aws:principalorgid", "s3:x-amz-server-side-encryption-aws-kms-key-id",
                  "aws:userid"}


def _limits(operator, key, values):
    """A condition that holds only for fixed values of a key S3 counts as limiting."""
    key = key.lower()
    negated = "Not" in operator or operator.endswith("IfExists") or operator.startswith("ForAllValues:") or operator == "Null"
    fixed = bool(values) and all(v and "*" not in v and "?" not in v and "${" not in v for v in values)
    every_address = any(v.endswith("/0") for v in values)
    role_pattern = key == "aws:userid" and any(v.endswith(":*") for v in values)
    return key in _LIMITING_KEYS and not negated and not role_pattern and (fixed or key == "aws:sourceip") and not every_address


def public_statement(policy):
    """The first Allow to everyone (Principal "*", AWS "*", or NotPrincipal) that no fixed limiting key narrows."""
    for statement in policy.statements:
        if statement.effect != "Allow":
            continue
        everyone = statement.not_principal is not None or (
            statement.principal is not None and (statement.principal.everyone or ("everyone",) in statement.principal.aws))
        if everyone and not any(_limits(*condition) for condition in statement.conditions):
            return statement
    return None


def is_public(policy):
    return public_statement(policy) is not None


def evaluate(caller, action, resource, context=None, identity=(), resource_policy=None, boundary=None,
             session=(), resource_exists=True, resource_account=None, scps=(), rcps=(), management_account=None,
             restrict_public=False):
    """Decide as AWS would. Returns (decision, reason). scps and rcps: (target, [policies]) per level
    of the organization above the caller's and the resource's account, its root first. restrict_public:
    Block Public Access's RestrictPublicBuckets over the bucket (its own or its account's)."""
    if resource_account is None:
        parts = resource.split(":")
        resource_account = parts[4] if len(parts) > 4 and parts[4] else caller.account
    kind = resource_kind(action, resource)
    context = full_context(caller, context, resource_account, kind)
    who, what = caller.short(), f"{action} on {resource}"
    resource_type = {"role": "trust", "key": "key-policy"}.get(kind, "resource")

    def decide(decision, policy_type, hit, explicit, text):
        because = None
        if decision == "deny":
            because = "explicit-deny" if explicit else policy_type
        return decision, {"because": because, "policy_type": policy_type,
                          "policy": hit[0].name if hit else None,
                          "statement": hit[1].sid if hit else None, "text": text}

    if not resource_exists:
        if kind == "bucket":
            return decide("no-such-bucket", None, None, False, f"the bucket of {resource} does not exist")
        return decide("deny", resource_type, None, False, f"{resource} does not exist, so nothing trusts {who}")

    scps, rcps = organization_levels(caller, action, resource_account, scps, rcps, management_account)
    typed = [("rcp", [p for _, level in rcps for p in level]), ("scp", [p for _, level in scps for p in level]),
             ("identity", list(identity)), (resource_type, [resource_policy] if resource_policy else []),
             ("boundary", [boundary] if boundary else []), ("session", list(session))]
    for policy_type, policies in typed:
        hit = _find(policies, "Deny", caller, action, resource, context, boundary is not None)
        if hit:
            return decide("deny", policy_type, hit, True,
                          f"statement {hit[1].sid} of {hit[0].name} explicitly denies {who} {what}")
    # Then every level of RCPs over the resource, and of SCPs over the caller, must allow.
    for policy_type, levels in (("rcp", rcps), ("scp", scps)):
        for target, level in levels:
            if not _find(level, "Allow", caller, action, resource, context, boundary is not None):
                return decide("deny", policy_type, None, False,
                              f"no {policy_type.upper()} attached to {target} allows {who} {what}")

    same_account = caller.account is None or caller.account == resource_account
    root = caller.kind == "root" and same_account
    identity_hit = _find(identity, "Allow", caller, action, resource, context, boundary is not None)
    resource_hit = _find([resource_policy] if resource_policy else [], "Allow", caller, action, resource, context, boundary is not None)
    boundary_fails = boundary is not None and not _find([boundary], "Allow", caller, action, resource, context, boundary is not None)
    session_fails = bool(session) and not _find(session, "Allow", caller, action, resource, context, boundary is not None)

    def no_allow(policy_type, text):
        return decide("deny", policy_type, None, False, text)

    def own_side(need_identity):
        if need_identity and identity_hit is None and not root:
            return no_allow("identity", f"no identity-based policy of {who} allows {what}")
        if boundary_fails:
            return no_allow("boundary", f"{boundary.name} (the permissions boundary) does not allow {who} {what}")
        if session_fails:
            return no_allow("session", f"no session policy of {who} allows {what}")
        return None

    def allowed_by(policy_type, hit):
        if hit:
            text = f"statement {hit[1].sid} of {hit[0].name} allows {who} {what}"
        else:
            text = f"the account root user may {what}"
        return decide("allow", policy_type, hit, False, text)

    resource_name = resource_policy.name if resource_policy else None
    how = resource_hit[2] if resource_hit else NONE
    # A role, and a KMS key, admit no one their own policy does not name: a key not even its account,
    # whose IAM policies count only where the key policy enables them
    # (https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html).
    if kind in ("role", "key") and how == NONE:
        if kind == "role":
            text = f"no statement of {resource_name or TRUST_POLICY} lets {who} {action}"
        else:
            account = f"account {caller.account}" if caller.account else "its account"
            text = (f"no statement of {resource_name or 'the key policy (there is none)'} allows {who} {action}, "
                    f"nor enables the IAM policies of {account}, without which they have no effect")
        return no_allow(resource_type, text)
    # RestrictPublicBuckets: a public bucket policy grants only its owner's account and AWS services.
    outside = caller.kind == "anonymous" or (caller.kind != "service" and not same_account)
    public = public_statement(resource_policy) if kind == "bucket" and restrict_public and resource_policy and outside else None
    if public is not None:
        return decide("deny", "public-access-block", (resource_policy, public), False,
                      f"Block Public Access (RestrictPublicBuckets) limits {resource_name}, public by its statement "
                      f"{public.sid}, to its owner's account and AWS services: it grants {who} nothing")
    if caller.kind in ("service", "federated", "anonymous"):
        # Named by the resource policy, or nothing allows it.
        if resource_hit is None:
            named = resource_name or "a resource policy (there is none)"
            return no_allow(resource_type, f"no statement of {named} allows {who} {what}")
        return allowed_by(resource_type, resource_hit)
    if not same_account:
        if how == NONE:
            named = resource_name or "a resource policy (there is none)"
            return no_allow("resource", f"across accounts, no statement of {named} allows {who} {what}")
        return own_side(True) or allowed_by(resource_type, resource_hit)
    if how == DIRECT:
        return allowed_by(resource_type, resource_hit)
    if how == ROLE:
        return own_side(False) or allowed_by(resource_type, resource_hit)
    return own_side(True) or allowed_by("identity", identity_hit)
