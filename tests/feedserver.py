"""A throwaway HTTP server on 127.0.0.1 that serves canned responses, for fetch tests.

    with FeedServer() as server:
        server.route("/feed.xml", RSS_BYTES, headers={"Content-Type": "application/rss+xml"})
        source = make_source(feed_url=server.url("/feed.xml"))
        ...
        assert server.requests_for("/feed.xml")[0].headers["user-agent"].startswith("Daybrief")

In a Django TestCase: `self.server = self.enterContext(FeedServer())` in setUp.

Routes can be changed while the server runs (the next request sees them). A route is
a fixed response, a function of the request, or a stall that sends the headers (and
optionally some bytes) and then waits without a sleep until the server stops, which
lets timeout tests run in milliseconds with a short client timeout.
"""

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from tests.loopback import LoopbackServer


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # with the query string
    headers: Mapping[str, str]  # lower-case names


@dataclass(frozen=True)
class Response:
    body: bytes = b""
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Stall:
    sent: bytes
    headers: Mapping[str, str]
    before_headers: bool
    # With a pace, the server then sends one more byte every `pace` seconds, forever.
    pace: float | None = None


Handler = Callable[[Request], Response]


class FeedServer(LoopbackServer):
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._routes: dict[str, Response | Handler | _Stall] = {}
        self._lock = threading.Lock()
        super().__init__(_make_handler(self))

    def url(self, path: str) -> str:
        return self.base_url + path

    def route(
        self,
        path: str,
        body: bytes | str = b"",
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Serve this response for GET `path` (the query string is ignored)."""
        data = body.encode() if isinstance(body, str) else body
        self._set(path, Response(data, status, dict(headers or {})))

    def route_handler(self, path: str, handler: Handler) -> None:
        """Answer `path` with `handler(request)`, e.g. to honour If-None-Match."""
        self._set(path, handler)

    def stall(
        self,
        path: str,
        sent: bytes = b"",
        headers: Mapping[str, str] | None = None,
        before_headers: bool = False,
    ) -> None:
        """Answer 200 with `headers`, send `sent`, then stop sending until the server
        closes (or send nothing at all with `before_headers`)."""
        self._set(path, _Stall(sent, dict(headers or {}), before_headers))

    def trickle(
        self,
        path: str,
        sent: bytes = b"",
        headers: Mapping[str, str] | None = None,
        pace: float = 0.01,
    ) -> None:
        """Answer 200, send `sent`, then one byte every `pace` seconds until the server
        closes: each read gets data, so only an overall deadline can end the fetch."""
        self._set(path, _Stall(sent, dict(headers or {}), before_headers=False, pace=pace))

    def requests_for(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if urlsplit(r.path).path == path]

    def _set(self, path: str, route: Response | Handler | _Stall) -> None:
        with self._lock:
            self._routes[path] = route

    def _answer(self, request: Request) -> Response | _Stall:
        with self._lock:
            self.requests.append(request)
            route = self._routes.get(urlsplit(request.path).path)
        if route is None:
            return Response(b"no such route", 404, {"Content-Type": "text/plain"})
        if isinstance(route, Response | _Stall):
            return route
        return route(request)


def _make_handler(server: FeedServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            request = Request(
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
            )
            answer = server._answer(request)
            if isinstance(answer, _Stall):
                self._stall(answer)
            else:
                self._respond(answer)

        def _respond(self, response: Response) -> None:
            self.send_response(response.status)
            names = {name.lower() for name in response.headers}
            for name, value in response.headers.items():
                self.send_header(name, value)
            if "content-length" not in names:
                self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD" and response.status not in (204, 304):
                self.wfile.write(response.body)

        def _stall(self, stall: _Stall) -> None:
            if not stall.before_headers:
                self.send_response(200)
                for name, value in stall.headers.items():
                    self.send_header(name, value)
                # Promise more than will come, so the client keeps waiting for it.
                self.send_header("Content-Length", str(len(stall.sent) + 1_000_000))
                self.end_headers()
                self.wfile.write(stall.sent)
                self.wfile.flush()
            if stall.pace is None:
                server.released.wait()
            # The server's own pacing, released at once when the test ends (not a test sleep).
            while stall.pace is not None and not server.released.wait(stall.pace):
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:
                    break  # the client gave up
            self.close_connection = True

        do_HEAD = do_GET

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

    return _Handler
