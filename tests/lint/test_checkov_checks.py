#!/usr/bin/env python3
"""Tests the checkov custom checks (lint/checkov) by hand; scripts/test does not run it.

checkov cannot go into the project's .venv (it pins boto3==1.35.49,
cloudsplaining<0.8 and schema<=0.7.5, against tests/policies/requirements.txt's
boto3 1.44.5, cloudsplaining 0.9.1 and schema 0.7.8), and a venv of its own costs
about 50 s and 290 MB per run of scripts/test: see lint/README.md. Run it with a
throwaway venv:

  scripts/build-wasm   # the model's module, lint/core/planton_model.wasm
  python3 -m venv /tmp/checkov-venv && /tmp/checkov-venv/bin/pip install checkov==3.3.30 wasmtime==51.0.0
  /tmp/checkov-venv/bin/python tests/lint/test_checkov_checks.py

It asserts: examples/*.yaml, template.yaml and tests/lint/clean.yaml pass every
CKV_PLANTON check; in tests/lint/mistakes.yaml each Custom::PlantonIamUser fails
exactly the checks its "# expect:" rule ids map to (E9101 -> CKV_PLANTON_1, E9102 ->
CKV_PLANTON_2, E9001-E9010 -> CKV_PLANTON_3), less what checkov cannot see from one
resource (Fn::GetAtt elsewhere in the template, same-template policies and groups).
"""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = Path(sys.executable).parent / "checkov"
CHECKS = "CKV_PLANTON_1,CKV_PLANTON_2,CKV_PLANTON_3"
MISTAKES = ROOT / "tests" / "lint" / "mistakes.yaml"
# What one resource cannot show: the lines of these rules are template-level.
TEMPLATE_LEVEL = {"E9011", "E9103", "W9010"}
SAME_TEMPLATE = re.compile(r"!Ref (SelfServicePolicy|AdminGroup|RunTaskPolicy|PassingGroup)")
# Resources whose refusals all need another resource of the template (their inline
# policy escalates only beside a same-template group's PassRole).
NEEDS_THE_TEMPLATE = {"TakerAndPasser"}


def checkov(files):
    run = subprocess.run(
        [str(CHECKOV), "--skip-download", "--framework", "cloudformation", "--external-checks-dir",
         str(ROOT / "lint" / "checkov"), "--check", CHECKS, "-o", "json", "-f", *map(str, files)],
        capture_output=True, text=True, cwd=ROOT,
    )
    out = json.loads(run.stdout)
    reports = out if isinstance(out, list) else [out]
    failed, passed = set(), set()
    for report in reports:
        for r in report.get("results", {}).get("failed_checks", []):
            failed.add((Path(r["file_path"]).name, r["resource"].split(".", 1)[1], r["check_id"]))
        for r in report.get("results", {}).get("passed_checks", []):
            passed.add((Path(r["file_path"]).name, r["resource"].split(".", 1)[1], r["check_id"]))
    return failed, passed


def expected_failures():
    expected, resource, in_resources = set(), None, False
    for line in MISTAKES.read_text(encoding="utf-8").splitlines():
        if line.startswith("Resources:"):
            in_resources = True
        elif re.match(r"^\S", line):
            in_resources = False
        m = re.match(r"^  ([A-Za-z0-9]+):", line)
        if in_resources and m:
            resource = m.group(1)
        e = re.search(r"#\s*expect:\s*([A-Z0-9, ]+)$", line)
        if not (in_resources and e) or SAME_TEMPLATE.search(line) or resource in NEEDS_THE_TEMPLATE:
            continue
        for rule in e.group(1).replace(",", " ").split():
            if rule in TEMPLATE_LEVEL:
                continue
            check = {"E9101": "CKV_PLANTON_1", "E9102": "CKV_PLANTON_2"}.get(rule, "CKV_PLANTON_3")
            expected.add((MISTAKES.name, resource, check))
    return expected


def main():
    problems = []
    clean = sorted((ROOT / "examples").glob("*.yaml")) + [ROOT / "template.yaml", ROOT / "tests" / "lint" / "clean.yaml"]
    failed, passed = checkov(clean)
    print(f"clean templates: {len(passed)} passed, {len(failed)} failed")
    problems += [f"unexpected failure: {f}" for f in sorted(failed)]
    if not passed:
        problems.append("no CKV_PLANTON check ran on the clean templates")

    failed, passed = checkov([MISTAKES])
    expected = expected_failures()
    print(f"{MISTAKES.name}: {len(failed)} failed, {len(passed)} passed; expected {len(expected)} failures")
    problems += [f"missing failure: {f}" for f in sorted(expected - failed)]
    problems += [f"unexpected failure: {f}" for f in sorted(failed - expected)]
    for p in problems:
        print("  " + p)
    print("checkov checks: " + ("FAILED" if problems else "all checks passed"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
