"""`%%step` and `%flow` in a real IPython kernel, driven over jupyter_client."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path

from nbflow.render.palette import STATE_COLORS

from .conftest import Kernel

SVG = "{http://www.w3.org/2000/svg}"
XLINK_TITLE = "{http://www.w3.org/1999/xlink}title"


def count(path: Path) -> int:
    """How many times a step body appended to its side-effect file."""
    return len(path.read_text().splitlines()) if path.exists() else 0


def status_states(kernel: Kernel) -> dict[str, str]:
    """`%flow status` as {step: state}."""
    lines = kernel.execute("%flow status").text.strip().splitlines()
    assert lines[0].split()[:2] == ["step", "state"], lines
    assert lines[-1].startswith(f"{len(lines) - 2} steps, "), lines  # the totals line counts the rows
    return {line.split()[0]: line.split()[1] for line in lines[1:-1]}


def graph_nodes(svg: str) -> dict[str, tuple[str, str, str]]:
    """Each step node of the static graph SVG: {label: (state class, fill colour, tooltip)}."""
    nodes = {}
    for group in ET.fromstring(svg).iter(f"{SVG}g"):
        classes = group.get("class", "").split()
        if "nbflow-node" not in classes:
            continue
        (state,) = [c.removeprefix("state-") for c in classes if c.startswith("state-")]
        label = next(group.iter(f"{SVG}text")).text or ""
        shape = next(group.iter(f"{SVG}path"))
        link = next(group.iter(f"{SVG}a"))
        nodes[label] = (state, shape.get("fill", ""), link.get(XLINK_TITLE, ""))
    return nodes


def test_load_ext_stays_light(bare_kernel: Kernel) -> None:
    """Loading the extension imports neither Dask, papermill nor ipywidgets."""
    reply = bare_kernel.execute(
        "import sys\n%load_ext nbflow\n"
        "print(sorted(m for m in ('dask', 'distributed', 'papermill', 'ipywidgets') if m in sys.modules))"
    )
    assert reply.status == "ok", reply.error
    assert reply.text.strip() == "[]"


def test_step_runs_in_background_and_binds_outputs(kernel: Kernel) -> None:
    """A %%step cell returns at once; the step's outputs land in the namespace."""
    reply = kernel.execute("%%step load\nimport time\ntime.sleep(0.5)\nraw = list(range(10))")
    assert reply.status == "ok"
    assert len(reply.widget_ids()) == 1
    assert "raw" in kernel.execute("print('raw' in dir())").text.replace("False", "raw").replace("True", "")
    kernel.execute("%%step clean --after load\nrows = [r for r in raw if r % 2]")
    assert kernel.execute("%flow wait").status == "ok"
    assert kernel.execute("print(rows)").text.strip() == "[1, 3, 5, 7, 9]"


def test_kernel_stays_interactive_while_steps_run(kernel: Kernel) -> None:
    """A plain cell submitted while a step sleeps runs at once."""
    kernel.execute("%%step slow\nimport time\ntime.sleep(3)\ndone = True")
    started = time.monotonic()
    reply = kernel.execute("1 + 1")
    assert reply.text == "2"
    assert time.monotonic() - started < 1.5
    assert kernel.execute("print('done' in dir())").text.strip() == "False"


def test_output_lands_in_the_defining_cell(kernel: Kernel) -> None:
    """A step printing after two later cells ran shows its text under its own cell only."""
    first = kernel.execute("%%step late\nimport time\ntime.sleep(0.6)\nprint('hello from late')")
    widget = first.widget_ids()[0]
    later = [kernel.execute("x = 1"), kernel.execute("import time; time.sleep(1.0); print('plain cell')")]
    kernel.execute("%flow wait")
    assert "hello from late" in kernel.widget_text(widget)
    assert all("hello from late" not in r.text for r in later)
    assert "hello from late" not in kernel.execute("%flow wait").text


