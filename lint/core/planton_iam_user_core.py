"""What the function behind `Custom::PlantonIamUser` would refuse, found in a template.

Shared by the cfn-lint rules (lint/cfn-lint) and the checkov checks (lint/checkov). No
verdict is made here: each comes from the function's own model, compiled to WebAssembly
(planton_model.py). This module reads the template as CloudFormation will hand it over:

- intrinsic functions are resolved where the template alone decides (pseudo parameters,
  Fn::Sub/Fn::Join of literals, both ways of each Fn::If, AWS::NoValue); the rest (a Ref
  to a parameter, a Fn::GetAtt) is sent as the model's unresolved mark;
- an AWS::IAM::ManagedPolicy (by Ref or Fn::GetAtt PolicyArn) or AWS::IAM::Group (by
  Ref) of the same template is sent with its documents, named by its logical id;
- each finding's property (UserName, ManagedPolicyArns[2], InlinePolicies.<name>, ...)
  is found in the template, for its line, and given a rule id;
- the model is asked for every stage (EveryStage); a property that breaks its rule (or
  whose fixed text does) still stops it before the guardrails and grants, so the request
  is asked again without it, as after its author fixed it: one run reports them all.

E9011 (Fn::GetAtt of an attribute the resource does not return) and the advisory W9010
(a private range in AllowedSourceIps: accepted, never matches) are the linter's own.
"""

from __future__ import annotations

import difflib
import importlib.util
import ipaddress
import re
import sys
from itertools import product
from pathlib import Path

if "planton_model" not in sys.modules:  # loaded by path, as cfn-lint and checkov load this file
    _spec = importlib.util.spec_from_file_location("planton_model", Path(__file__).with_name("planton_model.py"))
    sys.modules["planton_model"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["planton_model"])
model = sys.modules["planton_model"]

RESOURCE_TYPE = model.VERSION["resource_type"]
PROPERTIES = model.VERSION["properties"]
ATTRIBUTES = model.VERSION["attributes"]

