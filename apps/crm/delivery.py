"""Outbound webhook deliveries: enqueue in the caller's transaction, send after it commits.

The HTTP call never happens inside a database transaction: a sweep claims due deliveries and
marks them ``sending`` under a lease (``apps/core/outbox.py``), commits, then each attempt
posts and records its result under the lease's token. A worker killed mid-attempt stops
beating; the reaper returns the row to pending and it is tried again (the receiver may see it
twice; the ``webhook-id`` header lets it dedupe). A worker that stalled past its lease finds
the row handed on and records nothing. Redirects are not followed, and a 410 answer means the
target is gone for good.
"""

import http.client
import ipaddress
import logging
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.core import oncommit
from apps.core.doorbell import doorbell_ring
from apps.core.leases import LeaseKind, lease_kind_register, leases_reap_one
from apps.core.outbox import (
    backoff,
    drain_until_short,
    error_text,
    lease_claim,
    lease_finish,
    lease_row,
)

from .lock_objects import deliveries_due
from .models import DeliveryAttempt, DeliveryStatus, WebhookDelivery

logger = logging.getLogger(__name__)

DELIVERY_TIMEOUT_SECONDS = 10
# Deliveries are claimed a few at a time and attempted one after another: the lease covers
# a whole claim of slow attempts (10 x 10 s), with room to spare (and is renewed meanwhile).
DELIVERY_LEASE = timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
DELIVERY_CLAIM_BATCH = 10
DELIVERY_MAX_PER_TASK = 200
# Spread over about a day, as outbound-hook consumers expect: 30 s, 1.5 min, 4.5 min ...
# tripling up to 8 hours.
DELIVERY_RETRIES = 9
DELIVERY_BACKOFF = [
    backoff(attempts=n, base=timedelta(seconds=30), factor=3, cap=timedelta(hours=8))
    for n in range(1, DELIVERY_RETRIES + 1)
]
DELIVERY_MAX_ATTEMPTS = DELIVERY_RETRIES + 1
RESPONSE_EXCERPT_CHARS = 2000
# An attempt's error starting so: a target never to be called (fails without retries).
REFUSED = "refused: "


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


DELIVERIES_LEASE_KIND = "deliveries"


def deliveries_claim(*, now=None, limit: int = DELIVERY_CLAIM_BATCH) -> list[tuple[int, int]]:
    """Claim up to ``limit`` due deliveries, oldest first, in one transaction: (id, lease
    token) pairs. Other workers skip them and take the next ones."""
    now = now or timezone.now()
    return lease_claim(DELIVERIES_LEASE_KIND, deliveries_due(now=now), limit=limit, now=now)


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
        lease=DELIVERY_LEASE,
        claimed={"status": DeliveryStatus.SENDING},
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
    peer = ipaddress.ip_address(sock.getpeername()[0].split("%", 1)[0])
    if not address_is_public(peer):
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
    """A target this site will never call (a private address): the delivery fails at once,
    since a retry would meet the same answer for a day."""


class TargetUnresolved(Exception):
    """A name that did not resolve: DNS may answer later, so the delivery is retried."""


# IPv6 ranges that carry or reach an IPv4 address (a 6to4 relay, NAT64, the deprecated
# IPv4-compatible form) or that are private by another name (site-local): Python's
# ``is_global`` lets some of them through, and each can lead back to 127.0.0.1 or 10/8.
_REFUSED_V6 = tuple(
    ipaddress.ip_network(net)
    for net in ("::/96", "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32", "fec0::/10")
)


def address_is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a hook may reach ``address``: a global address, never one of the IPv6 forms
    above, and an IPv4-mapped address judged by its IPv4 part."""
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return address_is_public(address.ipv4_mapped)
        if any(address in net for net in _REFUSED_V6):
            return False
    return address.is_global


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
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetUnresolved(f"cannot resolve {parts.hostname}: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not address_is_public(address):
            raise TargetRefused(f"{parts.hostname} resolves to {address}, a private address")
    return False


# Receivers of this site's own URLs, filled by the apps that own them (members: the Webhook
# Generator): function(path, body, headers) -> (status, answer) or None when not theirs.
_LOCAL_RECEIVERS: list[Callable[..., tuple[int, str] | None]] = []


def local_receiver_register(receive: Callable[..., tuple[int, str] | None]) -> None:
    if receive not in _LOCAL_RECEIVERS:
        _LOCAL_RECEIVERS.append(receive)


def _own_path(url: str) -> str | None:
    """The path of a URL on this site's own origin, else None."""
    parts = urlsplit(url)
    if (parts.scheme, parts.hostname, parts.port) != _site_origin():
        return None
    site_path = urlsplit(settings.SITE_URL).path.rstrip("/")
    return parts.path[len(site_path) :] if parts.path.startswith(site_path) else None


