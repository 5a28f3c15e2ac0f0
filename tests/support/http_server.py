"""A real HTTP server on 127.0.0.1 that serves files from a folder and injects faults by path.

Paths: ``/<name>`` serves the file; ``/fault/404``, ``/fault/500``, ``/fault/500then200/<name>``
(fails the first time per name, then serves), ``/fault/slow/<name>`` (body trickles slower than any
sane timeout), ``/fault/reset/<name>`` (connection reset mid-body), ``/fault/html/<name>`` (text/html
body), ``/fault/huge`` (claims and streams a body larger than limits), ``/fault/redirect-loop``.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:  # injected faults are expected
        pass


class FaultServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.hits: dict[str, int] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server._count(self.path)
                server._handle(self)

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def _count(self, path: str) -> int:
        with self._lock:
            self.hits[path] = self.hits.get(path, 0) + 1
            return self.hits[path]

    def _send_file(self, h: BaseHTTPRequestHandler, name: str, content_type: str = "video/mp4") -> None:
        file = (self.root / name).resolve()
        if not file.is_file() or self.root.resolve() not in file.parents:
            self._status(h, 404)
            return
        body = file.read_bytes()
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _start_body(self, h: BaseHTTPRequestHandler, name: str) -> bytes:
        """Send 200 headers for a served file and return its bytes (the fault decides how to send them)."""
        body = (self.root / name).read_bytes()
        h.send_response(200)
        h.send_header("Content-Type", "video/mp4")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        return body

    @staticmethod
    def _status(h: BaseHTTPRequestHandler, code: int) -> None:
        h.send_response(code)
        h.send_header("Content-Length", "0")
        h.end_headers()

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?")[0].lstrip("/")
        if not path.startswith("fault/"):
            self._send_file(h, path)
            return
        kind, _, rest = path[len("fault/"):].partition("/")
        if kind == "404":
            self._status(h, 404)
        elif kind == "403":
            self._status(h, 403)
        elif kind == "500":
            self._status(h, 500)
        elif kind == "500then200":
            if self.hits[h.path] == 1:  # counted per full path: add ?tag to make a fresh flaky URL
                self._status(h, 500)
            else:
                self._send_file(h, rest)
        elif kind == "slow":
            body = self._start_body(h, rest)
            with contextlib.suppress(OSError):
                for i in range(0, len(body), 64):
                    h.wfile.write(body[i : i + 64])
                    h.wfile.flush()
                    time.sleep(1.0)
        elif kind == "reset":
            body = self._start_body(h, rest)
            h.wfile.write(body[: len(body) // 2])
            h.wfile.flush()
            # an abortive close (RST): linger 0, and close every file object that keeps the fd open
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.close_connection = True
            for handle in (h.rfile, h.wfile, h.connection):
                with contextlib.suppress(OSError, ValueError):
                    handle.close()
        elif kind == "html":
            body = b"<html><body>not a video</body></html>"
            h.send_response(200)
            h.send_header("Content-Type", "text/html")
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)
        elif kind == "huge":
            size = 1 << 34
            h.send_response(200)
            h.send_header("Content-Type", "video/mp4")
            h.send_header("Content-Length", str(size))
            h.end_headers()
            chunk = b"\0" * (1 << 20)
            with contextlib.suppress(OSError):
                for _ in range(size // len(chunk)):
                    h.wfile.write(chunk)
        elif kind == "redirect-loop":
            h.send_response(302)
            h.send_header("Location", "/fault/redirect-loop")
            h.send_header("Content-Length", "0")
            h.end_headers()
        else:
            self._status(h, 404)

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextlib.contextmanager
def serve(root: Path) -> Iterator[FaultServer]:
    server = FaultServer(root).start()
    try:
        yield server
    finally:
        server.stop()
