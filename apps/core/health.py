"""``/healthz``: liveness for load balancers and the compose healthchecks.

``/healthz`` checks the database; ``/healthz?deep=1`` also checks Redis (the cache), the
broker, that a worker answers a ping and that beat's heartbeat is recent, with each check's
detail as JSON; 200 when all pass, 503 naming what failed. The middleware answers it before
anything reads the Host header or redirects to HTTPS: healthchecks call it by address over
plain HTTP, and ``ALLOWED_HOSTS`` holds only the public name. Error details name the
exception's class only (a message can carry addresses).
"""

import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import JsonResponse

HEALTHZ_PATH = "/healthz"
PING_TIMEOUT_SECONDS = 1.0
BROKER_TIMEOUT_SECONDS = 2


class HealthzMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == HEALTHZ_PATH and request.method in ("GET", "HEAD"):
            return healthz(request)
        return self.get_response(request)


def _timed(check: Callable[[], dict]) -> dict:
    started = time.monotonic()
    try:
        detail = check()
    except Exception as exc:
        detail = {"ok": False, "error": type(exc).__name__}
    detail["ms"] = round((time.monotonic() - started) * 1000, 1)
    return detail


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True}


def check_redis() -> dict:
    if not settings.REDIS_URL:
        return {"ok": True, "detail": "not configured (the shared file cache under var/cache/)"}
    from django.core.cache import cache

    cache.set("tessera:healthz", "1", timeout=10)
    return {"ok": cache.get("tessera:healthz") == "1"}


def check_broker() -> dict:
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
    return {"ok": True, "transport": app.conf.broker_url.split("://", 1)[0]}


def check_workers() -> dict:
    """A ping answered by at least one worker; where the broker has no remote control (the
    demo's filesystem broker), a recent worker heartbeat instead."""
    from apps.core.leases import holders_alive
    from config.celery import app

    heartbeats = len(holders_alive())
    if not app.conf.worker_enable_remote_control:
        return {"ok": heartbeats > 0, "heartbeats": heartbeats, "ping": "not on this broker"}
    replies = app.control.ping(timeout=PING_TIMEOUT_SECONDS) or []
    names = sorted(name for reply in replies for name in reply)
    return {"ok": bool(names), "answered": names, "heartbeats": heartbeats}


def check_beat() -> dict:
    from django.db.models.functions import Now

    from apps.core.models import ProcessHeartbeat, ProcessKind

    row = (
        ProcessHeartbeat.objects.filter(kind=ProcessKind.BEAT)
        .annotate(now=Now())
        .order_by("-beat_at")
        .values("beat_at", "now")
        .first()
    )
    if row is None:
        return {"ok": False, "detail": "beat has never written a heartbeat"}
    age = (row["now"] - row["beat_at"]).total_seconds()
    return {"ok": age <= settings.BEAT_STALE_AFTER_SECONDS, "seconds_since_heartbeat": age}


DEEP_CHECKS: dict[str, Callable[[], dict]] = {
    "database": check_database,
    "redis": check_redis,
    "broker": check_broker,
    "worker": check_workers,
    "beat": check_beat,
}


def health_report(*, deep: bool, only: list[str] | None = None) -> dict:
    names = only or (list(DEEP_CHECKS) if deep else ["database"])
    checks = {name: _timed(DEEP_CHECKS[name]) for name in names}
    return {"status": "ok" if all(c["ok"] for c in checks.values()) else "fail", "checks": checks}


def healthz(request):
    deep = request.GET.get("deep") not in (None, "", "0")
    report = health_report(deep=deep)
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
