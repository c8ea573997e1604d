"""A worker stalled (SIGSTOP) for three lease lengths in the middle of sending an email:
another worker sends it, and when the first wakes (SIGCONT) it records nothing and says it
lost the lease.

The SMTP sink holds the first message it is given, so the worker is stopped at a known point:
the email claimed under a lease, no transaction open, the SMTP server already holding the
message. The lease runs out (nobody renews it), the reaper hands the email on, uncounted and
marked uncertain (a duplicate is possible), and the second worker sends it. The reapers here
judge no holder dead for ten minutes, so every hand-on is the "lease ran out" case."""

import asyncio
import email
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller

from apps.core import leases
from apps.crm.messaging.outbox import emails_enqueue
from apps.crm.messaging.rendering import Draft
from apps.crm.messaging.sending import emails_reap
from apps.crm.models import EmailMessage, EmailStatus, Subscriber
from apps.crm.tasks import emails_send
from tests.processes import worker_env, worker_start, worker_stop

EMAILS = 30
LEASE_SECONDS = 3
STALL_SECONDS = 3 * LEASE_SECONDS
DEADLINE_SECONDS = 180


class HoldingSink:
    """Takes every message; holds its answer to the first one until released."""

    def __init__(self):
        self.received: list[int] = []
        self.lock = threading.Lock()
        self.holding = threading.Event()
        self.release = threading.Event()
        self.held_id: int | None = None

    async def handle_DATA(self, server, session, envelope):
        message_id = int(email.message_from_bytes(envelope.content)["X-Tessera-Email"])
        with self.lock:
            self.received.append(message_id)
            hold = self.held_id is None
            if hold:
                self.held_id = message_id
        if hold:
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        return "250 OK"


@pytest.fixture
def sink():
    handler = HoldingSink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, controller.port
    handler.release.set()
    controller.stop()


def _worker(name: str, port: int, log) -> subprocess.Popen:
    return worker_start(
        name=name,
        log=log,
        env=worker_env(
            "email-stall",
            EMAIL_LEASE_SECONDS=str(LEASE_SECONDS),
            WORKER_DEAD_AFTER_SECONDS="600",
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(port),
        ),
    )


def _wait(predicate, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_stalled_sender_loses_its_email_to_another_and_fails_none(
    sink, broker, no_kick, monkeypatch, tmp_path
):
    # given: 30 queued emails, and a reaper that judges no holder dead
    handler, port = sink
    monkeypatch.setattr(leases, "HOLDER_DEAD_AFTER", timedelta(minutes=10))
    Subscriber.objects.bulk_create(Subscriber(email=f"e{i}@example.com") for i in range(EMAILS))
    emails_enqueue(
        [
            Draft(subscriber=p, key=f"stall:{p.pk}", kind="automation", subject="Hi", body="Hi")
            for p in Subscriber.objects.order_by("pk")
        ]
    )
    ids = set(EmailMessage.objects.values_list("pk", flat=True))
    first_log = tmp_path / "first.log"
    with first_log.open("w") as out1, (tmp_path / "second.log").open("w") as out2:
        first = _worker("first", port, out1)
        second = None
        try:
            # when: the first worker is stopped while the SMTP server holds its first email
            emails_send.delay()
            _wait(handler.holding.is_set, "the first worker to send")
            os.killpg(first.pid, signal.SIGSTOP)
            stopped_at = time.monotonic()
            handler.release.set()
            held = handler.held_id
            assert EmailMessage.objects.get(pk=held).status == EmailStatus.SENDING

            # ... a second worker sends everything while the first stays stopped
            second = _worker("second", port, out2)
            deadline = stopped_at + DEADLINE_SECONDS
            while time.monotonic() < deadline and (
                EmailMessage.objects.exclude(status=EmailStatus.SENT).exists()
                or time.monotonic() - stopped_at < STALL_SECONDS
            ):
                emails_reap()
                emails_send.delay()
                time.sleep(0.5)
            sent_during_stall = EmailMessage.objects.get(pk=held).status

            # ... and the first wakes up: the SMTP server's answer reaches it now
            os.killpg(first.pid, signal.SIGCONT)
            lost = re.compile(rf"emails {held}: lost the lease")
            _wait(lambda: out1.flush() or lost.search(first_log.read_text()), "the late write")
        finally:
            handler.release.set()
            if first.poll() is None:
                os.killpg(first.pid, signal.SIGCONT)
                worker_stop(first, sig=signal.SIGKILL)
            if second is not None:
                worker_stop(second, sig=signal.SIGKILL)

    # then: the held email was sent by the second worker during the stall
    assert sent_during_stall == EmailStatus.SENT
    # every email sent, none failed, each send counted once (the stall counted nothing)
    assert Counter(EmailMessage.objects.values_list("status", flat=True)) == {
        EmailStatus.SENT: EMAILS
    }
    assert set(EmailMessage.objects.values_list("attempts", flat=True)) == {1}
    # the one in flight at the stall may have arrived twice, and is the one marked uncertain
    received = Counter(handler.received)
    assert set(received) == ids
    assert {pk for pk, n in received.items() if n > 1} <= {held}
    assert set(EmailMessage.objects.filter(uncertain=True).values_list("pk", flat=True)) == {held}
