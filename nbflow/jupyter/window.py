"""A step's outputs as shown live: the head and a rolling tail of its text, whatever it prints.

Printing 100,000 lines must not make every update of the cell's Output
widget carry 100,000 lines: each update sends the whole list of outputs
again, so an unbounded list makes the cost grow with the square of the
output, and the kernel, the server and the browser hold all of it. The
window keeps the first `head` lines, then only the last `tail` lines, with
one marker output between them saying how many lines are not shown. The
step's own displays (`display(...)`) are bounded the same way: the first
`HEAD_DISPLAYS` and the last `TAIL_DISPLAYS` (each also within a size), with a
marker where the dropped ones were. nbflow's own notes and errors are always
kept. The whole text goes to the step's output log on disk
(`nbflow.store.outputlog`).
"""

from __future__ import annotations

from collections import deque
from html import escape as _escape
from typing import Any

from ..core.protocol import HTML_MIME, TEXT_MIME

HEAD_LINES = 200
TAIL_LINES = 1_000
#: a cap in characters too, for output with very long (or no) line breaks
HEAD_CHARS = 64 * 1024
TAIL_CHARS = 256 * 1024
HEAD_DISPLAYS = 50
TAIL_DISPLAYS = 200
#: and a cap on their size (characters of their data): a few big images must not pile up either
HEAD_DISPLAY_CHARS = 8 << 20
TAIL_DISPLAY_CHARS = 16 << 20


def marker_output(hidden: int) -> dict[str, Any]:
    """The output between head and tail."""
    text = f"… {hidden:,} lines not shown …"
    return {"output_type": "display_data", "metadata": {},
            "data": {TEXT_MIME: text, HTML_MIME: f"<pre class='nbflow-marker'>{_escape(text)}</pre>"}}


def display_marker(hidden: int) -> dict[str, Any]:
    """The output where the step's dropped displays were."""
    text = f"… {hidden:,} displays not shown …"
    return {"output_type": "display_data", "metadata": {},
            "data": {TEXT_MIME: text, HTML_MIME: f"<pre class='nbflow-marker'>{_escape(text)}</pre>"}}


def display_size(output: dict[str, Any]) -> int:
    """Characters of a display's data (what it costs to send and keep), roughly."""
    return sum(len(v) if isinstance(v, str) else len(str(v)) for v in output.get("data", {}).values())


def _lines(text: str) -> int:
    """Lines in a piece of text, counting an unfinished last line."""
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


