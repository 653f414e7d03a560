"""The Jupyter Server extension: a read-only REST API over the notebooks' manifests.

Enabled by the package (``etc/jupyter/jupyter_server_config.d/jupyter_nbflow.json``
in the wheel); the routes are described in docs/guide/jupyterlab.md ("The REST API").
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "nbflow.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from .handlers import routes

    web_app = serverapp.web_app
    web_app.add_handlers(".*$", routes(web_app.settings["base_url"]))
    serverapp.log.info("nbflow: REST API at %snbflow/api/flows", web_app.settings["base_url"])


# the name older Jupyter Server releases look for
load_jupyter_server_extension = _load_jupyter_server_extension
