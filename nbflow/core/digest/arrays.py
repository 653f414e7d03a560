"""Digests of numpy arrays and pandas objects, at memory speed where the data allows.

Numeric data is hashed as its raw bytes (BLAKE3, several threads for large
buffers), so `-0.0` and `0.0` differ and nothing is converted. What a step
can see besides the numbers counts too: the dtype with its field names, the
shape, the array's type (`np.matrix` and masked arrays go through their
reduction, mask included), a DataFrame's column labels with their types,
index and column names, categories and whether they are ordered, and time
zones. Object data is hashed element by element with its types, so `1` and
`"1"` differ; columns holding only strings take a fast path.
"""

from __future__ import annotations

from typing import Any

import blake3

from .feed import Feeder
from .pieces import known_pieces, piece_digests

MODULES = frozenset({"numpy", "pandas"})
_THREADED = 1 << 20  # buffers at least this big are hashed as pieces, on several threads


def feed(feeder: Feeder, hasher: Any, value: Any) -> bool:
    """Hash a numpy or pandas value; False when it is not one of the kinds handled here."""
    import numpy as np

    kind = type(value)
    if kind is np.ndarray:
        ndarray(feeder, hasher, value)
        return True
    if isinstance(value, np.generic):
        _scalar(feeder, hasher, value)
        return True
    if kind.__module__.partition(".")[0] != "pandas":
        return False
    import pandas as pd

    if kind is pd.DataFrame:
        _frame(feeder, hasher, value)
    elif kind is pd.Series:
        feeder.text(hasher, b"Series", str(value.dtype))
        feeder.at("<name>", hasher, value.name)
        feeder.at("<index>", hasher, value.index)
        _values(feeder, hasher, value.array, value.dtype)
        _attrs(feeder, hasher, value)
    elif isinstance(value, pd.Index):
        _index(feeder, hasher, value)
    else:
        return False
    return True


def ndarray(feeder: Feeder, hasher: Any, value: Any) -> None:
    dtype = value.dtype
    feeder.text(hasher, b"ndarray", f"{dtype.str}:{dtype.descr if dtype.names else ''}:{value.shape}")
    if dtype.names and dtype.hasobject:
        for name in dtype.names:  # structured with object fields: field by field
            feeder.at(f"[{name!r}]", hasher, value[name])
    elif dtype.hasobject:
        _objects(feeder, hasher, value.ravel(order="C"))
    else:
        _buffer(feeder, hasher, value)


def _buffer(feeder: Feeder, hasher: Any, value: Any) -> None:
    import numpy as np

    flat: Any = np.ascontiguousarray(value).reshape(-1).view(np.uint8)
    if flat.nbytes >= _THREADED:
        # Shared with checkpoint writes only when `flat` is the array's own memory (not a copy).
        address = flat.ctypes.data if value.flags.c_contiguous else None
        pieces = known_pieces(address, flat.nbytes) if address is not None else None
        if pieces is None:
            pieces = piece_digests(flat, address)
        feeder.put(hasher, b"data-pieces", blake3.blake3(b"".join(pieces)).digest())
    else:
        feeder.put(hasher, b"data", flat.tobytes())


def _objects(feeder: Feeder, hasher: Any, flat: Any) -> None:
    """Elements of an object array with their types; all-string arrays in one pass."""
    import numpy as np

    items = flat.tolist()
    if items and set(map(type, items)) == {str}:
        feeder.count(hasher, b"strings", len(items))
        joined = "\x00".join(items)
        if joined.count("\x00") == len(items) - 1:  # no string holds the separator: the split is unique
            feeder.put(hasher, b"separated", joined.encode("utf-8", "surrogatepass"))
        else:
            _buffer(feeder, hasher, np.fromiter(map(len, items), dtype=np.int64, count=len(items)))
            feeder.put(hasher, b"text", "".join(items).encode("utf-8", "surrogatepass"))
        return
    feeder.count(hasher, b"objects", len(items))
    for index, item in enumerate(items):
        feeder.at(f"[{index}]", hasher, item)


def _scalar(feeder: Feeder, hasher: Any, value: Any) -> None:
    dtype = value.dtype
    feeder.text(hasher, b"scalar", f"{type(value).__name__}:{dtype.str}:{dtype.descr if dtype.names else ''}")
    if dtype.names:
        for name in dtype.names:
            feeder.at(f"[{name!r}]", hasher, value[name])
    elif dtype.hasobject:
        feeder.at("<item>", hasher, value.item())
    else:
        feeder.put(hasher, b"data", value.tobytes())


def _frame(feeder: Feeder, hasher: Any, frame: Any) -> None:
    feeder.count(hasher, b"DataFrame", frame.shape[1])
    feeder.at("<columns>", hasher, frame.columns)
    feeder.at("<index>", hasher, frame.index)
    for position in range(frame.shape[1]):
        column = frame.iloc[:, position]
        feeder.where.append(f"[{frame.columns[position]!r}]")
        try:
            _values(feeder, hasher, column.array, column.dtype)
        finally:
            feeder.where.pop()
    _attrs(feeder, hasher, frame)


def _attrs(feeder: Feeder, hasher: Any, value: Any) -> None:
    if value.attrs:
        feeder.at("<attrs>", hasher, dict(value.attrs))


def _index(feeder: Feeder, hasher: Any, index: Any) -> None:
    import pandas as pd

    feeder.text(hasher, b"Index", f"{type(index).__name__}:{index.dtype}")
    feeder.at("<names>", hasher, list(index.names))
    if isinstance(index, pd.RangeIndex):
        feeder.text(hasher, b"range", f"{index.start}:{index.stop}:{index.step}")
    elif isinstance(index, pd.MultiIndex):
        feeder.count(hasher, b"levels", index.nlevels)
        for level, codes in zip(index.levels, index.codes, strict=True):
            feeder.at("<level>", hasher, level)
            ndarray(feeder, hasher, codes)
    else:
        _values(feeder, hasher, index.array, index.dtype)
    freq = getattr(index, "freq", None)
    if freq is not None:
        feeder.text(hasher, b"freq", str(freq))


def _values(feeder: Feeder, hasher: Any, array: Any, dtype: Any) -> None:
    """A column's (or index's) values, by what its dtype says they are."""
    import numpy as np
    import pandas as pd

    feeder.text(hasher, b"dtype", str(dtype))
    if isinstance(dtype, np.dtype):
        ndarray(feeder, hasher, np.asarray(array))
    elif isinstance(dtype, pd.CategoricalDtype):
        feeder.text(hasher, b"ordered", str(bool(dtype.ordered)))
        feeder.at("<categories>", hasher, dtype.categories)
        ndarray(feeder, hasher, np.asarray(array.codes))
    elif isinstance(dtype, pd.DatetimeTZDtype) or dtype.kind in "mM":
        ndarray(feeder, hasher, np.asarray(array.asi8))
    elif isinstance(dtype, pd.StringDtype):
        mask = np.asarray(array.isna())
        ndarray(feeder, hasher, mask)
        ndarray(feeder, hasher, array.to_numpy(dtype=object, na_value="")[~mask] if mask.any()
                else array.to_numpy(dtype=object))
    elif hasattr(dtype, "numpy_dtype") and dtype.kind in "biuf":  # nullable Int64, Float64, boolean
        mask = np.asarray(array.isna())
        ndarray(feeder, hasher, mask)
        ndarray(feeder, hasher, array.to_numpy(dtype=dtype.numpy_dtype, na_value=0))
    else:  # intervals, periods, sparse, arrow types: as Python objects with their types
        ndarray(feeder, hasher, np.asarray(array, dtype=object))
