"""Compatibility launcher for moto, used by the harness's `moto` target.

Stock moto enforces identity policies (IAM, STS, S3, EC2) once
INITIAL_NO_AUTH_ACTION_COUNT is reached, but its policy evaluation departs
from AWS's documented logic in ways that turn real mistakes into passes:
trust conditions fail open, identity-policy conditions are ignored, bucket
policies, boundaries and session policies are not evaluated, a role ARN
never matches its sessions, S3 authorizes before it finds a bucket is
missing, AssumeRole into a missing role succeeds, and policies IAM refuses
are stored. This launcher replaces moto's authorization with AWS's
evaluation order (iam_policy.py, the twin of the harness's evaluator, held
to the same conformance corpus) and refuses what IAM and S3 refuse
(MalformedPolicyDocument, MalformedPolicy), see `check_action_permitted`.
It also renders moto's authorization errors for IAM, STS and EC2 in their
query protocols' error shape (`ErrorResponse/Error` for IAM and STS,
`Response/Errors/Error` for EC2): stock moto writes `ErrorResponse/Errors/Error`
for all three, which the AWS SDKs and Terraform cannot parse, so a denial
shows as an unknown error instead of AccessDenied (see `query_error_body`).
Nothing else in moto is changed.

It also:
  * enforces IAM from the very first request (INITIAL_NO_AUTH_ACTION_COUNT=0)
    and bootstraps an admin IAM user in-process, writing its key to a 0600 file,
    so enforcement is never off, not even during bootstrap;
  * serves POST /_harness/ec2/instance-credentials: what the EC2 service does
    for an instance profile (assume the profile's role as ec2.amazonaws.com,
    only if the role's trust policy allows that service);
  * plays the SSM agent of every instance for Run Command (AWS-RunShellScript):
    the script runs here, with the aws CLI, as the instance's role (a session
    EC2 would serve it), against this server; an instance whose role does not
    permit the agent (ssm:UpdateInstanceInformation) is not registered, as on
    AWS, and SendCommand answers InvalidInstanceId (see `run_on_instance`);
  * plays an AWS Organization whose management account is the admin's: any
    other account is a member the admin reaches through its
    OrganizationAccountAccessRole (see `ensure_member_role`);
  * knows the AWS-managed AmazonSSMManagedInstanceCore policy (the harness's
    overlay), without loading every AWS-managed policy;
  * serves GET /_harness/health for readiness;
  * exits when the harness that started it is gone (no orphaned emulators);
  * with --record-secrets FILE, appends every secret it issues (access key
    secrets, session tokens) to FILE, so a test can prove none of them leaks.

Usage: python moto_launcher.py --port P --credentials-file F [--parent-pid PID | --lease-file L]
       [--start-marker M] [--record-secrets FILE]
--port 0 lets the kernel pick a free port; the launcher holds it from the
bind on and writes it, with the admin's key, to the credentials file, so two
launchers started at once can never be handed the same port. --start-marker
is echoed by the health endpoint, so whoever started this launcher knows it
is talking to this one and not to another on the same port.
"""

import argparse
import base64
import json
import os
import random
import re
import string
import subprocess
import sys
import threading
import time
from urllib.parse import parse_qs, urlparse
from xml.sax.saxutils import escape

# Must be set before moto.settings is imported: enforcement on from request 1.
os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"

import moto  # noqa: E402
from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.iam import iam_backends  # noqa: E402
from moto.core.exceptions import AccessDeniedError, JsonRESTError, _RESTError  # noqa: E402
from moto.iam import access_control  # noqa: E402
from moto.iam.access_control import (  # noqa: E402
    AssumedRoleAccessKey, CreateAccessKeyFailure, IAMRequest, IAMRequestBase, IAMUserAccessKey, S3IAMRequest)
from moto.iam.utils import generate_access_key_id_from_account_id, random_alphanumeric  # noqa: E402
from moto.sts.utils import random_session_token  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from moto.iam.exceptions import MalformedPolicyDocument  # noqa: E402
from moto.s3.exceptions import MissingBucket, S3ClientError  # noqa: E402
from moto.s3.models import S3Backend, s3_backends  # noqa: E402
from moto.s3control.models import s3control_backends  # noqa: E402
from moto.ec2 import ec2_backends  # noqa: E402
from moto.core.utils import utcnow  # noqa: E402
from moto.organizations.models import FakeAccount, OrganizationsBackend, organizations_backends  # noqa: E402
from moto.kms.models import kms_backends  # noqa: E402
from moto.kms.responses import KmsResponse  # noqa: E402
from moto.kms.utils import _deserialize_ciphertext_blob  # noqa: E402
from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.iam.aws_managed_policies import aws_managed_policies_data  # noqa: E402
from moto.iam.models import AWSManagedPolicy, IAMBackend, ManagedPolicy  # noqa: E402
from moto.ssm.models import SimpleSystemManagerBackend  # noqa: E402
from moto.sts import sts_backends  # noqa: E402
from moto.sts.models import STSBackend  # noqa: E402
from moto.sts.exceptions import STSClientError, STSValidationError  # noqa: E402
from moto.core.authorization import ActionAuthenticatorMixin  # noqa: E402
from moto.sts.responses import TokenResponse as STSResponse  # noqa: E402
from moto.core.responses import ActionResult  # noqa: E402
from moto.rds import rds_backends  # noqa: E402
from moto.rds.models import DBInstance  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402
from werkzeug.wrappers import Request, Response  # noqa: E402

import iam_policy  # noqa: E402  (beside this file; the harness writes or copies both)

LAUNCHER_VERSION = "1"
ADMIN_USER = "harness-admin"
EC2_SERVICE = "ec2.amazonaws.com"
PARTITION = "aws"
SSM_CORE_POLICY = "AmazonSSMManagedInstanceCore"
SHELL_DOCUMENT = "AWS-RunShellScript"
# Set by main(): where the emulated instances' aws CLI sends its calls, and
# the folder holding each instance's disk (removed with the harness's temp dir).
SERVER_URL = None
START_MARKER = None
INSTANCES_DIR = None


# ---------------------------------------------------------------------------
# Authorization with AWS's policy evaluation (iam_policy.py)
# ---------------------------------------------------------------------------

def _document(policy):
    """The JSON text of what moto's collect_policies returns (inline or managed)."""
    if isinstance(policy, (ManagedPolicy, AWSManagedPolicy)) or hasattr(policy, "versions"):
        return next(v.document for v in policy.versions if v.is_default)
    if isinstance(policy, dict):
        return policy["policy_document"]
    return policy


def _parsed(name, document, kind):
    """A stored document, parsed; one refused at write time never reaches here,
    but one stock moto stored before (managed policies) fails closed to no statements."""
    try:
        return iam_policy.parse(name, document, kind)
    except iam_policy.Malformed:
        return iam_policy.Policy(name, [])


def _principal_of(access_key):
    """The caller's entity (user or role), from moto's access key."""
    backend = access_key.backend
    if isinstance(access_key, AssumedRoleAccessKey):
        try:
            return backend.get_role(access_key._owner_role_name)
        except Exception:
            return None
    try:
        return backend.get_user(access_key._owner_user_name)
    except Exception:
        return None


def _session_policies(access_key):
    """The inline session policy and the managed ones passed as PolicyArns."""
    if isinstance(access_key, FederatedUserAccessKey):
        return access_key.session_policies()
    if not isinstance(access_key, AssumedRoleAccessKey):
        return []
    inline = next((session.policy for session in sts_backends[access_key.account_id][access_key.partition].assumed_roles
                   if session.access_key_id == access_key._access_key_id and session.policy), None)
    return _passed_policies(access_key.backend, inline, _session_of(access_key).get("policy_arns", []))


def _passed_policies(backend, inline, arns):
    """The session policies a session was made with: the inline one (JSON) and the managed ones by ARN."""
    policies = [_parsed("the session policy", inline, iam_policy.IDENTITY)] if inline else []
    for arn in arns:
        try:
            policies.append(_parsed(f"the session policy {arn}", _document(backend.get_policy(arn)), iam_policy.IDENTITY))
        except Exception:
            policies.append(iam_policy.Policy(f"the session policy {arn}", []))  # gone: allows nothing
    return policies


def _boundary(entity, backend):
    arn = getattr(entity, "permissions_boundary_arn", None)
    if not arn:
        return None
    try:
        return _parsed(f"the permissions boundary {arn.rsplit('/', 1)[-1]}", _document(backend.get_policy(arn)),
                       iam_policy.IDENTITY)
    except Exception:
        return iam_policy.Policy(f"the permissions boundary {arn}", [])  # gone: allows nothing


