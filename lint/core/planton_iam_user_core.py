"""What the function behind `Custom::PlantonIamUser` would refuse, found in a template.

Shared by the cfn-lint rules (lint/cfn-lint) and the checkov checks (lint/checkov); no
dependency on either. Three parts:

- the property rules of crates/planton-model/src/spec (names, types, patterns, limits), ported to
  read a CloudFormation template: intrinsic functions are resolved where the template
  alone decides the value (pseudo parameters, Fn::Sub/Fn::Join of literals, Fn::If
  branches, AWS::NoValue) and skipped where it does not (a Ref to a parameter, a
  Fn::GetAtt): a lint rule must not guess a value the stack will only know at deploy;
- the policy judgement of crates/planton-model/src/judgement.rs (`judge`), ported statement for
  statement, so that an inline policy the function refuses is refused here with the
  same finding text; the AWS managed policies it refuses are read from
  docs/aws-managed-policies.md (generated from the Rust judge itself);
- the Fn::GetAtt attributes the function returns.

Every constant comes from planton_iam_user_data.json, written by lint/gen-rule-data
from the function's source; `lint/gen-rule-data --check` fails when they differ.
tests/lint/test_cfn_lint_rules.py checks the judgement port against the Rust judge's
verdicts on every AWS managed policy and on tests/policies/.
"""

from __future__ import annotations

import ipaddress
import json
import re
import unicodedata
from itertools import product
from pathlib import Path

DATA = json.loads((Path(__file__).resolve().parent / "planton_iam_user_data.json").read_text(encoding="utf-8"))

RESOURCE_TYPE = DATA["resource_type"]
PROPERTIES = DATA["properties"]
IGNORED = DATA["ignored_properties"]
ATTRIBUTES = DATA["attributes"]
LIMITS = DATA["limits"]
FENCE_POLICY_NAME = DATA["fence_policy_name"]
RESERVED_TAG_PREFIX = DATA["reserved_tag_prefix"]
DEFAULT_SECRET_PREFIX = DATA["default_secret_prefix"]
PARTITIONS = DATA["partitions"]
DENIED_BY_DEFAULT = DATA["denied_by_default"]
REFUSED_AWS_MANAGED = DATA["refused_aws_managed_policies"]["policies"]
_REFUSED_LOWER = {name.lower(): name for name in REFUSED_AWS_MANAGED}
_J = DATA["judgement"]

# Limits the Rust code writes as literals in crates/planton-model/src/spec/rules.rs and
# crates/planton-model/src/spec/mod.rs rather than as named constants.
IAM_NAME_MAX = 128  # group and inline policy names
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
KMS_KEY_ID_MAX = 2048

# The rules, by id: what each checks. The cfn-lint rule classes and the README are
# written from this table.
RULES = {
    "E9001": ("Unknown property", "A property Custom::PlantonIamUser does not have (a typo such as ManagedPolicyArn): the function refuses it, with a did-you-mean hint."),
    "E9002": ("UserName", "UserName is required; 1-64 characters of letters, digits and +=,.@_-. AdoptExistingUser is true or false."),
    "E9003": ("Path", "Path is / or /a/b/: printable ASCII, starts and ends with /, no empty segment, at most 512 characters."),
    "E9004": ("Policy ARNs", "ManagedPolicyArns and PermissionsBoundary are managed policy ARNs (arn:{aws,aws-cn,aws-us-gov}:iam::{aws|account}:policy/...); at most 20 managed policies, none twice."),
    "E9005": ("InlinePolicies", "InlinePolicies maps 1-128 character IAM names (not PlantonSourceFence) to documents (a JSON object or JSON string) with Version 2012-10-17 and a Statement; all documents together at most 2048 characters, whitespace not counted."),
    "E9006": ("Groups", "Groups: at most 10 IAM group names of 1-128 characters, none twice (case-insensitive)."),
    "E9007": ("Tags", "Tags: a list of {Key, Value}, at most 46; keys 1-128 and values 0-256 characters of letters, digits, spaces and _.:/=+-@; keys unique case-insensitively; no aws: or planton: prefix."),
    "E9008": ("Access key settings", "DisableAccessKeys is true or false; KeySerial a whole number >= 0; KeyStatus Active or Inactive; RotationDays 1-365, and only with keys enabled and Active; PreviousKeyGraceHours 0-8760, and only with keys enabled."),
    "E9009": ("Secret settings", "SecretName 1-256 characters of letters, digits and /_+=.@- (also the default planton/iam-user/<UserName>); SecretKmsKeyId 1-2048 characters, no spaces."),
    "E9010": ("Source-IP fence", "AllowedSourceIps: IPv4/IPv6 CIDRs without host bits, not /0, not IPv4-mapped, none twice, at most 100, not an empty list; AllowedVpcEndpoints: vpce- and 8 or 17 lowercase hex digits, none twice, at most 100, not an empty list."),
    "E9011": ("Fn::GetAtt attribute", "Fn::GetAtt (and ${Res.Attr} in Fn::Sub) on a Custom::PlantonIamUser names Arn, UserName, UserId or SecretArn; SecretArn only while DisableAccessKeys is not true."),
    "E9101": ("Refused managed policy", "A managed policy the function refuses: AdministratorAccess, IAMFullAccess, PowerUserAccess (denied by default) or any AWS managed policy its judgement refuses (docs/aws-managed-policies.md), or an AWS::IAM::ManagedPolicy of the same template whose document grants an escalation."),
    "E9102": ("Escalating inline policy", "An inline policy the function's judgement refuses: *, iam:*, an Allow with NotAction, or an escalation action (IAM permissions management, iam:PassRole without iam:PassedToService, sts:AssumeRole, lambda:CreateFunction, ...) on anything but one named resource."),
    "E9103": ("Escalating group", "A group of the same template (AWS::IAM::Group) whose managed or inline policies the function refuses: it judges a requested group's policies too."),
    "W9010": ("Private range in AllowedSourceIps", "A private range (10/8, 172.16/12, 192.168/16, fc00::/7) in AllowedSourceIps never matches: requests reach AWS with a public address, or through a VPC endpoint (list it in AllowedVpcEndpoints)."),
}


# --------------------------------------------------------------------------------------
# Small helpers shared with the Rust messages (crates/planton-model/src/values.rs)


def clip(s: str) -> str:
    return s[:40] + "..." if len(s) > 40 else s


def rust_debug(s: str) -> str:
    """A string as Rust's `{:?}` prints it."""
    out = ['"']
    for c in s:
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif c == "\0":
            out.append("\\0")
        elif unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append("\\u{%x}" % ord(c))
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def to_json(v) -> str:
    """serde_json's compact Display (sorted keys: serde_json without preserve_order)."""
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def ascii_lower(s: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in s)


def edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a):
        cur = [i + 1]
        for j, cb in enumerate(b):
            cur.append(min(prev[j] + (ca != cb), prev[j + 1] + 1, cur[j] + 1))
        prev = cur
    return prev[len(b)]


def suggest(key: str, names) -> str | None:
    """A likely intended name for a typo, as crates/planton-model/src/spec/mod.rs `suggest` picks it."""
    if len(key) > 3 + max(len(p) for p in names):
        return None
    lower = ascii_lower(key)
    best = None
    for p in names:
        d = edit_distance(lower, ascii_lower(p))
        if d <= 3 and (best is None or d < best[0]):
            best = (d, p)
    return best[1] if best else None


# --------------------------------------------------------------------------------------
# The policy judgement (crates/planton-model/src/judgement.rs), ported


_GLOBS: dict = {}


def glob(pattern: str, text: str) -> bool:
    """IAM's action wildcards: `*` any run (`:` included), `?` one character."""
    rx = _GLOBS.get(pattern)
    if rx is None:
        rx = re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.S)
        _GLOBS[pattern] = rx
    return rx.fullmatch(text) is not None


_TABLE = _J["iam_permissions_management"] + _J["other_escalation"]
_SPELLING = {s.lower(): s for s in _J["spelling"]}


class Unreadable(Exception):
    pass


def _finding(statement, pattern, action, resource, unreadable=None):
    return (statement, pattern, action, resource, unreadable)


def _patterns(value, element):
    items = value if isinstance(value, list) else [value]
    out = []
    for v in items:
        if not isinstance(v, str):
            raise Unreadable(f"{element} holds {to_json(v)}, not a string")
        trimmed = v.strip()
        if not trimmed or not all(0x21 <= ord(c) <= 0x7E for c in trimmed):
            raise Unreadable(f"{element} {to_json(v)} is not an action name or pattern")
        out.append((v, trimmed.lower()))
    return out


def _targets(st):
    has_r, has_nr = "Resource" in st, "NotResource" in st
    if has_r and has_nr:
        raise Unreadable("it has both Resource and NotResource")
    if not has_r and not has_nr:
        raise Unreadable("it has neither Resource nor NotResource")
    element = "Resource" if has_r else "NotResource"
    value = st[element]
    items = value if isinstance(value, list) else [value]
    names = []
    for v in items:
        if isinstance(v, str) and v.strip():
            names.append(v)
        else:
            raise Unreadable(f"{element} holds {to_json(v)}, not a resource name or pattern")
    if element == "NotResource":
        return [(f"NotResource {to_json(value)}", True)]
    return [(n, "*" in n or "?" in n or "${" in n) for n in names]


def _names_services(value, like):
    items = value if isinstance(value, list) else [value]
    return bool(items) and all(
        isinstance(v, str) and "${" not in v and not (like and ("*" in v or "?" in v)) for v in items
    )


def _limits_passed_to_service(condition):
    if not isinstance(condition, dict):
        return False
    for operator, block in condition.items():
        if operator not in _J["passed_to_service_operators"] or not isinstance(block, dict):
            continue
        for key, value in block.items():
            if ascii_lower(key) == "iam:passedtoservice" and _names_services(value, operator.endswith("StringLike")):
                return True
    return False


def _judge_statement(index, st, out):
    if not isinstance(st, dict):
        raise Unreadable("it is not an object")
    if "Effect" not in st:
        raise Unreadable("it has no Effect")
    effect = st["Effect"]
    if effect == "Deny":
        return
    if effect != "Allow":
        raise Unreadable(f'Effect is {to_json(effect)}, not "Allow" or "Deny"')
    targets = _targets(st)

    def grant(pattern, action, any_resource):
        for text, broad in targets:
            if any_resource or broad:
                out.append(_finding(index, pattern, action, text))

    has_a, has_na = "Action" in st, "NotAction" in st
    if has_a and has_na:
        raise Unreadable("it has both Action and NotAction")
    if not has_a and not has_na:
        raise Unreadable("it has neither Action nor NotAction")
    if has_na:
        _patterns(st["NotAction"], "NotAction")
        grant(f"NotAction {to_json(st['NotAction'])}", "*", True)
        return
    passed = _limits_passed_to_service(st.get("Condition"))
    for written, pattern in _patterns(st["Action"], "Action"):
        if glob(pattern, _J["any_service_probe"]):
            grant(written, "*", True)
        elif glob(pattern, _J["any_iam_probe"]):
            grant(written, "iam:*", True)
        else:
            for action in _TABLE:
                if glob(pattern, action) and (action != _J["pass_role"] or not passed):
                    grant(written, _SPELLING.get(action, action), False)


def judge_all(doc) -> list:
    """Every finding of `judge_all` in crates/planton-model/src/judgement.rs, deduplicated, in order."""
    out: list = []
    if not isinstance(doc, dict):
        out.append(_finding(0, "", "*", "*", "the document is not a JSON object"))
    elif "Statement" not in doc:
        out.append(_finding(0, "", "*", "*", "the document has no Statement"))
    else:
        statements = doc["Statement"]
        if isinstance(statements, dict):
            statements = [statements]
        if not isinstance(statements, list):
            out.append(_finding(0, "", "*", "*", "Statement is neither an object nor a list"))
        else:
            for index, st in enumerate(statements):
                found: list = []
                try:
                    _judge_statement(index, st, found)
                except Unreadable as why:
                    found = [_finding(index, "", "*", "*", str(why))]
                out.extend(found)
    seen, unique = set(), []
    for f in out:
        if f not in seen:
            seen.add(f)
            unique.append(f)
    return unique


def finding_text(f) -> str:
    """A finding as crates/planton-model/src/judgement.rs `Display for Finding` words it."""
    statement, pattern, action, resource, unreadable = f
    if unreadable is not None:
        return f"statement {statement} could not be read ({unreadable}), so it counts as granting every action"
    if action == "*":
        what = "every action it does not list" if pattern.startswith("NotAction ") else "every action"
    elif action == "iam:*":
        what = "every IAM action"
    else:
        what = action
    p = pattern if pattern.startswith("NotAction ") else to_json(pattern)
    r = resource if resource.startswith("NotResource ") else to_json(resource)
    return f"statement {statement}: {p} grants {what} on {r}"


def escalation(doc) -> str | None:
    """crates/planton-model/src/guardrails.rs `escalation`: the first three findings, and how many more."""
    findings = judge_all(doc)
    if not findings:
        return None
    text = "; ".join(finding_text(f) for f in findings[:3])
    if len(findings) > 3:
        text += f" (and {len(findings) - 3} more)"
    return text


