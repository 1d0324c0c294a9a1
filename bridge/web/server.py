"""Serve a model's page on localhost with Python's http.server."""

from __future__ import annotations

import logging
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bridge.errors import BridgeError

log = logging.getLogger(__name__)


class ServeError(BridgeError):
    """The page cannot be served: the port is taken or not allowed."""


# Only this machine can reach the page.
HOST = "127.0.0.1"

# The page's own policy, also sent as a header: nothing may be fetched.
_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)


def page_server(page: bytes, port: int = 8000) -> ThreadingHTTPServer:
    """An HTTP server on 127.0.0.1:``port`` (0: any free port) that answers
    ``/`` and ``/index.html`` with ``page`` and everything else with 404.

    Call ``serve_forever()`` on it, and ``server_close()`` when done.
    """

    class Handler(BaseHTTPRequestHandler):
        server_version = "rjs-bridge"

        def do_GET(self) -> None:
            self._answer(body=True)

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def _answer(self, body: bool) -> None:
            if self.path.split("?", 1)[0] not in ("/", "/index.html"):
                self.send_error(HTTPStatus.NOT_FOUND, "Only / is served here")
                return
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Security-Policy", _POLICY)
            self.end_headers()
            if body:
                self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s %s", self.address_string(), format % args)

    try:
        return ThreadingHTTPServer((HOST, port), Handler)
    except OSError as e:
        raise ServeError(f"cannot serve on {HOST}:{port}: {e.strerror or e}") from None