def test_retries_are_labelled_per_attempt(kernel: Kernel) -> None:
    """Once a retry succeeded, each failed attempt is one line under the step's cell (its traceback folded away)."""
    kernel.execute("tries = []")
    reply = kernel.execute(
        "%%step flaky --retries 2\ntries.append(1)\n"
        "if len(tries) < 3:\n    raise ConnectionError(f'down {len(tries)}')\nok = True"
    )
    kernel.execute("%flow wait")
    text = kernel.widget_text(reply.widget_ids()[0])
    assert "flaky: attempt 1 of 3 failed: ConnectionError: down 1 (traceback in the widget's details)" in text
    assert "flaky: attempt 2 of 3 failed: ConnectionError: down 2 (traceback in the widget's details)" in text
    assert "Traceback" not in text and "retrying" not in text
    assert "succeeded" in text and "after 3 attempts" in text


def test_bad_header_is_one_line_and_keeps_previous_definition(kernel: Kernel, tmp_path: Path) -> None:
    """A bad option shows one UsageError line; the step's previous definition still runs."""
    log = tmp_path / "a.log"
    kernel.execute(f"%%step a\nopen({str(log)!r}, 'a').write('v1\\n')")
    kernel.execute("%flow wait")
    bad = kernel.execute(f"%%step a --retries lots\nopen({str(log)!r}, 'a').write('v2\\n')")
    assert bad.status == "error"
    assert bad.text.count("\n") <= 1
    assert "step 'a': --retries: expected a whole number from 0 to 10,000 or 'inf', got 'lots'" in bad.text
    kernel.execute("%flow run a --force")
    kernel.execute("%flow wait")
    assert log.read_text().splitlines() == ["v1", "v1"]


def test_unknown_dependency_and_cycle_are_rejected(kernel: Kernel) -> None:
    """An unknown --after and a cycle each give one clear line and register nothing: the previous
    definition stays, unchanged and up to date."""
    reply = kernel.execute("%%step b --after nope\nx = 1")
    assert reply.status == "error" and reply.text == "UnknownStepError: step 'b': unknown step 'nope'"
    kernel.execute("%%step a\nx = 1")
    assert kernel.execute("%flow wait").status == "ok"
    assert status_states(kernel) == {"a": "succeeded"}  # the rejected b left nothing behind
    kernel.execute("%%step b --after a\ny = 1")
    assert kernel.execute("%flow wait").status == "ok"
    cycle = kernel.execute("%%step a --after b\nx = 2")
    assert cycle.status == "error"
    assert cycle.text == "CycleError: step 'a': dependency cycle a → b → a"
    assert status_states(kernel) == {"a": "succeeded", "b": "succeeded"}  # nothing was made stale
    assert kernel.execute("%flow run").text.strip() == "nbflow: everything is up to date"
    spec = kernel.execute("from nbflow.jupyter.extension import kernel_flow\n"
                          "print(kernel_flow().flow.steps['a'].after, repr(kernel_flow().flow.steps['a'].code))")
    assert spec.text.strip() == "() 'x = 1\\n'"
    kernel.execute("%flow run a --force")
    assert kernel.execute("%flow wait").status == "ok"
    assert kernel.execute("print(x)").text.strip() == "1"  # the old body ran, not the rejected one


def test_failed_attempt_leaves_namespace_unchanged(kernel: Kernel) -> None:
    """A step that assigns then fails binds nothing; %flow wait names the step in one line."""
    kernel.execute("value = 'before'")
    kernel.execute("%%step boom\nvalue = 'during'\nraise ValueError('nope')")
    reply = kernel.execute("%flow wait")
    assert reply.status == "error"
    assert "1 step failed: boom (ValueError: nope)" in reply.text
    assert kernel.execute("print(value)").text.strip() == "before"


def test_edited_step_reruns_only_itself_and_dependents(kernel: Kernel, tmp_path: Path) -> None:
    """Re-running an edited %%step cell re-executes it and its dependents, nothing else."""
    for name, after in (("a", ""), ("b", "--after a"), ("c", "--after b"), ("d", "")):
        kernel.execute(f"%%step {name} {after}\nopen({str(tmp_path / name)!r}, 'a').write('x\\n')")
    kernel.execute("%flow wait")
    kernel.execute(f"%%step b --after a\n# edited\nopen({str(tmp_path / 'b')!r}, 'a').write('y\\n')\nz = 2")
    kernel.execute("%flow wait")
    assert [count(tmp_path / n) for n in "abcd"] == [1, 2, 2, 1]


