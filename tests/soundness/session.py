"""One "kernel session" per notebook, as Restart & Run All would run it: `python session.py JOBS OUT`.

Each job names a notebook folder, a store and the notebook's cells. Cells
run in order over a fresh namespace, as in a kernel: plain cells are
executed between `before_change` and `after_change` of the names they
touch (what the kernel extension does around each cell, with digests
trusted as the kernel trusts them), `%%step` cells define their step and
schedule it. After the last cell the session waits for every step and
reports, for each job: the repr of every value the notebook bound, each
step's state and key, and which checkpoints existed before it started.

Many jobs run in one process, one after another, each with its own folder,
store, module name and namespace: this process is fresh for each of them.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def run_job(job: dict[str, Any]) -> dict[str, Any]:
    from nbflow.core.flow import Flow
    from nbflow.store.store import Store

    folder = job["folder"]
    os.chdir(folder)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    store = Store(job["store"], flow_name="fuzz", watch_root=folder)
    before = {f"{e.step}/{e.key}" for e in store.checkpoints.list()}
    namespace: dict[str, Any] = {"__name__": "__main__"}
    flow = Flow(namespace, cache=store, trust_digests=True)  # as the kernel runs it
    try:
        for cell in job["cells"]:
            if cell["kind"] == "plain":  # what the kernel extension does around a plain cell
                touched = flow.touched_by(cell["code"])
                before = flow.before_change(touched)
                exec(compile(cell["code"], "<cell>", "exec"), namespace)
                flow.after_change(before, touched)
            else:
                spec = flow.add_cell(cell["header"], cell["code"])
                flow.run(spec.name, rerun_failed=False)
        flow.wait(timeout=120, raise_on_failure=False)
        status = flow.status()
    finally:
        flow.close()
        store.close()
        sys.modules.pop(job["module"], None)
    values = {k: repr(v) for k, v in namespace.items()
              if not k.startswith("__") and not callable(v) and not isinstance(v, type(sys))}
    return {
        "values": values,
        "states": {n: s.state.value for n, s in status.items()},
        "keys": {n: s.key for n, s in status.items()},
        "errors": {n: s.error for n, s in status.items() if s.error},
        "before": sorted(before),
    }


def main() -> None:
    with open(sys.argv[1]) as handle:
        jobs = json.load(handle)
    results = [run_job(job) for job in jobs]
    with open(sys.argv[2], "w") as handle:
        json.dump(results, handle)


if __name__ == "__main__":
    main()