# The rules, by id: what each checks (the cfn-lint rule classes are made from it).
RULES = {
    "E9001": ("Unknown property", "A property Custom::PlantonIamUser does not have (a typo such as ManagedPolicyArn): the function refuses it, with a did-you-mean hint."),
    "E9002": ("UserName", "UserName is required; 1-64 characters of letters, digits and +=,.@_- (in a Fn::Sub, its fixed text). AdoptExistingUser is true or false."),
    "E9003": ("Path", "Path is / or /a/b/: printable ASCII, starts and ends with /, no empty segment, at most 512 characters."),
    "E9004": ("Policy ARNs", "ManagedPolicyArns and PermissionsBoundary are managed policy ARNs (arn:{aws,aws-cn,aws-us-gov}:iam::{aws|account}:policy/...); at most 20 managed policies, none twice."),
    "E9005": ("InlinePolicies", "InlinePolicies maps 1-128 character IAM names (not PlantonSourceFence) to documents (a JSON object or JSON string) with Version 2012-10-17 and a Statement; all documents together at most 2048 characters, whitespace not counted."),
    "E9006": ("Groups", "Groups: at most 10 IAM group names of 1-128 characters, none twice (case-insensitive)."),
    "E9007": ("Tags", "Tags: a list of {Key, Value}, at most 46; keys 1-128 and values 0-256 characters of letters, digits, spaces and _.:/=+-@; keys unique case-insensitively; no aws: or planton: prefix."),
    "E9008": ("Access key settings", "DisableAccessKeys is true or false; KeySerial a whole number >= 0; KeyStatus Active or Inactive; RotationDays 1-365, and only with keys enabled and Active; PreviousKeyGraceHours 0-8760, and only with keys enabled."),
    "E9009": ("Secret settings", "SecretName 1-256 characters of letters, digits and /_+=.@- (also the default planton/iam-user/<UserName>); SecretKmsKeyId 1-2048 characters, no spaces."),
    "E9010": ("Source-IP fence", "AllowedSourceIps: IPv4/IPv6 CIDRs without host bits, not /0, not IPv4-mapped, none twice, at most 100, not an empty list; AllowedVpcEndpoints: vpce- and 8 or 17 lowercase hex digits, none twice, at most 100, not an empty list; the fence policy fits beside the inline policies."),
    "E9011": ("Fn::GetAtt attribute", "Fn::GetAtt (and ${Res.Attr} in Fn::Sub) on a Custom::PlantonIamUser names Arn, UserName, UserId or SecretArn; SecretArn only while DisableAccessKeys is not true."),
    "E9101": ("Refused managed policy", "A managed policy the function refuses: AdministratorAccess, IAMFullAccess, PowerUserAccess (denied by default), an AWS managed policy its judgement refuses (compiled into the model; docs/aws-managed-policies.md), or an AWS::IAM::ManagedPolicy of the same template whose document grants an escalation."),
    "E9102": ("Escalating inline policy", "An inline policy the function's judgement refuses: *, iam:*, an Allow with NotAction, an escalation action (permissions management, iam:PassRole, sts:AssumeRole, lambda:CreateFunction, ...) on anything but one named resource, or a role taker beside a PassRole on a wildcard."),
    "E9103": ("Escalating group", "A group of the same template (AWS::IAM::Group) whose managed or inline policies the function refuses: it judges a requested group's policies too."),
    "W9010": ("Private range in AllowedSourceIps", "Advisory, the linter's own (the function accepts it): a private range (10/8, 172.16/12, 192.168/16, fc00::/7) in AllowedSourceIps never matches, since requests reach AWS with a public address, or through a VPC endpoint (list it in AllowedVpcEndpoints)."),
}
# A finding's rule id by the first part of its property (an unknown property: E9001);
# tests/lint/test_cfn_lint_rules.py fails when a property the model names is missing.
RULE_OF = {
    "ResourceProperties": "E9002", "UserName": "E9002", "AdoptExistingUser": "E9002", "Path": "E9003",
    "ManagedPolicyArns": "E9004", "PermissionsBoundary": "E9004", "InlinePolicies": "E9005", "Groups": "E9006", "Tags": "E9007",
    **dict.fromkeys(("DisableAccessKeys", "KeySerial", "KeyStatus", "RotationDays", "PreviousKeyGraceHours"), "E9008"),
    "SecretName": "E9009", "SecretKmsKeyId": "E9009", "AllowedSourceIps": "E9010", "AllowedVpcEndpoints": "E9010",
}
# A refusal of what the user would be granted rather than of how a property is written:
# every finding of the grants' stage, and the guardrails' denied managed policies and
# escalating inline policies (crates/planton-model/src/check.rs, Stage).
GRANTS = {"ManagedPolicyArns": "E9101", "InlinePolicies": "E9102", "Groups": "E9103"}
GRANT_STAGES = {"grants": set(GRANTS), "guardrails": {"ManagedPolicyArns", "InlinePolicies"}}
REQUIRED = ("UserName",)  # taken out as unresolved, not removed
WHERE_ABSENT = {"SecretName": "UserName"}  # an absent property's finding is about this one
PRIVATE_RANGES = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")]
ROUNDS = 6


def rule_id(finding) -> str:
    top = re.match(r"[^.\[]*", finding["property"]).group()
    return GRANTS[top] if top in GRANT_STAGES.get(finding["stage"], ()) else RULE_OF.get(top, "E9001")


def clip(s: str) -> str:  # as the model clips a long key in a property's name
    return s[:40] + "..." if len(s) > 40 else s


class V:
    """A resolved template value and where it is written. kind: "obj" (dict of V), "list",
    "scalar", "unknown" (decided at deploy time) or "partial" (a string of known parts and
    None for unknown ones); idx: a list item's index as CloudFormation sends the list."""

    __slots__ = ("kind", "value", "path", "idx")

    def __init__(self, kind, value, path, idx=None):
        self.kind, self.value, self.path, self.idx = kind, value, path, idx

    def string(self):
        """The string CloudFormation sends for a scalar (it sends every scalar as one)."""
        v = self.value
        return ("true" if v else "false") if isinstance(v, bool) else None if v is None else str(v)

    def is_str(self):
        return self.kind == "scalar" and self.value is not None


PSEUDO = {"AWS::Partition": "aws", "AWS::AccountId": "123456789012", "AWS::Region": "us-east-1", "AWS::URLSuffix": "amazonaws.com"}
_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