def refused_managed_policy(arn: str) -> str | None:
    """Why the function refuses to attach this managed policy ARN, if it knows from the
    ARN alone: denied by default (PLANTON_DENIED_POLICY_ARNS), or an AWS managed policy
    its judgement refuses."""
    lower = arn.lower()
    for p in PARTITIONS:
        for name in DENIED_BY_DEFAULT:
            if lower == f"arn:{p}:iam::aws:policy/{name}".lower():
                return f"{arn} may not be attached through this function (PLANTON_DENIED_POLICY_ARNS, by default)"
    m = re.fullmatch(r"arn:[^:]+:iam::aws:policy/(?:.*/)?([^/]+)", arn)
    if m:
        name = _REFUSED_LOWER.get(m.group(1).lower())
        if name:
            entry = REFUSED_AWS_MANAGED[name]
            more = f" (and {entry['findings'] - 1} more)" if entry["findings"] > 1 else ""
            return f"{arn}: {entry['first']}{more}, which would let this user raise its own privilege (docs/aws-managed-policies.md)"
    return None


# --------------------------------------------------------------------------------------
# Template values: what the function will receive, where the template decides it


class V:
    """A resolved template value and where it is written (for the line number).

    kind: "obj" (value: dict of V), "list" (list of V), "scalar" (a str, int, float,
    bool, None or date), "unknown" (decided at deploy time), "partial" (a string of
    known literal parts and unknown ones: value is a list of str or None)."""

    __slots__ = ("kind", "value", "path")

    def __init__(self, kind, value, path):
        self.kind, self.value, self.path = kind, value, path

    def string(self):
        """The string CloudFormation sends for a scalar (it sends every scalar as one)."""
        v = self.value
        if isinstance(v, bool):
            return "true" if v else "false"
        if v is None:
            return None
        return str(v)

    def is_str(self):
        return self.kind == "scalar" and self.value is not None

    def literal_parts(self):
        return [p for p in self.value if p is not None] if self.kind == "partial" else []


PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::AccountId": "123456789012",
    "AWS::Region": "us-east-1",
    "AWS::URLSuffix": "amazonaws.com",
}
_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


def kind_of(v: V) -> str:
    if v.kind == "obj":
        return "an object"
    if v.kind == "list":
        return "a list"
    if isinstance(v.value, bool):
        return "a boolean"
    if isinstance(v.value, (int, float)):
        return "a number"
    return "a string"


def _sub(template: str, variables, path, scenario):
    parts: list = []
    pos = 0
    for m in _SUB_VAR.finditer(template):
        parts.append(template[pos : m.start()])
        name = m.group(1)
        if name.startswith("!"):
            parts.append("${" + name[1:] + "}")
        elif isinstance(variables, dict) and name in variables:
            r = resolve(variables[name], path, scenario)
            parts.append(r.string() if r is not None and r.is_str() else None)
        elif name.strip() in PSEUDO:
            parts.append(PSEUDO[name.strip()])
        else:
            parts.append(None)
        pos = m.end()
    parts.append(template[pos:])
    return parts


def _joined(parts, path):
    parts = [p for p in parts if p != ""]
    if all(p is not None for p in parts):
        return V("scalar", "".join(parts), path)
    merged: list = []
    for p in parts:
        if merged and p is not None and merged[-1] is not None:
            merged[-1] += p
        else:
            merged.append(p)
    return V("partial", merged, path)


def resolve(node, path, scenario):
    """`node` as the function will receive it, or None where AWS::NoValue removes it."""
    if isinstance(node, dict):
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Fn::If" and isinstance(arg, list) and len(arg) == 3:
                branch = 1 if scenario.get(str(arg[0]), True) else 2
                return resolve(arg[branch], path + ["Fn::If", branch], scenario)
            if key == "Ref":
                if arg == "AWS::NoValue":
                    return None
                if arg in PSEUDO:
                    return V("scalar", PSEUDO[arg], path)
                return V("unknown", node, path)
            if key == "Fn::Sub":
                if isinstance(arg, str):
                    return _joined(_sub(arg, None, path, scenario), path)
                if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], dict):
                    return _joined(_sub(arg[0], arg[1], path, scenario), path)
                return V("unknown", node, path)
            if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str):
                if not isinstance(arg[1], list):
                    return V("unknown", node, path)
                parts: list = []
                items = [resolve(x, path, scenario) for x in arg[1]]
                for i, r in enumerate(x for x in items if x is not None):
                    if i:
                        parts.append(arg[0])
                    if r.is_str():
                        parts.append(r.string())
                    elif r.kind == "partial":
                        parts.extend(r.value)
                    else:
                        parts.append(None)
                return _joined(parts, path)
            if key.startswith("Fn::"):
                return V("unknown", node, path)
        out = {}
        for k, v in node.items():
            r = resolve(v, path + [k], scenario)
            if r is not None:
                out[str(k)] = r
        return V("obj", out, path)
    if isinstance(node, list):
        items = [resolve(x, path + [i], scenario) for i, x in enumerate(node)]
        return V("list", [x for x in items if x is not None], path)
    return V("scalar", node, path)


def conditions_in(node, found):
    if isinstance(node, dict):
        if len(node) == 1 and "Fn::If" in node and isinstance(node["Fn::If"], list) and node["Fn::If"]:
            found.add(str(node["Fn::If"][0]))
        for v in node.values():
            conditions_in(v, found)
    elif isinstance(node, list):
        for v in node:
            conditions_in(v, found)
    return found


def scenarios(node):
    """Each combination of the Fn::If conditions in `node` (every one while there are
    at most 4; else all true and all false)."""
    names = sorted(conditions_in(node, set()))
    if not names:
        return [{}]
    if len(names) > 4:
        return [{n: True for n in names}, {n: False for n in names}]
    return [dict(zip(names, values)) for values in product([True, False], repeat=len(names))]


UNRESOLVED = "<intrinsic>"


def materialize(v: V | None, unknown=UNRESOLVED):
    """A V as the JSON the function receives: scalars as strings (CloudFormation's
    conversion), unknown values as `unknown`, partial strings with `unknown` for the
    parts decided at deploy time."""
    if v is None:
        return None
    if v.kind == "obj":
        return {k: materialize(x, unknown) for k, x in v.value.items()}
    if v.kind == "list":
        return [materialize(x, unknown) for x in v.value]
    if v.kind == "scalar":
        return v.string()
    if v.kind == "partial":
        return "".join(unknown if p is None else p for p in v.value)
    return unknown


def has_unknown(v: V | None) -> bool:
    if v is None:
        return False
    if v.kind in ("unknown", "partial"):
        return True
    if v.kind == "obj":
        return any(has_unknown(x) for x in v.value.values())
    if v.kind == "list":
        return any(has_unknown(x) for x in v.value)
    return False