def _request_context(request, entity):
    """The context keys the harness's checks can depend on. The emulator is
    reached over loopback HTTP but stands for AWS's HTTPS endpoints, so
    aws:SecureTransport is true; aws:SourceIp is left out (AWS would see the
    caller's public address, which loopback cannot tell)."""
    # The region of the signature's scope: the region the request is sent to.
    context = _base_context(request._region)
    data = request._data or {}
    if "ExternalId" in data:
        context["sts:ExternalId"] = _param(data, "ExternalId")
    if request._action.lower() == "sts:assumerole":
        # A required parameter: every AssumeRole request carries its session name.
        context["sts:RoleSessionName"] = _param(data, "RoleSessionName")
        context.update(_assume_role_keys(_session_request(data)))
    if request._service == "kms":
        # The encryption context a KMS call names: kms:EncryptionContext:<key> and its keys.
        try:
            asked = json.loads(request._body or b"{}").get("EncryptionContext") or {}
        except (ValueError, AttributeError):
            asked = {}
        for key, value in asked.items():
            context[f"kms:EncryptionContext:{key}"] = value
        if asked:
            context["kms:EncryptionContextKeys"] = list(asked)
    query = parse_qs(urlparse(request._path).query)
    for key in ("prefix", "delimiter", "max-keys"):
        if key in query:
            context[f"s3:{key}"] = query[key][0]
    if request._service == "s3":
        # How the request was signed (amazon-s3-policy-keys.html): a header or a presigned URL.
        authorization = (request._headers or {}).get("Authorization", "")
        if authorization.startswith("AWS4-HMAC-SHA256"):
            context.update({"s3:authType": "REST-HEADER", "s3:signatureversion": "AWS4-HMAC-SHA256"})
        elif "X-Amz-Signature" in query:
            context.update({"s3:authType": "REST-QUERY-STRING", "s3:signatureversion": "AWS4-HMAC-SHA256"})
    context.update(_principal_context(request._access_key, entity))
    return context


def _principal_context(access_key, entity):
    """The keys the caller itself carries: its tags, its session's tags, source identity, instance and provider."""
    context = {}
    for key, value in _tags(entity).items():
        context[f"aws:PrincipalTag/{key}"] = value
    # A session's own tags override its role's tags of the same key.
    session = _session_of(access_key)
    for key, value in session.get("tags", {}).items():
        context[f"aws:PrincipalTag/{key}"] = value
    # "After a source identity is set, it is present in requests for any AWS action taken during the role session."
    if session.get("source_identity"):
        context["aws:SourceIdentity"] = session["source_identity"]
    # An instance role's session (its credentials delivered over IMDSv2) and a web identity's session.
    context.update(session.get("instance_keys", {}))
    if session.get("federated_provider"):
        context["aws:FederatedProvider"] = session["federated_provider"]
    return context


def _base_context(region):
    """The keys every request carries, signed or not: over HTTPS, its time, the region it is sent to."""
    now = time.time()
    return {
        "aws:SecureTransport": "true",
        "aws:CurrentTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "aws:EpochTime": str(int(now)),
        "aws:RequestedRegion": region,
    }


def _tags(entity):
    """A user's or role's tags, {key: value} (moto keeps them as a list of Key/Value dicts)."""
    tags = getattr(entity, "tags", None) or []
    entries = tags.values() if isinstance(tags, dict) else tags
    return {t["Key"]: t.get("Value", "") for t in entries if isinstance(t, dict) and "Key" in t}


def _role_tags(role):
    """A role's tags as aws:ResourceTag/* of an AssumeRole asking for it."""
    return {f"aws:ResourceTag/{key}": value for key, value in _tags(role).items()}


def _resource_policy(request, resource):
    """(the resource's policy, does the resource exist, its account) for the checks' resources."""
    action = request._action.lower()
    if iam_policy.is_trust_action(action):
        parts = resource.split(":")
        account = parts[4] if len(parts) > 4 else request.account_id
        try:
            role = iam_backends[account][PARTITION].get_role_by_arn(resource)
        except Exception:
            return None, False, account
        return _parsed(f"{role.name}'s trust policy", role.assume_role_policy_document, iam_policy.TRUST), True, account
    if resource.startswith("arn:aws:s3:::") and action != "s3:createbucket":
        return _bucket_policy(resource)
    if resource.split(":")[2:3] == ["kms"] and ":key/" in resource:
        return _key_policy(resource)
    return None, True, None


def _bucket_policy(resource):
    """(the bucket's policy, does the bucket exist, its owner's account) for a bucket's or object's ARN."""
    bucket_name = resource[len("arn:aws:s3:::"):].split("/", 1)[0]
    if not bucket_name or bucket_name == "*":
        return None, True, None
    owner = s3_backends.bucket_accounts.get(bucket_name)
    if owner is None:
        return None, False, None
    bucket = s3_backends[owner[1]][owner[0]].buckets.get(bucket_name)
    policy = getattr(bucket, "policy", None)
    document = policy.decode() if isinstance(policy, bytes) else policy
    parsed = _parsed(f"the bucket policy of {bucket_name}", document, iam_policy.BUCKET) if document else None
    return parsed, True, owner[1]


def _key_policy(key_arn):
    """(the key's policy, does the key exist, its account) for a key's ARN."""
    parts = key_arn.split(":")
    try:
        key = kms_backends[parts[4]][parts[3]].keys[key_arn.split(":key/", 1)[1]]
    except Exception:
        return None, False, parts[4]
    return _parsed(f"the key policy of {key.id}", key.policy, iam_policy.BUCKET), True, parts[4]


# ---------------------------------------------------------------------------
# KMS: the key a call acts on, so its key policy takes part
# ---------------------------------------------------------------------------
# Stock moto authorizes every KMS call on "*" and never reads a key policy
# (it checks Deny statements on DescribeKey only). Here a call's resource is
# its key's ARN, as AWS authorizes it: the KeyId (an id, ARN or alias), or for
# Decrypt the key its ciphertext names; the evaluator then reads the key
# policy, which grants its account nothing implicitly.

def _kms_resource(self):
    try:
        params = json.loads(self.body or "{}")
    except ValueError:
        return "*"
    key_id = params.get("KeyId")
    if not key_id and params.get("CiphertextBlob"):
        try:
            key_id = _deserialize_ciphertext_blob(base64.b64decode(params["CiphertextBlob"])).key_id.decode()
        except Exception:
            return "*"
    if not key_id:
        return "*"
    account, region = self.current_account, self.region
    if key_id.startswith("arn:"):
        account, region = key_id.split(":")[4], key_id.split(":")[3]
    try:
        return kms_backends[account][region].describe_key(key_id).arn
    except Exception:
        return "*"  # no such key: KMS's own NotFoundException follows


KmsResponse._determine_resource = _kms_resource


# S3 with SSE-KMS: a put to a bucket whose default encryption is a customer
# managed key asks KMS for a data key, a get of an object encrypted under one
# asks KMS to decrypt it, both as the caller and via S3: the key policy (and
# the caller's own policies) decide as for a direct call, with
# kms:ViaService = s3.<region>.amazonaws.com and the object's (or with an S3
# Bucket Key the bucket's) ARN as aws:s3:arn encryption context
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html).
# Stock moto stores the key id and never asks KMS.

def sse_kms_call(request, resource):
    """(the KMS action, the key's ARN, the extra context) S3 would make for this request, or None."""
    action = request._action.lower()
    if action not in ("s3:putobject", "s3:getobject") or not resource.startswith("arn:aws:s3:::"):
        return None
    bucket_name, _, object_key = resource[len("arn:aws:s3:::"):].partition("/")
    owner = s3_backends.bucket_accounts.get(bucket_name)
    if owner is None or not object_key:
        return None
    bucket = s3_backends[owner[1]][owner[0]].buckets.get(bucket_name)
    if bucket is None:
        return None
    if action == "s3:putobject":
        rule = (bucket.encryption or {}).get("Rule", {})
        default = rule.get("ApplyServerSideEncryptionByDefault", {})
        headers = {k.lower(): v for k, v in (getattr(request, "_headers", None) or {}).items()}
        algorithm = headers.get("x-amz-server-side-encryption") or default.get("SSEAlgorithm")
        key_id = headers.get("x-amz-server-side-encryption-aws-kms-key-id") or default.get("KMSMasterKeyID")
        bucket_key = str(rule.get("BucketKeyEnabled", False)).lower() == "true"
        kms_action = "kms:GenerateDataKey"
    else:
        stored = bucket.keys.get(object_key)
        if stored is None:
            return None
        algorithm, key_id = stored.encryption, stored.kms_key_id
        bucket_key = str(stored.bucket_key_enabled).lower() == "true"
        kms_action = "kms:Decrypt"
    if algorithm != "aws:kms" or not key_id:
        return None  # SSE-S3, or the AWS managed aws/s3 key: nothing of the account's to check
    account, region = owner[0], bucket.region_name
    if key_id.startswith("arn:"):
        account, region = key_id.split(":")[4], key_id.split(":")[3]
    try:
        key_arn = kms_backends[account][region].describe_key(key_id).arn
    except Exception:
        return None
    arn = f"arn:aws:s3:::{bucket_name}" if bucket_key else resource
    context = {"kms:ViaService": f"s3.{region}.amazonaws.com", "aws:ViaAWSService": "true",
               "kms:EncryptionContext:aws:s3:arn": arn, "kms:EncryptionContextKeys": ["aws:s3:arn"]}
    return kms_action, key_arn, context


