"""The ``triage`` command: ``triage classify [FILE]`` classifies JSON lines in a batch.

``triage`` with no arguments runs the service (``triage.app.main``), like ``intake`` and
``routing``. The service's web stack is imported only then, so a batch starts in about a second.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Iterable
from typing import IO, Any

from triage.policy.engine import classify
from triage.policy.lexicon import Policy
from triage.policy.store import PolicyStore


def _fields(record: Any) -> tuple[str, str | None]:
    """``narrative`` and ``call_type`` of one input record, checked."""
    if not isinstance(record, dict):
        raise ValueError("each line must be a JSON object")
    narrative = record.get("narrative", "")
    call_type = record.get("call_type")
    if narrative is None:
        narrative = ""
    if not isinstance(narrative, str):
        raise ValueError("narrative must be a string")
    if call_type is not None and not isinstance(call_type, str):
        raise ValueError("call_type must be a string")
    return narrative, call_type


def classify_lines(lines: Iterable[str], out: IO[str], err: IO[str], *, policy: Policy) -> int:
    """Classify JSON lines ``{"id", "narrative", "call_type"?}``; returns how many lines failed.

    A bad line gets ``{"id", "line", "error"}`` on ``out`` and a note on ``err`` (never the
    narrative), and the rest go on. Blank lines are skipped.
    """
    failures = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        ident: Any = None
        try:
            record = json.loads(line)
            ident = record.get("id") if isinstance(record, dict) else None
            narrative, call_type = _fields(record)
            decision = classify(narrative, call_type, policy=policy)
            result = json.dumps({"id": ident, **decision.model_dump(mode="json")})
        except Exception as exc:  # one bad line must not stop the batch
            failures += 1
            message = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            result = json.dumps({"id": ident, "line": number, "error": message})
            err.write(f"triage classify: line {number}: {message}\n")
        out.write(result + "\n")  # outside the try: a closed output ends the batch, not the line
    return failures


def main(argv: list[str] | None = None) -> int:
    """Run the command ``argv`` names (``sys.argv[1:]`` when None); returns the exit status.

    No arguments (or ``serve``, a deprecated spelling) runs the service until it is stopped.
    """
    argv = sys.argv[1:] if argv is None else argv
    if argv in ([], ["serve"]):
        from triage.app import main as run_service  # noqa: PLC0415 - the web stack, only to serve

        run_service()
        return 0
    parser = argparse.ArgumentParser(prog="triage", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    batch = commands.add_parser("classify", help="classify JSON lines from FILE (stdin when omitted)")
    batch.add_argument(
        "file", nargs="?", help='JSON lines file, one {"id", "narrative", "call_type"?} object per line'
    )
    args = parser.parse_args(argv)

    if args.command == "classify":
        policy = PolicyStore().current
        try:
            if args.file:
                try:
                    handle = open(args.file, encoding="utf-8", errors="replace")  # noqa: SIM115
                except OSError as exc:
                    parser.error(f"cannot read {args.file}: {exc.strerror}")
                with handle:
                    failed = classify_lines(handle, sys.stdout, sys.stderr, policy=policy)
            else:
                stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
                failed = classify_lines(stdin, sys.stdout, sys.stderr, policy=policy)
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader went away (``triage classify calls.jsonl | head``): stop quietly, as
            # Unix tools do, and point stdout at /dev/null so the exit flush cannot fail again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141  # 128 + SIGPIPE, the status a shell reports for such a pipeline stage
        return 1 if failed else 0
    parser.print_help()
    return 0
