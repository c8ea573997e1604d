"""A worker SIGKILLed while sending 1,000 emails to a local SMTP sink, then restarted.

Every email arrives; one arrives twice only if the kill fell between the SMTP server taking
it and the commit recording it, and the outbox marks exactly such emails "uncertain"."""

import email
import os
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings
from django.utils import timezone

from apps.crm.messaging.outbox import emails_enqueue
from apps.crm.messaging.rendering import Draft
from apps.crm.messaging.sending import emails_reap
from apps.crm.models import EmailMessage, EmailStatus, Subscriber
from apps.crm.tasks import emails_send
from tests.processes import worker_database_url, worker_start, worker_stop

EMAILS = 1000
DEADLINE_SECONDS = 240


class Sink:
    def __init__(self):
        self.received: list[int] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content)
        with self.lock:
            self.received.append(int(message["X-Tessera-Email"]))
        return "250 OK"


@pytest.fixture
def sink():
    handler = Sink()
    with socket.socket() as probe:  # aiosmtpd checks readiness on the port it was given
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, controller.port
    controller.stop()


def _worker(name: str, port: int) -> subprocess.Popen:
    return worker_start(
        name=name,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SECRET_KEY": "email-kill",
            "DATABASE_URL": worker_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "CONN_MAX_AGE": "0",
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(port),
        },
    )


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_killed_sender_loses_no_email_and_marks_possible_duplicates(sink, broker, no_kick):
    handler, port = sink
    Subscriber.objects.bulk_create(Subscriber(email=f"m{i}@example.com") for i in range(EMAILS))
    people = list(Subscriber.objects.order_by("pk"))
    emails_enqueue(
        [
            Draft(subscriber=p, key=f"kill:{p.pk}", kind="automation", subject="Hi", body="Hello")
            for p in people
        ]
    )
    ids = set(EmailMessage.objects.values_list("pk", flat=True))

    first = _worker("first", port)
    try:
        emails_send.delay()
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline and len(handler.received) < EMAILS // 3:
            assert first.poll() is None, first.stderr.read()[-2000:]
            if not EmailMessage.objects.filter(status=EmailStatus.SENDING).exists():
                emails_send.delay()  # the worker finished a batch: ask for the next
            time.sleep(0.02)
        worker_stop(first, sig=signal.SIGKILL)
        at_kill = len(handler.received)
        assert 0 < at_kill < EMAILS, "the kill should land mid-way"

        # the lease of what the dead worker held runs out; the reaper (beat) hands it back
        in_flight = EmailMessage.objects.filter(status=EmailStatus.SENDING)
        in_flight.update(locked_until=timezone.now() - timedelta(seconds=1))
        emails_reap()
        second = _worker("second", port)
        try:
            deadline = time.monotonic() + DEADLINE_SECONDS
            while (
                time.monotonic() < deadline
                and EmailMessage.objects.exclude(status=EmailStatus.SENT).exists()
            ):
                emails_send.delay()
                time.sleep(0.5)
        finally:
            worker_stop(second, sig=signal.SIGKILL)
    finally:
        if first.poll() is None:
            worker_stop(first, sig=signal.SIGKILL)

    received = Counter(handler.received)
    uncertain = set(EmailMessage.objects.filter(uncertain=True).values_list("pk", flat=True))
    duplicated = {pk for pk, n in received.items() if n > 1}
    assert set(received) == ids, "every email reached the sink"
    assert max(received.values()) <= 2
    assert duplicated <= uncertain, "a duplicate is always flagged"
    assert len(uncertain) <= 1, "only the email in flight at the kill can be uncertain"
    assert not EmailMessage.objects.exclude(status=EmailStatus.SENT).exists()