# How AWS words a denial's reason in its AccessDenied message.
_DENIAL_WORDS = {
    "identity": "because no identity-based policy allows the {action} action",
    "resource": "because no resource-based policy allows the {action} action",
    "boundary": "because no permissions boundary allows the {action} action",
    "session": "because no session policy allows the {action} action",
    "key-policy": "because no resource-based policy allows the {action} action",
    "scp": "because no service control policy allows the {action} action",
    "rcp": "because no resource control policy allows the {action} action",
    "trust": "",
}
_EXPLICIT_WORDS = {
    "identity": "with an explicit deny in an identity-based policy",
    "resource": "with an explicit deny in a resource-based policy",
    "trust": "with an explicit deny in a resource-based policy",
    "boundary": "with an explicit deny in a permissions boundary",
    "session": "with an explicit deny in a session policy",
    "key-policy": "with an explicit deny in a resource-based policy",
    "scp": "with an explicit deny in a service control policy",
    "rcp": "with an explicit deny in a resource control policy",
}


# ---------------------------------------------------------------------------
# An emulated AWS Organization: every other account is a member
# ---------------------------------------------------------------------------
# The harness reaches a scenario's accounts as an Organization's management
# account does on AWS: it assumes OrganizationAccountAccessRole in each one
# (trusting the management account's root, allowed everything). Here the
# admin's account is the management account, and a member's role is made the
# first time the admin itself asks to assume it: an authenticated call,
# evaluated like any other once the role exists; nobody else creates one.
MEMBER_ROLE = "OrganizationAccountAccessRole"
_MEMBERS_LOCK = threading.Lock()


def ensure_member_role(request, resource):
    parts = resource.split(":")
    if (request._action.lower() != "sts:assumerole" or len(parts) != 6 or parts[5] != f"role/{MEMBER_ROLE}"
            or not re.fullmatch(r"\d{12}", parts[4]) or parts[4] == DEFAULT_ACCOUNT_ID
            or request._access_key.arn != f"arn:{PARTITION}:iam::{DEFAULT_ACCOUNT_ID}:user/{ADMIN_USER}"):
        return
    iam = iam_backends[parts[4]][PARTITION]
    with _MEMBERS_LOCK:
        if any(role.name == MEMBER_ROLE for role in iam.roles.values()):
            return
        trust = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"AWS": f"arn:{PARTITION}:iam::{DEFAULT_ACCOUNT_ID}:root"}}]}
        iam.create_role(role_name=MEMBER_ROLE, assume_role_policy_document=json.dumps(trust), path="/",
                        permissions_boundary=None, description="the emulated Organization's access role",
                        tags=[], max_session_duration="3600")
        iam.put_role_policy(MEMBER_ROLE, "AdministratorAccess", json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))


# ---------------------------------------------------------------------------
# The Organization's guardrails: SCPs and RCPs
# ---------------------------------------------------------------------------
# Stock moto stores an Organization's policies and enforces none. Here the
# Organization a config creates (aws_organizations_organization, in the
# management account) gets the members the harness declares for the scenario
# (POST /_harness/organization, before the apply: moto's accounts get random
# ids, a scenario's have fixed ones; an Organization an earlier run left in
# the account gives way, the harness running one such scenario at a time), each under the root with the default
# FullAWSAccess and RCPFullAWSAccess attached, as AWS attaches them. Every
# request is then capped by the SCPs over its caller's account and the RCPs
# over its resource's account, a level each from the root down, as
# iam_policy.evaluate applies them, and carries aws:PrincipalOrgID and
# aws:PrincipalOrgPaths (aws:ResourceOrgID and aws:ResourceOrgPaths).

DECLARED_MEMBERS = {}  # management account id -> the member account ids declared for its Organization
_ORGANIZATION_LOCK = threading.Lock()


def declare_organization(request):
    try:
        body = json.loads(request.get_data() or b"{}")
        management, members = body["management"], list(body.get("members", []))
    except (ValueError, KeyError, TypeError):
        return _json(400, {"Code": "BadRequest", "Message": "JSON body with management and members required"})
    if not all(re.fullmatch(r"\d{12}", a) for a in [management, *members]):
        return _json(400, {"Code": "BadRequest", "Message": "account ids are 12 digits"})
    with _ORGANIZATION_LOCK:
        DECLARED_MEMBERS[management] = members
        # A run declares the Organization afresh: one an earlier run's config left in the account
        # (the emulator's end is its cleanup) gives way, with its members.
        _retire(management)
    return _json(200, {"management": management, "members": members})


def _retire(management):
    """The management account's Organization gone, its members free again (under _ORGANIZATION_LOCK)."""
    backend = organizations_backends[management][PARTITION]
    if backend.org is not None:
        for account in backend.accounts:
            organizations_backends.master_accounts.pop(account.id, None)
        backend._reset()


def retire_organization(request):
    """DELETE /_harness/organization: the scenario that declared it has ended. Its SCPs and RCPs
    are account-wide state: left behind (a destroy that detached nothing, an emulator kept for
    the next scenario), they would cap the next scenario's accounts."""
    try:
        management = json.loads(request.get_data() or b"{}")["management"]
    except (ValueError, KeyError, TypeError):
        return _json(400, {"Code": "BadRequest", "Message": "JSON body with management required"})
    with _ORGANIZATION_LOCK:
        DECLARED_MEMBERS.pop(management, None)
        _retire(management)
    return _json(200, {"management": management, "retired": True})


def _join(backend, account_id):
    """An existing account invited into the Organization, under its root, with the default policies."""
    org = backend.org
    member = object.__new__(FakeAccount)
    member.__dict__.update(type="ACCOUNT", region=org.region, organization_id=org.id, master_account_id=org.master_account_id,
                           create_account_status_id="car-harness" + account_id, id=account_id, name=f"member {account_id}",
                           email=f"{account_id}@members.example", create_time=utcnow(), status="ACTIVE",
                           state="ACTIVE", joined_method="INVITED", parent_id=org.root_id, attached_policies=[], tags={})
    backend.accounts.append(member)
    organizations_backends.master_accounts[account_id] = (org.master_account_id, PARTITION)
    for policy in [p for p in backend.policies if p.aws_managed]:
        backend.attach_policy(PolicyId=policy.id, TargetId=account_id)


def _create_organization(original):
    def patched(self, region, **kwargs):
        result = original(self, region, **kwargs)
        with _ORGANIZATION_LOCK:
            members = DECLARED_MEMBERS.get(self.account_id, [])
        for account_id in members:
            if account_id != self.account_id and not any(a.id == account_id for a in self.accounts):
                _join(self, account_id)
        return result
    return patched


def _delete_organization(original):
    def patched(self):
        # The members it was given leave with it (on AWS they would have to leave first).
        for account in [a for a in self.accounts if a.joined_method == "INVITED"]:
            organizations_backends.master_accounts.pop(account.id, None)
            for policy in account.attached_policies:
                policy.attachments.remove(account)
            self.accounts.remove(account)
        return original(self)
    return patched


OrganizationsBackend.create_organization = _create_organization(OrganizationsBackend.create_organization)
OrganizationsBackend.delete_organization = _delete_organization(OrganizationsBackend.delete_organization)


def _organization_of(account_id):
    """(the Organization's backend, the account's entry) when the account is in one, else (None, None)."""
    if account_id is None:
        return None, None
    management = organizations_backends.master_accounts.get(account_id, (account_id, PARTITION))[0]
    backend = organizations_backends[management][PARTITION] if management in organizations_backends else None
    if backend is None or backend.org is None:
        return None, None
    account = next((a for a in backend.accounts if a.id == account_id), None)
    return (backend, account) if account else (None, None)


def _ancestors(backend, account):
    """The OUs above the account, the root first."""
    chain, parent = [], account.parent_id
    while parent:
        node = next((ou for ou in backend.ou if ou.id == parent), None)
        if node is None:
            break
        chain.insert(0, node)
        parent = node.parent_id if node.type != "ROOT" else None
    return chain


