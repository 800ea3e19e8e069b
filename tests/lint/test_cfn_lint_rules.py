#!/usr/bin/env python3
"""Tests the policy-as-code rules for Custom::PlantonIamUser (lint/, see lint/README.md).

1. The model loads (lint/core/planton_model.wasm, built by scripts/build-wasm, through
   wasmtime) and every property it names has a rule id. That the module answers what
   the native model answers is tests/hosts/test_python_host.py's.
2. cfn-lint with `--append-rules lint/cfn-lint`, in one run:
   - examples/*.yaml, template.yaml and tests/lint/clean.yaml: nothing reported;
   - tests/lint/mistakes.yaml: exactly the (line, rule) pairs its "# expect: ID"
     comments name, and nothing from cfn-lint's own rules; every rule id is expected
     at least once, so no rule goes untested;
   - every property-level case of the function's bad-input corpus (tests/corpus), as a
     template: reported by some rule, with the words the function's Reason has.

Run: .venv/bin/python tests/lint/test_cfn_lint_rules.py   (scripts/test runs it)
"""

import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lint" / "core"))
import planton_iam_user_core as core  # noqa: E402

CFN_LINT = Path(sys.executable).parent / "cfn-lint"
RULES_DIR = ROOT / "lint" / "cfn-lint"
MISTAKES = ROOT / "tests" / "lint" / "mistakes.yaml"
CLEAN = ROOT / "tests" / "lint" / "clean.yaml"

# Corpus cases a template cannot express, or that need what only the deployment knows.
CORPUS_SKIPPED = {
    "10-username-lone-surrogate.json": "a lone surrogate cannot be written in a template file",
    "16-path-unresolved-intrinsic.json": "in a template, CloudFormation resolves the Fn::Sub before the function sees it",
    "22-arn-partition-not-the-stacks.json": "the stack's partition is known only at deployment",
    "37-keyserial-object.json": "in a template, CloudFormation resolves the Fn::GetAtt before the function sees it",
    "42-keyserial-number-out-of-range.json": "Infinity is not JSON: no template can hold it",
    "47-tags-ten-thousand-bad.json": "tests the function's Reason truncation; cfn-lint alone takes 4 s to read it, 13 s to place 10,000 findings",
    "50-unknown-property-256k-name.json": "cfn-lint cannot parse a 256 KB key (E0000)",
    "51-nested-200-arrays-in-tags.json": "cfn-lint cannot parse 200 nested lists (E0000: maximum recursion depth)",
}
# Words of a Reason that come from how the function reads or trims events, not from a rule.
REASON_WORDS_NOT_RULES = {"[truncated]", "recursion limit"}
# The event sends a native JSON scalar; from a template CloudFormation sends it as a
# string, and the function words what it gets.
REASON_WORDS_FROM_A_TEMPLATE = {"38-tags-number.json": {"a number": "a string"}}

failures = []


def check(ok, what):
    if ok:
        print(f"  ok: {what}")
    else:
        print(f"  FAIL: {what}")
        failures.append(what)


def rel(path):
    return str(Path(path).resolve().relative_to(ROOT)) if Path(path).resolve().is_relative_to(ROOT) else str(path)


def test_model():
    print("the model (lint/core/planton_model.wasm, through wasmtime)")
    version = core.model.VERSION
    check(version["abi"] == core.model.ABI and version["resource_type"] == core.RESOURCE_TYPE, f"the module loads: model {version['version']}, ABI {version['abi']}, {core.RESOURCE_TYPE}")
    missing = [p for p in version["properties"] if p not in core.RULE_OF]
    check(not missing, f"every property the model names has a rule id ({len(version['properties'])} properties)" + (f"; missing: {missing}" if missing else ""))
    check(set(core.RULE_OF.values()) | set(core.GRANTS.values()) | {"E9001", "E9011", "W9010"} == set(core.RULES), "every rule id is given by some property, and every property's id is a rule")


def expectations(path):
    expected = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = re.search(r"#\s*expect:\s*([A-Z0-9, ]+)$", line)
        if m:
            for rule in m.group(1).replace(",", " ").split():
                expected.add((number, rule))
    return expected


