"""Tracing exports where it is told to: OTLP/HTTP to a collector when an endpoint is set, and
JSON lines to a file when one is named."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from services.runtime.tracing import configure_tracing

pytestmark = pytest.mark.integration


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, int]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        self.received.append((self.path, self.headers.get("Content-Type", ""), length))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, str, int]]]]:
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    _Collector.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", _Collector.received
    server.shutdown()


def test_spans_go_to_the_otlp_endpoint_and_the_trace_file(
    collector: tuple[str, list[tuple[str, str, int]]], tmp_path: Path
) -> None:
    # given tracing configured with a collector endpoint and a trace file
    endpoint, received = collector
    trace_file = tmp_path / "spans.jsonl"
    provider = configure_tracing("probe", endpoint, trace_file)
    # when a span ends and the provider flushes
    with provider.get_tracer("probe").start_as_current_span("report received"):
        pass
    assert provider.force_flush(10_000)
    provider.shutdown()
    # then the collector got it over OTLP/HTTP, and the file holds it with its service
    assert [(path, kind) for path, kind, _ in received] == [
        ("/v1/traces", "application/x-protobuf")
    ]
    spans = [json.loads(line) for line in trace_file.read_text().splitlines()]
    assert [s["name"] for s in spans] == ["report received"]
    assert spans[0]["resource"]["attributes"]["service.name"] == "probe"