def _sub(template: str, variables, path, scenario):
    """A Fn::Sub's parts: its text, the values it knows, None for those it does not."""
    pieces = _SUB_VAR.split(template)  # text, name, text, name, ..., text
    for i in range(1, len(pieces), 2):
        name = pieces[i]
        r = resolve(variables[name], path, scenario) if isinstance(variables, dict) and name in variables else None
        pieces[i] = "${" + name[1:] + "}" if name.startswith("!") else r.string() if r is not None and r.is_str() else None if r is not None else PSEUDO.get(name.strip())
    return pieces


def _joined(parts, path):
    parts = [p for p in parts if p != ""]
    return V("scalar", "".join(parts), path) if None not in parts else V("partial", parts, path)


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
                return V("scalar", PSEUDO[arg], path) if arg in PSEUDO else V("unknown", node, path)
            if key == "Fn::Sub":
                if isinstance(arg, str):
                    return _joined(_sub(arg, None, path, scenario), path)
                if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], dict):
                    return _joined(_sub(arg[0], arg[1], path, scenario), path)
                return V("unknown", node, path)
            if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], list):
                parts: list = []
                items = [x for x in (resolve(x, path, scenario) for x in arg[1]) if x is not None]
                for i, r in enumerate(items):
                    parts += ([arg[0]] if i else []) + ([r.string()] if r.is_str() else r.value if r.kind == "partial" else [None])
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
        items = [x for x in (resolve(x, path + [i], scenario) for i, x in enumerate(node)) if x is not None]
        for i, x in enumerate(items):
            x.idx = i
        return V("list", items, path)
    return V("scalar", node, path)


def _walk(node, path):
    yield node, path
    for k, v in node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []:
        yield from _walk(v, path + [k])


def scenarios(node):
    """Each combination of the Fn::If conditions in `node` (every one while there are
    at most 4; else all true and all false)."""
    names = sorted({str(n["Fn::If"][0]) for n, _ in _walk(node, []) if isinstance(n, dict) and len(n) == 1 and isinstance(n.get("Fn::If"), list) and n["Fn::If"]})
    if len(names) > 4:
        return [{n: True for n in names}, {n: False for n in names}]
    return [dict(zip(names, values)) for values in product([True, False], repeat=len(names))]


def materialize(v: V | None):
    """A V as the JSON the function receives: scalars as strings (CloudFormation's
    conversion), what the template cannot decide as the model's unresolved mark."""
    if v is None:
        return None
    if v.kind == "obj":
        return {k: materialize(x) for k, x in v.value.items()}
    if v.kind == "list":
        return [materialize(x) for x in v.value]
    if v.kind == "scalar":
        return v.string()
    if v.kind == "partial":
        return "".join(model.UNRESOLVED if p is None else p for p in v.value)
    return model.UNRESOLVED


def _items(v: V | None) -> list:
    return v.value if v is not None and v.kind == "list" else []


def _same_template(node, resources, resource_type):
    """The logical id of the resource of `resource_type` that a Ref (or a Fn::GetAtt of
    its PolicyArn) names, if it is in this template."""
    name = node.get("Ref") if isinstance(node, dict) and len(node) == 1 else None
    if isinstance(node, dict) and len(node) == 1 and "Fn::GetAtt" in node:
        target = node["Fn::GetAtt"]
        target = target.split(".", 1) if isinstance(target, str) else target
        name = target[0] if isinstance(target, list) and len(target) == 2 and target[1] == "PolicyArn" else None
    res = resources.get(name) if isinstance(name, str) else None
    return name if isinstance(res, dict) and res.get("Type") == resource_type else None


