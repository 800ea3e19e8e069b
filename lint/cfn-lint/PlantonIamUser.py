"""cfn-lint rules for `Custom::PlantonIamUser`: what the function would refuse, found
before the deployment.

  cfn-lint --append-rules lint/cfn-lint template.yaml

The checks live in lint/core/planton_iam_user_core.py (shared with lint/checkov), whose
verdicts are the function's own model (lint/core/planton_model.wasm, through wasmtime);
this file only turns them into cfn-lint rules, one class per rule id. Keep lint/core
beside lint/cfn-lint when copying the rules elsewhere. See lint/README.md.
"""

import importlib.util
import sys
from pathlib import Path

from cfnlint.rules import CloudFormationLintRule, RuleMatch

_CORE_NAME = "planton_iam_user_core"


def _core():
    # cfn-lint imports this file by path, not as part of a package: load the shared core
    # the same way, once, from lint/core beside this folder.
    if _CORE_NAME not in sys.modules:
        path = Path(__file__).resolve().parent.parent / "core" / f"{_CORE_NAME}.py"
        spec = importlib.util.spec_from_file_location(_CORE_NAME, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[_CORE_NAME] = module
        spec.loader.exec_module(module)
    return sys.modules[_CORE_NAME]


core = _core()

# Every rule reads the same findings: compute them once per template.
_cache = {"template": None, "issues": []}


def _issues(cfn):
    if _cache["template"] is not cfn.template:
        _cache["template"] = cfn.template
        _cache["issues"] = core.check_template(cfn.template)
    return _cache["issues"]


class _PlantonRule(CloudFormationLintRule):
    source_url = "lint/README.md"
    tags = ["resources", "custom", "planton"]

    def match(self, cfn):
        return [RuleMatch(path, message) for rule, path, message in _issues(cfn) if rule == self.id]


def _rule(rule_id):
    shortdesc, description = core.RULES[rule_id]
    name = "PlantonIamUser" + rule_id
    return type(name, (_PlantonRule,), {"id": rule_id, "shortdesc": f"Custom::PlantonIamUser: {shortdesc}", "description": description})


# cfn-lint collects the CloudFormationLintRule subclasses defined in this module.
for _id in core.RULES:
    globals()["PlantonIamUser" + _id] = _rule(_id)
# Only the concrete rules are module members: cfn-lint would instantiate the base too.
del _id, _PlantonRule
