"""What a step displayed is part of its checkpoint's signed bytes: it round-trips, and an altered display is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nbflow.store import CheckpointRefused, CheckpointStore
from nbflow.store import format as fmt

SECRET = b"the user's own secret, 32 bytes!"
TABLE = "<table><tr><td>42</td></tr></table>"
DISPLAYS = (
    {"output_type": "stream", "name": "stdout", "text": "the report\n"},
    {"output_type": "display_data", "data": {"text/html": TABLE, "text/plain": "42"}, "metadata": {}},
    {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"},
     "metadata": {}},
)


@pytest.fixture
def store(tmp_path: Path) -> CheckpointStore:
    s = CheckpointStore(tmp_path / "store", secret=SECRET, chunk_size=4096)
    s.write("report", "key1", {"total": 42}, displays=DISPLAYS, duration=4.0)
    return s


def test_displays_round_trip_with_the_values(store: CheckpointStore) -> None:
    loaded = store.load("report", "key1")
    assert loaded.outputs == {"total": 42}
    assert loaded.header is not None
    assert loaded.header.displays == DISPLAYS
    assert loaded.header.duration == 4.0


def test_a_checkpoint_without_displays_loads_with_none(tmp_path: Path) -> None:
    s = CheckpointStore(tmp_path / "plain", secret=SECRET)
    s.write("step", "k", {"x": 1})
    header = s.load("step", "k").header
    assert header is not None and header.displays == ()


def _swap(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) == 1, "the display text is in the file exactly once"
    assert len(old) == len(new)
    return data.replace(old, new)


def test_an_altered_display_is_refused(store: CheckpointStore) -> None:
    path = Path(store.path_for("report", "key1"))
    path.write_bytes(_swap(path.read_bytes(), b"<td>42</td>", b"<td>66</td>"))
    with pytest.raises(CheckpointRefused, match="checksum mismatch"):
        store.load("report", "key1")


def test_a_display_added_by_someone_without_the_secret_is_refused(store: CheckpointStore) -> None:
    """Rewriting the footer and the checksum (which needs no secret) still fails the signature."""
    path = Path(store.path_for("report", "key1"))
    data = path.read_bytes()
    header_size = fmt.parse_fixed(data[: fmt.FIXED.size], len(data))
    header = fmt.Header.decode(data[fmt.FIXED.size: fmt.FIXED.size + header_size])
    layout = fmt.Layout.of(header_size, header.pickle_size, header.buffer_sizes)
    footer = data[layout.footer_at: len(data) - fmt.TRAILER.size]
    doc = json.loads(footer[fmt.FOOTER_LENGTH.size:])
    doc["displays"].append({"output_type": "display_data", "data": {"text/html": "<script>x()</script>"},
                            "metadata": {}})
    forged = fmt.encode_footer(doc["digests"], doc["displays"])
    body = data[: layout.footer_at] + forged
    chunks = fmt.chunks([memoryview(body[: layout.footer_at])], header.chunk,
                        fmt.buffer_bounds(layout, header.buffer_sizes))
    digests = [fmt.digest(pieces) for pieces in chunks] + [fmt.digest([memoryview(forged)])]
    tag = b"\x00" * 32
    trailer = tag + fmt.checksum(len(body), digests, tag) + fmt.END_MAGIC
    path.write_bytes(body + trailer)
    with pytest.raises(CheckpointRefused, match="signature mismatch"):
        store.load("report", "key1")