def _stand_ins(props: V, resources, scenario):
    """Puts a stand-in (its logical id) for each same-template managed policy and group
    the properties name, and returns what the model needs to judge them."""
    policies, groups = {}, {}

    def arns(listed: V | None):
        for i, item in enumerate(_items(listed)):
            name = _same_template(item.value, resources, "AWS::IAM::ManagedPolicy") if item.kind == "unknown" else None
            if name:
                arn = f"arn:{PSEUDO['AWS::Partition']}:iam::{PSEUDO['AWS::AccountId']}:policy/{name}"
                doc = resolve((resources[name].get("Properties") or {}).get("PolicyDocument"), [], scenario)
                policies[arn] = materialize(doc)
                listed.value[i] = V("scalar", arn, item.path, item.idx)
        return [x for x in map(materialize, _items(listed)) if isinstance(x, str)]

    arns(props.value.get("ManagedPolicyArns"))
    listed = props.value.get("Groups")
    for i, item in enumerate(_items(listed)):
        name = _same_template(item.value, resources, "AWS::IAM::Group") if item.kind == "unknown" else None
        if name:
            g = resolve(resources[name].get("Properties") or {}, [], scenario)
            inline = g.value.get("Policies") if g.kind == "obj" else None
            documents = {}
            for j, p in enumerate(_items(inline)):
                if p.kind == "obj" and "PolicyDocument" in p.value:
                    pname = p.value.get("PolicyName")
                    documents[pname.string() if pname is not None and pname.is_str() else f"Policies[{j}]"] = materialize(p.value["PolicyDocument"])
            groups[name] = {"ManagedPolicyArns": arns(g.value.get("ManagedPolicyArns") if g.kind == "obj" else None), "Policies": documents}
            listed.value[i] = V("scalar", name, item.path, item.idx)
    return policies, groups


def _locate(props: V, prop: str, rule: str):
    """Where a finding's property is in the properties: the steps (container, key) to
    it, the property with each index as the template's list has it, and the value."""
    node, steps, shown, rest = props, [], "", prop
    while rest and node is not None:
        m = re.match(r"\[(\d+)\]", rest)
        if m and node.kind == "list" and int(m[1]) < len(node.value):
            key, consumed = int(m[1]), m.end()
            shown += f"[{node.value[key].idx}]"
        elif not m and node.kind == "obj":
            text = rest[1:] if rest.startswith(".") else rest
            first = re.match(r"[^.\[]*", text).group()
            # Whole remainders first: inline policy names may hold dots, long keys are clipped.
            whole = next((k for k in node.value if k == text or clip(k) == text), None)
            key = whole if whole is not None else first if first in node.value else None
            if key is None and node is props and WHERE_ABSENT.get(first) in node.value:
                return [], prop, node.value[WHERE_ABSENT[first]]
            if key is None:
                break
            consumed = len(rest) if whole is not None else len(rest) - len(text) + len(first)
            shown += rest[:consumed]
        else:
            break
        steps.append((node, key))
        node, rest = node.value[key], rest[consumed:]
    if not rest and node is not None and node.kind == "list":
        # A refusal of a whole list that begins with one of its items is about that item.
        item = next((i for i, x in enumerate(node.value) if x.is_str() and rule.startswith(x.string() + " ")), None)
        if item is not None:
            steps.append((node, item))
            node = node.value[item]
    return steps, shown + rest, node if steps else None


def _take_out(props: V, steps, prop: str, gone: list, drop: list) -> bool:
    """Takes what a finding names out of the request, as its author would fix it: the
    property, or its item (a list's after the round, in `drop`); a required or absent
    property becomes unresolved."""
    top = re.match(r"[^.\[]*", prop).group()
    if not steps and top in PROPERTIES and top not in props.value:
        props.value[top] = V("unknown", None, props.path + [top])
        return True
    container, key = steps[min(len(steps), 2) - 1] if steps else (None, None)
    item = None if container is None else container.value[key] if container.kind == "list" else container.value.get(key)
    if item is None or tuple(item.path) in gone:
        return False
    gone.append(tuple(item.path))
    if container is props and key in REQUIRED:
        props.value[key] = V("unknown", None, item.path)
    elif container.kind == "list":
        drop.append((container, item))
    else:
        del container.value[key]
    return True


def _refusals(props: V | None, base, resources, scenario) -> list:
    """(rule id, template path, message) for each refusal of one scenario's properties."""
    if props is None:
        return [(rule_id(f), base[:-1], f"{f['property']}: {f['rule']}") for f in model.check({"Properties": None})]
    policies, groups = _stand_ins(props, resources, scenario)
    out, gone = [], []
    for round_ in range(ROUNDS):
        found = model.check({"Properties": materialize(props), "ManagedPolicies": policies, "Groups": groups, "EveryStage": True})
        drop, progressed = [], False
        for f in found:
            steps, shown, at = _locate(props, f["property"], f["rule"])
            path = at.path if at is not None else base
            if round_ == 0 or not any(path[: len(g)] == list(g) or list(g[: len(path)]) == path for g in gone):
                out.append((rule_id(f), path, f"{shown}: {f['rule']}"))
            if f["stage"] in ("properties", "fixed-text"):  # later stages not reached: fix it, ask again
                progressed = _take_out(props, steps, f["property"], gone, drop) or progressed
        for container, item in drop:
            container.value.remove(item)
        if not progressed:
            break
    return out