def _levels(backend, account, policy_type):
    """The policies of `policy_type` attached at each level above the account, the root first
    (none where the type is not enabled at the root: then it caps nothing)."""
    root = next(ou for ou in backend.ou if ou.id == backend.org.root_id)
    if not any(t["Type"] == policy_type and t["Status"] == "ENABLED" for t in root.policy_types):
        return []
    kind = iam_policy.SCP if policy_type == "SERVICE_CONTROL_POLICY" else iam_policy.RCP
    levels = []
    for node in _ancestors(backend, account) + [account]:
        target = {"ROOT": f"the organization's root {node.id}", "ACCOUNT": f"account {node.id}"}.get(node.type, f"OU {node.id}")
        policies = [_parsed(f"the {kind.upper()} {p.name}", p.content, kind) for p in node.attached_policies if p.type == policy_type]
        levels.append((target, policies))
    return levels


def _org_path(backend, account):
    """aws:PrincipalOrgPaths' value: o-.../r-.../ou-.../"""
    return f"{backend.org.id}/" + "".join(f"{node.id}/" for node in _ancestors(backend, account))


def organization_policies(caller_account, resource_account, context):
    """(the SCP levels over the caller's account, the RCP levels over the resource's, the management
    account), filling the Organization's context keys of both."""
    scps, rcps, management = [], [], None
    backend, account = _organization_of(caller_account)
    if backend is not None:
        management = backend.org.master_account_id
        context.setdefault("aws:PrincipalOrgID", backend.org.id)
        context.setdefault("aws:PrincipalOrgPaths", [_org_path(backend, account)])
        scps = _levels(backend, account, "SERVICE_CONTROL_POLICY")
    backend, account = _organization_of(resource_account)
    if backend is not None:
        management = management or backend.org.master_account_id
        context.setdefault("aws:ResourceOrgID", backend.org.id)
        context.setdefault("aws:ResourceOrgPaths", [_org_path(backend, account)])
        rcps = _levels(backend, account, "RESOURCE_CONTROL_POLICY")
    return scps, rcps, management


def check_action_permitted(self, resource):
    """AWS's evaluation (iam_policy.evaluate) instead of moto's: identity
    policies with their conditions, the role's trust policy or the bucket
    policy, the permissions boundary and the session policy; a bucket that
    exists nowhere is NoSuchBucket before any authorization, as S3 answers."""
    if self._action.lower() == "sts:getcalleridentity":  # needs no permission, even under an explicit Deny
        return
    ensure_member_role(self, resource)
    caller = iam_policy.Caller.parse(self._access_key.arn)
    entity = _principal_of(self._access_key)
    backend = self._access_key.backend
    identity = [_parsed(f"{getattr(entity, 'name', '?')}'s policy {i}", _document(p), iam_policy.IDENTITY)
                for i, p in enumerate(self._access_key.collect_policies())]
    resource_policy, exists, account = _resource_policy(self, resource)
    context = _request_context(self, entity)
    if iam_policy.is_trust_action(self._action.lower()) and exists:
        context.update(_role_tags(iam_backends[account][PARTITION].get_role_by_arn(resource)))
    scps, rcps, management = organization_policies(caller.account, account or caller.account, context)
    policies = (identity, resource_policy, _boundary(entity, backend), _session_policies(self._access_key), exists, account,
                scps, rcps, management, _restricts_public(resource))
    action, decision, reason = self._action, *iam_policy.evaluate(caller, self._action, resource, context, *policies)
    # Passing tags needs sts:TagSession, a source identity sts:SetSourceIdentity (trust and caller alike).
    for extra in _assume_role_extras(self) if decision == "allow" else ():
        action, decision, reason = extra, *iam_policy.evaluate(caller, extra, resource, context, *policies)
        if decision != "allow":
            break
    if decision == "no-such-bucket":
        raise MissingBucket(resource[len("arn:aws:s3:::"):].split("/", 1)[0])
    via_s3 = sse_kms_call(self, resource) if decision == "allow" else None
    if via_s3 is not None:
        # The key S3 uses on the caller's behalf must let the caller use it too.
        kms_action, key_arn, extra = via_s3
        key_policy, key_exists, key_account = _key_policy(key_arn)
        key_context = dict(context, **extra)
        scps, rcps, management = organization_policies(caller.account, key_account, key_context)
        key_policies = (identity, key_policy, policies[2], policies[3], key_exists, key_account, scps, rcps, management)
        action, decision, reason = kms_action, *iam_policy.evaluate(caller, kms_action, key_arn, key_context, *key_policies)
        resource = key_arn
    if decision == "allow":
        return
    policy_type = reason["policy_type"]
    words = (_EXPLICIT_WORDS if reason["because"] == "explicit-deny" else _DENIAL_WORDS).get(policy_type, "")
    message = f"User: {self._access_key.arn} is not authorized to perform: {action} on resource: {resource}"
    if words:
        message += " " + words.format(action=action)
    if isinstance(self, S3IAMRequest):
        raise S3ClientError("AccessDenied", message)
    if self._service == "kms":  # a JSON protocol: KMS's own error shape
        raise JsonRESTError("AccessDeniedException", message)
    err = AccessDeniedError(user_arn=self._access_key.arn, action=action)
    err.message, err.description = message, query_error_body(self._service, "AccessDenied", message)
    raise err


IAMRequestBase.check_action_permitted = check_action_permitted


# ---------------------------------------------------------------------------
# AssumeRole's session parameters, as STS honours them
# ---------------------------------------------------------------------------
# Stock moto keeps a session's inline policy and ignores the rest: tags,
# transitive tag keys, managed session policies (PolicyArns), the source
# identity, and the duration's bounds. Here a session's parameters are kept
# by its access key id: its tags become aws:PrincipalTag/* of its calls
# (over its role's), transitive ones pass to the sessions it assumes, its
# managed session policies narrow it, and a duration STS refuses is refused
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use.html).

SESSIONS = {}
_SESSIONS_LOCK = threading.Lock()
DEFAULT_SECONDS, MIN_SECONDS, CHAIN_SECONDS = 3600, 900, 3600


def _param(data, name):
    value = data.get(name)
    return value[0] if isinstance(value, list) else value


def _members(data, name, field=None):
    """`Name.member.N[.field]` query parameters, in N order."""
    found = {}
    for key in data:
        match = re.fullmatch(rf"{re.escape(name)}\.member\.(\d+)" + (rf"\.{re.escape(field)}" if field else ""), key)
        if match:
            found[int(match.group(1))] = _param(data, key)
    return [found[n] for n in sorted(found)]


def _session_request(data):
    """What an AssumeRole request asks of its session."""
    keys, values = _members(data, "Tags", "Key"), _members(data, "Tags", "Value")
    return {
        "tags": dict(zip(keys, values)),
        "transitive": _members(data, "TransitiveTagKeys"),
        "policy_arns": _members(data, "PolicyArns", "arn"),
        "source_identity": _param(data, "SourceIdentity"),
    }


def _assume_role_keys(asked):
    """The context keys of an AssumeRole request's parameters."""
    keys = {f"aws:RequestTag/{k}": v for k, v in asked["tags"].items()}
    if asked["tags"]:
        keys["aws:TagKeys"] = list(asked["tags"])
    if asked["transitive"]:
        keys["sts:TransitiveTagKeys"] = list(asked["transitive"])
    if asked["source_identity"]:
        keys["sts:SourceIdentity"] = asked["source_identity"]
    return keys


def _assume_role_extras(request):
    """The permissions-only actions an AssumeRole's parameters also need."""
    if request._action.lower() != "sts:assumerole":
        return []
    asked = _session_request(request._data or {})
    return (["sts:TagSession"] if asked["tags"] else []) + (["sts:SetSourceIdentity"] if asked["source_identity"] else [])


def _session_of(access_key):
    return _session_by_key(getattr(access_key, "_access_key_id", None))


def _session_by_key(access_key_id):
    with _SESSIONS_LOCK:
        return SESSIONS.get(access_key_id, {})


def duration_refusal(requested, role_max, chained):
    """The ValidationError message STS answers for a duration it refuses, else None."""
    seconds = DEFAULT_SECONDS if requested is None else requested
    if seconds < MIN_SECONDS:
        return (f"1 validation error detected: Value '{seconds}' at 'durationSeconds' failed to satisfy "
                f"constraint: Member must have value greater than or equal to {MIN_SECONDS}")
    if chained and requested is not None and requested > CHAIN_SECONDS:
        return "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
    if seconds > role_max:
        return "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    return None