class OutputWindow:
    """nbformat outputs, with stream text bounded to a head, a marker and a tail."""

    def __init__(self, head: int = HEAD_LINES, tail: int = TAIL_LINES,
                 head_chars: int = HEAD_CHARS, tail_chars: int = TAIL_CHARS,
                 head_displays: int = HEAD_DISPLAYS, tail_displays: int = TAIL_DISPLAYS,
                 head_display_chars: int = HEAD_DISPLAY_CHARS, tail_display_chars: int = TAIL_DISPLAY_CHARS) -> None:
        self._head, self._tail = head, tail
        self._head_chars, self._tail_chars = head_chars, tail_chars
        self._display_limits = (head_displays, tail_displays, head_display_chars, tail_display_chars)
        self.reset()

    def reset(self) -> None:
        self.outputs: list[dict[str, Any]] = []
        #: lines not shown (dropped between head and tail)
        self.hidden = 0
        self._head_lines = 0
        self._head_used = 0  # characters
        #: index of the first output of the tail (outputs before it are the head, never cut); None while filling
        self._tail_start: int | None = None
        self._marker: dict[str, Any] | None = None
        self._tail_lines = 0
        self._tail_used = 0
        #: the step's displays dropped from the live view
        self.hidden_displays = 0
        self._display_head = self._display_head_used = 0
        self._display_tail: deque[tuple[dict[str, Any], int]] = deque()
        self._display_tail_used = 0
        self._display_marker: dict[str, Any] | None = None

    def append(self, output: dict[str, Any]) -> None:
        """nbflow's own rich output (a note, an error): kept whole, in order."""
        self.outputs.append(output)

    def display(self, output: dict[str, Any]) -> None:
        """A display of the step's: into the head while it has room, then into the rolling tail."""
        head, tail, head_chars, tail_chars = self._display_limits
        size = display_size(output)
        self.outputs.append(output)
        if self._display_tail or self._display_head >= head or (
                self._display_head and self._display_head_used + size > head_chars):
            self._display_tail.append((output, size))
            self._display_tail_used += size
            while len(self._display_tail) > tail or (
                    self._display_tail_used > tail_chars and len(self._display_tail) > 1):
                self._drop_display()
        else:
            self._display_head += 1
            self._display_head_used += size

    def _drop_display(self) -> None:
        """Drop the oldest display of the tail; the first one dropped becomes the marker."""
        oldest, size = self._display_tail.popleft()
        self._display_tail_used -= size
        self.hidden_displays += 1
        index = self.index(oldest)
        if self._display_marker is None:
            self._display_marker = self.outputs[index] = display_marker(self.hidden_displays)
            return
        self.remove(index)
        self._display_marker["data"] = display_marker(self.hidden_displays)["data"]

    def index(self, output: dict[str, Any]) -> int:
        """Where `output` (this very dict) is in `outputs` (the oldest are near the front)."""
        for index, candidate in enumerate(self.outputs):
            if candidate is output:
                return index
        raise ValueError("output not in the window")

    def remove(self, index: int) -> None:
        """Take one output out, keeping the start of the text tail pointing at the same output."""
        del self.outputs[index]
        if self._tail_start is not None and index < self._tail_start:
            self._tail_start -= 1

    def replace(self, group: list[dict[str, Any]], output: dict[str, Any]) -> None:
        """Put `output` where the first of `group` is, and take out the rest of `group` (those still here)."""
        present = [o for o in group if any(o is c for c in self.outputs)]
        if not present:
            return
        self.outputs[self.index(present[0])] = output
        for other in present[1:]:
            self.remove(self.index(other))

    def write(self, name: str, text: str) -> None:
        """Stream text: into the head while it has room, then into the rolling tail."""
        if self._tail_start is None:
            text = self._fill_head(name, text)
            if self._tail_start is None or not text:
                return
        self._merge(name, text, self._tail_start)
        self._tail_lines += text.count("\n")
        self._tail_used += len(text)
        if self._tail_lines > self._tail or self._tail_used > self._tail_chars:
            self._trim()

    def _fill_head(self, name: str, text: str) -> str:
        """Put what fits into the head; return the rest (the head is full once there is a rest)."""
        lines_left = self._head - self._head_lines
        limit = min(len(text), self._head_chars - self._head_used)
        end, taken = 0, 0
        while taken < lines_left:
            found = text.find("\n", end, limit)
            if found < 0:
                break
            end, taken = found + 1, taken + 1
        if taken < lines_left and limit == len(text):
            end = len(text)  # all of it fits, unfinished last line included
        if end:
            self._merge(name, text[:end], 0)
            self._head_lines += taken
            self._head_used += end
        if end < len(text) or taken == lines_left:
            self._tail_start = len(self.outputs)
        return text[end:]

    def _merge(self, name: str, text: str, start: int) -> None:
        """Append to the last output if it is the same stream (and not before `start`), else add one."""
        outputs = self.outputs
        if len(outputs) > start:
            last = outputs[-1]
            if last["output_type"] == "stream" and last["name"] == name:
                last["text"] += text
                return
        outputs.append({"output_type": "stream", "name": name, "text": text})

    def _trim(self) -> None:
        """Drop the oldest tail text until the tail fits, and show the marker with the count."""
        assert self._tail_start is not None
        if self._marker is None:
            self._marker = marker_output(0)
            self.outputs.insert(self._tail_start, self._marker)
        excess_lines = self._tail_lines - self._tail
        excess_chars = self._tail_used - self._tail_chars
        outputs, index = self.outputs, self._tail_start + 1
        while (excess_lines > 0 or excess_chars > 0) and index < len(outputs):
            out = outputs[index]
            if out["output_type"] != "stream":
                index += 1
                continue
            text = out["text"]
            newlines = text.count("\n")
            if newlines <= excess_lines or len(text) <= excess_chars:
                cut = text
            else:
                cut_at = 0
                if excess_lines > 0:
                    cut_at = len(text) - len(text.split("\n", excess_lines)[-1])
                if excess_chars > cut_at:
                    cut_at = excess_chars
                cut = text[:cut_at]
            dropped = cut.count("\n")
            self.hidden += _lines(cut) if cut is text else dropped + (0 if cut.endswith("\n") else 1)
            excess_lines -= dropped
            excess_chars -= len(cut)
            self._tail_lines -= dropped
            self._tail_used -= len(cut)
            if cut is text:
                del outputs[index]
            else:
                out["text"] = text[len(cut):]
                break
        self._marker["data"] = marker_output(self.hidden)["data"]