def judge_template_document(doc: V) -> str | None:
    """`escalation` on a policy document written in a template. A statement whose
    Effect or Action is decided at deploy time cannot be judged here and is skipped
    (its index kept); an unresolved Resource or Condition value counts as one named
    resource or service (the lint gives the template the benefit of the doubt; the
    function judges the deployed value)."""
    if doc.kind == "scalar" and isinstance(doc.value, str):
        try:
            raw = json.loads(doc.value)
        except ValueError:
            return None
        return escalation(raw)
    if doc.kind != "obj":
        return None
    statement = doc.value.get("Statement")
    if statement is None:
        return escalation(materialize(doc))
    if statement.kind not in ("obj", "list"):
        return None if has_unknown(statement) else escalation(materialize(doc))
    stub = {"Effect": "Deny", "Action": "*", "Resource": "*"}
    items = [statement] if statement.kind == "obj" else statement.value
    judged = []
    for st in items:
        if st.kind != "obj":
            judged.append(stub if has_unknown(st) else materialize(st))
            continue
        effect = st.value.get("Effect")
        if has_unknown(effect):
            judged.append(stub)
            continue
        m = {k: materialize(x) for k, x in st.value.items()}
        action = st.value.get("Action")
        if action is not None and has_unknown(action):
            known = [x for x in (action.value if action.kind == "list" else [action]) if not has_unknown(x)]
            if not known:
                judged.append(stub)
                continue
            m["Action"] = [materialize(x) for x in known]
        judged.append(m)
    out = materialize(doc)
    out["Statement"] = judged if statement.kind == "list" else judged[0]
    return escalation(out)


# --------------------------------------------------------------------------------------
# The property rules (crates/planton-model/src/spec, crates/planton-model/src/fence.rs), on template values


def is_iam_name_char(c):
    return c.isascii() and (c.isalnum() or c in "+=,.@_-")


def iam_name_rule(s: str, maximum: int) -> str | None:
    n = len(s)
    if n == 0 or n > maximum or not all(is_iam_name_char(c) for c in s):
        return f"must be 1-{maximum} characters of letters, digits and +=,.@_- (got {rust_debug(clip(s))}, {n} characters)"
    return None


def partial_rule(v: V, allowed, maximum: int, what: str) -> str | None:
    """The rule a Fn::Sub/Fn::Join breaks in its fixed text alone, whatever the rest."""
    literal = "".join(v.literal_parts())
    bad = sorted({c for c in literal if not allowed(c)})
    if bad:
        return f"must be 1-{maximum} characters of {what}; the fixed text {rust_debug(clip(literal))} has {', '.join(rust_debug(c) for c in bad)}"
    if len(literal) > maximum:
        return f"must be 1-{maximum} characters of {what}; the fixed text alone is {len(literal)}"
    return None


def path_rule(p: str) -> str | None:
    n = len(p)
    if n > LIMITS["path"]:
        return f"must be at most {LIMITS['path']} characters (got {n})"
    printable = all("\x21" <= c <= "\x7e" for c in p)
    if p == "/" or (n >= 3 and p.startswith("/") and p.endswith("/") and printable and "//" not in p):
        return None
    return f"must be / or start and end with / with printable ASCII and no empty segment between, like /service-accounts/ (got {rust_debug(clip(p))})"


def policy_arn_rule(arn: str) -> str | None:
    bad = f"must be a managed policy ARN like arn:aws:iam::aws:policy/ReadOnlyAccess or arn:aws:iam::123456789012:policy/name (got {rust_debug(clip(arn))})"
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam" or parts[3] != "":
        return bad
    if parts[1] not in PARTITIONS:
        return f"partition {rust_debug(clip(parts[1]))} is not aws, aws-cn or aws-us-gov"
    account = parts[4]
    if not (account == "aws" or (len(account) == 12 and account.isascii() and account.isdigit())):
        return bad
    if not parts[5].startswith("policy/"):
        return bad
    rest = parts[5][len("policy/") :]
    i = rest.rfind("/")
    path, name = (rest[: i + 1], rest[i + 1 :]) if i >= 0 else ("", rest)
    if not name or len(name.encode()) > 128 or not all(is_iam_name_char(c) for c in name):
        return bad
    if path and path_rule("/" + path) is not None:
        return bad
    return None


def secret_name_rule(s: str) -> str | None:
    n = len(s)
    if n == 0 or n > LIMITS["secret_name"] or not all(c.isascii() and (c.isalnum() or c in "/_+=.@-") for c in s):
        return f"must be 1-{LIMITS['secret_name']} characters of letters, digits and /_+=.@- (got {rust_debug(clip(s))}, {n} characters)"
    return None


def is_tag_char(c):
    return c.isalnum() or c == " " or c in "_.:/=+-@"


def policy_size(doc) -> int:
    return sum(1 for c in json.dumps(doc, separators=(",", ":"), ensure_ascii=False) if not c.isspace())


def whole_number(s: str) -> int | None:
    t = s.strip()
    if re.fullmatch(r"\+?[0-9]+", t) and int(t) < 2**64:
        return int(t)
    return None


def cidr_rule(raw: str):
    """(network, None) or (None, rule), as crates/planton-model/src/fence.rs parse_cidr."""
    s = raw.strip()
    addr, _, prefix = s.partition("/")
    has_prefix = "/" in s
    shape = f"{rust_debug(clip(raw))} is not an IPv4 or IPv6 address or CIDR (like 203.0.113.0/24, 203.0.113.7 or 2001:db8::/32)"
    try:
        ip = ipaddress.ip_address(addr)
        if ip.version == 6 and "%" in addr:
            raise ValueError
    except ValueError:
        octets = addr.split(".")
        if len(octets) == 4 and all(o and o.isascii() and o.isdigit() for o in octets):
            return None, f"{rust_debug(clip(raw))} is not an IPv4 address: each of the four numbers must be 0-255 without leading zeros"
        return None, shape
    maximum = 32 if ip.version == 4 else 128
    family = "IPv4" if ip.version == 4 else "IPv6"
    if not has_prefix:
        p = maximum
    else:
        if not prefix or len(prefix) > 3 or not (prefix.isascii() and prefix.isdigit()):
            return None, f"{rust_debug(clip(raw))}: the prefix after / must be a number 1-{maximum} for {family}"
        p = int(prefix)
        if p > maximum:
            return None, f"{rust_debug(clip(raw))}: prefix /{prefix} is out of range; {family} prefixes are 1-{maximum}"
    if p == 0:
        return None, f"{rust_debug(clip(raw))} allows every {family} address, so the fence would not fence anything: list the networks the user calls from (or omit AllowedSourceIps for no fence)"
    net = ipaddress.ip_network(f"{ip}/{p}", strict=False)
    if net.network_address != ip:
        only = f"{ip}/{maximum}"
        return None, f"{s} has host bits set beyond the /{p} prefix; did you mean {net} (the network) or {only} (only that address)?"
    if ip.version == 6 and ip.ipv4_mapped is not None:
        instead = "list the IPv4 networks themselves" if p <= 96 else f"write {ip.ipv4_mapped}/{p - 96}"
        return None, f"{s} is an IPv4-mapped IPv6 range, which aws:SourceIp never carries (IPv4 callers appear as IPv4): {instead}"
    return net, None


