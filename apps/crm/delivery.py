"""Outbound webhook deliveries: enqueue in the caller's transaction, send after it commits.

The HTTP call never happens inside a database transaction: a sweep claims due deliveries and
marks them ``sending`` under a lease, commits, then each attempt posts and records its result.
A worker killed mid-attempt leaves the lease to expire; the reaper returns the row to pending
and it is tried again (the receiver may see it twice; the ``webhook-id`` header lets it dedupe).
Redirects are not followed, and a 410 answer means the target is gone for good.
"""

import http.client
import ipaddress
import logging
import secrets
import socket
import time
import urllib.error
import urllib.request
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.core.leases import (
    LeaseKind,
    lease_holder,
    lease_kind_register,
    leases_done,
    leases_hold,
    leases_reap_one,
)
from config import oncommit
from config.doorbell import doorbell_ring

from .lock_objects import deliveries_due
from .models import DeliveryAttempt, DeliveryStatus, WebhookDelivery

logger = logging.getLogger(__name__)

DELIVERY_TIMEOUT_SECONDS = 10
# Deliveries are claimed a few at a time and attempted one after another: the lease covers
# a whole claim of slow attempts (10 x 10 s), with room to spare.
DELIVERY_LEASE = timedelta(minutes=5)
DELIVERY_CLAIM_BATCH = 10
DELIVERY_MAX_PER_TASK = 200
# Spread over about a day, as outbound-hook consumers expect.
DELIVERY_BACKOFF = [
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
    timedelta(hours=2),
    timedelta(hours=4),
    timedelta(hours=8),
    timedelta(hours=8),
]
DELIVERY_MAX_ATTEMPTS = len(DELIVERY_BACKOFF) + 1
RESPONSE_EXCERPT_CHARS = 2000


def _kick() -> None:
    from .tasks import deliveries_send

    doorbell_ring(deliveries_send)


def webhook_delivery_enqueue(
    *, key: str, url: str, body: str, headers: dict | None = None, hook=None
) -> WebhookDelivery:
    """Owe one POST of ``body`` to ``url``; calling again with the same key changes nothing.
    A hook's delivery is signed with the hook's secret at each attempt."""
    delivery, created = WebhookDelivery.objects.get_or_create(
        key=key,
        defaults={
            "url": url,
            "body": body,
            "headers": headers or {},
            "hook": hook,
            "next_attempt_at": timezone.now(),
        },
    )
    if created:
        oncommit.on_commit_once(_kick)
    return delivery


def webhook_deliveries_enqueue(*, rows: list[dict]) -> None:
    """Owe many POSTs at once (the hooks of a dispatch batch): one INSERT, and a key seen
    before changes nothing, as in ``webhook_delivery_enqueue``. Each row holds ``key``,
    ``url``, ``body`` and ``hook``."""
    if not rows:
        return
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(headers={}, next_attempt_at=now, **row) for row in rows],
        ignore_conflicts=True,
    )
    oncommit.on_commit_once(_kick)


def delivery_claim_next(*, now=None) -> tuple[int, int] | None:
    """Claim the oldest due delivery: (id, lease token), or None."""
    claimed = deliveries_claim(now=now, limit=1)
    return claimed[0] if claimed else None


@transaction.atomic
def deliveries_claim(*, now=None, limit: int = DELIVERY_CLAIM_BATCH) -> list[tuple[int, int]]:
    """Claim up to ``limit`` due deliveries, oldest first, in one transaction: (id, lease
    token) pairs. Other workers skip them and take the next ones."""
    now = now or timezone.now()
    ids = [d.pk for d in deliveries_due(now=now, limit=limit)]
    if not ids:
        return []
    token = secrets.randbelow(2**31 - 1) + 1
    WebhookDelivery.objects.filter(pk__in=ids).update(
        status=DeliveryStatus.SENDING,
        locked_until=now + DELIVERY_LEASE,
        lease_token=token,
        lease_holder=lease_holder(),
    )
    pairs = [(pk, token) for pk in ids]
    leases_hold(DELIVERIES_LEASE_KIND, pairs)
    return pairs


DELIVERIES_LEASE_KIND = "deliveries"


def deliveries_reap(*, now=None) -> int:
    """Return deliveries whose worker died (or whose lease ran out) to pending."""
    return leases_reap_one(DELIVERIES_LEASE_KIND, now=now)


def _deliveries_free(ids: list[int], reason: str, counted: bool) -> int:
    freed = WebhookDelivery.objects.filter(pk__in=ids).update(
        status=DeliveryStatus.PENDING,
        next_attempt_at=timezone.now(),
        locked_until=None,
        lease_holder="",
    )
    oncommit.on_commit_once(_kick)
    return freed


