"""``triage``: ``triage classify [FILE]`` for batch classification, ``triage serve`` for the service."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from typing import IO, Any

from triage.policy.engine import classify
from triage.policy.lexicon import Policy
from triage.policy.store import PolicyStore


def classify_lines(lines: Iterable[str], out: IO[str], err: IO[str], *, policy: Policy) -> int:
    """Classify JSON lines ``{"id", "narrative", "call_type"?}``; returns how many lines failed.

    A bad line gets ``{"id", "error"}`` on ``out`` and a note on ``err``, and the rest go on.
    """
    failures = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record: Any = None
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("each line must be a JSON object")
            narrative = record.get("narrative") or ""
            call_type = record.get("call_type")
            if not isinstance(narrative, str) or not (call_type is None or isinstance(call_type, str)):
                raise ValueError("narrative and call_type must be strings")
            decision = classify(narrative, call_type, policy=policy)
            out.write(json.dumps({"id": record.get("id"), **decision.model_dump(mode="json")}) + "\n")
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            failures += 1
            ident = record.get("id") if isinstance(record, dict) else None
            out.write(json.dumps({"id": ident, "line": number, "error": str(exc)}) + "\n")
            err.write(f"line {number}: {exc}\n")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="triage", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    batch = commands.add_parser("classify", help="classify JSON lines from FILE or stdin")
    batch.add_argument("file", nargs="?", help="JSON lines file (stdin when omitted)")
    commands.add_parser("serve", help="run the triage service")
    args = parser.parse_args(argv)

    if args.command == "serve":
        from triage.app import serve

        serve()
        return 0
    if args.command == "classify":
        policy = PolicyStore().current
        if args.file:
            with open(args.file, encoding="utf-8") as handle:
                failed = classify_lines(handle, sys.stdout, sys.stderr, policy=policy)
        else:
            failed = classify_lines(sys.stdin, sys.stdout, sys.stderr, policy=policy)
        return 1 if failed else 0
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
