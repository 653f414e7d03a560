"""Output that is not the step's stays out of its cell and its checkpoint, even when written on its thread."""

from __future__ import annotations

from pathlib import Path

from nbflow.store import CheckpointStore

from .conftest import Kernel

# Garbage from a plain cell, in a cycle so only the collector frees it; the automatic collector is
# off so that the step's explicit collection is the one that runs its finalizer, on the step's thread.
GARBAGE = """\
import gc, sys
gc.disable()
class Noisy:
    def __del__(self):
        sys.stderr.write("finalizer noise from a plain cell\\n")
noisy = Noisy()
noisy.me = noisy
del noisy"""

STEP = """%%step tidy
import gc
print("the step's own line")
found = gc.collect()
gc.enable()
x = 1"""


def test_a_finalizer_run_by_a_steps_collection_is_not_the_steps_output(tmp_path: Path) -> None:
    kernel = Kernel(tmp_path)
    try:
        assert kernel.execute("%load_ext nbflow").status == "ok"
        assert kernel.execute(GARBAGE).status == "ok"
        reply = kernel.execute(STEP)
        assert reply.status == "ok", reply.text
        (model_id,) = reply.widget_ids()
        waited = kernel.execute("%flow wait", timeout=120)
        assert waited.status == "ok", waited.text
        shown = "".join(str(o.get("text", "")) for o in kernel.widget_outputs(model_id))
        found = kernel.execute("print(found)").text.strip()
    finally:
        kernel.close()
    assert int(found) >= 1  # the cycle was collected by the step's gc.collect(), in its thread
    assert "the step's own line" in shown
    assert "finalizer noise" not in shown, shown
    store = CheckpointStore(tmp_path / ".nbflow")
    (entry,) = store.list("tidy")
    header = store.load("tidy", entry.key).header
    assert header is not None
    saved = "".join(str(d.get("text", "")) for d in header.displays)
    assert "the step's own line" in saved and "finalizer noise" not in saved, saved
    logs = [p.read_text() for p in (tmp_path / ".nbflow" / "tidy").glob("output.*.txt")]
    assert logs and all("finalizer noise" not in text for text in logs), logs
