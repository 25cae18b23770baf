"""What RDS checks of an IAM database authentication token before it lets a
connection in as the token's database user
(https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.html):
the token is a SigV4 presigned URL of `connect` for the instance's host and
port and the user, signed by the caller's credentials for the service
`rds-db` in the instance's region, valid for 15 minutes from its X-Amz-Date.
This module reads a token and checks its form, its host, user, expiry and
signature; who may connect (rds-db:connect on the dbuser ARN) is the
launcher's IAM evaluation.
"""

import datetime
import hashlib
import hmac
from urllib.parse import parse_qsl, quote

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "rds-db"
LIFETIME = datetime.timedelta(seconds=900)
# An empty body's hash, as the SDKs' RDS signers sign it (SignableBody::empty()).
EMPTY_PAYLOAD = hashlib.sha256(b"").hexdigest()


class Refused(Exception):
    """Why RDS would not let the token in (it answers every refusal with one PAM failure)."""


def parse(token):
    """The token's host and port, and its query parameters (in order)."""
    address, _, query = token.partition("/?")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not query:
        raise Refused("not an IAM authentication token (host:port/?Action=connect&...)")
    return host, int(port), parse_qsl(query, keep_blank_values=True)


def _canonical_query(params):
    pairs = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in params if k != "X-Amz-Signature")
    return "&".join(f"{k}={v}" for k, v in pairs)


def signature(secret, host, port, params, payload=EMPTY_PAYLOAD):
    """The signature SigV4 makes of the token's request with `secret`."""
    values = dict(params)
    amz_date = values.get("X-Amz-Date", "")
    scope = values.get("X-Amz-Credential", "").split("/", 1)[-1]
    canonical = "\n".join(["GET", "/", _canonical_query(params), f"host:{host}:{port}", "", "host", payload])
    to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    date, region, service, _ = (scope.split("/") + ["", "", "", ""])[:4]
    key = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def check(token, host, port, user, region, secret_of, now=None):
    """The access key id of a token good for `user` at host:port, else Refused.
    `secret_of(access_key_id, session_token)` gives the key's secret, or None."""
    token_host, token_port, params = parse(token)
    values = dict(params)
    if (token_host, token_port) != (host, port):
        raise Refused(f"the token is for {token_host}:{token_port}, not {host}:{port}")
    if values.get("Action") != "connect" or values.get("DBUser") != user:
        raise Refused(f"the token is not to connect as {user}")
    credential = values.get("X-Amz-Credential", "").split("/")
    if values.get("X-Amz-Algorithm") != ALGORITHM or len(credential) != 5 or credential[2:] != [region, SERVICE, "aws4_request"]:
        raise Refused(f"the token is not signed for {SERVICE} in {region}")
    try:
        signed_at = datetime.datetime.strptime(values.get("X-Amz-Date", ""), "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        expires = datetime.timedelta(seconds=int(values.get("X-Amz-Expires", "")))
    except ValueError:
        raise Refused("the token has no valid X-Amz-Date and X-Amz-Expires")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if now >= signed_at + min(expires, LIFETIME):
        raise Refused("the token expired (RDS accepts one for 15 minutes)")
    if signed_at > now + datetime.timedelta(minutes=5):
        raise Refused("the token is signed in the future")
    secret = secret_of(credential[0], values.get("X-Amz-Security-Token"))
    given = values.get("X-Amz-Signature", "")
    if secret is None or not any(hmac.compare_digest(signature(secret, host, port, params, payload), given)
                                 for payload in (EMPTY_PAYLOAD, "UNSIGNED-PAYLOAD")):
        raise Refused("the token's signature does not match its credentials")
    return credential[0]


def dbuser_arn(partition, region, account, resource_id, user):
    return f"arn:{partition}:rds-db:{region}:{account}:dbuser:{resource_id}/{user}"
