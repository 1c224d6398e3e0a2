"""What the browser checks share: a local static server, headless Chromium, and a network guard.

The page sees only ``http://127.0.0.1:<port>``: every other request is aborted by the guard and
recorded (a check fails on any record), and Chromium's resolver maps every other host to nothing, so
not even a request the guard could not see (a prefetch, a WebSocket) leaves the machine.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

CHROMIUM_CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--metrics-recording-only",
    "--disable-dev-shm-usage", "--font-render-hinting=none",
    # Only the loopback address resolves: the page has no network beyond the local server.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
]


def chromium_path() -> str:
    """The OS's Chromium (``$CHROMIUM`` overrides); the Makefile installs it from the OS packages."""
    for candidate in [os.environ.get("CHROMIUM", ""), *CHROMIUM_CANDIDATES]:
        if candidate and shutil.which(candidate):
            return candidate
    raise SystemExit("no Chromium found: install the OS package `chromium` (make browser-test does) "
                     "or set CHROMIUM=/path/to/chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static files; optionally rewrites HTML bodies (used by the self-test); logs nothing."""

    rewrite: Callable[[str], str] | None = None

    def log_message(self, *args: object) -> None:  # keep the test's output readable
        pass

    def send_head(self):  # type: ignore[override]
        path = self.translate_path(self.path)
        if self.rewrite is None or not path.endswith(".html") or not os.path.isfile(path):
            return super().send_head()
        body = self.rewrite(Path(path).read_text(encoding="utf8")).encode("utf8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        import io
        return io.BytesIO(body)


@contextlib.contextmanager
def serve(directory: Path, rewrite: Callable[[str], str] | None = None) -> Iterator[str]:
    """Serve ``directory`` on a free loopback port for the duration; yields the base URL."""
    handler = type("Handler", (_QuietHandler,), {"rewrite": staticmethod(rewrite) if rewrite else None})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(handler, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def is_local(url: str, origin: str) -> bool:
    """Whether the page may load ``url``: the test's own server, or data that needs no network."""
    parts = urlsplit(url)
    if parts.scheme in {"data", "blob", "about"}:
        return True
    return url.startswith(origin) or (parts.scheme in {"http", "https", "ws", "wss"}
                                      and parts.hostname in {"127.0.0.1", "localhost"}
                                      and parts.port == urlsplit(origin).port)


def launch(playwright):  # -> playwright Browser
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)


class PageLog:
    """Everything a page did that a check fails on: blocked requests, console errors, failed loads."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.blocked: list[str] = []
        self.console: list[str] = []
        self.failed: list[str] = []

    def attach(self, context) -> None:
        """Guard a browser context: abort and record every non-local request."""
        def route(route) -> None:
            url = route.request.url
            if is_local(url, self.origin):
                route.continue_()
            else:
                self.blocked.append(url)
                route.abort("internetdisconnected")
        context.route("**/*", route)

    def watch(self, page) -> None:
        def on_console(msg) -> None:
            if msg.type == "error":
                loc = msg.location or {}
                where = f" ({loc.get('url', '').replace(self.origin, '/')}:{loc.get('lineNumber', '?')})" \
                    if loc.get("url") else ""
                self.console.append(f"{msg.text}{where}")

        def on_response(response) -> None:
            if response.status >= 400 and is_local(response.url, self.origin):
                self.failed.append(f"HTTP {response.status} {response.url.replace(self.origin, '/')}")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.console.append(f"uncaught: {exc}"))
        page.on("response", on_response)
        page.on("requestfailed", lambda req: None if not is_local(req.url, self.origin)
                else self.failed.append(f"failed {req.url.replace(self.origin, '/')}: {req.failure}"))

    def drain(self) -> tuple[list[str], list[str], list[str]]:
        out = (self.blocked, self.console, self.failed)
        self.blocked, self.console, self.failed = [], [], []
        return out