PRIVATE_RANGES = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")]


def vpce_rule(i: str) -> str | None:
    def ok(s):
        return s.startswith("vpce-") and len(s) - 5 in (8, 17) and all(c in "0123456789abcdef" for c in s[5:])

    if ok(i):
        return None
    lower = ascii_lower(i.strip())
    if ok(lower):
        return f"{rust_debug(clip(i))} must be written exactly as AWS shows it (lowercase, no spaces): {lower}"
    return f"{rust_debug(clip(i))} is not a VPC endpoint id: vpce- followed by 8 or 17 lowercase hex digits, like vpce-0123456789abcdef0"


def fence_document(ips, vpces):
    condition = {}
    if ips:
        condition["NotIpAddress"] = {"aws:SourceIp": ips}
    if vpces:
        condition["StringNotEquals"] = {"aws:SourceVpce": vpces}
    condition["BoolIfExists"] = {"aws:ViaAWSService": "false"}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "PlantonDenyOutsideAllowedNetworks", "Effect": "Deny", "Action": "*", "Resource": "*", "Condition": condition}
        ],
    }


class Checker:
    """Collects (rule id, template path, message) for one scenario of one resource."""

    def __init__(self, template_resources: dict):
        self.issues: list = []
        self.resources = template_resources

    def add(self, rule, path, prop, rule_text):
        self.issues.append((rule, list(path), f"{prop}: {rule_text}"))

    # -- readers, as crates/planton-model/src/spec/read.rs

    def opt_string(self, obj, key, rule):
        v = obj.get(key)
        if v is None or (v.kind == "scalar" and v.value is None):
            return None
        if v.kind in ("obj", "list"):
            self.add(rule, v.path, key, f"must be a string, got {kind_of(v)}")
            return None
        return v

    def string_list(self, obj, key, rule):
        v = obj.get(key)
        if v is None or (v.kind == "scalar" and v.value is None):
            return None, []
        if v.kind == "list":
            items = []
            for i, item in enumerate(v.value):
                if item.kind in ("obj", "list"):
                    self.add(rule, item.path, f"{key}[{i}]", f"must be a string, got {kind_of(item)}")
                items.append((i, item))
            return v, items
        if v.kind in ("obj", "scalar"):
            self.add(rule, v.path, key, f"must be a list of strings, got {kind_of(v)}")
        return v, []

    # -- the properties, in the order crates/planton-model/src/spec/mod.rs `parse` reads them

    def check(self, props: V | None, props_path):
        if props is None:
            self.add("E9002", props_path[:-1] or props_path, "UserName", "is required")
            return
        if props.kind != "obj":
            return  # decided at deploy time, or cfn-lint's own rules report it
        obj = props.value
        for key, v in obj.items():
            if key not in PROPERTIES and key not in IGNORED:
                hint = suggest(key, PROPERTIES)
                hint = f" (did you mean {hint}?)" if hint else ""
                self.add("E9001", v.path, clip(key), f"not a property of {RESOURCE_TYPE}{hint}")

        user_name, user_name_ok = None, False
        un = obj.get("UserName")
        if un is None or (un.kind == "scalar" and un.value is None):
            self.add("E9002", props.path, "UserName", "is required")
        elif un.kind in ("obj", "list"):
            self.add("E9002", un.path, "UserName", f"must be a string, got {kind_of(un)}")
        elif un.kind == "scalar":
            user_name = un.string()
            rule = iam_name_rule(user_name, LIMITS["user_name"])
            if rule:
                self.add("E9002", un.path, "UserName", rule)
            user_name_ok = rule is None
        elif un.kind == "partial":
            rule = partial_rule(un, is_iam_name_char, LIMITS["user_name"], "letters, digits and +=,.@_-")
            if rule:
                self.add("E9002", un.path, "UserName", rule)

        p = self.opt_string(obj, "Path", "E9003")
        if p is not None and p.kind == "scalar":
            rule = path_rule(p.string())
            if rule:
                self.add("E9003", p.path, "Path", rule)
        elif p is not None and p.kind == "partial":
            rule = partial_rule(p, lambda c: "\x21" <= c <= "\x7e", LIMITS["path"], "printable ASCII")
            if rule:
                self.add("E9003", p.path, "Path", rule)

        self.managed_policies(obj)
        inline_total, inline_exact = self.inline_policies(obj)
        self.fence(obj, inline_total, inline_exact)
        self.groups(obj)

        b = self.opt_string(obj, "PermissionsBoundary", "E9004")
        if b is not None and b.kind == "scalar":
            rule = policy_arn_rule(b.string())
            if rule:
                self.add("E9004", b.path, "PermissionsBoundary", rule)

        self.tags(obj)
        disabled, status = self.key_settings(obj)
        self.secret(obj, user_name, user_name_ok, disabled)
        return disabled

    def managed_policies(self, obj):
        v, items = self.string_list(obj, "ManagedPolicyArns", "E9004")
        if len(items) > LIMITS["managed_policies"]:
            self.add("E9004", v.path, "ManagedPolicyArns", f"{len(items)} policies given; IAM attaches at most {LIMITS['managed_policies']} managed policies to a user")
        seen = set()
        for i, item in items:
            prop = f"ManagedPolicyArns[{i}]"
            if item.kind == "scalar" and item.value is not None:
                arn = item.string()
                rule = policy_arn_rule(arn)
                if rule:
                    self.add("E9004", item.path, prop, rule)
                    continue
                if arn in seen:
                    self.add("E9004", item.path, prop, f"{arn} is listed twice")
                    continue
                seen.add(arn)
                why = refused_managed_policy(arn)
                if why:
                    self.add("E9101", item.path, prop, why)
            elif item.kind == "unknown":
                target = self.same_template(item.value, "AWS::IAM::ManagedPolicy")
                if target:
                    name, res = target
                    doc = (res.get("Properties") or {}).get("PolicyDocument")
                    if doc is not None:
                        d = resolve(doc, [], {})
                        what = judge_template_document(d) if d is not None else None
                        if what:
                            self.add("E9101", item.path, prop, f"{name} (AWS::IAM::ManagedPolicy in this template): {what}, which would let this user raise its own privilege")

    def same_template(self, node, resource_type):
        """The resource of this template a Ref (or Fn::GetAtt ...Arn / PolicyArn)
        names, if it is of `resource_type`."""
        name = None
        if isinstance(node, dict) and "Ref" in node and isinstance(node["Ref"], str):
            name = node["Ref"]
        elif isinstance(node, dict) and "Fn::GetAtt" in node:
            ga = node["Fn::GetAtt"]
            if isinstance(ga, str):
                ga = ga.split(".", 1)
            if isinstance(ga, list) and len(ga) == 2 and isinstance(ga[0], str) and ga[1] in ("Arn", "PolicyArn"):
                name = ga[0]
        res = self.resources.get(name) if name else None
        if isinstance(res, dict) and res.get("Type") == resource_type:
            return name, res
        return None

    def inline_policies(self, obj):
        v = obj.get("InlinePolicies")
        if v is None or (v.kind == "scalar" and v.value is None) or v.kind in ("unknown", "partial"):
            return 0, True
        if v.kind != "obj":
            self.add("E9005", v.path, "InlinePolicies", f"must be an object mapping policy names to policy documents, got {kind_of(v)}")
            return 0, True
        total, exact = 0, True
        for name, raw in v.value.items():
            prop = f"InlinePolicies.{clip(name)}"
            rule = iam_name_rule(name, IAM_NAME_MAX)
            if rule:
                self.add("E9005", raw.path, prop, rule)
            if ascii_lower(name) == ascii_lower(FENCE_POLICY_NAME):
                self.add("E9005", raw.path, prop, f"{FENCE_POLICY_NAME} is reserved: the function writes the AllowedSourceIps fence under that name; choose another")
            if raw.kind in ("unknown", "partial"):
                exact = False
                continue
            if raw.kind == "scalar" and isinstance(raw.value, str):
                try:
                    doc = json.loads(raw.value)
                    json.dumps(doc, ensure_ascii=False).encode("utf-8")
                except (ValueError, UnicodeEncodeError, RecursionError) as e:
                    self.add("E9005", raw.path, prop, f"document is not valid JSON: {e}")
                    continue
                if not isinstance(doc, dict):
                    got = "a list" if isinstance(doc, list) else kind_of(V("scalar", doc, []))
                    self.add("E9005", raw.path, prop, f"document must be a JSON object, got {got}")
                    continue
                version_ok = doc.get("Version") == "2012-10-17"
                stmt = doc.get("Statement")
                statement_ok = isinstance(stmt, dict) or (isinstance(stmt, list) and bool(stmt))
                total += policy_size(doc)
            elif raw.kind == "obj":
                version = raw.value.get("Version")
                version_ok = (version is not None and version.is_str() and version.string() == "2012-10-17") or (
                    version is not None and version.kind == "unknown"
                )
                stmt = raw.value.get("Statement")
                statement_ok = stmt is not None and (
                    stmt.kind in ("obj", "unknown") or (stmt.kind == "list" and bool(stmt.value))
                )
                total += policy_size(materialize(raw, unknown=""))
                exact = exact and not has_unknown(raw)
            else:
                self.add("E9005", raw.path, prop, f"document must be a JSON object or a JSON string, got {kind_of(raw)}")
                continue
            if not version_ok:
                self.add("E9005", raw.path, prop, 'document must have "Version": "2012-10-17"')
            if not statement_ok:
                self.add("E9005", raw.path, prop, "document must have a Statement (an object or a non-empty list)")
                continue
            what = judge_template_document(raw)
            if what:
                self.add("E9102", raw.path, prop, f"{what}, which would let this user raise its own privilege; refused unless the operator sets PLANTON_ALLOW_PRIVILEGED_INLINE=true")
        if total > LIMITS["inline_total"]:
            least = "" if exact else "at least "
            self.add("E9005", v.path, "InlinePolicies", f"all documents together are {least}{total} characters (whitespace not counted); IAM allows at most {LIMITS['inline_total']} per user: use a managed policy for the rest")
        return total, exact

    def fence(self, obj, inline_total, inline_exact):
        nets, endpoints, given, complete = {}, {}, False, True
        for key, one, limit in (("AllowedSourceIps", "one CIDR", LIMITS["source_ips"]), ("AllowedVpcEndpoints", "one VPC endpoint id", LIMITS["vpc_endpoints"])):
            v = obj.get(key)
            if v is None or (v.kind == "scalar" and v.value is None):
                continue
            given = True
            if v.kind in ("unknown", "partial"):
                complete = False
                continue
            if v.kind != "list":
                hint = f" (even {one} goes in a list: [{rust_debug(clip(v.string()))}])" if v.kind == "scalar" and isinstance(v.value, str) else ""
                self.add("E9010", v.path, key, f"must be a list of strings, got {kind_of(v)}{hint}")
                complete = False
                continue
            if not v.value:
                self.add("E9010", v.path, key, f"is an empty list, which would allow no network and deny every request: give at least {one} or omit the property for no fence")
            if len(v.value) > limit:
                what = "CIDRs" if key == "AllowedSourceIps" else "VPC endpoints"
                self.add("E9010", v.path, key, f"{len(v.value)} {what} given; at most {limit} (and all inline policies of a user share {LIMITS['inline_total']} characters)")
            for i, item in enumerate(v.value):
                prop = f"{key}[{i}]"
                if item.kind in ("obj", "list"):
                    self.add("E9010", item.path, prop, f"must be a string, got {kind_of(item)}")
                    complete = False
                    continue
                if item.kind != "scalar" or item.value is None:
                    complete = False
                    continue
                s = item.string()
                if key == "AllowedSourceIps":
                    net, rule = cidr_rule(s)
                    if rule:
                        self.add("E9010", item.path, prop, rule)
                        complete = False
                    elif net in nets:
                        self.add("E9010", item.path, prop, f"{net} is listed twice (also {key}[{nets[net]}])")
                    else:
                        nets[net] = i
                        if any(net.version == r.version and net.subnet_of(r) for r in PRIVATE_RANGES):
                            self.add("W9010", item.path, prop, f"{net} is a private range, which never matches aws:SourceIp (requests reach AWS from a public address, or through a VPC endpoint without one): list the NAT gateway's public addresses, or the VPC endpoint in AllowedVpcEndpoints")
                else:
                    rule = vpce_rule(s)
                    if rule:
                        self.add("E9010", item.path, prop, rule)
                        complete = False
                    elif s in endpoints:
                        self.add("E9010", item.path, prop, f"{s} is listed twice (also {key}[{endpoints[s]}])")
                    else:
                        endpoints[s] = i
        if given and complete and inline_exact and (nets or endpoints):
            ips = [str(n) for n in sorted(nets, key=lambda n: (n.version, int(n.network_address), n.prefixlen))]
            own = policy_size(fence_document(ips, sorted(endpoints)))
            if inline_total <= LIMITS["inline_total"] < inline_total + own:
                key = "AllowedSourceIps" if ips else "AllowedVpcEndpoints"
                v = obj[key]
                self.add("E9010", v.path, key, f"the fence policy it makes is {own} characters, and with InlinePolicies' {inline_total} that exceeds the {LIMITS['inline_total']} IAM allows per user: list fewer or wider networks, or move an inline policy to a managed policy")

    def groups(self, obj):
        v, items = self.string_list(obj, "Groups", "E9006")
        if len(items) > LIMITS["groups"]:
            self.add("E9006", v.path, "Groups", f"{len(items)} groups given; IAM puts a user in at most {LIMITS['groups']} groups")
        seen = set()
        for i, item in items:
            prop = f"Groups[{i}]"
            if item.kind == "scalar" and item.value is not None:
                g = item.string()
                rule = iam_name_rule(g, IAM_NAME_MAX)
                if rule:
                    self.add("E9006", item.path, prop, rule)
                elif ascii_lower(g) in seen:
                    self.add("E9006", item.path, prop, f"group {g} is listed twice")
                else:
                    seen.add(ascii_lower(g))
            elif item.kind == "partial":
                rule = partial_rule(item, is_iam_name_char, IAM_NAME_MAX, "letters, digits and +=,.@_-")
                if rule:
                    self.add("E9006", item.path, prop, rule)
            elif item.kind == "unknown":
                target = self.same_template(item.value, "AWS::IAM::Group")
                if target:
                    self.judge_group(item.path, prop, *target)

    def judge_group(self, path, prop, name, res):
        props = resolve(res.get("Properties") or {}, [], {})
        if props is None or props.kind != "obj":
            return
        managed = props.value.get("ManagedPolicyArns")
        if managed is not None and managed.kind == "list":
            for item in managed.value:
                if item.is_str():
                    why = refused_managed_policy(item.string())
                    if why:
                        self.add("E9103", path, prop, f"group {name} (AWS::IAM::Group in this template) attaches a managed policy the function refuses: {why}")
        policies = props.value.get("Policies")
        if policies is not None and policies.kind == "list":
            for p in policies.value:
                if p.kind != "obj" or "PolicyDocument" not in p.value:
                    continue
                pname = p.value.get("PolicyName")
                pname = pname.string() if pname is not None and pname.is_str() else "?"
                what = judge_template_document(p.value["PolicyDocument"])
                if what:
                    self.add("E9103", path, prop, f"group {name} (AWS::IAM::Group in this template) has inline policy {pname}: {what}")

    def tags(self, obj):
        v = obj.get("Tags")
        if v is None or (v.kind == "scalar" and v.value is None) or v.kind in ("unknown", "partial"):
            return
        if v.kind != "list":
            self.add("E9007", v.path, "Tags", f"must be a list of {{Key, Value}} objects, got {kind_of(v)}")
            return
        maximum = LIMITS["tags_total"] - LIMITS["ownership_tags"]
        if len(v.value) > maximum:
            self.add("E9007", v.path, "Tags", f"{len(v.value)} tags given; at most {maximum} (IAM and Secrets Manager allow {LIMITS['tags_total']} and this resource uses {LIMITS['ownership_tags']} for ownership)")
        seen = set()
        for i, item in enumerate(v.value):
            prop = f"Tags[{i}]"
            if item.kind in ("unknown", "partial"):
                continue
            if item.kind != "obj":
                self.add("E9007", item.path, prop, f"must be an object with Key and Value, got {kind_of(item)}")
                continue
            for k, x in item.value.items():
                if k not in ("Key", "Value"):
                    self.add("E9007", x.path, f"{prop}.{clip(k)}", "not a tag field (only Key and Value)")
            key, value = item.value.get("Key"), item.value.get("Value")
            if key is None or key.kind in ("obj", "list") or (key.kind == "scalar" and key.value is None):
                self.add("E9007", key.path if key is not None else item.path, f"{prop}.Key", "is required and must be a string")
                continue
            if value is not None and value.kind in ("obj", "list"):
                self.add("E9007", value.path, f"{prop}.Value", "must be a string")
                continue
            if key.kind == "partial":
                parts = key.value
                head = parts[0] if parts and parts[0] is not None else ""
                self.prefix_rules(key.path, prop, head)
                continue
            if key.kind != "scalar":
                continue
            k = key.string()
            if not (0 < len(k) <= TAG_KEY_MAX) or not all(is_tag_char(c) for c in k):
                self.add("E9007", key.path, f"{prop}.Key", f"must be 1-{TAG_KEY_MAX} characters of letters, digits, spaces and _.:/=+-@ (got {rust_debug(clip(k))})")
                continue
            if self.prefix_rules(key.path, prop, k):
                continue
            if value is not None and value.kind == "scalar" and value.value is not None:
                val = value.string()
                if len(val) > TAG_VALUE_MAX or not all(is_tag_char(c) for c in val):
                    self.add("E9007", value.path, f"{prop}.Value", f"must be 0-{TAG_VALUE_MAX} characters of letters, digits, spaces and _.:/=+-@ (got {len(val)} characters)")
                    continue
            lower = k.lower()
            if lower in seen:
                self.add("E9007", key.path, f"{prop}.Key", f"{k} is given twice (tag keys are case-insensitive)")
                continue
            seen.add(lower)

    def prefix_rules(self, path, prop, key_text):
        lower = key_text.lower()
        if lower.startswith("aws:"):
            self.add("E9007", path, f"{prop}.Key", "the aws: prefix is reserved by AWS")
            return True
        if lower.startswith(RESERVED_TAG_PREFIX):
            self.add("E9007", path, f"{prop}.Key", f"the {RESERVED_TAG_PREFIX} prefix is reserved for this resource's ownership tags")
            return True
        return False

    def key_settings(self, obj):
        disabled = False
        d = self.opt_string(obj, "DisableAccessKeys", "E9008")
        if d is not None and d.kind == "scalar":
            s = ascii_lower(d.string())
            if s in ("true", "false"):
                disabled = s == "true"
            else:
                self.add("E9008", d.path, "DisableAccessKeys", f"must be true or false, got {rust_debug(clip(d.string()))}")
                disabled = None
        elif d is not None:
            disabled = None  # decided at deploy time
        k = self.opt_string(obj, "KeySerial", "E9008")
        if k is not None and k.kind == "scalar" and whole_number(k.string()) is None:
            self.add("E9008", k.path, "KeySerial", f"must be a whole number 0 or greater, got {rust_debug(clip(k.string()))}")
        status = "Active"
        ks = self.opt_string(obj, "KeyStatus", "E9008")
        if ks is not None and ks.kind == "scalar":
            s = ks.string()
            if ascii_lower(s) == "active":
                status = "Active"
            elif ascii_lower(s) == "inactive":
                status = "Inactive"
            else:
                self.add("E9008", ks.path, "KeyStatus", f"must be Active or Inactive, got {rust_debug(clip(s))}")
        elif ks is not None:
            status = None
        r = self.opt_string(obj, "RotationDays", "E9008")
        if r is not None and r.kind == "scalar":
            days = whole_number(r.string())
            if days is None:
                self.add("E9008", r.path, "RotationDays", f"must be a whole number 0 or greater, got {rust_debug(clip(r.string()))}")
            elif not 1 <= days <= LIMITS["rotation_days"]:
                self.add("E9008", r.path, "RotationDays", f"must be 1-{LIMITS['rotation_days']} (days between scheduled rotations), got {days}")
            elif disabled is True:
                self.add("E9008", r.path, "RotationDays", "rotates the access key, but DisableAccessKeys is true: remove one of the two")
            elif status == "Inactive":
                self.add("E9008", r.path, "RotationDays", "needs KeyStatus Active: each rotation proves the new key works by using it")
        if "PreviousKeyGraceHours" in PROPERTIES:
            g = self.opt_string(obj, "PreviousKeyGraceHours", "E9008")
            if g is not None and g.kind == "scalar":
                hours = whole_number(g.string())
                most = LIMITS["previous_key_grace_hours"]
                if hours is None:
                    self.add("E9008", g.path, "PreviousKeyGraceHours", f"must be a whole number 0 or greater, got {rust_debug(clip(g.string()))}")
                elif hours > most:
                    self.add("E9008", g.path, "PreviousKeyGraceHours", f"must be 0-{most} (hours the previous key keeps working after a rotation; 0 deactivates it at once), got {hours}")
                elif disabled is True:
                    self.add("E9008", g.path, "PreviousKeyGraceHours", "is about the previous access key, but DisableAccessKeys is true: remove one of the two")
        if "AdoptExistingUser" in PROPERTIES:
            a = self.opt_string(obj, "AdoptExistingUser", "E9002")
            if a is not None and a.kind == "scalar" and ascii_lower(a.string()) not in ("true", "false"):
                self.add("E9002", a.path, "AdoptExistingUser", f"must be true or false, got {rust_debug(clip(a.string()))}")
        return disabled, status

    def secret(self, obj, user_name, user_name_ok, disabled):
        s = self.opt_string(obj, "SecretName", "E9009")
        if s is not None and s.kind == "scalar":
            rule = secret_name_rule(s.string())
            if rule:
                self.add("E9009", s.path, "SecretName", rule)
        elif s is not None and s.kind == "partial":
            rule = partial_rule(s, lambda c: c.isascii() and (c.isalnum() or c in "/_+=.@-"), LIMITS["secret_name"], "letters, digits and /_+=.@-")
            if rule:
                self.add("E9009", s.path, "SecretName", rule)
        elif s is None and user_name_ok and disabled is False:
            default = DEFAULT_SECRET_PREFIX + user_name
            if secret_name_rule(default):
                un = obj["UserName"]
                self.add("E9009", un.path, "SecretName", f"not given, and the default {rust_debug(clip(default))} is not a valid secret name (Secrets Manager allows only letters, digits and /_+=.@-): set SecretName")
        kms = self.opt_string(obj, "SecretKmsKeyId", "E9009")
        if kms is not None and kms.kind == "scalar":
            k = kms.string()
            if not k or len(k) > KMS_KEY_ID_MAX or any(c.isspace() or unicodedata.category(c) == "Cc" for c in k):
                self.add("E9009", kms.path, "SecretKmsKeyId", "must be a KMS key id, key ARN, alias name or alias ARN (1-2048 characters, no spaces)")