def test_rerunning_unchanged_step_says_up_to_date(kernel: Kernel, tmp_path: Path) -> None:
    """Running the same %%step cell again after success runs nothing and says so."""
    cell = f"%%step a\nopen({str(tmp_path / 'a')!r}, 'a').write('x\\n')"
    kernel.execute(cell)
    kernel.execute("%flow wait")
    again = kernel.execute(cell)
    kernel.execute("%flow wait")
    assert count(tmp_path / "a") == 1
    assert "up to date" in kernel.widget_text(again.widget_ids()[0])


def test_undeclared_dependency_warns_with_the_missing_after(kernel: Kernel) -> None:
    """Reading another step's output without --after names the missing --after."""
    kernel.execute("%%step a\nrows = [1]")
    reply = kernel.execute("%%step b\ntotal = sum(rows)")
    assert "reads 'rows', an output of step 'a', without --after a" in reply.text


def test_flow_commands(kernel: Kernel) -> None:
    """status, cancel, retry, invalidate, config and timeline each do their job."""
    kernel.execute("ok = False")
    kernel.execute("%%step gate\nif not ok: raise RuntimeError('not yet')\nv = 1")
    kernel.execute("%%step after --after gate\nw = v + 1")
    assert kernel.execute("%flow wait").status == "error"
    status = kernel.execute("%flow status").text
    assert "gate   failed" in status and "upstream-failed" in status
    kernel.execute("ok = True")
    kernel.execute("%flow retry gate")
    assert kernel.execute("%flow wait").status == "ok"
    assert kernel.execute("print(w)").text.strip() == "2"

    kernel.execute("%%step sleepy\nimport time\ntime.sleep(30)")
    assert "cancelled sleepy" in kernel.execute("%flow cancel sleepy").text
    assert "sleepy  cancelled" in kernel.execute("%flow status").text

    assert kernel.execute("%flow config auto_rerun=false").status == "ok"
    kernel.execute("%flow invalidate gate")
    assert "gate    stale" in kernel.execute("%flow status").text
    bad = kernel.execute("%flow config colour=blue")
    assert bad.status == "error" and "unknown key 'colour'" in bad.text
    bad = kernel.execute("%flow config max_workers=zero")
    assert "max_workers: expected a whole number >= 1, got 'zero'" in bad.text
    assert "max_workers = " in kernel.execute("%flow config").text

    expected = {"gate": "stale", "after": "stale", "sleepy": "cancelled"}
    assert status_states(kernel) == expected
    shown = kernel.execute("%flow")
    data = next(o["data"] for o in shown.outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {}))
    nodes = graph_nodes(data["image/svg+xml"])
    assert {name: state for name, (state, _, _) in nodes.items()} == expected
    for name, (state, fill, tooltip) in nodes.items():
        assert fill == STATE_COLORS[state][0] and tooltip == f"{name}: {state}", name
    header, *rows, totals = data["text/plain"].splitlines()
    assert header.split()[:2] == ["step", "state"] and totals.startswith("3 steps, 0 restored")
    plain = {line.split()[0]: line.split()[1] for line in rows}
    assert plain == expected
    timeline = kernel.execute("%flow timeline")
    (svg,) = [o["data"]["image/svg+xml"] for o in timeline.outputs if "image/svg+xml" in o.get("data", {})]
    bars = {(rect.findtext(f"{SVG}title") or "").split(":")[0]: rect.get("fill")
            for rect in ET.fromstring(svg).iter(f"{SVG}rect")}
    assert set(bars) == {"gate attempt 1", "after attempt 1", "sleepy attempt 1"}  # a bar per attempt run
    assert bars["sleepy attempt 1"] == STATE_COLORS["cancelled"][0]  # the graph's colour for the state
    unknown = kernel.execute("%flow frobnicate")
    assert unknown.status == "error" and "%flow:" in unknown.text


