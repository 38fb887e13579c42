"""The upgrade command of a local node (`make up`, e2e): installs a version by writing the version file.

On a real node the agent's `upgrade_command` installs a package and restarts the service; on the
local platform there is nothing to install, so this stands in for it with the same contract: it is
run as `upgrade_command + [VERSION]` (an argument list, never a shell), exits 0 once the agent's
version file holds VERSION (written atomically), non-zero with a reason otherwise. `--fail` makes
it fail as a broken package would (one node of a wave, in a test); `--record FILE` appends one JSON
line per start, success and failure, so a test can replay the order in which nodes upgraded.

    python -m meridian.edge_agent.localupgrade --version-file F [--node N] [--record R]
        [--seconds S] [--fail] VERSION
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

VERSION = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+(?:[-+][0-9A-Za-z.-]+)?$")


def _record(path: Path | None, event: str, node: str, version: str) -> None:
    if path is None:
        return
    line = json.dumps({"event": event, "node": node, "version": version, "at": time.time()})
    with path.open("a", encoding="utf-8") as records:
        records.write(line + "\n")


def _install(version_file: Path, version: str) -> None:
    staged = version_file.with_name(f".{version_file.name}.{os.getpid()}")
    staged.write_text(version + "\n", encoding="utf-8")
    os.replace(staged, version_file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="meridian-edge-local-upgrade")
    parser.add_argument("--version-file", type=Path, required=True)
    parser.add_argument("--node", default=os.uname().nodename)
    parser.add_argument("--record", type=Path)
    parser.add_argument("--seconds", type=float, default=0.0, help="how long installing takes")
    parser.add_argument("--fail", action="store_true", help="fail as a broken package would")
    parser.add_argument("version")
    args = parser.parse_args(argv)
    if not VERSION.match(args.version):
        print(f"refusing {args.version!r}: not a version", file=sys.stderr)
        return 2
    _record(args.record, "start", args.node, args.version)
    time.sleep(args.seconds)
    if args.fail:
        _record(args.record, "fail", args.node, args.version)
        print(f"installing {args.version}: postinst exited 1", file=sys.stderr)
        return 1
    _install(args.version_file, args.version)
    _record(args.record, "done", args.node, args.version)
    print(f"installed {args.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
