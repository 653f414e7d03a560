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
"""

from .manifest import DEFAULT_NAME, Manifest
from .records import RunRecord, SpecRecord, StepRecord
from .schema import SCHEMA_VERSION, ManifestError

__all__ = [
    "DEFAULT_NAME",
    "SCHEMA_VERSION",
    "Manifest",
    "ManifestError",
    "RunRecord",
    "SpecRecord",
    "StepRecord",
]