def test_step_help_lists_every_option(kernel: Kernel) -> None:
    """`%%step?` documents every option of the header."""
    text = kernel.execute("%%step?\n").page
    for option in ("--after", "--after-any", "--retries", "--backoff", "--retry-on", "--timeout", "--if",
                   "--on-fail", "--delay", "--at", "--executor", "--no-cache", "--watch"):
        assert option in text, option


def _probe(kernel: Kernel) -> dict[str, object]:
    """Ask the kernel the batch engine's question, as the engine asks it (a user expression)."""
    from nbflow.core.protocol import ACTIVE_PROBE

    msg_id = kernel.client.execute("", silent=True, store_history=False, user_expressions={"active": ACTIVE_PROBE})
    reply = kernel.client.get_shell_msg(timeout=30)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kernel.client.get_shell_msg(timeout=30)
    result: dict[str, object] = reply["content"]["user_expressions"]["active"]
    return result


def test_active_probe_answers_only_once_a_flow_exists(bare_kernel: Kernel) -> None:
    """The engine's probe: False before `%load_ext`, and after it until a step exists; True then."""
    from nbflow.core.protocol import probe_says_active

    assert _probe(bare_kernel)["status"] == "ok" and not probe_says_active(_probe(bare_kernel))
    assert bare_kernel.execute("import sys; print('nbflow.jupyter.extension' in sys.modules)").text.strip() == "False"
    assert bare_kernel.execute("%load_ext nbflow").status == "ok"
    assert not probe_says_active(_probe(bare_kernel))
    bare_kernel.execute("%%step a\nx = 1")
    assert probe_says_active(_probe(bare_kernel))
    bare_kernel.execute("%unload_ext nbflow")
    assert not probe_says_active(_probe(bare_kernel))


def test_config_checks_every_pair_before_changing_anything(kernel: Kernel) -> None:
    """A bad pair after good ones changes nothing; executor names are the ones --executor takes."""
    before = kernel.execute("%flow config").text
    bad = kernel.execute("%flow config max_workers=2 auto_rerun=false colour=blue")
    assert bad.status == "error" and bad.text.count("\n") <= 1
    assert ("%flow config: unknown key 'colour' (known: auto_rerun, dask_address, dask_store, executor, "
            "max_workers, store)") in bad.text
    assert kernel.execute("%flow config").text == before
    bad = kernel.execute("%flow config executor=gpu")
    assert "executor: expected one of thread, process, dask, got 'gpu'" in bad.text
    # A bad scheduler address is refused when configured, with the good pairs before it.
    refused = kernel.execute("%flow config max_workers=2 executor=dask dask_address=scheduler")
    assert refused.status == "error" and refused.text.count("\n") <= 1
    assert "dask_address: expected a scheduler address such as tcp://host:8786" in refused.text
    assert kernel.execute("%flow config").text == before
    assert kernel.execute("%flow config executor=dask dask_address=tcp://10.0.0.5:8786").status == "ok"
    assert "dask_address = 'tcp://10.0.0.5:8786'" in kernel.execute("%flow config").text
    assert kernel.execute("%flow config max_workers=2 executor=process").status == "ok"
    listed = kernel.execute("%flow config").text
    assert "max_workers = 2" in listed and "executor = 'process'" in listed
    kernel.execute("kf = __import__('nbflow.jupyter.extension', fromlist=['x']).kernel_flow()")
    assert kernel.execute("kf.flow.max_workers = 3\n%flow config").text.count("max_workers = 3") == 1


def test_a_bad_batch_variable_is_one_line(tmp_path: Path) -> None:
    """NBFLOW_FORCE=yes (not 1 or 0) is named in one line when the flow starts; nothing runs."""
    kernel = Kernel(tmp_path, env={"NBFLOW_FORCE": "yes"})
    try:
        assert kernel.execute("%load_ext nbflow").status == "ok"
        reply = kernel.execute(f"%%step a\nopen({str(tmp_path / 'ran')!r}, 'w')")
        assert reply.status == "error" and reply.text.count("\n") <= 1
        assert "NBFLOW_FORCE: expected 1 or 0, got 'yes'" in reply.text
    finally:
        kernel.close()
    assert not (tmp_path / "ran").exists()
