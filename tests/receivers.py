"""A webhook receiver on loopback for the tests: a standard-library ``ThreadingHTTPServer`` on
127.0.0.1 (a free port) served by a daemon thread, recording every POST and answering as the
test scripts it.

- ``requests``: each request as a :class:`Request` (path, headers lower-cased, raw body, the
  body parsed as JSON or ``None``, the status it was answered with); ``accepted`` counts the
  2xx answers, ``ids()`` the ``webhook-id`` headers, ``of_type(kind)`` picks the JSON bodies
  of one event type.
- ``answers``: the answers to the next requests, one each (a status code or an
  :class:`Answer` with headers and a body), then ``default``; or a callable that takes the
  :class:`Request` and returns the answer.
- ``block_first``: the first request is held without an answer until ``release`` is set
  (``first_arrived`` is set when it comes): the sender hangs mid-dispatch. The answer is
  still attempted afterwards, and a sender that is gone by then is no error.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    json: Any  # the body parsed, None if it is not JSON
    status: int  # what it was answered with (0 in the one a callable ``answers`` is given)


AnswerLike = int | Answer


class Receiver:
    def __init__(self, *, default: AnswerLike = 200, block_first: bool = False) -> None:
        self.answers: list[AnswerLike] | Callable[[Request], AnswerLike] = []
        self.default = default
        self.block_first = block_first
        self.first_arrived = threading.Event()
        self.release = threading.Event()
        self._requests: list[Request] = []
        self._lock = threading.Lock()
        self._closed = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                answer, first = receiver._record(self.path, headers, body)
                if first:
                    receiver.first_arrived.set()
                    if receiver.block_first:
                        receiver.release.wait(60)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:  # the sender was killed meanwhile
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port: int = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def _record(self, path: str, headers: dict[str, str], body: bytes) -> tuple[Answer, bool]:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
        with self._lock:
            if callable(self.answers):
                answer = self.answers(Request(path, headers, body, parsed, 0))
            else:
                answer = self.answers.pop(0) if self.answers else self.default
            if isinstance(answer, int):
                answer = Answer(answer)
            self._requests.append(Request(path, headers, body, parsed, answer.status))
            return answer, len(self._requests) == 1

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    @property
    def accepted(self) -> int:
        return sum(200 <= r.status < 300 for r in self.requests)

    def ids(self) -> Counter:
        return Counter(r.headers.get("webhook-id") for r in self.requests)

    def of_type(self, kind: str) -> list[dict]:
        return [r.json for r in self.requests if r.json["type"] == kind]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def receiver_fixture(name: str = "receiver", **options: Any):
    """A pytest fixture, named ``name``, giving a ``Receiver(**options)`` closed after the test."""

    @pytest.fixture(name=name)
    def fixture():
        r = Receiver(**options)
        yield r
        r.close()

    return fixture
