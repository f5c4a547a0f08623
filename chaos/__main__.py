"""`python -m chaos list | run NAME… [--out DIR] | check HISTORY DB [WATCHERS]`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the scenarios (CI selection marked)")
    run = sub.add_parser("run", help="run scenarios and print each verdict")
    run.add_argument("names", nargs="*", help="scenario names (default: all; 'ci' for the CI set)")
    run.add_argument("--out", type=Path, default=None, help="folder for the runs' files")
    chk = sub.add_parser("check", help="check a recorded history against a final read")
    chk.add_argument("history", type=Path)
    chk.add_argument("db", type=Path)
    chk.add_argument("watchers", type=Path, nargs="?")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)

    if args.command == "check":
        from chaos.checker import check
        from chaos.history import join, read_lines

        watchers = json.loads(args.watchers.read_text()) if args.watchers else None
        verdict = check(join(read_lines(args.history)), json.loads(args.db.read_text()), watchers)
        print(verdict.to_json())
        return 0 if verdict.valid else 1

    from chaos.runner import failed_expectations, run_scenario
    from chaos.scenarios import CI_SELECTION, SCENARIOS

    if args.command == "list":
        for name, scenario in SCENARIOS.items():
            print(f"{name:30} {'ci ' if scenario.ci else '   '} {scenario.description}")
        return 0
    names = args.names or list(SCENARIOS)
    if names == ["ci"]:
        names = CI_SELECTION
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    out = args.out or Path(tempfile.mkdtemp(prefix="boxoffice-chaos-"))
    failures = 0
    lines = []
    for name in names:
        result = run_scenario(SCENARIOS[name], out / name)
        missed = failed_expectations(result)
        ok = result.verdict.valid == result.scenario.expect_valid and not missed
        failures += not ok
        lines.append(result.line() + ("" if not missed else f" — unmet: {missed}"))
        print(lines[-1], flush=True)
    print(f"\nresults in {out}")
    for line in lines:
        print(line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
