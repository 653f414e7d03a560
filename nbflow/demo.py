"""`python -m nbflow.demo`: the SPEC §1 flow through the Python API, with a summary.

The steps are code strings, exactly as they would stand in `%%step` cells; the
data is generated, one step fails twice before it succeeds (to show retries
and backoff), and one step is skipped by its condition.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from .core.durations import format_duration
from .core.errors import FlowFailed
from .core.flow import Flow

SETUP = {
    "read_rows": lambda n: [{"id": i, "ok": random.Random(i).random() > 0.2, "value": i % 17} for i in range(n)],
    "compute": lambda rows: {"count": len(rows), "mean": sum(r["value"] for r in rows) / max(1, len(rows))},
}

STEPS = [
    ("load", "raw = read_rows(n_rows)"),
    ("clean --after load --retries 3 --backoff exp:50ms..1s",
     "attempts.append(1)\n"
     "if len(attempts) < 3:\n"
     "    raise ConnectionError(f'flaky source (attempt {len(attempts)})')\n"
     "rows = [r for r in raw if r['ok']]"),
    ("stats --after clean --timeout 10m", "summary = compute(rows)"),
    ("plot --after clean --if \"len(rows) > 10_000\"", "figure = 'a plot of %d rows' % len(rows)"),
    ("report --after stats,plot", "report = f\"{summary['count']} rows, mean {summary['mean']:.2f}\""),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nbflow.demo", description=__doc__)
    parser.add_argument("--rows", type=int, default=5000, help="rows of generated data")
    args = parser.parse_args(argv)

    namespace = dict(SETUP, n_rows=args.rows, attempts=[])
    with Flow(namespace) as flow:
        for header, body in STEPS:
            flow.add_cell(header, body)
        started = time.perf_counter()
        flow.run()
        try:
            flow.wait(timeout=60)
        except FlowFailed as error:
            print(f"demo: {error}", file=sys.stderr)
            print(flow.table())
            return 1
        elapsed = time.perf_counter() - started
        print(flow.table())
        print()
        print(f"report: {namespace['report']}")
        print(f"flow finished in {format_duration(elapsed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
