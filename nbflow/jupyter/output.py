"""Each step's output under the cell that defined it, whenever the step runs.

A Jupyter front end attaches kernel output to the request that is executing;
a step that prints minutes after its cell returned would land in whatever
cell runs then (or nowhere). So while a step runs, its thread's `print`,
`sys.stderr` and `display(...)` are captured into that step's sink
(`routing.py`), and the sink feeds an `ipywidgets.Output` shown in the step's cell: widget state
travels over a comm, which front ends deliver whatever cell is executing.
Stream text and displays are coalesced and flushed at most every 100 ms, so
a chatty loop does not flood the kernel, and the widget shows only the head
and the tail of a long text and of many displays (`window.py`), so each
update stays small; the whole text goes to the step's output log. The sink
also keeps the outputs as nbformat dicts, which is what a batch run writes
into the notebook.

A step that fails and is retried shows each failed attempt's traceback while
it retries; once an attempt succeeds, each earlier attempt's traceback and
retry lines fold into one line, and the tracebacks stay in `tracebacks` for
the widget's detail pane.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from html import escape as _escape
from typing import Any

from ..core.abandon import stop_if_abandoned
from ..core.protocol import HTML_MIME, PNG_MIME, SVG_MIME, TEXT_MIME, VIEW_METADATA, WIDGET_MIME
from ..store.outputlog import OutputLog
from .cell_widget import close_widget
from .window import OutputWindow

FLUSH_SECONDS = 0.1
#: tracebacks of failed attempts kept for the detail pane
MAX_TRACEBACKS = 20


class StepSink:
    """The outputs of one step (all attempts), mirrored into an Output widget.

    What the widget shows is bounded (`window.py`: head, marker, tail); the
    whole text goes to `log`, the step's output file, when there is one.
    """

    def __init__(self, step: str, call_later: Callable[[float, Callable[[], None]], None],
                 log: OutputLog | None = None, window: OutputWindow | None = None) -> None:
        self.step = step
        self.log = log
        self._window = window or OutputWindow()
        self._call_later = call_later
        self._lock = threading.Lock()
        self._pending: list[tuple[str, str]] = []
        self._scheduled = False
        self._widget: Any = None
        self._display_id: str | None = None
        self._dirty = False  # displays appended since the last sync
        self._sent = False  # widget state sent since the last `resend`
        #: per failed attempt: the outputs that fold into one line on success, and that line
        self._attempts: dict[int, tuple[list[dict[str, Any]], str]] = {}
        self._tracebacks: dict[int, str] = {}

    @property
    def outputs(self) -> list[dict[str, Any]]:
        """The nbformat outputs shown (stream text bounded to head and tail)."""
        return self._window.outputs

    @property
    def hidden(self) -> int:
        """Lines of stream text dropped from the live view (they are in the log)."""
        return self._window.hidden

    @property
    def hidden_displays(self) -> int:
        """Displays dropped from the live view."""
        return self._window.hidden_displays

    def attach(self, widget: Any, display_id: str | None = None) -> None:
        """Show this sink in a (new) Output widget, e.g. when its cell is re-run.

        The widget it replaces is closed (with its Layout): its cell's old
        output is gone, and an open widget lives in the kernel until closed.
        """
        with self._lock:
            old, self._widget = self._widget, widget
            self._display_id = display_id
            self._window.reset()
            self._pending = []
            self._attempts = {}
            if self.log is not None:
                self.log.restart()
        if old is not None and old is not widget:
            close_widget(old)

    def close(self) -> None:
        """Close the widget (the step is gone, or the kernel extension unloads)."""
        with self._lock:
            old, self._widget = self._widget, None
        if old is not None:
            close_widget(old)

    def bundle(self) -> dict[str, Any]:
        """The display: the live widget view plus a static copy of the outputs so far."""
        with self._lock:
            self._drain()
            outputs = list(self.outputs)
        data: dict[str, Any] = {
            TEXT_MIME: static_text(outputs) or f"{self.step}: waiting",
            HTML_MIME: static_html(outputs) or f"<pre>{_escape(self.step)}: waiting</pre>",
        }
        if self._widget is not None:
            data[WIDGET_MIME] = {
                "version_major": 2, "version_minor": 0, "model_id": self._widget.model_id,
            }
        return data

    def publish_static(self) -> None:
        """Refresh the static copy (sent as a display update; front ends that render
        the widget keep showing the widget)."""
        if self._display_id is None:
            return
        from IPython.display import update_display

        update_display(self.bundle(), raw=True, display_id=self._display_id, metadata=VIEW_METADATA)

    def clear(self) -> None:
        with self._lock:
            self._window.reset()
            self._pending = []
            if self._widget is not None:
                self._widget.outputs = ()

    def write(self, name: str, text: str) -> None:
        """Stream text from the step's thread; raises `AttemptAbandoned` there once its attempt is abandoned.

        Checked under the lock that the step's "cancelled" note also takes, so
        no line of an abandoned attempt lands after that note.
        """
        if not text:
            return
        with self._lock:
            stop_if_abandoned()
            self._pending.append((name, text))
            if self._scheduled:
                return
            self._scheduled = True
        self._call_later(FLUSH_SECONDS, self.flush)

    def display(self, data: dict[str, Any], metadata: dict[str, Any] | None = None) -> None:
        """A display of the step's: kept within the window's bound, sent with the next flush."""
        output = {"output_type": "display_data", "data": data, "metadata": metadata or {}}
        with self._lock:
            stop_if_abandoned()
            self._drain()
            self._window.display(output)
            if self.log is not None:
                self.log.append(static_text([output]))
            self._dirty = True
            if self._scheduled:
                return
            self._scheduled = True
        self._call_later(FLUSH_SECONDS, self.flush)

    def note(self, text: str, attempt: int | None = None) -> None:
        """A line nbflow itself writes (attempt labels, restore notices); `attempt`: it belongs to
        that failed attempt's lines, which fold into one when a later attempt succeeds."""
        output = note_output(text)
        with self._lock:
            self._drain()
            self._group(attempt, output)
            self._append(output)

    def error(self, name: str, value: str, traceback: str, attempt: int | None = None) -> None:
        output = {"output_type": "error", "ename": name, "evalue": value, "traceback": traceback.splitlines()}
        with self._lock:
            self._drain()
            self._group(attempt, output)
            if attempt is not None:
                self._tracebacks[attempt] = traceback
                while len(self._tracebacks) > MAX_TRACEBACKS:  # `--retries inf`: the first and the latest
                    del self._tracebacks[sorted(self._tracebacks)[1]]
            self._append(output)

    def new_run(self) -> None:
        """Attempt 1 of a run begins: earlier runs' attempt lines and tracebacks are history."""
        with self._lock:
            self._attempts = {}
            self._tracebacks = {}

    def failed_attempt(self, attempt: int, summary: str) -> None:
        """Attempt `attempt` failed; `summary` is the one line its lines fold into if a later one succeeds."""
        with self._lock:
            group = self._attempts.get(attempt, ([], ""))[0]
            self._attempts[attempt] = (group, summary)

    def collapse_attempts(self) -> None:
        """The step succeeded: each failed attempt's traceback and retry lines become its one line."""
        with self._lock:
            self._drain()
            attempts, self._attempts = self._attempts, {}
            for _attempt, (group, summary) in sorted(attempts.items()):
                if summary:
                    self._window.replace(group, note_output(summary))
            if attempts:
                self._sync()

    def tracebacks(self) -> dict[int, str]:
        """The tracebacks of the latest run's failed attempts, by attempt number (the widget's details)."""
        with self._lock:
            return dict(self._tracebacks)

    def _group(self, attempt: int | None, output: dict[str, Any]) -> None:
        if attempt is not None:
            self._attempts.setdefault(attempt, ([], ""))[0].append(output)

    def flush(self) -> None:
        with self._lock:
            self._scheduled = False
            if self._drain() or self._dirty:
                self._sync()

    def _drain(self) -> bool:
        """Move pending text into the window and the log, one piece per run of one stream."""
        pending = self._pending
        if not pending:
            return False
        self._pending = []
        log = self.log
        index = 0
        while index < len(pending):
            name = pending[index][0]
            end = index + 1
            while end < len(pending) and pending[end][0] == name:
                end += 1
            text = "".join(piece for _, piece in pending[index:end])
            self._window.write(name, text)
            if log is not None:
                log.append(text)
            index = end
        return True

    def _append(self, output: dict[str, Any]) -> None:
        self._window.append(output)
        if self.log is not None:
            self.log.append(static_text([output]))
        self._sync()

    def _sync(self) -> None:
        self._dirty = False
        widget = self._widget
        if widget is not None:
            widget.outputs = tuple(dict(o) for o in self.outputs)
            self._sent = True

    def resend(self) -> None:
        """Send the widget's state again if it changed since the last resend.

        A batch runner (nbclient) records a widget update only if it arrives
        while the cell it is attributed to runs; an update sent from a step's
        thread between two cells is attributed to the cell that just ended and
        dropped. Sent again while `%flow wait` runs, the final state is kept.
        """
        self.flush()
        with self._lock:
            widget, sent, self._sent = self._widget, self._sent, False
        if sent and widget is not None and getattr(widget, "comm", None) is not None:
            widget.send_state("outputs")

    def text(self) -> str:
        """What the live view shows, as plain text (head, marker and tail): tests, batch summaries, details."""
        with self._lock:
            self._drain()
            return static_text(self.outputs)

    def displays(self) -> list[dict[str, Any]]:
        """The step's own displays shown in its cell (not nbflow's notes): for the detail pane."""
        with self._lock:
            self._drain()
            return [o for o in self.outputs if o["output_type"] in ("display_data", "execute_result")
                    and not is_note(o)]

    def full_text(self) -> str:
        """Everything written since the cell last ran, from the log (capped on disk); else what is shown."""
        with self._lock:
            self._drain()
            if self.log is None:
                return static_text(self.outputs)
            return self.log.read()


