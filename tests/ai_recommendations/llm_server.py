"""A local HTTP server speaking OpenAI's chat-completions protocol (``POST /v1/chat/completions``
answering a ``chat.completion`` object), for the real ``openai`` client pointed at it through
``XPLORR_LLM_BASE_URL``. ``mode`` chooses the answer: ``ok`` (valid insights JSON, or ``answer``
or ``text``
when set), ``malformed`` (JSON that breaks the schema), ``slow`` (valid, after ``delay``
seconds), ``error`` (HTTP 500).
``requests`` keeps every request body and its Authorization header."""

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GOOD = {
    "insights": [
        {
            "title": "Storage is the fastest-growing service",
            "summary": "Amazon S3 grew 40 % month over month; review lifecycle rules.",
            "category": "spend_trend",
            "severity": "medium",
            "estimated_monthly_savings": 123.456,
            "actions": ["Add lifecycle rules to the largest buckets"],
        },
        {
            "title": "Coverage below target",
            "summary": "Commitments cover 5 % of eligible usage.",
            "category": "commitment",
            "severity": "high",
            "estimated_monthly_savings": None,
            "actions": [],
        },
    ]
}
MALFORMED = {"insights": [{"title": "x", "category": "made-up", "severity": "urgent"}]}


@dataclass
class LlmDouble:
    mode: str = "ok"
    delay: float = 0.0
    answer: dict[str, Any] | None = None  # what "ok" and "slow" answer instead of GOOD
    text: str | None = None  # the answer's content instead of JSON
    requests: list[tuple[dict[str, Any], str]] = field(default_factory=list)

    def completion(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if self.mode == "error":
            return 500, {"error": {"message": "upstream failure", "type": "server_error"}}
        if self.mode == "slow":
            time.sleep(self.delay)
        good = GOOD if self.answer is None else self.answer
        content = json.dumps(MALFORMED if self.mode == "malformed" else good)
        if self.text is not None and self.mode != "malformed":
            content = self.text
        return 200, {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", ""),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }


def serve() -> Iterator[tuple[str, LlmDouble]]:
    """Start the server on a free loopback port: yields (base URL ending in /v1, its state)."""
    double = LlmDouble()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            double.requests.append((body, self.headers.get("Authorization", "")))
            if self.path != "/v1/chat/completions":
                status, answer = 404, {"error": {"message": "not found"}}
            else:
                status, answer = double.completion(body)
            data = json.dumps(answer).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                return  # the client gave up (the slow case)

        def log_message(self, *_args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", double
    finally:
        server.shutdown()
        server.server_close()
