#!/usr/bin/env python3
"""Self-test of tests/emulator/strict_moto.py: starts the launcher as a subprocess and
checks every patched behaviour (and the launcher contract) with boto3.

Run:  .venv/bin/python tests/emulator/test_strict_moto.py
"""

from __future__ import annotations

import concurrent.futures
import datetime
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import boto3
import botocore.config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
LAUNCHER = os.path.join(HERE, "strict_moto.py")
READY_RE = re.compile(r"^PLANTON_EMULATOR_READY (http://127\.0\.0\.1:(\d+))\n$")
READONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
ACCOUNT = "123456789012"
ROTATOR = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:planton-rotator"  # not in moto's Lambda
TOKEN = "11111111-2222-4333-8444-555555555555"  # a ClientRequestToken (32-64 chars)
STACK = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/test-stack/11111111-2222-3333-4444-555555555555"


def start_launcher(timeout=120.0):
    """Start the launcher; returns (process, url, stderr_file, seconds_to_ready)."""
    err = tempfile.TemporaryFile()
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, LAUNCHER, "--port", "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=err,
    )
    box = {}
    reader = threading.Thread(target=lambda: box.update(line=proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    line = box.get("line", b"").decode()
    match = READY_RE.match(line)
    if not match:
        proc.kill()
        err.seek(0)
        raise RuntimeError(f"no ready line (got {line!r}); stderr:\n{err.read().decode()}")
    return proc, match.group(1), err, time.monotonic() - started


def policy_doc(n_actions=1, pad=""):
    actions = [f"s3:GetObject{pad}{i}" for i in range(n_actions)]
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}
    )


def self_signed_cert_pem():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "strict-moto-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


SSH_KEY = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7vbqajDhA1jpGzSYtnIcnLs3n4iQXb0Fyv1PWJQPk"
    "nK1nxkfTfWaJ9NlH1uVSKMGVOkXsrTBWXqWg9FsSpAUEo0u4wpdLMvnaRp8vLoDmkS5oOc9nj45mQEG"
    "r6SQzpCjHdPpx4bbYDsRMn9tsxGrqNgyFK2sl1pS2kF4n4P5EkkHy2ZqBEWRvs8X3yN4yFRZrC3jaJj"
    "J6NvbZ2xC3vzq8w5VzsjS4kV0hWG4bH7kRrO8QeL9Fv2bJr9C2Zj1H0Z8NjPUxqXrWw0N5Rwz9ZrYVe"
    "MHm5RNHiKBpGb3RJD8V0lE8eVwPL0s5Yz1XkHb8cC8tq4fVfE9b9mGxq1tI3zJ test@example"
)


