"""checkov custom checks for `Custom::PlantonIamUser` (CloudFormation).

  checkov -d . --framework cloudformation --external-checks-dir lint/checkov

The same checks as the cfn-lint rules (lint/core/planton_iam_user_core.py, shared), so
the function's own verdicts (its model, lint/core/planton_model.wasm, through wasmtime):

- CKV_PLANTON_1  no managed policy the function refuses (E9101): AdministratorAccess,
                 IAMFullAccess, PowerUserAccess, or an AWS managed policy its judgement
                 refuses (docs/aws-managed-policies.md);
- CKV_PLANTON_2  no inline policy that grants an escalation (E9102): *, iam:*, an Allow
                 with NotAction, an escalation action on more than one named resource;
- CKV_PLANTON_3  every property is one the function accepts (E9001-E9010).

checkov hands a check one resource, not the template, so what needs the rest of the
template (a same-template AWS::IAM::ManagedPolicy or AWS::IAM::Group, Fn::GetAtt on the
resource) is left to cfn-lint. Keep lint/core beside lint/checkov. See lint/README.md.
"""

import importlib.util
import sys
from pathlib import Path

from checkov.cloudformation.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult

_CORE_NAME = "planton_iam_user_core"
if _CORE_NAME not in sys.modules:
    _path = Path(__file__).resolve().parent.parent / "core" / f"{_CORE_NAME}.py"
    _spec = importlib.util.spec_from_file_location(_CORE_NAME, _path)
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_CORE_NAME] = _module
    _spec.loader.exec_module(_module)
core = sys.modules[_CORE_NAME]


_LIST_PROPERTIES = ("ManagedPolicyArns", "Groups", "AllowedSourceIps", "AllowedVpcEndpoints")


def _plain(node):
    """checkov's parsed nodes without its line-number bookkeeping keys."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items() if not str(k).startswith("__")}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _issues(conf, rules):
    raw = _plain(conf).get("Properties")
    if isinstance(raw, dict) and raw.get("resource_type") == core.RESOURCE_TYPE:
        # checkov's graph adds the type to the properties it hands a check.
        raw = {k: v for k, v in raw.items() if k != "resource_type"}
    if isinstance(raw, dict):
        # checkov renders a Ref to a CommaDelimitedList parameter as its default string,
        # where CloudFormation passes a list: split it back (cfn-lint, which does not
        # render parameters, still reports a list property written as a string).
        raw = {k: v.split(",") if k in _LIST_PROPERTIES and isinstance(v, str) else v for k, v in raw.items()}
    found, _ = core.check_resource(raw, ["Properties"])
    found = [message for rule, _, message in found if rule in rules]
    return list(dict.fromkeys(found))


class _PlantonCheck(BaseResourceCheck):
    rules: tuple = ()

    def __init__(self, check_id, name):
        super().__init__(
            name=name,
            id=check_id,
            categories=[CheckCategories.IAM],
            supported_resources=[core.RESOURCE_TYPE],
            guideline="lint/README.md (cfn-lint --append-rules lint/cfn-lint names the property and the rule)",
        )

    def scan_resource_conf(self, conf):
        issues = _issues(conf, self.rules)
        if issues:
            # Where a checkov runner passes details on (3.3.30's CloudFormation runner
            # does not), they name each property and rule.
            self.details = issues
            return CheckResult.FAILED
        return CheckResult.PASSED


class PlantonNoRefusedManagedPolicy(_PlantonCheck):
    rules = ("E9101",)

    def __init__(self):
        super().__init__("CKV_PLANTON_1", "Custom::PlantonIamUser attaches no managed policy the function refuses (AdministratorAccess, PowerUserAccess, IAMFullAccess, ...)")


class PlantonNoEscalatingInlinePolicy(_PlantonCheck):
    rules = ("E9102",)

    def __init__(self):
        super().__init__("CKV_PLANTON_2", "Custom::PlantonIamUser inline policies grant no privilege escalation (*, iam:*, NotAction, PassRole on *, ...)")


class PlantonValidProperties(_PlantonCheck):
    rules = ("E9001", "E9002", "E9003", "E9004", "E9005", "E9006", "E9007", "E9008", "E9009", "E9010")

    def __init__(self):
        super().__init__("CKV_PLANTON_3", "Custom::PlantonIamUser properties are ones the function accepts (names, types, patterns, limits)")


check_refused_managed = PlantonNoRefusedManagedPolicy()
check_inline_escalation = PlantonNoEscalatingInlinePolicy()
check_properties = PlantonValidProperties()
