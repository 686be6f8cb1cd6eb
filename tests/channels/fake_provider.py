"""A small real HTTP server for channel tests: it records every request and answers from a
script (a list of answers used in order, the last one repeating), so tests can speak the Twilio,
Mastodon and shop shapes and play a provider that hangs, 429s, 5xxs or answers garbage."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    """What to answer: a status, a body (JSON-encoded unless bytes), headers, an optional delay."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Responder = Callable[[Seen], Answer]


@dataclass
class FakeProvider:
    url: str
    seen: list[Seen]
    script: list[Answer | Responder]

    def answer(self, *answers: Answer | Responder) -> None:
        """Replace the script."""
        self.script[:] = list(answers)

    def requests(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        return [
            s
            for s in self.seen
            if (method is None or s.method == method) and (path is None or s.path == path)
        ]


@contextmanager
def fake_provider(*answers: Answer | Responder) -> Iterator[FakeProvider]:
    """Run the server on a free port for the ``with`` block."""
    seen: list[Seen] = []
    script: list[Answer | Responder] = list(answers) or [Answer()]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Seen(
                self.command, self.path, dict(self.headers.items()), self.rfile.read(length)
            )
            with lock:
                seen.append(request)
                step = script.pop(0) if len(script) > 1 else script[0]
            reply = step(request) if callable(step) else step
            if reply.delay:
                time.sleep(reply.delay)
            body = reply.body
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            try:
                self.send_response(reply.status)
                content_type = "application/json" if not isinstance(body, bytes) else "text/plain"
                self.send_header("Content-Type", content_type)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        do_GET = _handle
        do_POST = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield FakeProvider(f"http://127.0.0.1:{server.server_address[1]}", seen, script)
    finally:
        server.shutdown()
        server.server_close()
