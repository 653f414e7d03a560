"""The spec registry: each step's `%%step` header and body, so `%flow resume` rebuilds the graph.

Specs are per flow (notebook), replaced when the cell runs again, and kept
apart from run history: a spec says what the step *is*, a step row what it did.
"""

from __future__ import annotations

import sqlite3

from .records import SpecRecord


def save_spec(conn: sqlite3.Connection, flow: str, name: str, header: str, code: str | None, cell: str | None,
              order: int, when: float) -> None:
    conn.execute(
        "INSERT INTO specs (flow, name, header, code, cell, ord, saved) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (flow, name) DO UPDATE SET header = excluded.header, code = excluded.code, "
        "cell = excluded.cell, ord = excluded.ord, saved = excluded.saved",
        (flow, name, header, code, cell, int(order), when),
    )


def remove_spec(conn: sqlite3.Connection, flow: str, name: str) -> bool:
    return conn.execute("DELETE FROM specs WHERE flow = ? AND name = ?", (flow, name)).rowcount > 0


def load_specs(conn: sqlite3.Connection, flow: str) -> list[SpecRecord]:
    rows = conn.execute(
        "SELECT flow, name, header, code, cell, ord, saved FROM specs WHERE flow = ? ORDER BY ord, name", (flow,)
    ).fetchall()
    return [SpecRecord(*row) for row in rows]