def assume_role_response(original):
    def patched(self):
        data = self.querystring
        requested = _param(data, "DurationSeconds")
        requested = int(requested) if requested is not None else None
        caller_key = self.get_access_key()
        # A session's keys start with ASIA (a user's with AKIA): a session assuming a role is role chaining.
        chained = bool(caller_key) and caller_key.startswith("ASIA")
        role_arn = _param(data, "RoleArn") or ""
        role_max = DEFAULT_SECONDS
        try:
            role = iam_backends[role_arn.split(":")[4]][PARTITION].get_role_by_arn(role_arn)
            role_max = int(getattr(role, "max_session_duration", None) or DEFAULT_SECONDS)
        except Exception:
            pass
        refusal = duration_refusal(requested, role_max, chained)
        if refusal:
            raise STSValidationError(refusal)
        result = original(self)
        asked = _session_request(data)
        incoming = _session_by_key(caller_key)
        # Incoming transitive tags pass on; the request's tags are added to them.
        tags = {k: v for k, v in incoming.get("tags", {}).items() if k in incoming.get("transitive", ())}
        transitive = set(tags) | set(asked["transitive"])
        tags.update(asked["tags"])
        session_key = result.result["Credentials"].access_key_id
        # A source identity once set persists down the chain and cannot be changed
        # (id_credentials_temp_control-access_monitor.html).
        source_identity = incoming.get("source_identity") or asked["source_identity"]
        with _SESSIONS_LOCK:
            SESSIONS[session_key] = {"tags": tags, "transitive": transitive, "policy_arns": asked["policy_arns"],
                                     "source_identity": source_identity}
        return result
    return patched


STSResponse.assume_role = assume_role_response(STSResponse.assume_role)


# ---------------------------------------------------------------------------
# AssumeRoleWithWebIdentity, as STS checks it
# ---------------------------------------------------------------------------
# Stock moto treats it as a plain AssumeRole: no token, no provider, no
# trust. Here the token's issuer must be an OIDC provider of the role's
# account listing the token's audience (else InvalidIdentityToken), and the
# role's trust must allow the provider's users, its conditions read from
# the claims as <issuer>:<claim>. The request is unsigned, as on AWS: the
# token is what authenticates it. Its signature is not checked: offline
# nobody can sign as the real provider (the harness issues the tokens).

def _token_claims(token):
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except Exception:
        return None


def _invalid_token(message):
    return STSClientError("InvalidIdentityToken", message)


