"""Random notebooks and random edits for the differential soundness fuzzer.

A notebook here is what a data scientist's looks like after a week: a cell
of parameters, plain-cell helpers that call each other and read the
parameters, a plain-cell class and an instance of it, a local module beside
the notebook, a watched data file, and a handful of `%%step` cells that read
all of those, read each other's outputs, change an upstream's list in place,
rebind what they read and delete scratch names. Edits change one thing at a
time the way a person would: a parameter, a helper's constant or its
comments, the module, the data file, a step's code or its comments.

Everything is plain data (JSON-able), so the sessions that run a notebook
can be fresh processes.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Notebook:
    """The editable facts of one generated notebook; `cells()` renders them."""

    tag: str
    params: list[int]
    consts: list[int]  # helper constants C0, C1 and the class's C2
    helper_comment: int = 0
    module_k: int = 1
    data: str = "abc"
    private: int = 3  # a plain variable only one step reads and rebinds
    steps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def module(self) -> str:
        return f"fzmod_{self.tag}"

    @property
    def data_file(self) -> str:
        return f"data_{self.tag}.txt"

    def files(self) -> dict[str, str]:
        """Files beside the notebook: the local module and the watched data."""
        return {
            f"{self.module}.py": f"K = {self.module_k}\n\ndef m(x):\n    return x * 10 + K\n",
            self.data_file: self.data,
        }

    def cells(self) -> list[dict[str, str]]:
        """The notebook's cells in order: plain ones first, then the steps."""
        params = "\n".join(f"P{i} = {v}" for i, v in enumerate(self.params))
        comment = f"# revision {self.helper_comment}\n" if self.helper_comment else ""
        helpers = (
            f"C0, C1 = {self.consts[0]}, {self.consts[1]}\n"
            f"{comment}def h0(x):\n    return x * P0 + C0\n\n"
            "def h1(x):\n    return h0(x) + C1 + P1\n"
        )
        klass = (
            f"class Acc:\n    def __init__(self, k):\n        self.k = k\n"
            f"    def apply(self, x):\n        return x + self.k * P2\n\nacc = Acc({self.consts[2]})\n"
        )
        plain = [params, helpers, klass, f"import {self.module} as fm\nscratch = 7\nq = {self.private}"]
        cells = [{"kind": "plain", "code": code} for code in plain]
        for step in self.steps:
            header = step["name"]
            if step["after"]:
                header += " --after " + ",".join(step["after"])
            if step["watch"]:
                header += f" --watch {self.data_file}"
            cells.append({"kind": "step", "header": header, "code": step_code(step, self)})
        return cells


def step_code(step: dict[str, Any], nb: Notebook) -> str:
    lines = []
    if step["comment"]:
        lines.append(f"# note {step['comment']}")
    terms = [_term(t, nb) for t in step["terms"]]
    if any(t[0] == "imodule" for t in step["terms"]):
        lines.append(f"from {nb.module} import m as own_m")  # imported by the step itself
    lines.append(f"{step['name']}_out = [{', '.join(terms)}]")
    for target, value in step["mutates"]:
        lines.append(f"{target}_out.append({value})")
    if step["rebinds"]:
        lines.append("q = q * 2")
    if step["deletes"]:
        lines.append("del scratch")
    return "\n".join(lines) + "\n"


def _term(term: list[Any], nb: Notebook) -> str:
    kind, arg = term
    if kind == "upstream":
        return f"sum({arg}_out)"
    forms = {
        "helper": f"h1(P{int(arg) % len(nb.params)})",
        "param": f"P{int(arg) % len(nb.params)}",
        "module": f"fm.m({arg})",
        "imodule": f"own_m({arg})",
        "acc": f"acc.apply({arg})",
        "file": f"len(open({nb.data_file!r}).read())",
        "private": "q",
        "scratch": "scratch",
        "const": str(arg),
    }
    return forms[kind]


def generate(rng: random.Random, tag: str) -> Notebook:
    nb = Notebook(tag, [rng.randint(0, 9) for _ in range(3)], [rng.randint(0, 9) for _ in range(3)])
    names = [f"s{i}" for i in range(rng.randint(3, 6))]
    owner: dict[str, str] = {}  # upstream -> the step that changes its list in place
    readers: dict[str, set[str]] = {n: set() for n in names}
    used_private = used_scratch = False
    for i, name in enumerate(names):
        earlier = names[:i]
        after: list[str] = []
        terms: list[list[Any]] = []
        for _ in range(rng.randint(1, 3)):
            kind = rng.choice(["helper", "param", "module", "imodule", "acc", "upstream", "file", "const"])
            if kind == "upstream" and earlier:
                up = rng.choice(earlier)
                after.append(up)
                if up in owner:  # read it only after its in-place change
                    after.append(owner[up])
                readers[up].add(name)
                terms.append(["upstream", up])
            elif kind != "upstream":
                terms.append([kind, rng.randint(0, 9)])
        mutates: list[list[Any]] = []
        candidates = [u for u in earlier if u not in owner and not readers[u] and u not in after]
        if candidates and rng.random() < 0.3:
            target = rng.choice(candidates)
            owner[target] = name
            after.append(target)
            readers[target].add(name)
            mutates.append([target, rng.randint(0, 9)])
        rebinds = not used_private and rng.random() < 0.25
        if rebinds:
            used_private = True
            terms.append(["private", 0])
        deletes = not used_scratch and rng.random() < 0.2
        if deletes:
            used_scratch = True
            terms.append(["scratch", 0])
        nb.steps.append({
            "name": name, "after": sorted(set(after)), "terms": terms, "mutates": mutates,
            "rebinds": rebinds, "deletes": deletes, "comment": 0,
            "watch": any(t[0] == "file" for t in terms),
        })
    return nb


EDITS = ("param", "private", "helper_const", "helper_comment", "class_const", "module", "data", "step_const",
         "step_comment", "nothing")


def edit(rng: random.Random, nb: Notebook) -> tuple[Notebook, str]:
    """A copy of `nb` with one random edit, and its name."""
    new = copy.deepcopy(nb)
    kind = rng.choice(EDITS)
    if kind == "param":
        new.params[rng.randrange(len(new.params))] = rng.randint(0, 9)
    elif kind == "private":
        new.private = rng.randint(0, 9)
    elif kind == "helper_const":
        new.consts[rng.randrange(2)] = rng.randint(0, 9)
    elif kind == "helper_comment":
        new.helper_comment += 1
    elif kind == "class_const":
        new.consts[2] = rng.randint(0, 9)
    elif kind == "module":
        new.module_k = rng.randint(0, 9)
    elif kind == "data":
        new.data = rng.choice(["abc", "abcd", "x", "hello", "abc"])
    elif kind == "step_const":
        step = rng.choice(new.steps)
        consts = [t for t in step["terms"] if t[0] in ("const", "module", "imodule", "acc")]
        if consts:
            rng.choice(consts)[1] = rng.randint(0, 9)
        else:
            step["terms"].append(["const", rng.randint(0, 9)])
    elif kind == "step_comment":
        rng.choice(new.steps)["comment"] += 1
    return new, kind
