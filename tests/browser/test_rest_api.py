"""The REST API in a real Jupyter Server: enabled by the package's config file, token-checked, path-checked.

No browser: monitoring scripts call it like this (docs/guide/jupyterlab.md, "The REST API").
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.stores import make_root

from .server import lab_server


class Api:
    def __init__(self, url: str, token: str) -> None:
        self.host, self.port = urlsplit(url).hostname, urlsplit(url).port
        self.token = token

    def get(self, path: str, token: str | None = "", headers: dict[str, str] | None = None
            ) -> tuple[int, dict[str, Any]]:
        """GET `path` exactly as written (no client-side normalising of `..`), with the token unless None."""
        conn = http.client.HTTPConnection(self.host or "127.0.0.1", self.port, timeout=30)
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"token {token or self.token}"
        try:
            conn.request("GET", path, headers=sent)
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        try:
            return response.status, json.loads(body)
        except ValueError:
            return response.status, {"body": body.decode(errors="replace")}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    base = tmp_path_factory.mktemp("rest")
    root = make_root(base)
    with lab_server(base, root) as (url, token, _server, _log):
        yield Api(url, token)


def test_the_listing_and_one_notebook(api: Api) -> None:
    status, answer = api.get("/nbflow/api/flows")
    assert status == 200, answer
    assert sorted(f["path"] for f in answer["flows"]) == ["a.ipynb", "b.ipynb", "sub/c.ipynb"]
    status, one = api.get("/nbflow/api/flows/a.ipynb")
    assert status == 200, one
    assert {s["name"]: s["state"] for s in one["steps"]} == {"one": "succeeded", "two": "failed"}
    assert one["counts"] == {"succeeded": 1, "failed": 1} and one["last_run"]["id"]
    status, deep = api.get("/nbflow/api/flows/sub/c.ipynb")
    assert status == 200 and deep["steps"][0]["cell"] == "cell-c"


@pytest.mark.parametrize("token", [None, "wrong"])
def test_without_the_token_it_is_forbidden(api: Api, token: str | None) -> None:
    for path in ("/nbflow/api/flows", "/nbflow/api/flows/a.ipynb"):
        status, answer = api.get(path, token=token)
        assert status == 403, (path, status, answer)
        assert "steps" not in answer and "flows" not in answer


@pytest.mark.parametrize("path", [
    "/nbflow/api/flows/../outside/e.ipynb", "/nbflow/api/flows/%2e%2e/outside/e.ipynb",
    "/nbflow/api/flows/sub/..%2f..%2foutside%2fe.ipynb", "/nbflow/api/flows/link.ipynb",
    "/nbflow/api/flows/.hidden/h.ipynb", "/nbflow/api/flows/plain.ipynb", "/nbflow/api/flows/%2fetc%2fpasswd",
])
def test_a_path_leaving_the_root_is_not_found(api: Api, path: str) -> None:
    status, answer = api.get(path)
    assert status == 404, (path, status, answer)
    assert "outer" not in json.dumps(answer)