def web_identity_response(original):
    def patched(self):
        role_arn = self._get_param("RoleArn") or ""
        claims = _token_claims(self._get_param("WebIdentityToken") or "")
        if not isinstance(claims, dict) or not str(claims.get("iss", "")).startswith("https://"):
            raise _invalid_token("Couldn't retrieve verification key from your identity provider")
        issuer = claims["iss"][len("https://"):]
        account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else DEFAULT_ACCOUNT_ID
        iam = iam_backends[account][PARTITION]
        provider = next((p for p in iam.open_id_providers.values() if p.url == issuer), None)
        if provider is None:
            raise _invalid_token(f"No OpenIDConnect provider found in your account for https://{issuer}")
        if claims.get("aud") not in provider.client_id_list:
            raise _invalid_token("Incorrect token audience")
        try:
            role = iam.get_role_by_arn(role_arn)
            trust, exists = _parsed(f"{role.name}'s trust policy", role.assume_role_policy_document, iam_policy.TRUST), True
        except Exception:
            role, trust, exists = None, None, False
        context = {"aws:SecureTransport": "true", "aws:FederatedProvider": provider.arn, "aws:RequestedRegion": self.region}
        context.update(_role_tags(role) if role else {})
        context.update({f"{issuer}:{k}": str(v) for k, v in claims.items() if isinstance(v, (str, int))})
        caller = iam_policy.Caller.parse(provider.arn)
        decision, _ = iam_policy.evaluate(caller, "sts:AssumeRoleWithWebIdentity", role_arn, context, (), trust, None, [], exists, account)
        if decision != "allow":
            raise STSClientError("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
        result = original(self)
        # Its session's calls carry aws:FederatedProvider: the provider that authenticated it.
        with _SESSIONS_LOCK:
            SESSIONS[result.result["Credentials"].access_key_id] = {"federated_provider": provider.arn}
        return result
    return patched


STSResponse.assume_role_with_web_identity = web_identity_response(STSResponse.assume_role_with_web_identity)


def _unsigned_exchanges(original):
    """AssumeRoleWithWebIdentity carries a token, AssumeRoleWithSAML an assertion: neither a signature."""
    def patched(self, resource="*"):
        if self._get_action() in ("AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"):
            return None
        return original(self, resource)
    return patched


ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = _unsigned_exchanges(
    ActionAuthenticatorMixin._authenticate_and_authorize_normal_action)


# ---------------------------------------------------------------------------
# AssumeRoleWithSAML, as STS checks it
# ---------------------------------------------------------------------------
# Stock moto checks nothing: it takes the first Role attribute's role,
# whatever the signature, the issuer, the expiry, the provider or the trust.
# Here (saml_sp.py, with signxml) the response must be signed by a
# certificate of the provider's metadata, come from its entity id and not be
# expired; the Role attribute must pair the role asked for with the provider
# named; then the role's trust decides for the provider's users, with the
# SAML:* keys (SAML:aud is the Recipient) and, for PrincipalTag:* attributes,
# sts:TagSession (id_roles_providers_create_saml_assertions.html).

def _saml_facts(role_arn, provider_arn, encoded):
    """The verified assertion's facts and the provider, or the STS error."""
    import saml_sp  # signxml: only a SAML call needs it
    account = provider_arn.split(":")[4] if provider_arn.count(":") >= 5 else DEFAULT_ACCOUNT_ID
    provider = next((p for p in iam_backends[account][PARTITION].saml_providers.values() if p.arn == provider_arn), None)
    try:
        if provider is None:
            raise saml_sp.Refusal("InvalidIdentityToken", "Specified provider doesn't exist")
        facts = saml_sp.read(encoded, provider.saml_metadata_document or "")
        if (role_arn, provider_arn) not in saml_sp.role_pairs(facts):
            raise saml_sp.Refusal("AccessDenied", "Not authorized to perform sts:AssumeRoleWithSAML")
        return facts, saml_sp.session_name(facts), saml_sp.session_tags(facts), saml_sp.context_keys(facts)
    except saml_sp.Refusal as refusal:
        raise STSClientError(refusal.code, refusal.message)


def saml_response(original):
    def patched(self):
        role_arn, provider_arn = self._get_param("RoleArn") or "", self._get_param("PrincipalArn") or ""
        facts, session_name, tags, keys = _saml_facts(role_arn, provider_arn, self._get_param("SAMLAssertion") or "")
        account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else DEFAULT_ACCOUNT_ID
        iam = iam_backends[account][PARTITION]
        try:
            role = iam.get_role_by_arn(role_arn)
            trust, exists = _parsed(f"{role.name}'s trust policy", role.assume_role_policy_document, iam_policy.TRUST), True
        except Exception:
            role, trust, exists = None, None, False
        context = _base_context(self.region)
        context.update(keys, **{"aws:FederatedProvider": provider_arn})
        context.update(_role_tags(role) if role else {})
        context.update({f"aws:RequestTag/{k}": v for k, v in tags.items()})
        if tags:
            context["aws:TagKeys"] = list(tags)
        caller = iam_policy.Caller.parse(provider_arn)
        for action in ["sts:AssumeRoleWithSAML"] + (["sts:TagSession"] if tags else []):
            decision, _ = iam_policy.evaluate(caller, action, role_arn, context, (), trust, None, [], exists, account)
            if decision != "allow":
                raise STSClientError("AccessDenied", f"Not authorized to perform {action}")
        credentials = self.backend.assume_role(region_name=self.region, role_session_name=session_name, role_arn=role_arn,
                                               policy=None, duration=DEFAULT_SECONDS, external_id=None)
        with _SESSIONS_LOCK:
            SESSIONS[credentials.access_key_id] = {"tags": tags, "federated_provider": provider_arn}
        return ActionResult({
            "Credentials": credentials,
            "AssumedRoleUser": {"AssumedRoleId": credentials.user_id, "Arn": credentials.arn},
            "Subject": facts["subject"], "SubjectType": facts["subject_type"], "Issuer": facts["issuer"],
            "Audience": facts["recipient"], "NameQualifier": "",
        })
    return patched


STSResponse.assume_role_with_saml = saml_response(STSResponse.assume_role_with_saml)


# ---------------------------------------------------------------------------
# GetFederationToken, as STS issues it
# ---------------------------------------------------------------------------
# Stock moto answers every call with the same example credentials, which it
# never registers, and ignores the session policy. Here only an IAM user's
# long-term key may call it; its credentials are minted and registered; the
# session is arn:aws:sts::ACCOUNT:federated-user/NAME, whose permissions are
# its user's identity policies narrowed by the session policies passed (none
# passed: none), besides what a resource policy grants its ARN
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_request.html#api_getfederationtoken).

FEDERATED = {}
# Where a minted session's secrets are recorded for the harness to redact (set by record_secrets).
_record_federation_secrets = None


class FederatedUserAccessKey(IAMUserAccessKey):
    """A federated user's session key: its user's policies, its own ARN, its session policies."""

    def __init__(self, account_id, partition, access_key_id, headers):
        with _SESSIONS_LOCK:
            record = FEDERATED.get(access_key_id)
        if record is None:
            raise CreateAccessKeyFailure(reason="InvalidId")
        self.account_id, self.partition = record["account"], partition
        self._owner_user_name, self._access_key_id = record["user"], access_key_id
        self._secret_access_key, self._session_token = record["secret"], record["token"]
        self._record = record
        if headers.get("X-Amz-Security-Token") != self._session_token:
            raise CreateAccessKeyFailure(reason="InvalidToken")

    @property
    def arn(self):
        return f"arn:{self.partition}:sts::{self.account_id}:federated-user/{self._record['name']}"

    def create_credentials(self):
        return Credentials(self._access_key_id, self._secret_access_key, self._session_token)

    def session_policies(self):
        policies = _passed_policies(self.backend, self._record["policy"], self._record["policy_arns"])
        # None passed: the session has no permissions of its own.
        return policies or [iam_policy.Policy("no session policy (GetFederationToken was called without one)", [])]


def create_access_key(account_id, partition, access_key_id, headers):
    if access_key_id in FEDERATED:
        return FederatedUserAccessKey(account_id, partition, access_key_id, headers)
    return _create_access_key(account_id, partition, access_key_id, headers)


_create_access_key = access_control.create_access_key
access_control.create_access_key = create_access_key


def get_federation_token(original):
    def patched(self):
        caller_key = self.get_access_key() or ""
        # Only an IAM user's long-term key may call it (a session's keys start with ASIA).
        if not caller_key.startswith("AKIA"):
            raise STSClientError("AccessDenied", "Cannot call GetFederationToken with session credentials")
        user = iam_backends[self.current_account][PARTITION].get_user_from_access_key_id(caller_key)
        if user is None:
            raise STSClientError("AccessDenied", "GetFederationToken needs an IAM user's access key")
        result = original(self)
        name = _param(self.querystring, "Name")
        key = generate_access_key_id_from_account_id(self.current_account, "ASIA")
        record = {"account": self.current_account, "user": user.name, "name": name, "secret": random_alphanumeric(40),
                  "token": random_session_token(), "policy": _param(self.querystring, "Policy"),
                  "policy_arns": _members(self.querystring, "PolicyArns", "arn")}
        with _SESSIONS_LOCK:
            FEDERATED[key] = record
        if _record_federation_secrets is not None:
            _record_federation_secrets(record["secret"], record["token"])
        credentials = result.result["Credentials"]
        credentials.update({"AccessKeyId": key, "SecretAccessKey": record["secret"], "SessionToken": record["token"]})
        return result
    return patched


STSResponse.get_federation_token = get_federation_token(STSResponse.get_federation_token)


# ---------------------------------------------------------------------------
# Policies AWS refuses are refused here too
# ---------------------------------------------------------------------------

def _missing_principals(policy):
    """Users and roles a policy names that do not exist (IAM and S3 refuse them)."""
    missing = []
    for statement in policy.statements:
        for element in (statement.principal, statement.not_principal):
            for entry in (element.aws if element else []):
                if entry[0] in ("user", "role"):
                    backend = iam_backends[entry[1]][PARTITION]
                    try:
                        (backend.get_user if entry[0] == "user" else backend.get_role)(entry[2])
                    except Exception:
                        missing.append(f"arn:{PARTITION}:iam::{entry[1]}:{entry[0]}/{entry[2]}")
    return missing


def _validated_trust(document):
    try:
        policy = iam_policy.parse("trust policy", document, iam_policy.TRUST)
    except iam_policy.Malformed as err:
        raise MalformedPolicyDocument(err.message)
    missing = _missing_principals(policy)
    if missing:
        raise MalformedPolicyDocument(f'Invalid principal in policy: "AWS":"{missing[0]}"')


def _validated_identity(document):
    try:
        iam_policy.parse("policy", document, iam_policy.IDENTITY)
    except iam_policy.Malformed as err:
        raise MalformedPolicyDocument(err.message)


def _refusing(method, validate, argument):
    def patched(self, *args, **kwargs):
        document = kwargs[argument] if argument in kwargs else args[_ARGUMENT_INDEX[method.__name__]]
        validate(document)
        return method(self, *args, **kwargs)
    patched.__name__ = method.__name__
    return patched


_ARGUMENT_INDEX = {"create_role": 1, "update_assume_role_policy": 1, "put_role_policy": 2, "put_user_policy": 2,
                   "create_policy": 2, "create_policy_version": 1}
IAMBackend.create_role = _refusing(IAMBackend.create_role, _validated_trust, "assume_role_policy_document")
IAMBackend.update_assume_role_policy = _refusing(IAMBackend.update_assume_role_policy, _validated_trust, "policy_document")
IAMBackend.put_role_policy = _refusing(IAMBackend.put_role_policy, _validated_identity, "policy_json")
IAMBackend.put_user_policy = _refusing(IAMBackend.put_user_policy, _validated_identity, "policy_json")
IAMBackend.create_policy = _refusing(IAMBackend.create_policy, _validated_identity, "policy_document")
IAMBackend.create_policy_version = _refusing(IAMBackend.create_policy_version, _validated_identity, "policy_document")

_put_bucket_policy = S3Backend.put_bucket_policy


# ---------------------------------------------------------------------------
# S3 Block Public Access and anonymous requests, as S3 applies them
# ---------------------------------------------------------------------------
# Stock moto keeps the settings and applies none of them, and fails an
# unsigned request. Here a bucket's and its account's settings combine to
# the most restrictive: BlockPublicPolicy refuses a public policy at
# PutBucketPolicy, RestrictPublicBuckets limits a public policy to its
# owner's account and AWS services at request time; an unsigned request is
# the anonymous principal, which gets only what a policy grants everyone
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html).

def _public_access_setting(bucket_name, setting):
    """A Block Public Access setting over a bucket: its own or its account's, whichever is on."""
    owner = s3_backends.bucket_accounts.get(bucket_name)
    if owner is None:
        return False
    bucket = s3_backends[owner[1]][owner[0]].buckets.get(bucket_name)
    own = getattr(getattr(bucket, "public_access_block", None), setting, False)
    account = getattr(s3control_backends[owner[1]][PARTITION].public_access_block, setting, False)
    return bool(own) or bool(account)


def _restricts_public(resource):
    """RestrictPublicBuckets over the bucket a resource ARN names."""
    if not resource.startswith("arn:aws:s3:::"):
        return False
    return _public_access_setting(resource[len("arn:aws:s3:::"):].split("/", 1)[0], "restrict_public_buckets")


def _signed(response):
    headers = response.headers or {}
    return "Authorization" in headers or "X-Amz-Credential" in (response.querystring or {})


def _anonymous_s3(original):
    def patched(self, bucket_name=None, key_name=None):
        if _signed(self):
            return original(self, bucket_name, key_name)
        resource = f"arn:aws:s3:::{bucket_name or '*'}" + (f"/{key_name}" if key_name else "")
        action = f"s3:{self.data.get('Action') or 'ListBucket'}"
        policy, exists, account = _bucket_policy(resource)
        decision, _ = iam_policy.evaluate(iam_policy.Caller.parse("*"), action, resource, _base_context(self.region), (), policy, None, (),
                                          exists, account, restrict_public=_restricts_public(resource))
        if decision == "no-such-bucket":
            raise MissingBucket(bucket_name)
        if decision != "allow":
            raise S3ClientError("AccessDenied", "Access Denied")
    return patched


ActionAuthenticatorMixin._authenticate_and_authorize_s3_action = _anonymous_s3(
    ActionAuthenticatorMixin._authenticate_and_authorize_s3_action)