lease_kind_register(
    LeaseKind(
        name=DELIVERIES_LEASE_KIND,
        model=WebhookDelivery,
        leased=Q(status=DeliveryStatus.SENDING),
        free=_deliveries_free,
    )
)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def url_origin(url: str) -> str:
    """Scheme and host of a target, for pages that list deliveries: the path may be a
    capability (a Webhook Generator URL carries its signature) and is not theirs to show."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "(no URL)"


def _connect_public(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None):
    """socket.create_connection, refusing a socket whose far end is not a public address.

    The name was checked before connecting, but DNS may answer differently the second time
    (rebinding): this checks the address the socket actually reached, before TLS or a byte
    of the request goes out."""
    sock = socket.create_connection(address, timeout, source_address)
    peer = ipaddress.ip_address(sock.getpeername()[0])
    if not peer.is_global:
        sock.close()
        raise TargetRefused(f"{address[0]} connected to {peer}, a private address")
    return sock


class _CheckedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _connect_public


class _CheckedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _connect_public


class _CheckedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_CheckedHTTPConnection, req)


class _CheckedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_CheckedHTTPSConnection, req, context=self._context)


# Hooks to anywhere public go through the checked opener; the trusted ones (this site's own
# URL, or every target when OUTBOUND_ALLOW_PRIVATE is set) through the plain one.
# No proxy from the environment for public targets: the peer checked must be the target.
_OPENER = urllib.request.build_opener(_NoRedirect)
_PUBLIC_OPENER = urllib.request.build_opener(
    urllib.request.ProxyHandler({}), _NoRedirect, _CheckedHTTPHandler, _CheckedHTTPSHandler
)


class TargetRefused(Exception):
    pass


def _site_origin() -> tuple[str, str, int | None]:
    site = urlsplit(settings.SITE_URL)
    return site.scheme, site.hostname or "", site.port


def target_check(url: str) -> bool:
    """Refuse a target that resolves to a private, loopback or link-local address (SSRF: a
    hook must not reach the cloud metadata service or the database port), unless it is this
    site's own URL or OUTBOUND_ALLOW_PRIVATE is set; return True for those trusted targets."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetRefused(f"not an http(s) URL: {url!r}")
    if settings.OUTBOUND_ALLOW_PRIVATE or (parts.scheme, parts.hostname, parts.port) == (
        _site_origin()
    ):
        return True
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TargetRefused(f"cannot resolve {parts.hostname}: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise TargetRefused(f"{parts.hostname} resolves to {address}, a private address")
    return False


def _post(delivery: WebhookDelivery) -> tuple[int | None, str, str]:
    """POST once; return (status code or None, response excerpt, error)."""
    try:
        trusted = target_check(delivery.url)
    except TargetRefused as exc:
        return None, "", f"refused: {exc}"
    headers = {"Content-Type": "application/json", "User-Agent": "Tessera-Webhooks/1"}
    headers.update(delivery.headers or {})
    if delivery.hook is not None:
        from .hooks import standard_webhooks_headers

        headers.update(
            standard_webhooks_headers(
                secret=delivery.hook.secret,
                message_id=f"msg_{delivery.key.replace(':', '_')}",
                timestamp=int(time.time()),
                body=delivery.body,
            )
        )
    request = urllib.request.Request(
        delivery.url, data=delivery.body.encode(), headers=headers, method="POST"
    )
    try:
        opener = _OPENER if trusted else _PUBLIC_OPENER
        with opener.open(request, timeout=DELIVERY_TIMEOUT_SECONDS) as response:
            return (
                response.status,
                response.read(RESPONSE_EXCERPT_CHARS).decode(errors="replace"),
                "",
            )
    except urllib.error.HTTPError as exc:
        excerpt = exc.read(RESPONSE_EXCERPT_CHARS).decode(errors="replace") if exc.fp else ""
        return exc.code, excerpt, f"HTTP {exc.code}"
    except TargetRefused as exc:
        return None, "", f"refused: {exc}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return None, "", f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"


def webhook_delivery_attempt(*, delivery_id: int, token: int) -> str | None:
    """Make one attempt at a delivery this worker claimed; return its new status. A worker
    whose lease was reaped and re-claimed by another records nothing."""
    delivery = (
        WebhookDelivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.SENDING, lease_token=token
        )
        .select_related("hook")
        .first()
    )
    if delivery is None:
        leases_done(DELIVERIES_LEASE_KIND, [delivery_id])
        return None
    started = time.monotonic()
    code, excerpt, error = _post(delivery)
    DeliveryAttempt.objects.create(
        delivery=delivery,
        status_code=code,
        error=error[:2000],
        duration_ms=int((time.monotonic() - started) * 1000),
    )
    now = timezone.now()
    attempts = delivery.attempts + 1
    if code is not None and 200 <= code < 300:
        status, next_at = DeliveryStatus.DELIVERED, None
    elif code == 410:
        status, next_at = DeliveryStatus.GONE, None
    elif attempts >= DELIVERY_MAX_ATTEMPTS:
        status, next_at = DeliveryStatus.FAILED, None
    else:
        status, next_at = DeliveryStatus.PENDING, now + DELIVERY_BACKOFF[attempts - 1]
    WebhookDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.SENDING, lease_token=token
    ).update(
        status=status,
        attempts=F("attempts") + 1,
        next_attempt_at=next_at,
        locked_until=None,
        last_status_code=code,
        last_error=error,
        response_excerpt=excerpt,
        delivered_at=now if status == DeliveryStatus.DELIVERED else None,
    )
    leases_done(DELIVERIES_LEASE_KIND, [delivery.pk])
    if status == DeliveryStatus.GONE and delivery.hook is not None:
        # Kit's rule, and Standard Webhooks': 410 means the receiver wants no more.
        type(delivery.hook).objects.filter(pk=delivery.hook_id).update(active=False)
    if status != DeliveryStatus.DELIVERED:
        logger.info("webhook delivery %s attempt %s: %s", delivery.key, attempts, error or code)
    return status


def deliveries_send(*, now=None, max_deliveries: int = DELIVERY_MAX_PER_TASK) -> int:
    """Claim due deliveries a few at a time and attempt them one after another; return how
    many were attempted (at most ``max_deliveries``)."""
    deliveries_reap(now=now)
    attempted = 0
    while attempted < max_deliveries:
        claimed = deliveries_claim(
            now=now, limit=min(DELIVERY_CLAIM_BATCH, max_deliveries - attempted)
        )
        if not claimed:
            break
        for delivery_id, token in claimed:
            webhook_delivery_attempt(delivery_id=delivery_id, token=token)
        attempted += len(claimed)
    return attempted