class StrictMotoTest(unittest.TestCase):
    proc = None
    url = None

    @classmethod
    def setUpClass(cls):
        cls.proc, cls.url, cls.stderr, cls.ready_seconds = start_launcher()
        print(f"\nlauncher ready after {cls.ready_seconds:.2f}s at {cls.url}", file=sys.stderr)
        cfg = botocore.config.Config(retries={"max_attempts": 1}, max_pool_connections=20)
        kw = dict(
            endpoint_url=cls.url,
            region_name="us-east-1",
            aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
            aws_secret_access_key="secret",
            config=cfg,
        )
        cls.iam = boto3.client("iam", **kw)
        cls.sts = boto3.client("sts", **kw)
        cls.sm = boto3.client("secretsmanager", **kw)
        cls.cfn = boto3.client("cloudformation", **kw)
        cls.events = boto3.client("events", **kw)
        cls.cfn_west = boto3.client("cloudformation", **dict(kw, region_name="eu-west-1"))
        cls.raw = {}
        cls.iam.meta.events.register(
            "before-parse.iam.*",
            lambda response_dict, **_: cls.raw.update(body=response_dict["body"]),
        )
        cls.cfn.meta.events.register(
            "before-parse.cloudformation.*",
            lambda response_dict, **_: cls.raw.update(cfn_body=response_dict["body"]),
        )

    @classmethod
    def tearDownClass(cls):
        if cls.proc is None:
            return
        # Closing stdin must end the emulator; stdout must hold nothing but the ready line.
        cls.proc.stdin.close()
        try:
            code = cls.proc.wait(timeout=10)
        finally:
            if cls.proc.poll() is None:
                cls.proc.kill()
        rest = cls.proc.stdout.read()
        cls.proc.stdout.close()
        cls.stderr.close()
        assert code == 0, f"emulator exit code {code}"
        assert rest == b"", f"stdout carried more than the ready line: {rest!r}"

    def setUp(self):
        req = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=30) as resp:
            self.assertEqual(resp.status, 200)

    # ----------------------------------------------------------------- helpers
    def assertAwsError(self, code, status, fn, *args, **kwargs):
        with self.assertRaises(ClientError) as ctx:
            fn(*args, **kwargs)
        err = ctx.exception.response
        self.assertEqual(err["Error"]["Code"], code, err["Error"])
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], status, err["Error"])
        return err["Error"]["Message"]

    def user_names(self):
        return [u["UserName"] for u in self.iam.list_users()["Users"]]

    def post_json(self, path, payload, method="POST"):
        """(status, decoded JSON body) of a request to the launcher (bytes are sent as they are)."""
        if isinstance(payload, bytes):
            data = payload
        else:
            data = json.dumps(payload).encode() if payload is not None else b""
        req = urllib.request.Request(f"{self.url}{path}", method=method, data=data)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            body = err.read()
            try:
                return err.code, json.loads(body)
            except ValueError:
                return err.code, body

    def client_for(self, service, key, region="us-east-1", secret=None):
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=secret or key["SecretAccessKey"],
            config=botocore.config.Config(retries={"max_attempts": 1}),
        )

    def stages(self, secret_id):
        """VersionIdsToStages of DescribeSecret, labels sorted."""
        got = self.sm.describe_secret(SecretId=secret_id).get("VersionIdsToStages", {})
        return {vid: sorted(labels) for vid, labels in got.items()}

    def rotated_secret(self, name="rot", value="v1", **rotate_kw):
        """A secret with one value, then RotateSecret(ROTATOR, 30 days): (current id, pending id)."""
        current = self.sm.create_secret(Name=name, SecretString=value)["VersionId"]
        rotate_kw.setdefault("RotationLambdaARN", ROTATOR)
        rotate_kw.setdefault("RotationRules", {"AutomaticallyAfterDays": 30})
        pending = self.sm.rotate_secret(SecretId=name, **rotate_kw).get("VersionId")
        return current, pending

    def unvalidated(self, service):
        """A client that sends what botocore's own parameter checks would stop."""
        return boto3.client(
            service, endpoint_url=self.url, region_name="us-east-1", aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
            aws_secret_access_key="secret",
            config=botocore.config.Config(retries={"max_attempts": 1}, parameter_validation=False),
        )

    def create_policy(self, name):
        return self.iam.create_policy(PolicyName=name, PolicyDocument=policy_doc())["Policy"]["Arn"]

    # -------------------------------------------------------- launcher contract
    def test_contract_services_on_one_port(self):
        self.assertEqual(self.sts.get_session_token()["Credentials"]["AccessKeyId"][:4], "AKIA")
        self.sm.create_secret(Name="s1", SecretString="v1")
        self.assertEqual(self.sm.get_secret_value(SecretId="s1")["SecretString"], "v1")
        self.iam.create_user(UserName="u1")
        self.assertEqual(self.user_names(), ["u1"])

    def test_contract_reset_clears_state(self):
        self.iam.create_user(UserName="gone")
        self.setUp()  # POST /moto-api/reset
        self.assertAwsError("NoSuchEntity", 404, self.iam.get_user, UserName="gone")

    def test_contract_aws_managed_policies_loaded(self):
        self.assertEqual(self.iam.get_policy(PolicyArn=READONLY)["Policy"]["PolicyName"], "ReadOnlyAccess")

    def test_contract_concurrent_requests(self):
        names = [f"c{i}" for i in range(12)]

        def work(name):
            self.iam.create_user(UserName=name, Tags=[{"Key": "k", "Value": name}])
            self.iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=READONLY)
            return self.iam.get_user(UserName=name)["User"]["UserName"]

        with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
            got = sorted(pool.map(work, names))
        self.assertEqual(got, sorted(names))
        self.assertEqual(sorted(self.user_names()), sorted(names))

    def test_contract_exits_on_stdin_eof(self):
        proc, _, err, _ = start_launcher()
        try:
            proc.stdin.close()
            self.assertEqual(proc.wait(timeout=10), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.stdout.close()
            err.close()

    # ------------------------------------------------ 1. permissions boundary
    def test_boundary_create_get_put_delete(self):
        created = self.iam.create_user(UserName="pb", PermissionsBoundary=READONLY)["User"]
        expected = {"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": READONLY}
        self.assertEqual(created["PermissionsBoundary"], expected)
        self.assertEqual(self.iam.get_user(UserName="pb")["User"]["PermissionsBoundary"], expected)
        self.assertNotIn("PermissionsBoundary", self.iam.list_users()["Users"][0])

        custom = self.create_policy("boundary")
        self.iam.put_user_permissions_boundary(UserName="pb", PermissionsBoundary=custom)
        self.assertEqual(
            self.iam.get_user(UserName="pb")["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"], custom
        )
        self.iam.delete_user_permissions_boundary(UserName="pb")
        self.assertNotIn("PermissionsBoundary", self.iam.get_user(UserName="pb")["User"])

        self.iam.create_user(UserName="plain")
        self.assertNotIn("PermissionsBoundary", self.iam.get_user(UserName="plain")["User"])

    def test_boundary_errors(self):
        self.assertAwsError(
            "NoSuchEntity", 404, self.iam.put_user_permissions_boundary, UserName="nobody", PermissionsBoundary=READONLY
        )
        self.iam.create_user(UserName="pb")
        for arn in (
            "arn:aws:iam::aws:policy/NoSuchAwsManagedPolicyXyz",
            f"arn:aws:iam::{ACCOUNT}:policy/missing",
        ):
            msg = self.assertAwsError(
                "NoSuchEntity", 404, self.iam.put_user_permissions_boundary, UserName="pb", PermissionsBoundary=arn
            )
            self.assertIn("does not exist or is not attachable", msg)
        self.assertAwsError(
            "InvalidInput", 400, self.iam.put_user_permissions_boundary,
            UserName="pb", PermissionsBoundary="not-an-arn-at-all-really",
        )
        self.assertAwsError(
            "NoSuchEntity", 404, self.iam.create_user,
            UserName="pb2", PermissionsBoundary=f"arn:aws:iam::{ACCOUNT}:policy/missing",
        )
        self.assertNotIn("pb2", self.user_names())
        self.assertAwsError("NoSuchEntity", 404, self.iam.delete_user_permissions_boundary, UserName="nobody")

    # ------------------------------------------- 2. service-specific credentials
    def test_service_specific_credentials(self):
        self.iam.create_user(UserName="ssc")
        self.assertEqual(self.iam.list_service_specific_credentials(UserName="ssc")["ServiceSpecificCredentials"], [])
        cred = self.iam.create_service_specific_credential(UserName="ssc", ServiceName="codecommit.amazonaws.com")[
            "ServiceSpecificCredential"
        ]
        self.assertTrue(cred["ServicePassword"])
        self.assertEqual(cred["ServiceUserName"], f"ssc-at-{ACCOUNT}")
        listed = self.iam.list_service_specific_credentials(UserName="ssc")["ServiceSpecificCredentials"]
        self.assertEqual([c["ServiceSpecificCredentialId"] for c in listed], [cred["ServiceSpecificCredentialId"]])
        self.assertEqual(listed[0]["Status"], "Active")
        self.assertNotIn("ServicePassword", listed[0])
        self.assertEqual(
            self.iam.list_service_specific_credentials(UserName="ssc", ServiceName="cassandra.amazonaws.com")[
                "ServiceSpecificCredentials"
            ],
            [],
        )
        self.iam.create_service_specific_credential(UserName="ssc", ServiceName="codecommit.amazonaws.com")
        self.assertAwsError(
            "LimitExceeded", 409, self.iam.create_service_specific_credential,
            UserName="ssc", ServiceName="codecommit.amazonaws.com",
        )
        self.assertAwsError(
            "NotSupportedService", 404, self.iam.create_service_specific_credential,
            UserName="ssc", ServiceName="s3.amazonaws.com",
        )
        self.assertAwsError(
            "NoSuchEntity", 404, self.iam.delete_service_specific_credential,
            UserName="ssc", ServiceSpecificCredentialId="ACCANOSUCHCREDENTIAL1",
        )
        self.assertAwsError("NoSuchEntity", 404, self.iam.list_service_specific_credentials, UserName="nobody")
        for c in self.iam.list_service_specific_credentials(UserName="ssc")["ServiceSpecificCredentials"]:
            self.iam.delete_service_specific_credential(
                UserName="ssc", ServiceSpecificCredentialId=c["ServiceSpecificCredentialId"]
            )
        self.assertEqual(self.iam.list_service_specific_credentials(UserName="ssc")["ServiceSpecificCredentials"], [])

    # ----------------------------------------------------- 3. strict DeleteUser
    def test_delete_user_conflicts_for_every_attachment(self):
        self.iam.create_group(GroupName="grp")
        managed = self.create_policy("attached")
        cert = self_signed_cert_pem()

        def access_key(u):
            kid = self.iam.create_access_key(UserName=u)["AccessKey"]["AccessKeyId"]
            return lambda: self.iam.delete_access_key(UserName=u, AccessKeyId=kid)

        def login_profile(u):
            self.iam.create_login_profile(UserName=u, Password="Passw0rd!Passw0rd!")
            return lambda: self.iam.delete_login_profile(UserName=u)

        def mfa(u):
            serial = self.iam.create_virtual_mfa_device(VirtualMFADeviceName=f"mfa-{u}")["VirtualMFADevice"][
                "SerialNumber"
            ]
            self.iam.enable_mfa_device(
                UserName=u, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
            )
            return lambda: self.iam.deactivate_mfa_device(UserName=u, SerialNumber=serial)

        def signing_cert(u):
            cid = self.iam.upload_signing_certificate(UserName=u, CertificateBody=cert)["Certificate"][
                "CertificateId"
            ]
            return lambda: self.iam.delete_signing_certificate(UserName=u, CertificateId=cid)

        def ssh_key(u):
            kid = self.iam.upload_ssh_public_key(UserName=u, SSHPublicKeyBody=SSH_KEY)["SSHPublicKey"][
                "SSHPublicKeyId"
            ]
            return lambda: self.iam.delete_ssh_public_key(UserName=u, SSHPublicKeyId=kid)

        def ssc(u):
            cid = self.iam.create_service_specific_credential(UserName=u, ServiceName="codecommit.amazonaws.com")[
                "ServiceSpecificCredential"
            ]["ServiceSpecificCredentialId"]
            return lambda: self.iam.delete_service_specific_credential(UserName=u, ServiceSpecificCredentialId=cid)

        def inline_policy(u):
            self.iam.put_user_policy(UserName=u, PolicyName="inline", PolicyDocument=policy_doc())
            return lambda: self.iam.delete_user_policy(UserName=u, PolicyName="inline")

        def managed_policy(u):
            self.iam.attach_user_policy(UserName=u, PolicyArn=managed)
            return lambda: self.iam.detach_user_policy(UserName=u, PolicyArn=managed)

        def group(u):
            self.iam.add_user_to_group(GroupName="grp", UserName=u)
            return lambda: self.iam.remove_user_from_group(GroupName="grp", UserName=u)

        blockers = [access_key, login_profile, mfa, signing_cert, ssh_key, ssc, inline_policy, managed_policy, group]
        for make in blockers:
            with self.subTest(blocker=make.__name__):
                user = f"del-{make.__name__}".replace("_", "-")
                self.iam.create_user(UserName=user, Tags=[{"Key": "t", "Value": "v"}], PermissionsBoundary=READONLY)
                undo = make(user)
                msg = self.assertAwsError("DeleteConflict", 409, self.iam.delete_user, UserName=user)
                self.assertTrue(msg.startswith("Cannot delete entity, must"), msg)
                self.assertIn(user, self.user_names())
                undo()
                self.iam.delete_user(UserName=user)  # a permissions boundary does not block
                self.assertNotIn(user, self.user_names())

        # Everything at once, removed one by one: the user goes only after the last one.
        self.iam.create_user(UserName="all")
        undos = [make("all") for make in blockers]
        for undo in undos:
            self.assertAwsError("DeleteConflict", 409, self.iam.delete_user, UserName="all")
            undo()
        self.iam.delete_user(UserName="all")
        self.assertEqual(self.iam.get_group(GroupName="grp")["Users"], [])
        self.assertAwsError("NoSuchEntity", 404, self.iam.delete_user, UserName="all")

    # ----------------------------------------- 4. case-insensitive user names
    def test_user_names_unique_case_insensitively(self):
        self.iam.create_user(UserName="alice")
        msg = self.assertAwsError("EntityAlreadyExists", 409, self.iam.create_user, UserName="Alice")
        self.assertIn("Alice", msg)
        self.assertAwsError("EntityAlreadyExists", 409, self.iam.create_user, UserName="alice")
        self.iam.create_user(UserName="bob")
        self.assertAwsError("EntityAlreadyExists", 409, self.iam.update_user, UserName="bob", NewUserName="ALICE")
        self.assertEqual(sorted(self.user_names()), ["alice", "bob"])

    # -------------------------------------------------------- 5. validation
    def test_user_name_validation(self):
        self.iam.create_user(UserName="a" * 64)
        self.iam.create_user(UserName="Ok+=,.@_-9")
        for bad in ("b" * 65, "has space", "bang!", "slash/name", "arn:aws:iam::123456789012:user/x"):
            with self.subTest(name=bad):
                self.assertAwsError("ValidationError", 400, self.iam.create_user, UserName=bad)
        # also on operations that only look a user up (e.g. an ARN passed instead of a name)
        self.assertAwsError(
            "ValidationError", 400, self.iam.get_user, UserName="arn:aws:iam::123456789012:user/x"
        )
        self.assertAwsError("ValidationError", 400, self.iam.update_user, UserName="Ok+=,.@_-9", NewUserName="x y")

    def test_path_validation(self):
        self.iam.create_user(UserName="p1", Path="/")
        self.iam.create_user(UserName="p2", Path="/a/b-c_d/")
        self.iam.create_user(UserName="p3", Path="/" + "x" * 510 + "/")
        for bad in ("x", "/x", "x/", "/a b/", "/" + "x" * 511 + "/", "/tab\t/"):
            with self.subTest(path=bad):
                self.assertAwsError("ValidationError", 400, self.iam.create_user, UserName="pbad", Path=bad)
        self.assertAwsError("ValidationError", 400, self.iam.update_user, UserName="p1", NewPath="nope")
        self.assertEqual(sorted(self.user_names()), ["p1", "p2", "p3"])

    def test_tag_validation_and_quota(self):
        fifty = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
        self.iam.create_user(UserName="t50", Tags=fifty)
        self.assertEqual(len(self.iam.get_user(UserName="t50")["User"]["Tags"]), 50)
        self.iam.tag_user(UserName="t50", Tags=[{"Key": "K0", "Value": "replaced"}])  # same key, other case
        tags = self.iam.list_user_tags(UserName="t50")["Tags"]
        self.assertEqual(len(tags), 50)
        self.assertIn({"Key": "K0", "Value": "replaced"}, tags)
        self.assertAwsError("LimitExceeded", 409, self.iam.tag_user, UserName="t50", Tags=[{"Key": "new", "Value": "v"}])
        self.assertAwsError(
            "LimitExceeded", 409, self.iam.create_user, UserName="t51", Tags=fifty + [{"Key": "k50", "Value": "v"}]
        )
        self.assertNotIn("t51", self.user_names())
        self.iam.create_user(UserName="t")
        for tags in (
            [{"Key": "k" * 129, "Value": "v"}],
            [{"Key": "k", "Value": "v" * 257}],
            [{"Key": "aws:reserved", "Value": "v"}],
            [{"Key": "bad#key", "Value": "v"}],
        ):
            with self.subTest(tags=str(tags)[:40]):
                self.assertAwsError("ValidationError", 400, self.iam.tag_user, UserName="t", Tags=tags)
                self.assertAwsError("ValidationError", 400, self.iam.create_user, UserName="tx", Tags=tags)
        self.iam.tag_user(UserName="t", Tags=[{"Key": "k" * 128, "Value": "v" * 256}, {"Key": "empty", "Value": ""}])
        self.iam.untag_user(UserName="t", TagKeys=["EMPTY"])  # keys are case-insensitive
        self.assertEqual([t["Key"] for t in self.iam.list_user_tags(UserName="t")["Tags"]], ["k" * 128])

    def test_managed_policy_quota(self):
        self.iam.create_user(UserName="mp")
        arns = [self.create_policy(f"p{i}") for i in range(21)]
        for arn in arns[:20]:
            self.iam.attach_user_policy(UserName="mp", PolicyArn=arn)
        self.iam.attach_user_policy(UserName="mp", PolicyArn=arns[0])  # re-attach: no-op
        self.assertAwsError("LimitExceeded", 409, self.iam.attach_user_policy, UserName="mp", PolicyArn=arns[20])
        self.assertAwsError("LimitExceeded", 409, self.iam.attach_user_policy, UserName="mp", PolicyArn=READONLY)
        self.assertEqual(len(self.iam.list_attached_user_policies(UserName="mp")["AttachedPolicies"]), 20)
        self.assertAwsError(
            "NoSuchEntity", 404, self.iam.attach_user_policy, UserName="mp", PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/nope"
        )

    def test_inline_policy_aggregate_size(self):
        self.iam.create_user(UserName="ip")
        doc = policy_doc(n_actions=40)  # ~ 840 non-whitespace chars
        size = len(re.sub(r"\s", "", doc))
        self.assertLess(2 * size, 2048)
        self.assertGreater(3 * size, 2048)
        self.iam.put_user_policy(UserName="ip", PolicyName="one", PolicyDocument=doc)
        self.iam.put_user_policy(UserName="ip", PolicyName="two", PolicyDocument=doc)
        self.iam.put_user_policy(UserName="ip", PolicyName="two", PolicyDocument=doc)  # replace: not counted twice
        msg = self.assertAwsError(
            "LimitExceeded", 409, self.iam.put_user_policy, UserName="ip", PolicyName="three", PolicyDocument=doc
        )
        self.assertIn("2048", msg)
        # whitespace is not counted
        self.iam.delete_user_policy(UserName="ip", PolicyName="two")
        self.iam.put_user_policy(UserName="ip", PolicyName="spaced", PolicyDocument=json.dumps(json.loads(doc), indent=8))
        self.assertEqual(sorted(self.iam.list_user_policies(UserName="ip")["PolicyNames"]), ["one", "spaced"])
        self.assertAwsError("ValidationError", 400, self.iam.put_user_policy, UserName="ip", PolicyName="bad name", PolicyDocument=doc)

    # ------------------------------------------------ 6. UpdateUser NewPath
    def test_update_user_new_path_keeps_everything(self):
        self.iam.create_user(UserName="mv", Path="/old/", Tags=[{"Key": "owner", "Value": "me"}], PermissionsBoundary=READONLY)
        key = self.iam.create_access_key(UserName="mv")["AccessKey"]["AccessKeyId"]
        self.iam.put_user_policy(UserName="mv", PolicyName="inline", PolicyDocument=policy_doc())
        self.iam.attach_user_policy(UserName="mv", PolicyArn=READONLY)
        self.iam.create_group(GroupName="g")
        self.iam.add_user_to_group(GroupName="g", UserName="mv")
        before = self.iam.get_user(UserName="mv")["User"]

        self.iam.update_user(UserName="mv", NewPath="/new/path/")
        after = self.iam.get_user(UserName="mv")["User"]
        self.assertEqual(after["Path"], "/new/path/")
        self.assertEqual(after["Arn"], f"arn:aws:iam::{ACCOUNT}:user/new/path/mv")
        self.assertEqual(after["UserId"], before["UserId"])
        self.assertEqual(after["Tags"], [{"Key": "owner", "Value": "me"}])
        self.assertEqual(after["PermissionsBoundary"]["PermissionsBoundaryArn"], READONLY)
        self.assertEqual(self.iam.list_user_tags(UserName="mv")["Tags"], [{"Key": "owner", "Value": "me"}])
        self.assertEqual([k["AccessKeyId"] for k in self.iam.list_access_keys(UserName="mv")["AccessKeyMetadata"]], [key])
        self.assertEqual(self.iam.list_user_policies(UserName="mv")["PolicyNames"], ["inline"])
        self.assertEqual(len(self.iam.list_attached_user_policies(UserName="mv")["AttachedPolicies"]), 1)
        self.assertEqual([g["GroupName"] for g in self.iam.list_groups_for_user(UserName="mv")["Groups"]], ["g"])

        # rename keeps tags and keys too
        self.iam.update_user(UserName="mv", NewUserName="mv2")
        self.assertEqual(self.iam.get_user(UserName="mv2")["User"]["Tags"], [{"Key": "owner", "Value": "me"}])
        self.iam.delete_access_key(UserName="mv2", AccessKeyId=key)
        self.assertEqual(self.iam.list_access_keys(UserName="mv2")["AccessKeyMetadata"], [])
        self.assertAwsError("NoSuchEntity", 404, self.iam.update_user, UserName="nobody", NewPath="/x/")

    # ------------------------------------- 7. GetUser tags, GetUserPolicy encoding
    def test_get_user_tags_and_policy_document_encoding(self):
        self.iam.create_user(UserName="g", Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}])
        self.assertEqual(
            sorted(self.iam.get_user(UserName="g")["User"]["Tags"], key=lambda t: t["Key"]),
            [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}],
        )
        self.iam.create_user(UserName="notags")
        self.assertNotIn("Tags", self.iam.get_user(UserName="notags")["User"])
        doc = policy_doc()
        self.iam.put_user_policy(UserName="g", PolicyName="p", PolicyDocument=doc)
        got = self.iam.get_user_policy(UserName="g", PolicyName="p")
        self.assertEqual(got["PolicyDocument"], json.loads(doc))  # botocore decodes it
        body = self.raw["body"].decode()
        encoded = re.search(r"<PolicyDocument>(.*)</PolicyDocument>", body).group(1)
        self.assertTrue(encoded.startswith("%7B%22Version%22"), encoded)  # URL-encoded like AWS
        self.assertNotIn("{", encoded)
        self.assertAwsError("NoSuchEntity", 404, self.iam.get_user_policy, UserName="g", PolicyName="nope")
        self.assertAwsError("NoSuchEntity", 404, self.iam.get_user, UserName="nobody")

    # ---------------------------- 8. RotateSecret without a Lambda (tests play Secrets Manager)
    def test_rotate_secret_records_configuration_and_an_empty_pending_version(self):
        before = datetime.datetime.now(datetime.timezone.utc)
        current, pending = self.rotated_secret()  # moto: ResourceNotFoundException (no such Lambda)
        self.assertTrue(pending)
        described = self.sm.describe_secret(SecretId="rot")
        self.assertIs(described["RotationEnabled"], True)
        self.assertEqual(described["RotationLambdaARN"], ROTATOR)
        self.assertEqual(described["RotationRules"]["AutomaticallyAfterDays"], 30)
        next_date = described["NextRotationDate"]
        self.assertGreater(next_date, before + datetime.timedelta(days=29))
        self.assertLess(next_date, before + datetime.timedelta(days=31))
        self.assertEqual(self.stages("rot"), {current: ["AWSCURRENT"], pending: ["AWSPENDING"]})
        # The pending version has no value until the rotation function stores one.
        for kw in ({"VersionId": pending, "VersionStage": "AWSPENDING"}, {"VersionStage": "AWSPENDING"}, {"VersionId": pending}):
            with self.subTest(**kw):
                self.assertAwsError("ResourceNotFoundException", 404, self.sm.get_secret_value, SecretId="rot", **kw)
        got = self.sm.get_secret_value(SecretId="rot")
        self.assertEqual((got["VersionId"], got["SecretString"]), (current, "v1"))
        # The ClientRequestToken becomes the pending version's id; a secret ARN works as SecretId.
        arn = self.sm.create_secret(Name="rot2", SecretString="x")["ARN"]
        self.assertEqual(
            self.sm.rotate_secret(SecretId=arn, RotationLambdaARN=ROTATOR, ClientRequestToken=TOKEN)["VersionId"], TOKEN
        )
        self.assertEqual(self.stages("rot2")[TOKEN], ["AWSPENDING"])
        # No Lambda ARN given and none configured: AWS refuses.
        self.sm.create_secret(Name="nolambda", SecretString="x")
        self.assertAwsError("InvalidRequestException", 400, self.sm.rotate_secret, SecretId="nolambda")
        self.assertAwsError(
            "InvalidParameterException", 400, self.sm.rotate_secret,
            SecretId="nolambda", RotationLambdaARN=ROTATOR, RotationRules={"AutomaticallyAfterDays": 1001},
        )

    def test_rotate_secret_not_immediately_only_records_configuration(self):
        current, pending = self.rotated_secret(RotateImmediately=False, RotationRules={"AutomaticallyAfterDays": 7})
        self.assertIsNone(pending)  # AWS runs only testSecret (nothing here); no new version
        described = self.sm.describe_secret(SecretId="rot")
        self.assertIs(described["RotationEnabled"], True)
        self.assertEqual(described["RotationRules"]["AutomaticallyAfterDays"], 7)
        self.assertEqual(self.stages("rot"), {current: ["AWSCURRENT"]})
        # Later RotateSecret calls may omit the ARN and the rules: the configured ones stay.
        pending = self.sm.rotate_secret(SecretId="rot")["VersionId"]
        described = self.sm.describe_secret(SecretId="rot")
        self.assertEqual((described["RotationLambdaARN"], described["RotationRules"]["AutomaticallyAfterDays"]), (ROTATOR, 7))
        self.assertEqual(self.stages("rot"), {current: ["AWSCURRENT"], pending: ["AWSPENDING"]})

    def test_rotate_secret_refuses_only_while_pending_is_not_current(self):
        current, pending = self.rotated_secret()
        msg = self.assertAwsError("InvalidRequestException", 400, self.sm.rotate_secret, SecretId="rot")
        self.assertIn("previous rotation isn't complete", msg)
        self.assertAwsError(
            "InvalidRequestException", 400, self.sm.rotate_secret, SecretId="rot", RotateImmediately=False
        )
        # The rotation function finishes: AWSPENDING stays on the new AWSCURRENT version.
        self.sm.put_secret_value(SecretId="rot", ClientRequestToken=pending, SecretString="v2", VersionStages=["AWSPENDING"])
        self.sm.update_secret_version_stage(
            SecretId="rot", VersionStage="AWSCURRENT", MoveToVersionId=pending, RemoveFromVersionId=current
        )
        self.assertEqual(self.stages("rot"), {current: ["AWSPREVIOUS"], pending: ["AWSCURRENT", "AWSPENDING"]})
        # moto refused here (AWSPENDING on the AWSCURRENT version); AWS proceeds.
        second = self.sm.rotate_secret(SecretId="rot", ClientRequestToken=TOKEN)["VersionId"]
        self.assertEqual(second, TOKEN)
        self.assertEqual(
            self.stages("rot"), {current: ["AWSPREVIOUS"], pending: ["AWSCURRENT"], TOKEN: ["AWSPENDING"]}
        )
        # A token naming an existing version cannot start a rotation.
        self.sm.update_secret_version_stage(SecretId="rot", VersionStage="AWSPENDING", RemoveFromVersionId=TOKEN)
        self.assertAwsError(
            "ResourceExistsException", 400, self.sm.rotate_secret, SecretId="rot", ClientRequestToken=pending
        )

    def test_cancel_rotate_secret(self):
        _, pending = self.rotated_secret()
        cancelled = self.sm.cancel_rotate_secret(SecretId="rot")
        self.assertEqual(cancelled["VersionId"], pending)  # AWS: the version the rotation created
        described = self.sm.describe_secret(SecretId="rot")
        self.assertIs(described["RotationEnabled"], False)
        self.assertEqual(described["RotationLambdaARN"], ROTATOR)
        # AWSPENDING stays on the unfinished version, so rotation is still blocked until it goes.
        self.assertAwsError("InvalidRequestException", 400, self.sm.rotate_secret, SecretId="rot")
        self.sm.update_secret_version_stage(SecretId="rot", VersionStage="AWSPENDING", RemoveFromVersionId=pending)
        self.sm.rotate_secret(SecretId="rot")
        self.assertIs(self.sm.describe_secret(SecretId="rot")["RotationEnabled"], True)
        self.sm.create_secret(Name="never", SecretString="x")
        self.assertAwsError("InvalidRequestException", 400, self.sm.cancel_rotate_secret, SecretId="never")

    # ------------------------------------- 9. staging labels through a whole rotation
    def test_rotation_protocol_as_the_function_sees_it(self):
        current, _ = self.rotated_secret(ClientRequestToken=TOKEN)
        # createSecret: the token names a version labelled AWSPENDING that has no value yet.
        self.assertEqual(self.stages("rot")[TOKEN], ["AWSPENDING"])
        self.assertAwsError(
            "ResourceNotFoundException", 404, self.sm.get_secret_value,
            SecretId="rot", VersionId=TOKEN, VersionStage="AWSPENDING",
        )
        put = self.sm.put_secret_value(
            SecretId="rot", ClientRequestToken=TOKEN, SecretString="v2", VersionStages=["AWSPENDING"]
        )
        self.assertEqual((put["VersionId"], put["VersionStages"]), (TOKEN, ["AWSPENDING"]))
        got = self.sm.get_secret_value(SecretId="rot", VersionId=TOKEN, VersionStage="AWSPENDING")
        self.assertEqual(got["SecretString"], "v2")
        self.assertEqual(self.sm.get_secret_value(SecretId="rot")["SecretString"], "v1")
        # A retried createSecret: the same value is ignored, another value is refused (moto
        # overwrote any version labelled AWSPENDING).
        self.sm.put_secret_value(SecretId="rot", ClientRequestToken=TOKEN, SecretString="v2", VersionStages=["AWSPENDING"])
        self.assertAwsError(
            "ResourceExistsException", 400, self.sm.put_secret_value,
            SecretId="rot", ClientRequestToken=TOKEN, SecretString="other", VersionStages=["AWSPENDING"],
        )
        self.assertEqual(self.sm.get_secret_value(SecretId="rot", VersionStage="AWSPENDING")["SecretString"], "v2")
        # Mismatched VersionId and VersionStage: ResourceNotFoundException (moto: InvalidRequestException).
        self.assertAwsError(
            "ResourceNotFoundException", 404, self.sm.get_secret_value,
            SecretId="rot", VersionId=current, VersionStage="AWSPENDING",
        )
        self.assertAwsError(
            "ResourceNotFoundException", 404, self.sm.get_secret_value,
            SecretId="rot", VersionId=TOKEN, VersionStage="AWSCURRENT",
        )
        # finishSecret: AWSCURRENT moves, AWSPREVIOUS goes to the old current version.
        self.sm.update_secret_version_stage(
            SecretId="rot", VersionStage="AWSCURRENT", MoveToVersionId=TOKEN, RemoveFromVersionId=current
        )
        self.assertEqual(self.stages("rot"), {current: ["AWSPREVIOUS"], TOKEN: ["AWSCURRENT", "AWSPENDING"]})
        got = self.sm.get_secret_value(SecretId="rot")  # moto kept answering the old version
        self.assertEqual((got["VersionId"], got["SecretString"]), (TOKEN, "v2"))
        self.assertEqual(self.sm.get_secret_value(SecretId="rot", VersionStage="AWSPREVIOUS")["SecretString"], "v1")
        self.assertEqual(self.sm.get_secret_value(SecretId="rot", VersionStage="AWSCURRENT")["VersionId"], TOKEN)

        # A second rotation: the first version loses its last label and is deprecated.
        third = self.sm.rotate_secret(SecretId="rot")["VersionId"]
        self.sm.put_secret_value(SecretId="rot", ClientRequestToken=third, SecretString="v3", VersionStages=["AWSPENDING"])
        self.sm.update_secret_version_stage(
            SecretId="rot", VersionStage="AWSCURRENT", MoveToVersionId=third, RemoveFromVersionId=TOKEN
        )
        self.assertEqual(self.stages("rot"), {TOKEN: ["AWSPREVIOUS"], third: ["AWSCURRENT", "AWSPENDING"]})
        listed = self.sm.list_secret_version_ids(SecretId="rot")
        self.assertEqual(listed["ARN"], self.sm.describe_secret(SecretId="rot")["ARN"])
        self.assertEqual(sorted(v["VersionId"] for v in listed["Versions"]), sorted([TOKEN, third]))
        everything = self.sm.list_secret_version_ids(SecretId="rot", IncludeDeprecated=True)["Versions"]
        self.assertEqual(sorted(v["VersionId"] for v in everything), sorted([current, TOKEN, third]))
        self.assertEqual(self.sm.get_secret_value(SecretId="rot", VersionId=current)["SecretString"], "v1")
        self.assertEqual(self.sm.get_secret_value(SecretId="rot")["SecretString"], "v3")

    def test_put_secret_value_moves_only_the_labels_it_names(self):
        current, pending = self.rotated_secret()
        # Storing a value under another token with AWSPENDING moves the label there.
        other = self.sm.put_secret_value(
            SecretId="rot", ClientRequestToken=TOKEN, SecretString="v2", VersionStages=["AWSPENDING"]
        )["VersionId"]
        self.assertEqual(self.stages("rot"), {current: ["AWSCURRENT"], other: ["AWSPENDING"]})
        # Finish that rotation, then store a value outside rotation (PutSecretValue with the
        # default label AWSCURRENT, or UpdateSecret): AWSPENDING stays on the version it was on
        # (moto wiped every label of the old AWSCURRENT version), which is no longer AWSCURRENT,
        # so AWS refuses the next rotation until someone removes the label.
        self.sm.update_secret_version_stage(
            SecretId="rot", VersionStage="AWSCURRENT", MoveToVersionId=other, RemoveFromVersionId=current
        )
        newest = self.sm.put_secret_value(SecretId="rot", SecretString="v3")["VersionId"]
        self.assertEqual(self.stages("rot"), {other: ["AWSPENDING", "AWSPREVIOUS"], newest: ["AWSCURRENT"]})
        self.assertEqual(self.sm.get_secret_value(SecretId="rot")["SecretString"], "v3")
        self.assertAwsError("InvalidRequestException", 400, self.sm.rotate_secret, SecretId="rot")

        current, pending = self.rotated_secret(name="upd")
        self.sm.put_secret_value(SecretId="upd", ClientRequestToken=pending, SecretString="v2", VersionStages=["AWSPENDING"])
        self.sm.update_secret_version_stage(
            SecretId="upd", VersionStage="AWSCURRENT", MoveToVersionId=pending, RemoveFromVersionId=current
        )
        newest = self.sm.update_secret(SecretId="upd", SecretString="v3")["VersionId"]
        self.assertEqual(self.stages("upd"), {pending: ["AWSPENDING", "AWSPREVIOUS"], newest: ["AWSCURRENT"]})
        self.assertAwsError("InvalidRequestException", 400, self.sm.rotate_secret, SecretId="upd")
        # The first value of a secret created without one is AWSCURRENT whatever the labels.
        self.sm.create_secret(Name="empty")
        first = self.sm.put_secret_value(SecretId="empty", SecretString="x", VersionStages=["custom"])
        self.assertEqual(sorted(first["VersionStages"]), ["AWSCURRENT", "custom"])
        # A secret marked for deletion takes no values.
        self.sm.delete_secret(SecretId="empty", RecoveryWindowInDays=7)
        self.assertAwsError("InvalidRequestException", 400, self.sm.put_secret_value, SecretId="empty", SecretString="y")

    def test_update_secret_version_stage_rules(self):
        current, pending = self.rotated_secret()
        # A label attached elsewhere can only move with RemoveFromVersionId naming its holder
        # (moto checked that for AWSCURRENT only and put AWSPENDING on two versions).
        self.assertAwsError(
            "InvalidParameterException", 400, self.sm.update_secret_version_stage,
            SecretId="rot", VersionStage="AWSPENDING", MoveToVersionId=current,
        )
        self.assertAwsError(
            "InvalidParameterException", 400, self.sm.update_secret_version_stage,
            SecretId="rot", VersionStage="AWSCURRENT", MoveToVersionId=pending,
        )
        self.assertAwsError(
            "InvalidParameterException", 400, self.sm.update_secret_version_stage,
            SecretId="rot", VersionStage="AWSCURRENT", MoveToVersionId=pending, RemoveFromVersionId=pending,
        )
        self.assertAwsError(
            "InvalidParameterException", 400, self.sm.update_secret_version_stage,
            SecretId="rot", VersionStage="AWSCURRENT", MoveToVersionId="99999999-9999-4999-8999-999999999999", RemoveFromVersionId=current,
        )
        self.assertEqual(self.stages("rot"), {current: ["AWSCURRENT"], pending: ["AWSPENDING"]})
        # A custom label moves like any other; AWSPREVIOUS is only touched when AWSCURRENT moves.
        self.sm.update_secret_version_stage(SecretId="rot", VersionStage="mine", MoveToVersionId=pending)
        self.sm.update_secret_version_stage(
            SecretId="rot", VersionStage="mine", MoveToVersionId=current, RemoveFromVersionId=pending
        )
        self.assertEqual(self.stages("rot"), {current: ["AWSCURRENT", "mine"], pending: ["AWSPENDING"]})
        # RemoveFromVersionId alone just removes the label.
        self.sm.update_secret_version_stage(SecretId="rot", VersionStage="AWSPENDING", RemoveFromVersionId=pending)
        self.assertEqual(self.stages("rot"), {current: ["AWSCURRENT", "mine"]})
        self.assertAwsError(
            "ResourceNotFoundException", 404, self.sm.update_secret_version_stage,
            SecretId="nope", VersionStage="AWSCURRENT", MoveToVersionId=current,
        )

    # --------------------------------------- 10. STS GetCallerIdentity authenticates
    def test_get_caller_identity_authenticates(self):
        user = self.iam.create_user(UserName="caller")["User"]
        key = self.iam.create_access_key(UserName="caller")["AccessKey"]
        kid = key["AccessKeyId"]
        never = self.iam.get_access_key_last_used(AccessKeyId=kid)["AccessKeyLastUsed"]
        self.assertNotIn("LastUsedDate", never)

        # Right key id, wrong secret: SignatureDoesNotMatch, and it is not a use of the key.
        msg = self.assertAwsError(
            "SignatureDoesNotMatch", 403, self.client_for("sts", key, secret="x" * 40).get_caller_identity
        )
        self.assertIn("signature", msg)
        self.assertNotIn("LastUsedDate", self.iam.get_access_key_last_used(AccessKeyId=kid)["AccessKeyLastUsed"])

        before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        ident = self.client_for("sts", key, region="eu-west-1").get_caller_identity()
        self.assertEqual(ident["Arn"], f"arn:aws:iam::{ACCOUNT}:user/caller")
        self.assertEqual((ident["Account"], ident["UserId"]), (ACCOUNT, user["UserId"]))
        used = self.iam.get_access_key_last_used(AccessKeyId=kid)
        self.assertEqual(used["UserName"], "caller")
        used = used["AccessKeyLastUsed"]
        self.assertEqual((used["ServiceName"], used["Region"]), ("sts", "eu-west-1"))
        self.assertGreaterEqual(used["LastUsedDate"], before)

        # Unknown, inactive, deleted keys: InvalidClientTokenId with AWS's message.
        unknown = {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "SecretAccessKey": "secret"}
        self.iam.update_access_key(UserName="caller", AccessKeyId=kid, Status="Inactive")
        for label, creds in (("unknown", unknown), ("inactive", key)):
            with self.subTest(key=label):
                msg = self.assertAwsError(
                    "InvalidClientTokenId", 403, self.client_for("sts", creds).get_caller_identity
                )
                self.assertEqual(msg, "The security token included in the request is invalid.")
        self.iam.update_access_key(UserName="caller", AccessKeyId=kid, Status="Active")
        self.client_for("sts", key).get_caller_identity()
        self.iam.delete_access_key(UserName="caller", AccessKeyId=kid)
        self.assertAwsError("InvalidClientTokenId", 403, self.client_for("sts", key).get_caller_identity)

        # Everything else is unchanged: other STS actions and other services take any credentials.
        self.assertTrue(self.client_for("sts", unknown).get_session_token()["Credentials"]["SessionToken"])
        self.client_for("iam", unknown).list_users()

    # ------------------------------- 11. test-only endpoint: seed an access key's dates
    def test_access_key_dates_endpoint(self):
        path = "/moto-api/planton/access-key-dates"
        self.iam.create_user(UserName="old")
        kid = self.iam.create_access_key(UserName="old")["AccessKey"]["AccessKeyId"]
        status, body = self.post_json(path, {
            "access_key_id": kid,
            "create_date": "2020-01-02T03:04:05Z",
            "last_used_date": "2020-02-03T04:05:06+00:00",
        })
        self.assertEqual(status, 200, body)
        self.assertEqual(body, {
            "access_key_id": kid, "user_name": "old",
            "create_date": "2020-01-02T03:04:05Z", "last_used_date": "2020-02-03T04:05:06Z",
        })
        utc = datetime.timezone.utc
        listed = self.iam.list_access_keys(UserName="old")["AccessKeyMetadata"][0]
        self.assertEqual(listed["CreateDate"], datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=utc))
        used = self.iam.get_access_key_last_used(AccessKeyId=kid)["AccessKeyLastUsed"]
        self.assertEqual(used, {
            "LastUsedDate": datetime.datetime(2020, 2, 3, 4, 5, 6, tzinfo=utc), "ServiceName": "sts", "Region": "us-east-1",
        })
        # Service and region can be given; null last_used_date means never used; create_date alone.
        status, _ = self.post_json(path, {
            "access_key_id": kid, "last_used_date": "2021-05-06T07:08:09Z",
            "last_used_service": "s3", "last_used_region": "eu-west-1",
        })
        self.assertEqual(status, 200)
        used = self.iam.get_access_key_last_used(AccessKeyId=kid)["AccessKeyLastUsed"]
        self.assertEqual((used["ServiceName"], used["Region"]), ("s3", "eu-west-1"))
        self.assertEqual(self.post_json(path, {"access_key_id": kid, "last_used_date": None})[0], 200)
        self.assertNotIn("LastUsedDate", self.iam.get_access_key_last_used(AccessKeyId=kid)["AccessKeyLastUsed"])
        self.assertEqual(self.post_json(path, {"access_key_id": kid, "create_date": "2019-12-31T23:00:00-02:00"})[0], 200)
        self.assertEqual(
            self.iam.list_access_keys(UserName="old")["AccessKeyMetadata"][0]["CreateDate"],
            datetime.datetime(2020, 1, 1, 1, 0, tzinfo=utc),
        )
        # Errors.
        status, body = self.post_json(path, {"access_key_id": "AKIANOSUCHKEY0000000"})
        self.assertEqual(status, 404)
        self.assertIn("cannot be found", body["error"])
        for bad in ({"create_date": "2020-01-01"}, {"access_key_id": kid, "create_date": "yesterday"},
                    {"access_key_id": kid, "typo": 1}, [kid]):
            with self.subTest(body=bad):
                self.assertEqual(self.post_json(path, bad)[0], 400)
        self.assertEqual(self.post_json(path, None, method="GET")[0], 405)
        # moto 5.2.5's server has no clock endpoint (hence this one).
        self.assertEqual(self.post_json("/moto-api/time/set", {"time": "2020-01-01T00:00:00Z"})[0], 404)

    # --------------------------- 12. test-only endpoint: the CloudFormation model the tests set
    def set_stack(self, stack_id=STACK, status="CREATE_IN_PROGRESS", resources=None):
        payload = {"StackId": stack_id, "StackStatus": status}
        if resources is not None:
            payload["Resources"] = resources
        status_code, body = self.post_json("/moto-api/planton/stacks", payload)
        self.assertEqual(status_code, 200, body)
        return body

    def test_stack_model_answers_describe_calls(self):
        before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
        stored = self.set_stack(resources={
            "User": {"ResourceType": "Custom::PlantonIamUser", "ResourceStatus": "CREATE_IN_PROGRESS"},
            "Other": {"ResourceType": "Custom::PlantonIamUser", "ResourceStatus": "UPDATE_IN_PROGRESS",
                      "PhysicalResourceId": "planton-other"},
        })
        created = stored.pop("CreationTime")
        stamps = {lid: res.pop("LastUpdatedTimestamp") for lid, res in stored["Resources"].items()}
        self.assertEqual(stored, {
            "StackId": STACK, "StackName": "test-stack", "StackStatus": "CREATE_IN_PROGRESS",
            "Resources": {
                "User": {"ResourceType": "Custom::PlantonIamUser", "ResourceStatus": "CREATE_IN_PROGRESS"},
                "Other": {"ResourceType": "Custom::PlantonIamUser", "ResourceStatus": "UPDATE_IN_PROGRESS",
                          "PhysicalResourceId": "planton-other"},
            },
        })
        self.assertTrue(created.endswith("Z") and all(t.endswith("Z") for t in stamps.values()), (created, stamps))
        # DescribeStacks by StackId and by name, with the XML moto gives its own stacks.
        for name in (STACK, "test-stack"):
            with self.subTest(StackName=name):
                stacks = self.cfn.describe_stacks(StackName=name)["Stacks"]
                self.assertEqual(len(stacks), 1)
                stack = stacks[0]
                self.assertEqual(
                    (stack["StackId"], stack["StackName"], stack["StackStatus"]),
                    (STACK, "test-stack", "CREATE_IN_PROGRESS"),
                )
                self.assertGreaterEqual(stack["CreationTime"], before)
        body = self.raw["cfn_body"].decode()
        self.assertTrue(body.startswith(
            '<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
            "<DescribeStacksResult><Stacks><member><StackId>"
        ), body)
        # DescribeStackResource: type, status; PhysicalResourceId only when the model has one.
        user = self.cfn.describe_stack_resource(StackName=STACK, LogicalResourceId="User")["StackResourceDetail"]
        self.assertEqual(
            {k: user[k] for k in ("StackId", "StackName", "LogicalResourceId", "ResourceType", "ResourceStatus")},
            {"StackId": STACK, "StackName": "test-stack", "LogicalResourceId": "User",
             "ResourceType": "Custom::PlantonIamUser", "ResourceStatus": "CREATE_IN_PROGRESS"},
        )
        self.assertNotIn("PhysicalResourceId", user)
        self.assertGreaterEqual(user["LastUpdatedTimestamp"], before)
        self.assertIn(
            '<DescribeStackResourceResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
            "<DescribeStackResourceResult><StackResourceDetail>",
            self.raw["cfn_body"].decode(),
        )
        other = self.cfn.describe_stack_resource(StackName="test-stack", LogicalResourceId="Other")["StackResourceDetail"]
        self.assertEqual(
            (other["PhysicalResourceId"], other["ResourceStatus"]), ("planton-other", "UPDATE_IN_PROGRESS")
        )
        # DescribeStacks without a name lists modelled stacks next to moto's own.
        self.cfn.create_stack(StackName="real", TemplateBody=json.dumps({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}))
        self.assertEqual(sorted(s["StackName"] for s in self.cfn.describe_stacks()["Stacks"]), ["real", "test-stack"])
        self.assertEqual(self.cfn.describe_stacks(StackName="real")["Stacks"][0]["StackStatus"], "CREATE_COMPLETE")
        # Setting again replaces the whole record (CreationTime stays).
        again = self.set_stack(status="UPDATE_IN_PROGRESS", resources={
            "User": {"ResourceType": "Custom::PlantonIamUser", "ResourceStatus": "UPDATE_IN_PROGRESS",
                     "PhysicalResourceId": "planton-user"},
        })
        self.assertEqual(again["CreationTime"], created)
        self.assertEqual(self.cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"], "UPDATE_IN_PROGRESS")
        user = self.cfn.describe_stack_resource(StackName=STACK, LogicalResourceId="User")["StackResourceDetail"]
        self.assertEqual((user["PhysicalResourceId"], user["ResourceStatus"]), ("planton-user", "UPDATE_IN_PROGRESS"))
        self.assertAwsError("ValidationError", 400, self.cfn.describe_stack_resource, StackName=STACK, LogicalResourceId="Other")
        # A stack lives in the account and region of its ARN only.
        msg = self.assertAwsError("ValidationError", 400, self.cfn_west.describe_stacks, StackName=STACK)
        self.assertEqual(msg, f"Stack with id {STACK} does not exist")
        # A deleted stack is found by its id only (as AWS).
        self.set_stack(status="DELETE_COMPLETE", resources={})
        self.assertEqual(self.cfn.describe_stacks(StackName=STACK)["Stacks"][0]["StackStatus"], "DELETE_COMPLETE")
        self.assertAwsError("ValidationError", 400, self.cfn.describe_stacks, StackName="test-stack")
        self.assertEqual([s["StackName"] for s in self.cfn.describe_stacks()["Stacks"]], ["real"])

    def test_stack_model_unknown_stack_and_resource_errors(self):
        self.set_stack(resources={"User": {"ResourceType": "Custom::PlantonIamUser", "ResourceStatus": "CREATE_IN_PROGRESS"}})
        ghost = STACK.replace("test-stack", "ghost")
        for name in (ghost, "ghost"):
            with self.subTest(StackName=name):
                msg = self.assertAwsError("ValidationError", 400, self.cfn.describe_stacks, StackName=name)
                self.assertEqual(msg, f"Stack with id {name} does not exist")
                # DescribeStackResource words it differently (AWS; moto: "Stack with id ...").
                msg = self.assertAwsError(
                    "ValidationError", 400, self.cfn.describe_stack_resource, StackName=name, LogicalResourceId="User"
                )
                self.assertEqual(msg, f"Stack '{name}' does not exist")
        for name in (STACK, "test-stack"):
            with self.subTest(StackName=name):
                msg = self.assertAwsError(
                    "ValidationError", 400, self.cfn.describe_stack_resource, StackName=name, LogicalResourceId="Nope"
                )
                self.assertEqual(msg, f"Resource Nope does not exist for stack {name}")
        self.assertIn(
            '<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error><Type>Sender</Type>'
            "<Code>ValidationError</Code>",
            self.raw["cfn_body"].decode(),
        )

    def test_stack_model_merge_keeps_the_other_resources(self):
        path = "/moto-api/planton/stacks"
        self.set_stack(resources={"A": {"ResourceType": "Custom::PlantonIamUser", "ResourceStatus": "CREATE_IN_PROGRESS"}})
        status, body = self.post_json(path, {
            "StackId": STACK, "StackStatus": "UPDATE_IN_PROGRESS", "Merge": True,
            "Resources": {"B": {"ResourceType": "Custom::PlantonIamUser", "ResourceStatus": "DELETE_IN_PROGRESS",
                                "PhysicalResourceId": "b"}},
        })
        self.assertEqual(status, 200, body)
        self.assertEqual(sorted(body["Resources"]), ["A", "B"])
        self.assertEqual(body["StackStatus"], "UPDATE_IN_PROGRESS")
        a = self.cfn.describe_stack_resource(StackName=STACK, LogicalResourceId="A")["StackResourceDetail"]
        self.assertEqual(a["ResourceStatus"], "CREATE_IN_PROGRESS")
        # Without Merge the record is replaced, as before.
        self.set_stack(resources={})
        self.assertAwsError("ValidationError", 400, self.cfn.describe_stack_resource, StackName=STACK, LogicalResourceId="A")
        self.assertEqual(self.post_json(path, {"StackId": STACK, "StackStatus": "UPDATE_IN_PROGRESS", "Merge": "yes"})[0], 400)

    def test_stack_model_delete_and_reset(self):
        path = "/moto-api/planton/stacks"
        self.set_stack()
        self.assertEqual(self.post_json(path, {"StackId": STACK, "Delete": True}), (200, {"StackId": STACK, "Deleted": True}))
        self.assertAwsError("ValidationError", 400, self.cfn.describe_stacks, StackName=STACK)
        self.assertEqual(self.post_json(path, {"StackId": STACK, "Delete": True})[0], 200)  # idempotent
        self.set_stack()
        self.setUp()  # POST /moto-api/reset
        self.assertAwsError("ValidationError", 400, self.cfn.describe_stacks, StackName=STACK)

    def test_stack_model_endpoint_errors(self):
        path = "/moto-api/planton/stacks"
        user = {"ResourceType": "Custom::PlantonIamUser", "ResourceStatus": "CREATE_IN_PROGRESS"}
        for bad in (
            b"{not json", [STACK], {"StackStatus": "CREATE_IN_PROGRESS"},
            {"StackId": "arn:aws:s3:::bucket", "StackStatus": "CREATE_IN_PROGRESS"},
            {"StackId": STACK}, {"StackId": STACK, "StackStatus": "RUNNING"},
            {"StackId": STACK, "StackStatus": "CREATE_IN_PROGRESS", "Typo": 1},
            {"StackId": STACK, "StackStatus": "CREATE_IN_PROGRESS", "Resources": []},
            {"StackId": STACK, "StackStatus": "CREATE_IN_PROGRESS", "Resources": {"bad-id": user}},
            {"StackId": STACK, "StackStatus": "CREATE_IN_PROGRESS", "Resources": {"User": dict(user, ResourceStatus="X")}},
            {"StackId": STACK, "StackStatus": "CREATE_IN_PROGRESS", "Resources": {"User": {"ResourceStatus": "CREATE_IN_PROGRESS"}}},
            {"StackId": STACK, "StackStatus": "CREATE_IN_PROGRESS", "Resources": {"User": dict(user, Typo=1)}},
            {"StackId": STACK, "StackStatus": "CREATE_IN_PROGRESS", "Resources": {"User": dict(user, PhysicalResourceId=7)}},
            {"StackId": STACK, "Delete": False}, {"StackId": STACK, "Delete": True, "StackStatus": "CREATE_IN_PROGRESS"},
        ):
            with self.subTest(body=bad):
                status, body = self.post_json(path, bad)
                self.assertEqual(status, 400, body)
                self.assertIn("error", body)
        self.assertEqual(self.post_json(path, None, method="GET")[0], 405)
        self.assertAwsError("ValidationError", 400, self.cfn.describe_stacks, StackName=STACK)

    def test_test_endpoints_serve_loopback_clients_only(self):
        sys.path.insert(0, HERE)
        no_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ in the tree
        try:
            import strict_moto
        finally:
            sys.path.remove(HERE)
            sys.dont_write_bytecode = no_bytecode
        passed = []
        wsgi = strict_moto._with_test_endpoints(lambda environ, start: passed.append(environ["PATH_INFO"]) or [b""])
        for path in ("/moto-api/planton/access-key-dates", "/moto-api/planton/stacks", "/moto-api/planton/stage-pending"):
            for remote in ("10.1.2.3", "::ffff:10.1.2.3", "192.168.0.1"):
                with self.subTest(path=path, remote=remote):
                    got = {}
                    body = wsgi(
                        {"PATH_INFO": path, "REMOTE_ADDR": remote, "REQUEST_METHOD": "POST", "CONTENT_LENGTH": "2",
                         "wsgi.input": io.BytesIO(b"{}")},
                        lambda status, headers: got.update(status=status),
                    )
                    self.assertEqual(got["status"], "403 Forbidden")
                    self.assertEqual(json.loads(b"".join(body)), {"error": "loopback clients only"})
        self.assertEqual(passed, [])
        wsgi({"PATH_INFO": "/", "REMOTE_ADDR": "10.1.2.3", "REQUEST_METHOD": "POST"}, None)
        self.assertEqual(passed, ["/"])  # everything else goes to moto

    # ------------------------- 13. test-only endpoint: stage a rotation token (RotateSecret's first step)
    def test_stage_pending_endpoint(self):
        path = "/moto-api/planton/stage-pending"
        created = self.sm.create_secret(Name="staged", SecretString="v1")
        current, arn = created["VersionId"], created["ARN"]
        status, body = self.post_json(path, {"SecretId": "staged", "ClientRequestToken": TOKEN})
        self.assertEqual(status, 200, body)
        self.assertEqual(body, {
            "ARN": arn, "Name": "staged", "VersionId": TOKEN,
            "VersionIdsToStages": {current: ["AWSCURRENT"], TOKEN: ["AWSPENDING"]},
        })
        self.assertEqual(self.stages("staged"), {current: ["AWSCURRENT"], TOKEN: ["AWSPENDING"]})
        described = self.sm.describe_secret(SecretId="staged")
        self.assertFalse(described.get("RotationEnabled", False))  # rotation configuration untouched
        # The pending version has no value yet.
        for kw in ({"VersionStage": "AWSPENDING"}, {"VersionId": TOKEN}, {"VersionId": TOKEN, "VersionStage": "AWSPENDING"}):
            with self.subTest(**kw):
                self.assertAwsError("ResourceNotFoundException", 404, self.sm.get_secret_value, SecretId="staged", **kw)
        self.assertEqual(self.sm.get_secret_value(SecretId="staged")["SecretString"], "v1")
        # Staging the same value-less token again is a no-op.
        self.assertEqual(self.post_json(path, {"SecretId": arn, "ClientRequestToken": TOKEN})[0], 200)
        self.assertEqual(self.stages("staged"), {current: ["AWSCURRENT"], TOKEN: ["AWSPENDING"]})
        # As after RotateSecret: RotateSecret now refuses (a rotation is in progress) ...
        self.assertAwsError("InvalidRequestException", 400, self.sm.rotate_secret, SecretId="staged", RotationLambdaARN=ROTATOR)
        # ... createSecret fills the version, a retry with another value is refused ...
        put = self.sm.put_secret_value(SecretId="staged", ClientRequestToken=TOKEN, SecretString="v2", VersionStages=["AWSPENDING"])
        self.assertEqual((put["VersionId"], put["VersionStages"]), (TOKEN, ["AWSPENDING"]))
        self.assertEqual(self.sm.get_secret_value(SecretId="staged", VersionStage="AWSPENDING")["SecretString"], "v2")
        self.sm.put_secret_value(SecretId="staged", ClientRequestToken=TOKEN, SecretString="v2", VersionStages=["AWSPENDING"])
        self.assertAwsError(
            "ResourceExistsException", 400, self.sm.put_secret_value,
            SecretId="staged", ClientRequestToken=TOKEN, SecretString="other", VersionStages=["AWSPENDING"],
        )
        # ... and once it has a value the token cannot be staged again.
        status, body = self.post_json(path, {"SecretId": "staged", "ClientRequestToken": TOKEN})
        self.assertEqual(status, 409, body)
        self.assertTrue(body["error"].startswith("ResourceExistsException: "), body)
        # finishSecret moves AWSCURRENT.
        self.sm.update_secret_version_stage(
            SecretId="staged", VersionStage="AWSCURRENT", MoveToVersionId=TOKEN, RemoveFromVersionId=current
        )
        self.assertEqual(self.stages("staged"), {current: ["AWSPREVIOUS"], TOKEN: ["AWSCURRENT", "AWSPENDING"]})
        self.assertEqual(self.sm.get_secret_value(SecretId="staged")["SecretString"], "v2")
        # A plain PutSecretValue (no token) still makes a new AWSCURRENT version.
        plain = self.sm.put_secret_value(SecretId="staged", SecretString="v3")
        self.assertEqual(plain["VersionStages"], ["AWSCURRENT"])
        self.assertNotIn(plain["VersionId"], (current, TOKEN))
        self.assertEqual(self.sm.get_secret_value(SecretId="staged")["SecretString"], "v3")
        self.assertEqual(self.stages("staged"), {TOKEN: ["AWSPENDING", "AWSPREVIOUS"], plain["VersionId"]: ["AWSCURRENT"]})
        # Another token takes AWSPENDING from wherever it is.
        other = "99999999-8888-4777-8666-555555555555"
        self.assertEqual(self.post_json(path, {"SecretId": arn, "ClientRequestToken": other})[0], 200)
        self.assertEqual(
            self.stages("staged"), {TOKEN: ["AWSPREVIOUS"], plain["VersionId"]: ["AWSCURRENT"], other: ["AWSPENDING"]}
        )

    def test_stage_pending_endpoint_errors(self):
        path = "/moto-api/planton/stage-pending"
        self.sm.create_secret(Name="s", SecretString="v1")
        status, body = self.post_json(path, {"SecretId": "nope", "ClientRequestToken": TOKEN})
        self.assertEqual(status, 404, body)
        missing_arn = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:nope-AbCdEf"
        self.assertEqual(self.post_json(path, {"SecretId": missing_arn, "ClientRequestToken": TOKEN})[0], 404)
        for bad in (b"{not json", ["s"], {"SecretId": "s"}, {"ClientRequestToken": TOKEN},
                    {"SecretId": "s", "ClientRequestToken": "short"}, {"SecretId": "s", "ClientRequestToken": TOKEN, "Typo": 1},
                    {"SecretId": "arn:aws:iam::123456789012:user/x", "ClientRequestToken": TOKEN}):
            with self.subTest(body=bad):
                status, body = self.post_json(path, bad)
                self.assertEqual(status, 400, body)
                self.assertIn("error", body)
        self.sm.delete_secret(SecretId="s", RecoveryWindowInDays=7)
        status, body = self.post_json(path, {"SecretId": "s", "ClientRequestToken": TOKEN})
        self.assertEqual(status, 400, body)
        self.assertTrue(body["error"].startswith("InvalidRequestException: "), body)
        self.assertEqual(self.post_json(path, None, method="GET")[0], 405)

    def test_events_endpoint_records_what_eventbridge_accepted(self):
        path = "/moto-api/planton/events"
        self.assertEqual(self.post_json(path, {})[1], {"Events": []}, "reset clears the record")
        entry = {"Source": "planton.iam-user", "DetailType": "Planton Access Key Rotated",
                 "Detail": json.dumps({"user": "u", "owner": "payments"}), "Resources": ["arn:aws:iam::123456789012:user/u"]}
        other = dict(entry, Source="com.example.app")
        out = self.events.put_events(Entries=[entry, other])
        self.assertEqual(out["FailedEntryCount"], 0, out)
        status, body = self.post_json(path, {"Source": "planton.iam-user"})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["Events"], [{"EventBusName": "default", "Source": "planton.iam-user",
                                           "DetailType": "Planton Access Key Rotated",
                                           "Detail": {"user": "u", "owner": "payments"},
                                           "Resources": ["arn:aws:iam::123456789012:user/u"]}])
        self.assertEqual(len(self.post_json(path, None)[1]["Events"]), 2, "no filter: every event")
        # A bus that does not exist fails as in AWS, and nothing is recorded.
        with self.assertRaises(Exception):
            self.events.put_events(Entries=[dict(entry, EventBusName="no-such-bus")])
        self.assertEqual(len(self.post_json(path, None)[1]["Events"]), 2)
        for bad in ([1], {"Typo": "x"}):
            with self.subTest(body=bad):
                self.assertEqual(self.post_json(path, bad)[0], 400)

    # ------------------------------- 15. account-level reads: pages, the report, listings
    GAAD_FILTER = ["User", "Group", "LocalManagedPolicy"]

    def gaad_pages(self, **kw):
        """Every page of GetAccountAuthorizationDetails: [(users, groups, roles, policies)]."""
        pages, marker = [], None
        while True:
            args = dict(kw, **({"Marker": marker} if marker else {}))
            out = self.iam.get_account_authorization_details(**args)
            pages.append((
                [u["UserName"] for u in out["UserDetailList"]],
                [g["GroupName"] for g in out["GroupDetailList"]],
                [r["RoleName"] for r in out["RoleDetailList"]],
                [p["Arn"] for p in out["Policies"]],
            ))
            if not out["IsTruncated"]:
                self.assertNotIn("Marker", out)
                return pages
            marker = out["Marker"]

    def test_account_authorization_details_in_pages(self):
        bnd = self.create_policy("bnd")
        for i in range(5):
            self.iam.create_user(UserName=f"u{i}", Path="/sa/", Tags=[{"Key": "team", "Value": str(i)}])
        self.iam.put_user_permissions_boundary(UserName="u0", PermissionsBoundary=bnd)
        self.iam.put_user_policy(UserName="u0", PolicyName="logs", PolicyDocument=policy_doc())
        self.iam.attach_user_policy(UserName="u0", PolicyArn=READONLY)
        self.iam.create_group(GroupName="g1")
        self.iam.create_group(GroupName="g0")
        self.iam.add_user_to_group(GroupName="g1", UserName="u0")
        # 5 users, 2 groups, 1 customer policy: 8 entities, pages of 3: users, then groups,
        # then policies, each by name; no AWS managed policy with LocalManagedPolicy.
        pages = self.gaad_pages(Filter=self.GAAD_FILTER, MaxItems=3)
        self.assertEqual(pages, [
            (["u0", "u1", "u2"], [], [], []),
            (["u3", "u4"], ["g0"], [], []),
            ([], ["g1"], [], [bnd]),
        ])
        # Without MaxItems: AWS's default of 100 items, so all 8 in one page here.
        self.assertEqual(len(self.gaad_pages(Filter=self.GAAD_FILTER)), 1)
        # What a user's detail holds, documents URL-encoded as AWS sends them.
        out = self.iam.get_account_authorization_details(Filter=["User"], MaxItems=1)
        self.assertIn("%22Version%22", self.raw["body"].decode())
        u0 = out["UserDetailList"][0]
        self.assertEqual(u0["UserName"], "u0")
        self.assertEqual(u0["GroupList"], ["g1"])
        self.assertEqual(u0["AttachedManagedPolicies"], [{"PolicyName": "ReadOnlyAccess", "PolicyArn": READONLY}])
        self.assertEqual(u0["PermissionsBoundary"]["PermissionsBoundaryArn"], bnd)
        self.assertEqual(u0["UserPolicyList"][0]["PolicyName"], "logs")
        self.assertEqual(u0["Tags"], [{"Key": "team", "Value": "0"}])
        self.assertIn("CreateDate", u0)
        # The marker names the last entity: a user made before it is not repeated, one made
        # after it is found, one deleted is simply gone.
        first = self.iam.get_account_authorization_details(Filter=["User"], MaxItems=2)
        self.iam.create_user(UserName="u00")  # sorts before the marker (u1)
        self.iam.create_user(UserName="u5")
        self.iam.delete_user(UserName="u3")
        rest = self.iam.get_account_authorization_details(Filter=["User"], MaxItems=100, Marker=first["Marker"])
        self.assertEqual([u["UserName"] for u in rest["UserDetailList"]], ["u2", "u4", "u5"])
        # Errors, as AWS answers them.
        self.assertAwsError("ValidationError", 400, self.iam.get_account_authorization_details, Filter=["Users"])
        iam = self.unvalidated("iam")
        for bad in (0, 1001):
            with self.subTest(max_items=bad):
                self.assertAwsError("ValidationError", 400, iam.get_account_authorization_details, MaxItems=bad)
        self.assertAwsError("InvalidInput", 400, self.iam.get_account_authorization_details, Marker="not-ours")

    def report(self):
        """(GeneratedTime, {user: row dict}, root row) of GetCredentialReport."""
        out = self.iam.get_credential_report()
        self.assertEqual(out["ReportFormat"], "text/csv")
        import csv
        rows = list(csv.DictReader(io.StringIO(out["Content"].decode())))
        return out["GeneratedTime"], {r["user"]: r for r in rows[1:]}, rows[0]

    def test_credential_report_is_a_snapshot_reused_for_four_hours(self):
        path = "/moto-api/planton/credential-report"
        self.assertAwsError("ReportNotPresent", 410, self.iam.get_credential_report)
        self.iam.create_user(UserName="keys")
        k1 = self.iam.create_access_key(UserName="keys")["AccessKey"]["AccessKeyId"]
        self.post_json("/moto-api/planton/access-key-dates", {
            "access_key_id": k1, "create_date": "2020-01-02T03:04:05Z",
            "last_used_date": "2020-02-03T04:05:06Z", "last_used_service": "s3", "last_used_region": "eu-west-1",
        })
        self.iam.create_user(UserName="pw")
        self.iam.create_login_profile(UserName="pw", Password="correct-horse-9!A")
        before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        started = self.iam.generate_credential_report()
        self.assertEqual(started["State"], "STARTED")
        self.assertEqual(started["Description"], "No report exists. Starting a new report generation task")
        generated, rows, root = self.report()
        self.assertGreaterEqual(generated, before)
        self.assertLess(generated - before, datetime.timedelta(seconds=30))
        # The root user's line comes first, as in AWS.
        self.assertEqual(root["user"], "<root_account>")
        self.assertEqual(root["arn"], f"arn:aws:iam::{ACCOUNT}:root")
        k = rows["keys"]
        self.assertEqual(
            [k[c] for c in ("access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date",
                            "access_key_1_last_used_region", "access_key_1_last_used_service")],
            ["true", "2020-01-02T03:04:05+00:00", "2020-02-03T04:05:06+00:00", "eu-west-1", "s3"],
        )
        self.assertEqual([k[c] for c in ("access_key_2_active", "access_key_2_last_rotated")], ["false", "N/A"])
        self.assertEqual(
            [k[c] for c in ("password_enabled", "password_last_used", "password_last_changed",
                            "password_next_rotation")],
            ["false", "N/A", "N/A", "N/A"],
        )
        pw = rows["pw"]
        self.assertEqual(pw["password_enabled"], "true")
        self.assertEqual(pw["password_last_used"], "no_information")
        self.assertRegex(pw["password_last_changed"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")
        # A snapshot: a key made since is not in it, and within four hours IAM hands out
        # the same report.
        k2 = self.iam.create_access_key(UserName="keys")["AccessKey"]["AccessKeyId"]
        self.assertEqual(self.iam.generate_credential_report()["State"], "COMPLETE")
        again, rows, _ = self.report()
        self.assertEqual(again, generated)
        self.assertEqual(rows["keys"]["access_key_2_active"], "false")
        # Four hours later a new one is made, and it shows the second key, never used.
        status, body = self.post_json(path, {"account_id": ACCOUNT, "age_seconds": 4 * 3600})
        self.assertEqual(status, 200, body)
        self.assertEqual(len(body["reports"]), 1)
        self.assertEqual(self.iam.generate_credential_report()["State"], "STARTED")
        newer, rows, _ = self.report()
        self.assertGreater(newer, generated)
        self.assertEqual(
            [rows["keys"][c] for c in ("access_key_2_active", "access_key_2_last_used_date",
                                       "access_key_2_last_used_region", "access_key_2_last_used_service")],
            ["true", "N/A", "N/A", "N/A"],
        )
        self.iam.update_access_key(UserName="keys", AccessKeyId=k2, Status="Inactive")
        # Making a report takes time when told to: INPROGRESS, ReportInProgress, then done.
        self.assertEqual(self.post_json(path, {"discard": True, "generation_seconds": 0.5})[0], 200)
        self.assertAwsError("ReportNotPresent", 410, self.iam.get_credential_report)
        self.assertEqual(self.iam.generate_credential_report()["State"], "STARTED")
        self.assertEqual(self.iam.generate_credential_report()["State"], "INPROGRESS")
        self.assertAwsError("ReportInProgress", 404, self.iam.get_credential_report)
        time.sleep(0.6)
        self.assertEqual(self.iam.generate_credential_report()["State"], "COMPLETE")
        _, rows, _ = self.report()
        self.assertEqual(rows["keys"]["access_key_2_active"], "false", "an inactive key keeps its line")
        self.assertNotEqual(rows["keys"]["access_key_2_last_rotated"], "N/A")
        # Another account's report is its own.
        self.assertEqual(self.post_json(path, {"account_id": "999999999999", "discard": True})[1]["reports"], [])

    def test_credential_report_endpoint_errors(self):
        path = "/moto-api/planton/credential-report"
        for bad in ([1], {"typo": 1}, {"age_seconds": -1}, {"age_seconds": "1"}, {"discard": "yes"},
                    {"account_id": "12"}, {"generation_seconds": True}):
            with self.subTest(body=bad):
                self.assertEqual(self.post_json(path, bad)[0], 400)
        self.assertEqual(self.post_json(path, None, method="GET")[0], 405)
        # Reset puts the generation time back to 0.
        self.assertEqual(self.post_json(path, {"generation_seconds": 3})[1]["generation_seconds"], 3)
        self.setUp()
        self.assertEqual(self.post_json(path, {})[1], {"reports": [], "generation_seconds": 0})

    def list_pages(self, **kw):
        pages, token = [], None
        while True:
            out = self.sm.list_secrets(**dict(kw, **({"NextToken": token} if token else {})))
            pages.append([s["Name"] for s in out["SecretList"]])
            token = out.get("NextToken")
            if not token:
                return pages

    def test_list_secrets_limits_filters_and_stable_pages(self):
        tag = [{"Key": "planton:user-name", "Value": "u"}]
        for i in range(5):
            self.sm.create_secret(Name=f"planton/s{i}", SecretString="x", Description=f"d{i}", Tags=tag)
            time.sleep(1.05)  # CreatedDate is whole seconds: one secret per second
        self.sm.create_secret(Name="other/untagged", SecretString="x")
        self.sm.create_secret(Name="Planton/upper", SecretString="x", Tags=tag)
        mine = [{"Key": "tag-key", "Values": ["planton:user-name"]}, {"Key": "name", "Values": ["planton/"]}]
        self.assertEqual(self.list_pages(Filters=mine, MaxResults=2),
                         [["planton/s0", "planton/s1"], ["planton/s2", "planton/s3"], ["planton/s4"]])
        self.assertEqual(self.list_pages(Filters=mine, MaxResults=3, SortOrder="desc"),
                         [["planton/s4", "planton/s3", "planton/s2"], ["planton/s1", "planton/s0"]])
        # Tag key and name are case-sensitive prefixes; a filter's values are alternatives.
        self.assertEqual(self.list_pages(Filters=[{"Key": "tag-key", "Values": ["planton:"]}])[0],
                         ["planton/s0", "planton/s1", "planton/s2", "planton/s3", "planton/s4", "Planton/upper"])
        self.assertEqual(self.list_pages(Filters=[{"Key": "tag-key", "Values": ["PLANTON:"]}]), [[]])
        self.assertEqual(sorted(self.list_pages(Filters=[{"Key": "name", "Values": ["other/", "Planton/"]}])[0]),
                         ["Planton/upper", "other/untagged"])
        # An entry holds what the audit reads.
        entry = self.sm.list_secrets(Filters=[{"Key": "name", "Values": ["planton/s0"]}])["SecretList"][0]
        self.assertEqual((entry["Description"], entry["Tags"]), ("d0", tag))
        self.assertEqual(list(entry["SecretVersionsToStages"].values()), [["AWSCURRENT"]])
        # The token names the last secret of the page: a secret deleted or made while
        # paging does not shift the rest.
        first = self.sm.list_secrets(Filters=mine, MaxResults=2)
        self.sm.delete_secret(SecretId="planton/s0", ForceDeleteWithoutRecovery=True)
        self.sm.delete_secret(SecretId="planton/s2", RecoveryWindowInDays=7)
        rest = self.sm.list_secrets(Filters=mine, MaxResults=10, NextToken=first["NextToken"])
        self.assertEqual([s["Name"] for s in rest["SecretList"]], ["planton/s3", "planton/s4"])
        # Secrets scheduled for deletion only when asked for, with their DeletedDate.
        rest = self.sm.list_secrets(Filters=mine, NextToken=first["NextToken"], IncludePlannedDeletion=True)
        listed = {s["Name"]: s for s in rest["SecretList"]}
        self.assertIn("DeletedDate", listed["planton/s2"])
        # AWS's limits (sent past botocore's own checks).
        sm = self.unvalidated("secretsmanager")
        for kw in ({"MaxResults": 0}, {"MaxResults": 101},
                   {"Filters": [{"Key": "name", "Values": ["a"]}] * 11},
                   {"Filters": [{"Key": "name", "Values": [f"v{i}" for i in range(11)]}]},
                   {"Filters": [{"Key": "name", "Values": ["x" * 513]}]},
                   {"Filters": [{"Key": "name", "Values": ["a$b"]}]},
                   {"Filters": [{"Key": "nope", "Values": ["a"]}]},
                   {"SortOrder": "sideways"}):
            with self.subTest(kw=kw):
                self.assertAwsError("ValidationException", 400, sm.list_secrets, **kw)
        self.assertAwsError("InvalidNextTokenException", 400, self.sm.list_secrets, NextToken="not-ours")


if __name__ == "__main__":
    unittest.main(verbosity=2)