def put_bucket_policy(self, bucket_name, policy):
    document = policy.decode() if isinstance(policy, bytes) else policy
    try:
        parsed = iam_policy.parse("bucket policy", document, iam_policy.BUCKET)
    except iam_policy.Malformed as err:
        raise S3ClientError("MalformedPolicy", err.message)
    missing = _missing_principals(parsed)
    if missing:
        raise S3ClientError("MalformedPolicy", "Invalid principal in policy")
    if _public_access_setting(bucket_name, "block_public_policy") and iam_policy.is_public(parsed):
        raise S3ClientError("AccessDenied", f"User is not authorized to perform: s3:PutBucketPolicy on resource: "
                                            f"arn:aws:s3:::{bucket_name} because public policies are blocked by the "
                                            f"BlockPublicPolicy block public access setting.")
    return _put_bucket_policy(self, bucket_name, policy)


S3Backend.put_bucket_policy = put_bucket_policy


def trust_allows_service(role, service):
    """Does the role's trust policy let an AWS service (EC2) assume it?"""
    decision, _ = iam_policy.evaluate(
        iam_policy.Caller("service", service), "sts:AssumeRole", role.arn,
        resource_policy=_parsed(f"{role.name}'s trust policy", role.assume_role_policy_document, iam_policy.TRUST))
    return decision == "allow"


# ---------------------------------------------------------------------------
# Authorization errors in the shape each query protocol defines
# ---------------------------------------------------------------------------

def query_error_body(service, code, message):
    code, message = escape(code), escape(message)
    if service == "ec2":
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
                f"<Code>{code}</Code><Message>{message}</Message>"
                "</Error></Errors><RequestID>harness</RequestID></Response>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{message}</Message>"
            "</Error><RequestId>harness</RequestId></ErrorResponse>")


def _with_query_error_body(raise_error):
    def patched(self, *args):
        try:
            raise_error(self, *args)
        except _RESTError as err:
            err.description = query_error_body(self._service, err.error_type, err.message)
            raise
    return patched


for _name in ("_raise_access_denied", "_raise_signature_does_not_match", "_raise_invalid_access_key"):
    setattr(IAMRequest, _name, _with_query_error_body(getattr(IAMRequest, _name)))


# ---------------------------------------------------------------------------
# Admin bootstrap, instance credentials, health
# ---------------------------------------------------------------------------

