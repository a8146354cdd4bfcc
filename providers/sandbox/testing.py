"""Install the sandbox behind `responses`, so real client code runs against it in tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import responses
from werkzeug.test import EnvironBuilder

from providers import registry

from .core import SandboxApp, SandboxLostResponse, SandboxTimeout

SANDBOX_TEST_URL = "http://sandbox.test"


@dataclass
class InstalledSandbox:
    app: SandboxApp
    mock: responses.RequestsMock
    root: str = SANDBOX_TEST_URL

    def base_url(self, provider: str) -> str:
        return self.root + registry.get(provider).sandbox_path

    def calls(self, method: str | None = None, path: str | None = None) -> list:
        """The requests that reached the sandbox, optionally filtered by method and path suffix."""
        return [
            call
            for call in self.mock.calls
            if (method is None or call.request.method == method)
            and (path is None or urlsplit(call.request.url).path.endswith(path))
        ]

    def control(self, name: str, body: dict | None = None, method: str = "POST") -> dict:
        response = requests.request(method, f"{self.root}/_sandbox/{name}", json=body or {}, timeout=5)
        response.raise_for_status()
        return response.json()


def _callback(app: SandboxApp):
    def answer(request: requests.PreparedRequest):
        parts = urlsplit(request.url)
        body = request.body.encode() if isinstance(request.body, str) else request.body
        builder = EnvironBuilder(
            path=parts.path,
            base_url=f"{parts.scheme}://{parts.netloc}",
            query_string=parts.query,
            method=request.method,
            headers=dict(request.headers),
            data=body or b"",
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        )
        environ = builder.get_environ()
        try:
            response = app.dispatch(environ)
        except SandboxTimeout:
            raise requests.ReadTimeout("sandbox: injected timeout") from None
        except SandboxLostResponse:
            raise requests.ConnectionError("sandbox: connection dropped after the change was applied") from None
        headers = [(key, value) for key, value in response.headers.items() if key.lower() != "content-length"]
        return response.status_code, headers, response.get_data()

    return answer


@contextmanager
def sandbox_behind_responses(app: SandboxApp | None = None, root: str = SANDBOX_TEST_URL) -> Iterator[InstalledSandbox]:
    """`with sandbox_behind_responses() as sandbox:` routes every request to `root` into the app."""
    app = app or SandboxApp(seed=1)
    pattern = re.compile(re.escape(root) + r"(/.*)?$")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"):
            mock.add_callback(method, pattern, callback=_callback(app))
        yield InstalledSandbox(app=app, mock=mock, root=root)
