"""A local HTTP server that answers as Stripe's API reference documents: form-encoded
requests, JSON objects with ``id`` and ``object``, errors as ``{"error": {...}}``. The
library is pointed at it with ``stripe.api_base``; it also serves the stand-in hosted pages
(Checkout, the customer portal) that Stripe's ``url`` fields point to."""

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

VALID_PROMOTION_CODES = {"LAUNCH20": "promo_test_launch20"}


class FakeStripe:
    def __init__(self):
        self.requests: list[tuple[str, str, str]] = []
        self.sessions: dict[str, dict] = {}
        self._ids = itertools.count(1)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def _id(self, prefix: str) -> str:
        return f"{prefix}_test_{next(self._ids):04d}"

    def answer(self, method: str, path: str, form: dict) -> tuple[int, dict | str]:
        one = {k: v[0] for k, v in form.items()}
        if method == "POST" and path == "/v1/customers":
            return 200, {"id": self._id("cus"), "object": "customer", **one}
        if method == "POST" and path == "/v1/checkout/sessions":
            session_id = self._id("cs")
            session = {
                "id": session_id,
                "object": "checkout.session",
                "mode": one.get("mode"),
                "customer": one.get("customer"),
                "success_url": one.get("success_url"),
                "cancel_url": one.get("cancel_url"),
                "metadata": {"tessera_price": one.get("metadata[tessera_price]")},
                "status": "open",
                "url": f"{self.url}/c/pay/{session_id}",
                "form": one,
            }
            self.sessions[session_id] = session
            return 200, session
        if method == "GET" and path == "/v1/promotion_codes":
            code = one.get("code", "")
            data = (
                [{"id": VALID_PROMOTION_CODES[code], "object": "promotion_code", "code": code}]
                if code in VALID_PROMOTION_CODES
                else []
            )
            return 200, {"object": "list", "data": data, "has_more": False, "url": path}
        if method == "POST" and path.startswith("/v1/subscriptions/"):
            sub_id = path.rsplit("/", 1)[1]
            return 200, {"id": sub_id, "object": "subscription", "cancel_at_period_end": True}
        if method == "POST" and path == "/v1/billing_portal/sessions":
            portal = self._id("bps")
            return 200, {
                "id": portal,
                "object": "billing_portal.session",
                "customer": one.get("customer"),
                "return_url": one.get("return_url"),
                "url": f"{self.url}/p/session/{portal}",
            }
        if method == "GET" and path.startswith(("/c/pay/", "/p/session/")):
            title = "Checkout" if path.startswith("/c/") else "Customer portal"
            return 200, f"<!doctype html><title>Stripe {title} (test)</title><h1>{title}</h1>"
        return 404, {
            "error": {
                "type": "invalid_request_error",
                "message": f"Unrecognized request URL ({method}: {path}).",
            }
        }

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self, method: str):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                fake.requests.append((method, parts.path, body or parts.query))
                form = parse_qs(body or parts.query, keep_blank_values=True)
                status, answer = fake.answer(method, parts.path, form)
                html = isinstance(answer, str)
                data = (answer if html else json.dumps(answer)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html" if html else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", "req_test")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802 - http.server's naming
                self._serve("GET")

            def do_POST(self):  # noqa: N802
                self._serve("POST")

            def log_message(self, *args):
                pass

        return Handler