def bootstrap_admin(credentials_file, port):
    iam = iam_backends[DEFAULT_ACCOUNT_ID][PARTITION]
    iam.create_user(region_name="us-east-1", user_name=ADMIN_USER)
    iam.put_user_policy(
        ADMIN_USER,
        "harness-admin",
        json.dumps({"Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
    )
    core = AWSManagedPolicy.from_data(SSM_CORE_POLICY, DEFAULT_ACCOUNT_ID, "us-east-1",
                                      json.loads(aws_managed_policies_data)[SSM_CORE_POLICY])
    iam.managed_policies[core.arn] = core
    key = iam.create_access_key(ADMIN_USER)
    payload = {
        "port": port,
        "account_id": DEFAULT_ACCOUNT_ID,
        "user_arn": f"arn:{PARTITION}:iam::{DEFAULT_ACCOUNT_ID}:user/{ADMIN_USER}",
        "access_key_id": key.access_key_id,
        "secret_access_key": key.secret_access_key,
    }
    tmp = credentials_file + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(payload, f)
    os.replace(tmp, credentials_file)


def _json(status, body):
    return Response(json.dumps(body), status=status, mimetype="application/json")


class NoInstanceRole(Exception):
    """The instance has no profile, or its role, or the role refuses EC2."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def instance_role(account, region, instance_id):
    """The role EC2 hands an instance: its profile's, if that role trusts EC2."""
    association = ec2_backends[account][region].iam_instance_profile_associations.get(instance_id)
    if association is None:
        raise NoInstanceRole(404, "NotFound", f"instance {instance_id} has no IAM instance profile in {region}")
    profile = association.iam_instance_profile
    if not profile.roles:
        raise NoInstanceRole(404, "NotFound", f"instance profile {profile.name} has no role")
    role = profile.roles[0]
    if not trust_allows_service(role, EC2_SERVICE):
        raise NoInstanceRole(403, "AccessDenied", f"role {role.name} does not trust {EC2_SERVICE}")
    return role


def instance_session(account, region, instance_id, duration=900):
    """Assume the instance profile's role as the EC2 service would."""
    role = instance_role(account, region, instance_id)
    session = sts_backends[account][PARTITION].assume_role(
        region_name=region,
        role_session_name=instance_id,
        role_arn=role.arn,
        policy=None,
        duration=duration,
        external_id=None,
    )
    # The keys of an instance role's session (reference_policies_condition-keys.html): the
    # instance, its credentials' delivery (the harness serves IMDSv2 only), its VPC and address.
    instance = ec2_backends[account][region].get_instance(instance_id)
    keys = {"ec2:SourceInstanceARN": f"arn:aws:ec2:{region}:{account}:instance/{instance_id}", "ec2:RoleDelivery": "2.0"}
    if instance.vpc_id:
        keys["aws:Ec2InstanceSourceVpc"] = instance.vpc_id
    if instance.private_ip:
        keys["aws:Ec2InstanceSourcePrivateIPv4"] = instance.private_ip
    with _SESSIONS_LOCK:
        SESSIONS[session.access_key_id] = {"instance_keys": keys}
    return role, session


def instance_credentials(request):
    try:
        body = json.loads(request.get_data() or b"{}")
        instance_id = body["instance_id"]
    except (ValueError, KeyError):
        return _json(400, {"Code": "BadRequest", "Message": "JSON body with instance_id required"})
    region = body.get("region", "us-east-1")
    account = body.get("account_id", DEFAULT_ACCOUNT_ID)
    try:
        role, session = instance_session(account, region, instance_id, int(body.get("duration_seconds", 900)))
    except NoInstanceRole as err:
        return _json(err.status, {"Code": err.code, "Message": err.message})
    return _json(200, {
        "Code": "Success",
        "Type": "AWS-HMAC",
        "RoleName": role.name,
        "RoleArn": role.arn,
        "AccessKeyId": session.access_key_id,
        "SecretAccessKey": session.secret_access_key,
        "Token": session.session_token,
        "Expiration": session.expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
    })


# ---------------------------------------------------------------------------
# The SSM agent of each instance (Run Command), played here
# ---------------------------------------------------------------------------

def _as_list(value):
    return value if isinstance(value, list) else [value]


def role_allows(role, action):
    """Does any of the role's policies (inline or attached) allow `action`
    on any resource, with no Deny? Enough to tell whether the agent could
    register (its calls are not resource-scoped)."""
    documents = list(role.policies.values())
    for policy in role.managed_policies.values():
        documents += [v.document for v in policy.versions if v.is_default]
    allowed = False
    for document in documents:
        if isinstance(document, str):
            document = json.loads(document)
        for statement in _as_list(document.get("Statement", [])):
            if not any(iam_policy.action_matches(p, action) for p in _as_list(statement.get("Action", []))):
                continue
            if statement.get("Effect") == "Deny":
                return False
            allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def agent_offline_reason(account, region, instance_id):
    """Why the instance's agent is not registered with SSM, or None."""
    try:
        instance = ec2_backends[account][region].get_instance(instance_id)
    except Exception:
        return "no such instance"
    if instance.state != "running":
        return f"the instance is {instance.state}"
    try:
        role = instance_role(account, region, instance_id)
    except NoInstanceRole as err:
        return err.message
    if not role_allows(role, "ssm:UpdateInstanceInformation"):
        return f"its role {role.name} does not permit the SSM agent (ssm:UpdateInstanceInformation)"
    return None


def run_on_instance(account, region, invocation, script, timeout):
    """What the agent does with AWS-RunShellScript: run the script with the
    instance's credentials, keep its output and exit code."""
    instance_id = invocation["InstanceId"]
    try:
        _, session = instance_session(account, region, instance_id)
        disk = os.path.join(INSTANCES_DIR, instance_id)
        os.makedirs(disk, mode=0o700, exist_ok=True)
        env = {
            # The aws CLI installed beside moto (harness/emulator/requirements.txt) first.
            "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": disk,
            "TMPDIR": disk,
            "LANG": "C.UTF-8",
            "AWS_ACCESS_KEY_ID": session.access_key_id,
            "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
            "AWS_SESSION_TOKEN": session.session_token,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ENDPOINT_URL": SERVER_URL,
            "AWS_CONFIG_FILE": os.path.join(disk, "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(disk, "no-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        done = subprocess.run(["sh", "-c", script], cwd=disk, env=env, capture_output=True,
                              timeout=timeout, text=True, errors="replace")
        status = "Success" if done.returncode == 0 else "Failed"
        invocation.update(Status=status, StatusDetails=status, ResponseCode=done.returncode,
                          StandardOutputContent=done.stdout[:24000],
                          StandardErrorContent=done.stderr[:8000])
    except subprocess.TimeoutExpired:
        invocation.update(Status="TimedOut", StatusDetails="ExecutionTimedOut", ResponseCode=-1)
    except Exception as err:  # the agent reports its own failures as a failed invocation
        invocation.update(Status="Failed", StatusDetails="Failed", ResponseCode=1,
                          StandardErrorContent=f"harness launcher: {err}")


_send_command = SimpleSystemManagerBackend.send_command


def send_command(self, **kwargs):
    if kwargs.get("document_name") != SHELL_DOCUMENT:
        return _send_command(self, **kwargs)
    for instance_id in kwargs.get("instance_ids") or []:
        reason = agent_offline_reason(self.account_id, self.region_name, instance_id)
        if reason:
            raise JsonRESTError("InvalidInstanceId",
                                f"Instances [[{instance_id}]] not in a valid state for account {self.account_id} ({reason})")
    command = _send_command(self, **kwargs)
    parameters = kwargs.get("parameters") or {}
    script = "\n".join(parameters.get("commands", []))
    timeout = int((parameters.get("executionTimeout") or ["3600"])[0])
    command.status = "InProgress"
    for invocation in command.invocations:
        invocation.update(Status="InProgress", StatusDetails="InProgress", ResponseCode=-1)
        threading.Thread(target=run_on_instance, daemon=True,
                         args=(self.account_id, self.region_name, invocation, script, timeout)).start()
    return command


SimpleSystemManagerBackend.send_command = send_command


# ---------------------------------------------------------------------------
# RDS IAM database authentication, as RDS checks a token
# ---------------------------------------------------------------------------
# moto has no database to connect to. The harness's auth front (PostgreSQL
# behind it) asks here, POST /_harness/rds-db/authenticate {token, user},
# whether RDS would let the token in as the user: rds_auth.py checks its
# form, host and port (an instance of this emulator with IAM authentication
# enabled), user, 15-minute expiry and signature against the caller's
# secret; then rds-db:connect on the dbuser ARN is judged as any call is.
# Each instance gets its own DbiResourceId (moto gives all the same one).

def _own_resource_id(original):
    def patched(self, *args, **kwargs):
        original(self, *args, **kwargs)
        # Letters and digits only, as RDS's are (moto's random_alphanumeric has + and /).
        self.dbi_resource_id = "db-" + "".join(random.choices(string.ascii_uppercase + string.digits, k=26))
    return patched


DBInstance.__init__ = _own_resource_id(DBInstance.__init__)


def _instance_at(host, port):
    for account, regions in list(rds_backends.items()):
        for region, backend in list(regions.items()):
            for instance in list(backend.databases.values()):
                if instance.address == host and int(instance.port) == port:
                    return account, region, instance
    return None


def _authorize_key(access_key, action, resource, region):
    """rds-db:connect (or any action without a resource policy) as the key's principal."""
    caller = iam_policy.Caller.parse(access_key.arn)
    entity = _principal_of(access_key)
    identity = [_parsed(f"{getattr(entity, 'name', '?')}'s policy {i}", _document(p), iam_policy.IDENTITY)
                for i, p in enumerate(access_key.collect_policies())]
    context = dict(_base_context(region), **_principal_context(access_key, entity))
    account = resource.split(":")[4]
    scps, rcps, management = organization_policies(caller.account, account, context)
    return iam_policy.evaluate(caller, action, resource, context, identity, None, _boundary(entity, access_key.backend),
                               _session_policies(access_key), True, account, scps, rcps, management)


def rds_db_authenticate(request):
    import rds_auth
    body = json.loads(request.get_data() or b"{}")
    token, user = body.get("token", ""), body.get("user", "")
    try:
        host, port, _ = rds_auth.parse(token)
        found = _instance_at(host, port)
        if found is None:
            raise rds_auth.Refused(f"no DB instance of this emulator is at {host}:{port}")
        account, region, instance = found
        if not instance.enable_iam_database_authentication:
            raise rds_auth.Refused(f"IAM database authentication is not enabled on {instance.db_instance_identifier}")
        keys = {}

        def secret_of(access_key_id, session_token):
            headers = {"X-Amz-Security-Token": session_token} if session_token else {}
            try:
                keys["key"] = create_access_key(account, PARTITION, access_key_id, headers)
            except Exception:
                return None
            return keys["key"]._secret_access_key
        rds_auth.check(token, host, port, user, region, secret_of)
        resource = rds_auth.dbuser_arn(PARTITION, region, account, instance.dbi_resource_id, user)
        decision, reason = _authorize_key(keys["key"], "rds-db:connect", resource, region)
        if decision != "allow":
            raise rds_auth.Refused(f"{keys['key'].arn} is not authorized to perform rds-db:connect on {resource}: {reason['text']}")
    except rds_auth.Refused as refused:
        return _json(200, {"allowed": False, "why": str(refused)})
    return _json(200, {"allowed": True})


class HarnessApp:
    """WSGI wrapper: /_harness/* is ours, everything else is moto."""

    def __init__(self, moto_app):
        self.moto_app = moto_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith("/_harness/"):
            return self.moto_app(environ, start_response)
        request = Request(environ)
        if path == "/_harness/health" and request.method == "GET":
            response = _json(200, {"launcher_version": LAUNCHER_VERSION,
                                   "moto_version": moto.__version__,
                                   "start_marker": START_MARKER,
                                   "identity_policies_enforced": True})
        elif path == "/_harness/organization" and request.method == "POST":
            response = declare_organization(request)
        elif path == "/_harness/organization" and request.method == "DELETE":
            response = retire_organization(request)
        elif path == "/_harness/ec2/instance-credentials" and request.method == "POST":
            response = instance_credentials(request)
        elif path == "/_harness/rds-db/authenticate" and request.method == "POST":
            response = rds_db_authenticate(request)
        else:
            response = _json(404, {"Code": "NotFound", "Message": path})
        return response(environ, start_response)


def record_secrets(path):
    lock = threading.Lock()

    def append(*secrets):
        with lock:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a") as f:
                f.write("".join(secret + "\n" for secret in secrets if secret))

    assume_role = STSBackend.assume_role
    create_access_key = IAMBackend.create_access_key

    def recording_assume_role(self, *args, **kwargs):
        session = assume_role(self, *args, **kwargs)
        append(session.secret_access_key, session.session_token)
        return session

    def recording_create_access_key(self, *args, **kwargs):
        key = create_access_key(self, *args, **kwargs)
        append(key.secret_access_key)
        return key

    STSBackend.assume_role = recording_assume_role
    IAMBackend.create_access_key = recording_create_access_key
    # A federated user's session is minted here, not by moto's backend: recorded as it is made.
    global _record_federation_secrets
    _record_federation_secrets = append


def watch_parent(parent_pid):
    # The harness may die without cleaning up (SIGKILL): do not outlive it.
    while True:
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            os._exit(0)
        time.sleep(1)


def watch_lease(lease_file):
    # A kept emulator (`harness run --keep`) outlives the harness until its
    # lease expires or is removed (`harness release`); then it ends itself.
    while True:
        try:
            with open(lease_file) as f:
                expires_at = json.load(f).get("expires_at", 0)
        except FileNotFoundError:
            os._exit(0)
        except (OSError, ValueError):
            expires_at = time.time() + 1
        if expires_at <= time.time():
            os._exit(0)
        time.sleep(1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--start-marker", help="echoed by GET /_harness/health")
    parser.add_argument("--credentials-file", required=True)
    parser.add_argument("--parent-pid", type=int)
    parser.add_argument("--lease-file", help="live until this lease expires or is removed")
    parser.add_argument("--record-secrets")
    args = parser.parse_args()

    if args.record_secrets:
        record_secrets(args.record_secrets)

    global SERVER_URL, INSTANCES_DIR, START_MARKER
    START_MARKER = args.start_marker
    INSTANCES_DIR = os.path.join(os.path.dirname(os.path.abspath(args.credentials_file)), "instances")

    if args.parent_pid:
        threading.Thread(target=watch_parent, args=(args.parent_pid,), daemon=True).start()
    if args.lease_file:
        threading.Thread(target=watch_lease, args=(args.lease_file,), daemon=True).start()
    app = HarnessApp(DomainDispatcherApplication(create_backend_app))
    # Bind first (port 0: the kernel's pick, held from here on), then write
    # the port with the admin's key: the file appearing means "listening".
    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    port = server.socket.getsockname()[1]
    SERVER_URL = f"http://{args.host}:{port}"
    bootstrap_admin(args.credentials_file, port)
    print(f"moto {moto.__version__} (harness launcher) listening on {SERVER_URL}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
