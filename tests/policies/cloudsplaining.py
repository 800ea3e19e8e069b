#!/usr/bin/env python3
"""Differential check: what cloudsplaining's own privilege-escalation analysis says of
every corpus document, written to tests/policies/cloudsplaining-verdicts.json.

The Rust unit test (crates/planton-model/src/judgement/tests.rs) reads the committed verdicts and
asserts that every document cloudsplaining flags is also refused by `judge`, so the
judgement is never laxer than a second, independent implementation of the published
escalation paths. cloudsplaining is run with its defaults (PolicyDocument with the
default exclusions; statements with a Condition are not flagged, and only a Resource of
exactly "*" counts as unconstrained), so it flags less than `judge` by design.

Each value is the sorted list of escalation methods cloudsplaining reports
(PolicyDocument.allows_privilege_escalation), or null when cloudsplaining could not
read the document (the malformed ones `judge` refuses on its own).

Usage, with tests/policies/requirements.txt installed:
  python tests/policies/cloudsplaining.py           rewrite cloudsplaining-verdicts.json
  python tests/policies/cloudsplaining.py --check   exit 1 with a diff if it differs
"""

import argparse
import difflib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# This file is named like the package it checks against: drop its own folder from the
# import path, or `import cloudsplaining` would import this script.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import importlib.metadata  # noqa: E402
import logging  # noqa: E402

logging.disable(logging.WARNING)
try:
    from cloudsplaining.scan.policy_document import PolicyDocument  # noqa: E402
except ImportError:
    sys.exit("cloudsplaining is not installed: pip install -r tests/policies/requirements.txt")

OUTPUT = HERE / "cloudsplaining-verdicts.json"


def verdicts():
    result = {}
    for kind in ("escalation", "benign"):
        for path in sorted((HERE / kind).glob("*.json")):
            document = json.loads(path.read_text(encoding="utf-8"))["document"]
            try:
                methods = sorted(e["type"] for e in PolicyDocument(document).allows_privilege_escalation)
            except Exception:  # noqa: BLE001 - any failure means cloudsplaining could not read it
                methods = None
            result[f"{kind}/{path.name}"] = methods
    return result


def render(result):
    return json.dumps(result, indent=2, sort_keys=True) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail with a diff if the committed file differs")
    args = parser.parse_args()
    result = verdicts()
    text = render(result)
    flagged = sum(1 for m in result.values() if m)
    unread = sum(1 for m in result.values() if m is None)
    summary = (
        f"cloudsplaining {importlib.metadata.version('cloudsplaining')}: {len(result)} documents, "
        f"{flagged} flagged, {unread} unreadable"
    )
    if args.check:
        committed = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if committed != text:
            sys.stdout.writelines(
                difflib.unified_diff(
                    committed.splitlines(True), text.splitlines(True), "committed", "recomputed"
                )
            )
            print(f"{OUTPUT.name} is out of date: run tests/policies/cloudsplaining.py", file=sys.stderr)
            sys.exit(1)
        print(f"{summary}; {OUTPUT.name} is up to date")
    else:
        OUTPUT.write_text(text, encoding="utf-8")
        print(f"{summary}; wrote {OUTPUT.name}")


if __name__ == "__main__":
    main()
