"""The JupyterLab extension under a 1,000-step flow: comm messages, browser time per update, reload to badges.

    .venv/bin/python bench/labextension.py               # 1,000 steps: 4-5 minutes on the 2-core machine
    .venv/bin/python bench/labextension.py --steps 200   # any size (200: about a minute)
    .venv/bin/python bench/labextension.py --kernel-reference   # also the run without a browser (~30 s more)

A notebook of `%load_ext nbflow` and N `%%step` cells (a seeded random DAG,
each step after 1-2 of the 20 defined before it, bodies trivial, a store in
`.nbflow/` beside the notebook as in real use) is opened in a real JupyterLab
(tests/browser/server.py, as the browser tests start it) in headless chromium
and run with Run > Run All Cells. What the page sees is measured in the page,
with `performance.now()`, by a script Playwright adds before JupyterLab loads:

- every message on the kernel's WebSocket is read as it arrives; those of the
  `nbflow` comm (a `comm_open` or `comm_msg` whose data is a protocol-1
  SNAPSHOT or UPDATE, docs/guide/jupyterlab.md "The comm protocol") are
  counted and timed;
- a MutationObserver sees each redraw of the badges: the extension sets
  `data-nbflow-render-ms` on the notebook panel after every redraw (its own
  time for the redraw), and a badge's `data-state` when it changes.
  An update's *apply time* is from its arrival on the WebSocket to the
  first redraw after it (JupyterLab's decoding and dispatch, the
  extension's reducer and the DOM writes; layout and paint are not in it).
  An update followed by another before any redraw counts as not drawn.

Figures: run time (Run All to every badge `succeeded`), the comm messages in
that time (in the page, and the kernel's own count of UPDATEs sent), the
apply time's median and p95, the extension's own redraw time, and the
snapshot: page reload to every badge shown again, with when the SNAPSHOT
arrived and when JupyterLab had made every cell (autosave is off, so the
notebook reopens as written, without outputs). References beside them: a
`kernel_info` round trip and a HELLO -> SNAPSHOT round trip on a comm of our
own, both from the page, and with `--kernel-reference` the same cells sent
by jupyter_client alone (no browser; the comm the kernel opens at
`%load_ext` counted on its iopub).

Most of the time is JupyterLab's own: it makes the 1,001 cells of the
notebook in 50-65 s at each open (measured with no nbflow in the kernel too),
and Run All of 1,000 step cells takes 110-135 s in the page where the same
cells take about 21 s by jupyter_client alone; the extension's share of the
page's time is in the figures ("applying every update took ...").

The last lines are `badge_msgs_1000` (comm messages during the run, with
`badge_msgs_budget`: run time / 100 ms + 20), `badge_update_ms_p95` and
`snapshot_ms_1000`.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.browser.conftest import CHROMIUM_FLAGS, PANEL, Lab, open_notebook, run_all  # noqa: E402
from tests.browser.server import lab_server  # noqa: E402

BADGE = f"{PANEL} .jp-nbflow-badge"
#: comm messages allowed beyond one per 100 ms of run time (snapshots on open, the run's last update)
MSG_CONSTANT = 20

#: Added to the page before any of JupyterLab's scripts: taps the kernel WebSockets and watches the badges.
TAP = r"""
(() => {
  const bench = window.__nbflowBench = {
    msgs: [], applied: [], renders: [], undrawn: 0, pending: null, counting: true,
  };
  // protocol 1: labcomm.snapshot/update put type, version and seq first (nbflow/core/labcomm.py)
  const NBFLOW = /"type": ?"(update|snapshot)", ?"version": ?1, ?"seq": ?(\d+)/;
  const COMM = /"msg_type": ?"comm_(msg|open)"/;
  const decoder = new TextDecoder();
  const Native = window.WebSocket;
  class Tapped extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', event => {
        const t = performance.now();
        const text = typeof event.data === 'string' ? event.data : decoder.decode(event.data);
        if (!COMM.test(text)) return;
        const found = NBFLOW.exec(text);
        if (!found) return;
        const msg = {t, type: found[1], seq: Number(found[2]), bytes: text.length};
        bench.msgs.push(msg);
        if (bench.pending) bench.undrawn += 1;
        bench.pending = msg;
      });
    }
  }
  window.WebSocket = Tapped;
  const observer = new MutationObserver(records => {
    const t = performance.now();
    let drawn = false;
    for (const r of records) {
      if (r.attributeName === 'data-nbflow-render-ms') {
        bench.renders.push(Number(r.target.dataset.nbflowRenderMs));
        drawn = true;
      } else if (r.attributeName === 'data-state' && r.target.classList.contains('jp-nbflow-badge')) {
        drawn = true;
      }
    }
    if (drawn && bench.pending) {
      bench.applied.push({ms: t - bench.pending.t, type: bench.pending.type});
      bench.pending = null;
    }
  });
  const start = () => observer.observe(document.documentElement, {
    subtree: true, attributes: true, attributeFilter: ['data-nbflow-render-ms', 'data-state'],
  });
  if (document.documentElement) start(); else document.addEventListener('DOMContentLoaded', start);
})();
"""

#: In the page (JupyterLab exposes `window.jupyterapp` with `exposeAppInBrowser`): the notebook's kernel.
_KERNEL = "jupyterapp.shell.currentWidget.sessionContext.session.kernel"

#: kernel_info and HELLO -> SNAPSHOT round trips from the page, in ms, `repeat` times each.
ROUND_TRIPS = """async (repeat) => {
  const kernel = __KERNEL__;
  const info = [], hello = [];
  let snapshotSteps = 0;
  for (let i = 0; i < repeat; i++) {
    let t = performance.now();
    await kernel.requestKernelInfo();
    info.push(performance.now() - t);
    const comm = kernel.createComm('nbflow');
    const got = new Promise(resolve => { comm.onMsg = msg => resolve(msg.content.data); });
    t = performance.now();
    comm.open({type: 'hello', version: 1});
    const snapshot = await got;
    hello.push(performance.now() - t);
    snapshotSteps = Object.keys(snapshot.steps).length;
    comm.close();
  }
  return {info, hello, snapshotSteps};
}""".replace("__KERNEL__", _KERNEL)

#: Runs Python in the notebook's kernel from the page (nothing shows in the notebook); its printed text.
KERNEL_PRINT = """async (code) => {
  const future = __KERNEL__.requestExecute({code, silent: false, store_history: false});
  let text = '';
  future.onIOPub = msg => { if (msg.header.msg_type === 'stream') text += msg.content.text; };
  await future.done;
  return text;
}""".replace("__KERNEL__", _KERNEL)

#: performance.now() once `n` badges are in `state` (polled every animation frame or `polling` ms).
ALL_BADGES = """([sel, n, state]) => {
  const badges = document.querySelectorAll(sel);
  if (badges.length < n) return false;
  for (const b of badges) if (b.dataset.state !== state) return false;
  return performance.now();
}"""


#: performance.now() once the notebook shows `n` cells.
ALL_CELLS = """([sel, n]) => document.querySelectorAll(sel).length >= n && performance.now()"""
#: how long a reload may take to show every badge before the bench says how many it showed
RELOAD_SECONDS = 180
#: the panel's cells, badges and badges by state
COUNT = """([panel]) => {
  const cells = document.querySelectorAll(panel + ' .jp-Cell');
  const badges = document.querySelectorAll(panel + ' .jp-nbflow-badge');
  const states = {};
  for (const b of badges) states[b.dataset.state] = (states[b.dataset.state] || 0) + 1;
  return {cells: cells.length, badges: badges.length, states};
}"""


def cells(n: int, seed: int = 1) -> list[str]:
    """`%load_ext nbflow` and n `%%step` cells: step i after 1-2 of the 20 steps before it."""
    rng = random.Random(seed)
    sources = ["%load_ext nbflow"]
    for i in range(n):
        after = sorted(rng.sample(range(max(0, i - 20), i), min(i, rng.randint(1, 2))))
        flag = f" --after {','.join(f's{j:04d}' for j in after)}" if after else ""
        sources.append(f"%%step s{i:04d}{flag}\nv{i} = {i}")
    return sources


def write_notebook(path: Path, sources: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index:04d}"
    nbformat.write(nb, str(path))


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] if ordered else float("nan")


def browser_run(n: int) -> dict[str, Any]:
    """Run All in JupyterLab, then a reload: the page's figures."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        raise SystemExit("bench/labextension.py needs Debian's chromium (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        root = base / "root"
        root.mkdir()
        # autosave off, so the reload opens the notebook as written (no saved outputs): what is timed then is the
        # snapshot and the badges, beside JupyterLab making the cells
        settings = base / "user-settings"
        (settings / "@jupyterlab" / "docmanager-extension").mkdir(parents=True)
        (settings / "@jupyterlab" / "docmanager-extension" / "plugin.jupyterlab-settings").write_text(
            '{"autosave": false}')
        extra = {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
                 "JUPYTERLAB_SETTINGS_DIR": str(settings)}
        write_notebook(root / "flow.ipynb", cells(n))
        with lab_server(base, root, extra, page_config={"exposeAppInBrowser": True}) as (url, token, _s, log), \
                sync_playwright() as playwright:
            lab = Lab(url, token, root, log)
            browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(180_000)
            page.add_init_script(TAP)
            try:
                began = time.perf_counter()
                open_notebook(page, lab, "flow.ipynb")
                # every cell made before the run, so JupyterLab making them (about a minute for 1,000 here) is
                # not in the run's time
                page.wait_for_function(ALL_CELLS, arg=[f"{PANEL} .jp-Cell", n + 1], polling=100)
                opened_s = time.perf_counter() - began
                page.evaluate("() => { const b = window.__nbflowBench; b.msgs = []; b.applied = [];"
                              " b.renders = []; b.undrawn = 0; b.pending = null; }")
                start = page.evaluate("performance.now()")
                run_all(page)
                done = page.wait_for_function(ALL_BADGES, arg=[BADGE, n, "succeeded"], polling=100).json_value()
                run = page.evaluate("() => window.__nbflowBench")
                run["run_ms"] = done - start
                run["msgs"] = [m for m in run["msgs"] if m["t"] <= done]
                run["kernel_updates"] = int(page.evaluate(
                    KERNEL_PRINT, "from nbflow.jupyter.comm import lab_comms; print(lab_comms().updates)"))
                run["round_trips"] = page.evaluate(ROUND_TRIPS, 5)
                # the reload: a new page whose performance.now() counts from the navigation
                print(f"  run: {run['run_ms'] / 1000:.1f} s; reloading", file=sys.stderr)
                page.reload()
                try:
                    made = page.wait_for_function(ALL_CELLS, arg=[f"{PANEL} .jp-Cell", n + 1], polling="raf",
                                                  timeout=RELOAD_SECONDS * 1000).json_value()
                    shown = page.wait_for_function(ALL_BADGES, arg=[BADGE, n, "succeeded"], polling="raf",
                                                   timeout=RELOAD_SECONDS * 1000).json_value()
                except Exception:  # playwright's TimeoutError: say how far it got
                    made = shown = float("nan")
                after = page.evaluate("() => window.__nbflowBench")
                count = page.evaluate(COUNT, [PANEL])
                cells_at = page.evaluate("performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd")
                run["snapshot"] = {
                    "shown_ms": shown, "dom_ready_ms": cells_at, "cells_ms": made,
                    "snapshot_at_ms": next((m["t"] for m in after["msgs"] if m["type"] == "snapshot"), float("nan")),
                    "snapshot_bytes": max((m["bytes"] for m in after["msgs"] if m["type"] == "snapshot"), default=0),
                    "outputs": page.locator(f"{PANEL} .jp-OutputArea-output").count(),
                    **count,
                }
                run["opened_s"] = opened_s
                return run
            except Exception:
                shot = Path(tempfile.gettempdir()) / "nbflow-bench-labextension.png"
                page.screenshot(path=str(shot))
                print(f"the browser run stuck; screenshot: {shot}; server log: {log}", file=sys.stderr)
                raise
            finally:
                browser.close()


def kernel_only_run(n: int) -> dict[str, float]:
    """The same cells sent at once by jupyter_client (no browser), then `%flow wait`: seconds until it returns,
    the `nbflow` comm messages the kernel sent on the comm it opened at `%load_ext`, and a snapshot's round trip."""
    import jupyter_client

    with tempfile.TemporaryDirectory() as folder:
        manager = jupyter_client.KernelManager(kernel_name="python3")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
        env.pop("JPY_SESSION_NAME", None)
        env.pop("NBFLOW_STORE", None)
        manager.start_kernel(cwd=folder, env=env)
        client = manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            began = time.perf_counter()
            ids = [client.execute(source) for source in [*cells(n), "%flow wait"]]
            comm_id, msgs, idle = None, 0, set()
            while ids[-1] not in idle:
                msg = client.get_iopub_msg(timeout=300)
                kind, content = msg["header"]["msg_type"], msg["content"]
                if kind == "comm_open" and content.get("target_name") == "nbflow":
                    comm_id, msgs = content["comm_id"], msgs + 1
                elif kind == "comm_msg" and content.get("comm_id") == comm_id:
                    msgs += 1
                elif kind == "status" and content["execution_state"] == "idle":
                    idle.add(msg["parent_header"].get("msg_id"))
            run_s = time.perf_counter() - began
            trips = []
            for _ in range(5):
                sent = time.perf_counter()
                client.shell_channel.send(client.session.msg(
                    "comm_msg", {"comm_id": comm_id, "data": {"type": "request_snapshot"}}))
                while True:
                    msg = client.get_iopub_msg(timeout=60)
                    if msg["header"]["msg_type"] == "comm_msg" and msg["content"].get("comm_id") == comm_id \
                            and msg["content"]["data"].get("type") == "snapshot":
                        break
                trips.append((time.perf_counter() - sent) * 1000)
            return {"run_s": run_s, "msgs": msgs, "snapshot_ms": statistics.median(trips)}
        finally:
            client.stop_channels()
            manager.shutdown_kernel(now=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--steps", type=int, default=1000, help="steps in the flow (default 1000)")
    parser.add_argument("--kernel-reference", action="store_true",
                        help="also run the same cells by jupyter_client, without a browser (adds ~30 s)")
    args = parser.parse_args()
    if args.steps < 1:
        parser.error(f"--steps must be at least 1, got {args.steps}")
    n, began = args.steps, time.perf_counter()
    run = browser_run(n)
    run_ms = run["run_ms"]
    msgs = run["msgs"]
    updates = [m for m in msgs if m["type"] == "update"]
    applied = [a["ms"] for a in run["applied"] if a["type"] == "update"]
    budget = run_ms / 100 + MSG_CONSTANT
    trips, snap = run["round_trips"], run["snapshot"]
    print(f"JupyterLab in chromium, {n:,} steps (notebook opened, all {n + 1} cells made, in {run['opened_s']:.1f} s)")
    print(f"  run (Run All -> every badge succeeded): {run_ms / 1000:.1f} s")
    print(f"  nbflow comm messages in the page: {len(msgs)} ({len(updates)} updates, "
          f"{len(msgs) - len(updates)} snapshots); the kernel sent {run['kernel_updates']} updates; "
          f"one per {run_ms / max(1, len(msgs)):.0f} ms")
    print(f"  apply time (WebSocket -> badges redrawn), {len(applied)} updates: median "
          f"{statistics.median(applied) if applied else float('nan'):.1f} ms, p95 {p95(applied):.1f} ms, "
          f"max {max(applied, default=float('nan')):.1f} ms; {run['undrawn']} not drawn before the next")
    renders = run["renders"]
    print(f"  applying every update took {sum(applied) / 1000:.1f} s of the run's {run_ms / 1000:.1f} s")
    if renders:
        print(f"  the extension's own redraw ({len(renders)}): median {statistics.median(renders):.2f} ms, "
              f"p95 {p95(renders):.2f} ms")
    else:
        print("  the extension's own redraw: not reported (no data-nbflow-render-ms on the panel)")
    print(f"  after the reload: {snap['cells']} cells, {snap['badges']} badges {snap['states']}")
    print(f"  reload -> every badge shown: {snap['shown_ms']:.0f} ms (DOM ready {snap['dom_ready_ms']:.0f} ms, "
          f"SNAPSHOT arrived {snap['snapshot_at_ms']:.0f} ms, {snap['snapshot_bytes'] / 1024:.0f} KiB, "
          f"all {n + 1} cells made {snap['cells_ms']:.0f} ms; {snap['outputs']} outputs in the reopened notebook)")
    print("References")
    print(f"  kernel_info round trip from the page: median {statistics.median(trips['info']):.1f} ms")
    print(f"  HELLO -> SNAPSHOT ({trips['snapshotSteps']} steps) on a comm of the page's own: median "
          f"{statistics.median(trips['hello']):.1f} ms")
    if args.kernel_reference:
        ref = kernel_only_run(n)
        print(f"  the same cells by jupyter_client, no browser: {ref['run_s']:.1f} s to `%flow wait`, "
              f"{ref['msgs']} comm messages (budget {ref['run_s'] * 10 + MSG_CONSTANT:.0f}); "
              f"request_snapshot round trip {ref['snapshot_ms']:.1f} ms")
    print(f"total time: {time.perf_counter() - began:.1f} s")
    print(f"badge_msgs_budget: {budget:.0f}")
    print(f"badge_msgs_{n}: {len(msgs)}")
    print(f"badge_update_ms_p95: {p95(applied):.1f}")
    print(f"snapshot_ms_{n}: {snap['shown_ms']:.0f}")


if __name__ == "__main__":
    main()