def corpus_templates(directory):
    cases = {}
    for path in sorted((ROOT / "tests" / "corpus").glob("*.json")):
        number = path.name.split("-", 1)[0]
        if not number.isdigit() or int(number) > 51 or path.name in CORPUS_SKIPPED:
            continue
        try:
            event = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, RecursionError):
            continue
        props = event.get("ResourceProperties") if isinstance(event, dict) else None
        if not isinstance(props, dict) or not event.get("_expect", {}).get("answer"):
            continue
        template = {"Resources": {"Corpus": {"Type": core.RESOURCE_TYPE, "Properties": props}}}
        out = Path(directory) / path.name
        out.write_text(json.dumps(template), encoding="utf-8")
        cases[str(out.resolve())] = (path.name, event["_expect"].get("reason", []))
    return cases


def run_cfn_lint(files):
    started = time.monotonic()
    run = subprocess.run(
        [str(CFN_LINT), "--format", "json", "--append-rules", str(RULES_DIR), "--", *map(str, files)],
        capture_output=True,
        text=True,
    )
    try:
        matches = json.loads(run.stdout or "[]")
    except ValueError:
        print(run.stdout[-2000:], run.stderr[-2000:])
        raise
    by_file = {}
    for m in matches:
        by_file.setdefault(str(Path(m["Filename"]).resolve()), []).append(m)
    return by_file, run, time.monotonic() - started


def test_cfn_lint():
    print("cfn-lint --append-rules lint/cfn-lint")
    listed = subprocess.run([str(CFN_LINT), "--append-rules", str(RULES_DIR), "--list-rules"], capture_output=True, text=True).stdout
    loaded = {r for r in core.RULES if re.search(rf"^{r}: ", listed, re.M)}
    check(loaded == set(core.RULES), f"cfn-lint loads all {len(core.RULES)} rules ({', '.join(sorted(core.RULES))})")

    clean = sorted((ROOT / "examples").glob("*.yaml")) + [ROOT / "template.yaml", CLEAN]
    with tempfile.TemporaryDirectory() as tmp:
        corpus = corpus_templates(tmp)
        by_file, run, seconds = run_cfn_lint(clean + [MISTAKES] + sorted(corpus))
    print(f"  (one cfn-lint run over {len(clean) + 1 + len(corpus)} templates: {seconds:.1f}s)")
    check(run.returncode != 0, "cfn-lint exits non-zero when a template holds a mistake")

    for path in clean:
        found = by_file.get(str(path.resolve()), [])
        check(not found, f"{rel(path)}: clean" + "".join(f"\n    {m['Rule']['Id']} line {m['Location']['Start']['LineNumber']}: {m['Message']}" for m in found))

    expected = expectations(MISTAKES)
    found = by_file.get(str(MISTAKES.resolve()), [])
    ours = {(m["Location"]["Start"]["LineNumber"], m["Rule"]["Id"]) for m in found if m["Rule"]["Id"][1:2] == "9"}
    others = [m for m in found if m["Rule"]["Id"][1:2] != "9"]
    check(expected and {r for _, r in expected} == set(core.RULES), f"{rel(MISTAKES)} expects every rule at least once")
    for line, rule in sorted(expected - ours):
        print(f"    missing: line {line} {rule}")
    for line, rule in sorted(ours - expected):
        message = next(m["Message"] for m in found if (m["Location"]["Start"]["LineNumber"], m["Rule"]["Id"]) == (line, rule))
        print(f"    unexpected: line {line} {rule}: {message}")
    check(ours == expected, f"{rel(MISTAKES)}: each of the {len(expected)} marked mistakes reported on its line by its rule, nothing else")
    check(not others, f"{rel(MISTAKES)}: cfn-lint's own rules report nothing (only the known mistakes are wrong)" + "".join(f"\n    {m['Rule']['Id']}: {m['Message']}" for m in others))

    missed = []
    for path, (name, reason) in sorted(corpus.items()):
        messages = " | ".join(m["Message"] for m in by_file.get(path, []) if m["Rule"]["Id"][1:2] == "9")
        words = [REASON_WORDS_FROM_A_TEMPLATE.get(name, {}).get(w, w) for w in reason if w not in REASON_WORDS_NOT_RULES]
        if not messages or not all(w in messages for w in words):
            missed.append(f"{name}: expected {words}, got {messages[:300] or 'nothing'}")
    for m in missed:
        print(f"    {m}")
    check(len(corpus) >= 40 and not missed, f"tests/corpus: all {len(corpus)} property-level cases reported with the function's words ({len(CORPUS_SKIPPED)} skipped: {', '.join(n.split('-', 1)[0] for n in CORPUS_SKIPPED)})")


def main():
    test_model()
    test_cfn_lint()
    if failures:
        print(f"\n{len(failures)} check(s) failed")
        return 1
    print("\npolicy-as-code rules: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