# --------------------------------------------------------------------------------------
# The template


def _getatt_target(value):
    if isinstance(value, str):
        parts = value.split(".", 1)
        return (parts[0], parts[1]) if len(parts) == 2 else None
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], str):
        return value[0], value[1]
    return None


def _walk(node, path):
    yield node, path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, path + [k])
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, path + [i])


def check_template(template) -> list:
    """Every issue in a decoded template: a list of (rule id, path, message), the path
    from the template's root, deduplicated, in template order."""
    if not isinstance(template, dict):
        return []
    resources = template.get("Resources")
    if not isinstance(resources, dict):
        return []
    issues: list = []
    keys_disabled = {}
    for name, res in resources.items():
        if not isinstance(res, dict) or res.get("Type") != RESOURCE_TYPE:
            continue
        base = ["Resources", name, "Properties"]
        raw = res.get("Properties")
        disabled_everywhere = True
        for scenario in scenarios(raw):
            checker = Checker(resources)
            props = resolve(raw, base, scenario) if raw is not None else None
            disabled = checker.check(props, base)
            disabled_everywhere = disabled_everywhere and disabled is True
            issues.extend(checker.issues)
        keys_disabled[name] = disabled_everywhere and raw is not None
    issues.extend(getatt_issues(template, {n for n, r in resources.items() if isinstance(r, dict) and r.get("Type") == RESOURCE_TYPE}, keys_disabled))
    seen, unique = set(), []
    for rule, path, message in issues:
        key = (rule, tuple(path), message)
        if key not in seen:
            seen.add(key)
            unique.append((rule, path, message))
    return unique


