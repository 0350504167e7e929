"""Run every benchmark in this folder, one after the other (``make bench``).

    python bench/run.py [--quick]

Each script prints its own figures; bench/RESULTS.md records them with the date.
``--quick`` passes ``--quick`` to each (tiny sizes: checks that every bench runs to
the end; tests/test_bench.py does the same, one bench per test).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent

#: Scripts that need arguments: one command line per run (default: none).
ARGS: dict[str, list[list[str]]] = {
    "bench_peers.py": [[], ["--feed", "books15"]],
    "bench_store.py": [["throughput"], ["recorder", "--minutes", "2"]],
}


def commands(quick: bool = False) -> list[list[str]]:
    """Every bench command line (script path first), ``--quick`` appended if asked."""
    out = []
    for script in sorted(HERE.glob("bench_*.py")):
        for args in ARGS.get(script.name, [[]]):
            out.append([str(script), *args, *(["--quick"] if quick else [])])
    return out


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    failed = []
    for command in commands(quick):
        print(f"\n### {Path(command[0]).name} {' '.join(command[1:])}", flush=True)
        if subprocess.run([sys.executable, *command], check=False).returncode != 0:
            failed.append(Path(command[0]).name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
