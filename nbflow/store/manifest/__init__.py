"""The SQLite manifest of a store: every run, step and attempt, the provenance of outputs, and the step specs.

One database file per store (``<store>/manifest.sqlite``) shared by every
flow (notebook) that uses the store, each under its own ``flow_name``, and by
every process that opens it (kernels, ``nbflow run``, ``nbflow status``). It
is a pure subscriber of the event stream: what it records comes from events
only. The modules, along its seams:

- `schema`: the tables, their version and migration, opening a connection;
- `records`: what readers get (`StepRecord` holds the core's `StepStatus`);
- `recorder`: events folded into rows in memory (no SQLite, no threads);
- `writer`: a batch of rows written in one transaction;
- `queries`: reads; `specs`: the `%%step` cells kept for ``%flow resume``;
- `manifest`: `Manifest`, tying them together with a background writer.

Recording: a `Manifest` is an event subscriber (``flow.subscribe(manifest)``)
and nothing else writes step rows: events only update the `Recorder` in
memory, and the changed rows are written in one transaction when the flow
finishes (`FlowFinished`), when ``batch_size`` events have piled up, and at
the latest ``flush_interval`` seconds after the first unwritten change (a
background thread), so a 1,000-step flow costs a handful of transactions and
a kernel killed mid-run loses at most the last second. `flush()`, `close()`
and every read write what is pending first, so a process reads its own
events. The flush on `FlowFinished` happens before ``flow.wait()`` returns,
unless the file stays locked for 2 s (then the background writer retries;
the event thread is never held up longer).

Concurrency: WAL mode, ``synchronous=NORMAL`` (no fsync per commit: a power
cut may lose the last commits, never corrupt the file), ``busy_timeout``.
Every write is one short ``BEGIN IMMEDIATE`` transaction, retried with
jittered backoff while SQLite says the database is busy; a flush that still
fails keeps its rows for the next one and logs a warning: recording never
raises into the event bus. One connection per `Manifest`, used under `_io`
(which also orders flushes, so an older snapshot of a row never overwrites a
newer one); `_lock` guards the recorder. Order: `_io` before `_lock`. A
forked child reopens under a new session (connections must not cross a
fork). The file must be on a local file system: for a remote store, callers
keep the manifest in the local fallback folder. Each instance has a random
``session``, so run 1 of two kernels are two runs.

A manifest that is not a database (or is damaged) is moved aside as
``manifest.sqlite.corrupt-<time>`` with a warning the user sees, and a new one is
started; so is a folder named ``manifest.sqlite`` (as ``manifest.sqlite.not-a-file-<time>``).
``Manifest(":memory:")`` keeps everything in this process: what a notebook
gets when its store cannot be used at all.
"""

from .manifest import DEFAULT_NAME, MEMORY, Manifest
from .records import Interruption, RunRecord, SpecRecord, StepRecord
from .schema import SCHEMA_VERSION, ManifestError

__all__ = [
    "DEFAULT_NAME",
    "MEMORY",
    "SCHEMA_VERSION",
    "Interruption",
    "Manifest",
    "ManifestError",
    "RunRecord",
    "SpecRecord",
    "StepRecord",
]