def getatt_issues(template, planton, keys_disabled) -> list:
    out = []
    if not planton:
        return out

    def attribute_rule(res, attr):
        if attr not in ATTRIBUTES:
            hint = suggest(attr, ATTRIBUTES)
            hint = f" (did you mean {hint}?)" if hint else ""
            return f"{RESOURCE_TYPE} returns no attribute {attr}: only {', '.join(sorted(ATTRIBUTES)[:-1])} and {sorted(ATTRIBUTES)[-1]}{hint}"
        if attr == "SecretArn" and keys_disabled.get(res):
            return "there is no secret while DisableAccessKeys is true, so CloudFormation fails the stack on this attribute"
        return None

    for node, path in _walk(template, []):
        if not isinstance(node, dict) or len(node) != 1:
            continue
        (key, value), = node.items()
        if key == "Fn::GetAtt":
            target = _getatt_target(value)
            if target and target[0] in planton:
                rule = attribute_rule(*target)
                if rule:
                    out.append(("E9011", path + [key], f"{target[0]}.{target[1]}: {rule}"))
        elif key == "Fn::Sub":
            text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1]) if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], dict) else (None, None)
            if text is None:
                continue
            for m in _SUB_VAR.finditer(text):
                name = m.group(1).strip()
                if name.startswith("!") or name in variables or "." not in name:
                    continue
                res, attr = name.split(".", 1)
                if res in planton:
                    rule = attribute_rule(res, attr)
                    if rule:
                        out.append(("E9011", path + [key], f"{res}.{attr}: {rule}"))
    return out