def _deliver_local(delivery: WebhookDelivery, headers: dict) -> tuple[int, str] | None:
    """A delivery to one of our own URLs handled in process (DESIGN: no HTTP to ourselves):
    the same checks and call log, and no share in the limits that the network's callers fill
    (behind a proxy they all arrive from one address)."""
    path = _own_path(delivery.url)
    if path is None:
        return None
    for receive in _LOCAL_RECEIVERS:
        answer = receive(path=path, body=delivery.body, headers=headers)
        if answer is not None:
            return answer
    return None


def _post(delivery: WebhookDelivery) -> tuple[int | None, str, str]:
    """POST once; return (status code or None, response excerpt, error)."""
    try:
        trusted = target_check(delivery.url)
    except TargetRefused as exc:
        return None, "", f"{REFUSED}{exc}"
    except TargetUnresolved as exc:
        return None, "", str(exc)
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
    local = (
        _deliver_local(delivery, headers) if trusted and settings.WEBHOOKS_LOCAL_DELIVERY else None
    )
    if local is not None:
        code, answer = local
        return code, answer[:RESPONSE_EXCERPT_CHARS], "" if 200 <= code < 300 else f"HTTP {code}"
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
        return None, "", f"{REFUSED}{exc}"
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TargetRefused):  # the rebinding check, inside urllib
            return None, "", f"{REFUSED}{exc.reason}"
        return None, "", f"{type(exc).__name__}: {exc.reason}"
    except (TimeoutError, OSError) as exc:
        return None, "", f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"


def webhook_delivery_attempt(*, delivery_id: int, token: int) -> str | None:
    """Make one attempt at a delivery this worker claimed; return its new status. A worker
    whose lease was handed on to another (it stalled) records nothing and returns None."""
    delivery = lease_row(
        DELIVERIES_LEASE_KIND,
        delivery_id,
        token,
        queryset=WebhookDelivery.objects.select_related("hook"),
    )
    if delivery is None:
        return None
    started = time.monotonic()
    code, excerpt, error = _post(delivery)
    duration_ms = int((time.monotonic() - started) * 1000)
    now = timezone.now()
    attempts = delivery.attempts + 1
    if code is not None and 200 <= code < 300:
        status, next_at = DeliveryStatus.DELIVERED, None
    elif code == 410:
        status, next_at = DeliveryStatus.GONE, None
    elif attempts >= DELIVERY_MAX_ATTEMPTS or error.startswith(REFUSED):
        status, next_at = DeliveryStatus.FAILED, None
    else:
        status, next_at = DeliveryStatus.PENDING, now + DELIVERY_BACKOFF[attempts - 1]
    with transaction.atomic():
        if not lease_finish(
            DELIVERIES_LEASE_KIND,
            delivery.pk,
            token,
            status=status,
            attempts=F("attempts") + 1,
            next_attempt_at=next_at,
            last_status_code=code,
            last_error=error_text(error),
            response_excerpt=excerpt,
            delivered_at=now if status == DeliveryStatus.DELIVERED else None,
        ):
            return None
        DeliveryAttempt.objects.create(
            delivery=delivery, status_code=code, error=error_text(error), duration_ms=duration_ms
        )
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

    def batch(limit: int) -> int:
        claimed = deliveries_claim(now=now, limit=limit)
        for delivery_id, token in claimed:
            webhook_delivery_attempt(delivery_id=delivery_id, token=token)
        return len(claimed)

    attempted, _ = drain_until_short(
        batch, size=DELIVERY_CLAIM_BATCH, max_batches=max_deliveries, total_max=max_deliveries
    )
    return attempted
