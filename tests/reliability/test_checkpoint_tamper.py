"""Damaged, misplaced, foreign and malicious checkpoints are refused before anything is unpickled."""

from __future__ import annotations

import pickle
import random
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nbflow.store import CheckpointRefused, CheckpointStore
from nbflow.store import format as fmt
from nbflow.store import pickling as pickling_module

SECRET = b"the user's own secret, 32 bytes!"
OTHER = b"someone else's secret, 32 bytes."


class Canary:
    """Unpickling this creates a file: proof that a payload was loaded."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


@pytest.fixture
def store(tmp_path: Path) -> CheckpointStore:
    """A store with one genuine multi-chunk checkpoint: train/key1."""
    scale = 0.5
    s = CheckpointStore(tmp_path / "store", secret=SECRET, chunk_size=4096)
    s.write(
        "train",
        "key1",
        {
            "weights": np.arange(10_000, dtype=np.float64),
            "meta": {"lr": 0.1, "tags": ["a", "b"]},
            "scale": lambda x: x * scale,
        },
    )
    return s


def genuine_bytes(store: CheckpointStore) -> bytes:
    return Path(store.path_for("train", "key1")).read_bytes()


def regions_of(data: bytes) -> list[tuple[int, int]]:
    """Byte ranges of the header, the pickle (with pads), the buffer and the trailer."""
    header_size = fmt.parse_fixed(data[: fmt.FIXED.size], len(data))
    header = fmt.Header.decode(data[fmt.FIXED.size : fmt.FIXED.size + header_size])
    layout = fmt.Layout.of(header_size, header.pickle_size, header.buffer_sizes)
    buffer_at = layout.buffers_at[0]
    return [
        (0, fmt.FIXED.size + header_size),
        (fmt.FIXED.size + header_size, buffer_at),
        (buffer_at, layout.end),
        (layout.end, len(data)),
    ]


def build(
    header: fmt.Header,
    stream: bytes,
    buffers: Sequence[bytes] = (),
    *,
    secret: bytes | None = None,
    tag: bytes | None = None,
) -> bytes:
    """A checkpoint assembled by hand, as an attacker who knows the format would."""
    encoded = header.encode()
    layout = fmt.Layout.of(len(encoded), len(stream), [len(b) for b in buffers])
    views = fmt.regions(
        layout, memoryview(fmt.prefix(encoded)), memoryview(stream), [memoryview(b) for b in buffers]
    )
    bounds = fmt.buffer_bounds(layout, [len(b) for b in buffers])
    digests = [fmt.digest(pieces) for pieces in fmt.chunks(views, header.chunk, bounds)]
    footer = fmt.encode_footer({})
    digests.append(fmt.digest([memoryview(footer)]))
    layout = layout.with_footer(len(footer))
    if tag is None:
        assert secret is not None
        tag = fmt.sign(secret, layout.end, digests)
    body = b"".join(bytes(v) for v in views) + footer
    return body + fmt.TRAILER.pack(tag, fmt.checksum(layout.end, digests, tag), fmt.END_MAGIC)


def header_of(data: bytes) -> fmt.Header:
    size = fmt.parse_fixed(data[: fmt.FIXED.size], len(data))
    return fmt.Header.decode(data[fmt.FIXED.size : fmt.FIXED.size + size])


def test_500_single_bit_flips_are_all_refused_without_unpickling(
    store: CheckpointStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One bit flipped at 500 positions (125 each in header, pickle, buffer, trailer): 500/500 refused."""
    data = genuine_bytes(store)
    rng = random.Random(500)
    positions = [
        bit for start, end in regions_of(data) for bit in rng.sample(range(start * 8, end * 8), 125)
    ]
    assert len(set(positions)) == 500
    loads: list[int] = []
    real_loads = pickle.loads
    monkeypatch.setattr(pickling_module.pickle, "loads", lambda *a, **k: loads.append(1))
    path = Path(store.path_for("train", "key1"))
    refused, reasons = 0, set()
    for bit in positions:
        damaged = bytearray(data)
        damaged[bit // 8] ^= 1 << (bit % 8)
        path.write_bytes(damaged)
        try:
            store.read("train", "key1")
        except CheckpointRefused as exc:
            refused += 1
            reasons.add(exc.reason.split(" (")[0])
    assert refused == 500
    assert loads == []
    assert "checksum mismatch" in reasons
    monkeypatch.setattr(pickling_module.pickle, "loads", real_loads)
    path.write_bytes(data)
    assert store.read("train", "key1")["meta"]["lr"] == 0.1


def test_truncated_or_extended_files_are_refused(store: CheckpointStore) -> None:
    """Cut at any of 20 points, or with bytes appended, the checkpoint is refused."""
    data = genuine_bytes(store)
    path = Path(store.path_for("train", "key1"))
    cuts = [0, 1, 8, 15, 16, 17, 100, len(data) // 2, len(data) - fmt.TRAILER.size, len(data) - 1]
    cuts += random.Random(20).sample(range(len(data)), 10)
    for cut in cuts:
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointRefused):
            store.read("train", "key1")
    path.write_bytes(data + b"\0")
    with pytest.raises(CheckpointRefused, match="size"):
        store.read("train", "key1")


def test_valid_checkpoint_under_another_step_or_key_is_refused(store: CheckpointStore) -> None:
    """A genuine file copied to another step's or another key's name is refused, naming both."""
    source = store.path_for("train", "key1")
    for step, key in [("evaluate", "key1"), ("train", "key2")]:
        target = Path(store.path_for(step, key))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        with pytest.raises(CheckpointRefused) as caught:
            store.read(step, key)
        assert str(caught.value) == (
            f"step {step!r}: checkpoint refused: written for step 'train' key 'key1'"
        )


def test_checkpoint_signed_with_another_secret_is_refused(store: CheckpointStore) -> None:
    """A well-formed checkpoint from someone else's secret fails the signature, not the checksum."""
    intruder = CheckpointStore(store.root, secret=OTHER)
    intruder.write("train", "key1", {"weights": np.zeros(3)})
    assert intruder.read("train", "key1")["weights"].shape == (3,)
    with pytest.raises(CheckpointRefused, match="signature mismatch"):
        store.read("train", "key1")


def test_malicious_payload_never_runs(store: CheckpointStore, tmp_path: Path) -> None:
    """Pickles that create a canary on load: signed by an intruder, or spliced into a genuine file."""
    canary = tmp_path / "canary"
    evil = pickle.dumps({"weights": Canary(canary)}, protocol=5)
    genuine = genuine_bytes(store)
    path = Path(store.path_for("train", "key1"))

    # 1. The intruder writes a complete checkpoint with their own secret.
    CheckpointStore(store.root, secret=OTHER).write("train", "key1", {"weights": Canary(canary)})
    assert not canary.exists()
    with pytest.raises(CheckpointRefused, match="signature mismatch"):
        store.read("train", "key1")
    assert not canary.exists()

    # 2. The genuine header and tag, with the payload replaced and the
    # unkeyed checksum recomputed: only the HMAC can tell.
    header = header_of(genuine)
    forged = fmt.Header(
        step=header.step,
        key=header.key,
        python=header.python,
        cloudpickle=header.cloudpickle,
        created=header.created,
        chunk=header.chunk,
        pickle_size=len(evil),
        buffer_sizes=(),
        outputs=("weights",),
    )
    genuine_tag = genuine[-fmt.TRAILER.size : -fmt.TRAILER.size + 32]
    path.write_bytes(build(forged, evil, tag=genuine_tag))
    with pytest.raises(CheckpointRefused, match="signature mismatch"):
        store.read("train", "key1")
    assert not canary.exists()

    # 3. Same splice signed with a guessed all-zero secret.
    path.write_bytes(build(forged, evil, secret=bytes(32)))
    with pytest.raises(CheckpointRefused, match="signature mismatch"):
        store.read("train", "key1")
    assert not canary.exists()

    # Control: with the user's real secret the same forgery would be loaded
    # and would run, so the signature is what stopped it above.
    armed = tmp_path / "armed"
    live = pickle.dumps({"weights": Canary(armed)}, protocol=5)
    forged_live = fmt.Header(**{**forged.__dict__, "pickle_size": len(live)})
    path.write_bytes(build(forged_live, live, secret=SECRET))
    store.read("train", "key1")
    assert armed.exists() and not canary.exists()
