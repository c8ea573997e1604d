"""Two workers draining Stripe's events at once: each event is claimed by one of them
(SELECT ... FOR UPDATE SKIP LOCKED), processed once, and every purchase recorded once."""

import threading

import pytest
from django.db import connection

from apps.commerce import stripe_events
from apps.commerce.models import EventStatus, Order, StripeEvent
from apps.crm.models import Purchase
from tests.offerings.helpers import weekly_course

from . import stripe_payloads as sp

EVENTS = 30


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_process_each_event_once(sell, monkeypatch):
    # given: events stored, no worker rung yet
    monkeypatch.setattr(stripe_events, "_kick", lambda: None)
    sell(weekly_course("Foundation Course"), slug="foundation", amount="10.00")
    for n in range(EVENTS):
        session = sp.checkout_session(
            email=f"buyer{n}@example.com", price_slug="foundation", amount=1000
        )
        body, header = sp.signed(sp.event("checkout.session.completed", session))
        stripe_events.stripe_event_receive(body=body.encode(), signature=header, remote_addr=None)
    done: list[int] = []

    def worker():
        try:
            more = True
            while more:
                ran, more = stripe_events.stripe_events_process(limit=5)
                done.append(ran)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    # then
    assert sum(done) == EVENTS
    assert StripeEvent.objects.filter(status=EventStatus.DONE, attempts=1).count() == EVENTS
    assert Order.objects.count() == EVENTS and Purchase.objects.count() == EVENTS