def _advice(props: V | None) -> list:
    """W9010, the linter's own: a private range in AllowedSourceIps never matches."""
    out = []
    for item in _items(props.value.get("AllowedSourceIps") if props is not None else None):
        try:
            net = ipaddress.ip_network(item.string().strip()) if item.is_str() else None
        except ValueError:
            continue
        if net is not None and net.prefixlen and any(net.version == r.version and net.subnet_of(r) for r in PRIVATE_RANGES):
            out.append(("W9010", item.path, f"AllowedSourceIps[{item.idx}]: {net} is a private range, which never matches aws:SourceIp (requests reach AWS from a public address, or through a VPC endpoint without one): list the NAT gateway's public addresses, or the VPC endpoint in AllowedVpcEndpoints"))
    return out


def check_resource(raw, base, resources=None):
    """Every issue of one resource's properties `raw` (written at `base`) in every
    scenario, and whether DisableAccessKeys is true in all of them."""
    issues, disabled = [], raw is not None
    for scenario in scenarios(raw):
        props = resolve(raw, base, scenario) if raw is not None else None
        if props is not None and props.kind != "obj":
            return [], False  # decided at deploy time, or cfn-lint's own rules report it
        keys = props.value.get("DisableAccessKeys") if props is not None else None
        disabled = disabled and keys is not None and keys.is_str() and keys.string().lower() == "true"
        issues += _advice(props) + _refusals(props, base, resources or {}, scenario)
    return issues, disabled


def check_template(template) -> list:
    """Every issue in a decoded template: a list of (rule id, path, message), the path
    from the template's root, deduplicated, in template order."""
    resources = template.get("Resources") if isinstance(template, dict) else None
    if not isinstance(resources, dict):
        return []
    issues, keys_disabled = [], {}
    for name, res in resources.items():
        if isinstance(res, dict) and res.get("Type") == RESOURCE_TYPE:
            found, keys_disabled[name] = check_resource(res.get("Properties"), ["Resources", name, "Properties"], resources)
            issues += found
    issues += getatt_issues(template, keys_disabled)
    return list({(rule, tuple(path), message): (rule, path, message) for rule, path, message in issues}.values())


def getatt_issues(template, keys_disabled) -> list:
    """E9011: Fn::GetAtt and ${Res.Attr} on a Custom::PlantonIamUser (`keys_disabled`
    holds each, and whether DisableAccessKeys is true in every scenario)."""
    out = []

    def attribute_rule(res, attr):
        if attr not in ATTRIBUTES:
            hint = difflib.get_close_matches(attr, ATTRIBUTES, n=1)
            hint = f" (did you mean {hint[0]}?)" if hint else ""
            names = sorted(ATTRIBUTES)
            return f"{RESOURCE_TYPE} returns no attribute {attr}: only {', '.join(names[:-1])} and {names[-1]}{hint}"
        if attr == "SecretArn" and keys_disabled.get(res):
            return "there is no secret while DisableAccessKeys is true, so CloudFormation fails the stack on this attribute"
        return None

    for node, path in _walk(template, []) if keys_disabled else []:
        if not isinstance(node, dict) or len(node) != 1:
            continue
        (key, value), = node.items()
        targets = []
        if key == "Fn::GetAtt":
            target = value.split(".", 1) if isinstance(value, str) else value
            targets = [tuple(target)] if isinstance(target, list) and len(target) == 2 and all(isinstance(x, str) for x in target) else []
        elif key == "Fn::Sub":
            text = value if isinstance(value, str) else value[0] if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], dict) else None
            variables = value[1] if isinstance(value, list) and text is not None else {}
            for m in _SUB_VAR.finditer(text or ""):
                name = m.group(1).strip()
                if not name.startswith("!") and name not in variables and "." in name:
                    targets.append(tuple(name.split(".", 1)))
        for target in targets:
            rule = attribute_rule(*target) if target[0] in keys_disabled else None
            if rule:
                out.append(("E9011", path + [key], f"{target[0]}.{target[1]}: {rule}"))
    return out