_NOTE_HTML = "<pre class='nbflow-note'>"  # how nbflow's own lines start in HTML: `is_note` tells them apart


def note_output(text: str) -> dict[str, Any]:
    """One of nbflow's own lines, as an nbformat output."""
    return {"output_type": "display_data", "metadata": {},
            "data": {TEXT_MIME: text, HTML_MIME: f"{_NOTE_HTML}{_escape(text)}</pre>"}}


def is_note(output: dict[str, Any]) -> bool:
    """Whether `output` is one of nbflow's own lines (`note_output`), not something the step displayed."""
    return str(output.get("data", {}).get(HTML_MIME, "")).startswith(_NOTE_HTML)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def static_text(outputs: list[dict[str, Any]]) -> str:
    """nbformat outputs as plain text."""
    parts = []
    for out in outputs:
        if out["output_type"] == "stream":
            parts.append(out["text"])
        elif out["output_type"] == "error":
            parts.append(_ANSI.sub("", "\n".join(out["traceback"])) + "\n")
        else:
            parts.append(str(out["data"].get(TEXT_MIME, "")) + "\n")
    return "".join(parts)


def static_html(outputs: list[dict[str, Any]]) -> str:
    """nbformat outputs as one HTML fragment, richest representation of each."""
    parts = []
    for out in outputs:
        if out["output_type"] == "stream":
            parts.append(f"<pre>{_escape(out['text'])}</pre>")
        elif out["output_type"] == "error":
            parts.append(f"<pre style='color:#b00'>{_escape(_ANSI.sub('', chr(10).join(out['traceback'])))}</pre>")
        else:
            data = out["data"]
            if HTML_MIME in data:
                parts.append(str(data[HTML_MIME]))
            elif SVG_MIME in data:
                parts.append(str(data[SVG_MIME]))
            elif PNG_MIME in data:
                parts.append(f"<img src='data:{PNG_MIME};base64,{data[PNG_MIME]}'>")
            else:
                parts.append(f"<pre>{_escape(str(data.get(TEXT_MIME, '')))}</pre>")
    return "".join(parts)


