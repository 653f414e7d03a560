"""The wheel as a user gets it: built from a clean clone, installed into a fresh venv, seen by Jupyter as enabled.

README "To use nbflow from your own Jupyter": `pip install .` brings the
prebuilt JupyterLab extension and enables the server extension. Both forms
build with `pip wheel . --no-deps` from a `git clone` of HEAD (so nothing
uncommitted or ignored leaks in) and ask Jupyter, from a venv with no system
site-packages, which extensions it finds:

- the long form (`-m long`, about two minutes) is the user's path end to end:
  the build runs `jlpm install` and webpack itself, then `pip install
  jupyterlab <wheel>` into an empty venv and that venv's own `jupyter`
  commands;
- the short form (by default, 10-20 s) copies the extension already built
  in this checkout (`pip install -e .` builds it) into the clone, so the
  builder skips Node.js, builds without isolation with only the hatch
  backend (installed into a temporary folder), installs the wheel with `--no-deps`
  into a fresh venv that reaches this venv's packages through a `.pth` file,
  and checks the same two listings, having first checked that the fresh venv
  lists no nbflow before the wheel is in.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10: pytest depends on tomli there
    import tomli as tomllib

from nbflow._version import __version__

REPO = Path(__file__).resolve().parents[2]
BUILT = REPO / "nbflow" / "labextension"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _run(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None,
         timeout: float = 600) -> str:
    """stdout and stderr of `command` (ANSI colours removed); a failure shows its last lines.

    Run in `cwd`, by default the filesystem root: `python -c` and `-m` put the working directory first on
    sys.path, and from a checkout that would import its nbflow instead of the wheel's."""
    done = subprocess.run(command, cwd=cwd or Path("/"), env=env, capture_output=True, text=True, timeout=timeout)
    text = ANSI.sub("", done.stdout + done.stderr)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited {done.returncode}:\n{text[-4000:]}")
    return text


def _clone(tmp_path: Path) -> Path:
    if not (REPO / ".git").exists():
        pytest.fail(f"{REPO} is not a git checkout: the wheel test builds from a clone of HEAD")
    source = tmp_path / "src"
    _run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(source)])
    return source


def _build_wheel(source: Path, out: Path, tools: Path | None = None) -> Path:
    """`pip wheel . --no-deps`; with `tools` (a folder holding the build backend), without build isolation."""
    command = [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--quiet", "-w", str(out)]
    env = dict(os.environ)
    if tools is not None:
        command.append("--no-build-isolation")
        env["PYTHONPATH"] = str(tools)
    _run(command, cwd=source, env=env)
    (wheel,) = out.glob("jupyter_nbflow-*.whl")
    return wheel


def _build_backend(source: Path, target: Path) -> Path:
    """The hatch packages of pyproject.toml's build requirements, installed into `target` (seconds, where an
    isolated build also installs JupyterLab and Node.js, which a build with the extension prebuilt never runs)."""
    requires = tomllib.loads((source / "pyproject.toml").read_text())["build-system"]["requires"]
    backend = [r for r in requires if r.startswith("hatch")]
    _run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target), *backend])
    return target


def _jupyter_env(tmp_path: Path) -> dict[str, str]:
    """The environment for the fresh venv's Jupyter: user-level config and data folders empty, no extra paths."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "VIRTUAL_ENV")}
    for name in ("config", "data"):
        folder = tmp_path / f"user-{name}"
        folder.mkdir(exist_ok=True)
        env[f"JUPYTER_{name.upper()}_DIR"] = str(folder)
    return env


def _assert_enabled(labextensions: str, server_extensions: str) -> None:
    assert re.search(rf"^\s*jupyter-nbflow v{re.escape(__version__)} enabled\s+OK", labextensions, re.M), \
        labextensions
    assert re.search(r"^\s*nbflow\.server enabled", server_extensions, re.M), server_extensions
    assert re.search(r"^\s*nbflow\.server\s+OK", server_extensions, re.M), server_extensions


def _check_wheel_files(wheel: Path) -> None:
    """What the install relies on is in the wheel: the prebuilt extension and the server extension's config."""
    names = set(zipfile.ZipFile(wheel).namelist())
    data = f"jupyter_nbflow-{__version__}.data/data"
    assert f"{data}/share/jupyter/labextensions/jupyter-nbflow/package.json" in names
    assert any(n.startswith(f"{data}/share/jupyter/labextensions/jupyter-nbflow/static/remoteEntry.")
               for n in names), sorted(names)
    assert f"{data}/etc/jupyter/jupyter_server_config.d/jupyter_nbflow.json" in names
    assert "nbflow/server/__init__.py" in names


def _fresh_venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_wheel_from_a_clean_clone_enables_both_extensions_in_a_fresh_venv(tmp_path: Path) -> None:
    if not (BUILT / "static" / "style.js").is_file():
        pytest.fail(f"{BUILT} is not built: `pip install -e .` (or .ci/setup) builds the JupyterLab extension")
    source = _clone(tmp_path)
    shutil.copytree(BUILT, source / "nbflow" / "labextension")  # the jupyter-builder hook then skips Node.js
    wheel = _build_wheel(source, tmp_path / "dist", _build_backend(source, tmp_path / "build-backend"))
    _check_wheel_files(wheel)
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = _fresh_venv_python(venv)
    # this venv's packages (jupyterlab and nbflow's dependencies) behind the fresh venv's own site-packages;
    # only the wheel puts files under the fresh prefix, which is where Jupyter looks for extensions
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip()
    Path(purelib, "this-venv.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = _jupyter_env(tmp_path)
    labextensions = [str(python), "-m", "jupyterlab.labextensions", "list"]
    server_extensions = [str(python), "-m", "jupyter_server.extension.serverextension", "list"]
    # nothing of nbflow is found before the wheel is installed (the folders `labextension list` reads, for
    # what a second listing would cost: several seconds)
    found = _run([str(python), "-c", "from jupyter_core.paths import jupyter_path; import os; print(sorted("
                  "n for d in jupyter_path('labextensions') if os.path.isdir(d) for n in os.listdir(d)))"], env=env)
    assert "jupyter-nbflow" not in found, found
    before = _run(server_extensions, env=env)
    assert "nbflow.server" not in before, before
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)])
    _assert_enabled(_run(labextensions, env=env), _run(server_extensions, env=env))
    where = _run([str(python), "-c", "import nbflow; print(nbflow.__file__)"], env=env)
    assert where.strip().startswith(purelib), where  # the wheel's nbflow, not this checkout's


@pytest.mark.long
@pytest.mark.timeout(900)
def test_long_wheel_built_from_scratch_installs_with_jupyterlab_alone_and_both_extensions_are_enabled(
        tmp_path: Path) -> None:
    source = _clone(tmp_path)
    assert not (source / "nbflow" / "labextension").exists()  # the build makes it, with jlpm and webpack
    wheel = _build_wheel(source, tmp_path / "dist")
    _check_wheel_files(wheel)
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = _fresh_venv_python(venv)
    # the package index the tests' venv uses: pip's own configuration, inherited
    _run([str(python), "-m", "pip", "install", "--quiet", "jupyterlab", str(wheel)], timeout=900)
    env = _jupyter_env(tmp_path)
    jupyter = str(venv / "bin" / "jupyter")
    _assert_enabled(_run([jupyter, "labextension", "list"], env=env),
                    _run([jupyter, "server", "extension", "list"], env=env))
