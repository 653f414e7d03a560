"""The REST API's tornado handlers: authenticated and authorized like every Jupyter Server API handler.

`GET /nbflow/api/flows` and `GET /nbflow/api/flows/<notebook path>`
(docs/guide/jupyterlab.md, "The REST API"). The manifests are read on a
worker thread, so a slow disk never holds up the server's event loop.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from ..store.manifest.schema import ManifestError
from . import flows


class _Handler(APIHandler):
    #: what a notebook's runs reveal is part of the notebooks' contents: the same permission reads both
    auth_resource = "contents"

    @property
    def root(self) -> Path:
        return Path(self.settings["server_root_dir"]).expanduser()

    async def _answer(self, work: Any, *args: Any) -> None:
        try:
            data = await asyncio.get_running_loop().run_in_executor(None, work, *args)
        except flows.NotFound as error:
            raise tornado.web.HTTPError(404, str(error)) from None
        except ManifestError as error:
            raise tornado.web.HTTPError(500, str(error)) from None
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(data))


class FlowsHandler(_Handler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self._answer(flows.list_flows, self.root)


class FlowHandler(_Handler):
    @tornado.web.authenticated
    @authorized
    async def get(self, path: str) -> None:
        await self._answer(flows.flow_detail, self.root, path)


def routes(base_url: str) -> list[tuple[str, type[APIHandler]]]:
    api = url_path_join(base_url, "nbflow", "api", "flows")
    return [(api, FlowsHandler), (url_path_join(api, "(.+)"), FlowHandler)]
