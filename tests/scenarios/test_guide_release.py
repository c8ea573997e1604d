"""The guide's release steps, replayed end to end in one Tessera.

Purchase tag -> the release automation adds the release-webhook tag -> the built-in CRM delivers
Kit's payload to the Webhook Generator's URL on this site (in process: the same checks and call
log as over HTTP) -> the member is
created, access granted, the immediate module released, the trigger tag removed -> the member
gets in (a set-password link by default; the stored password with the offering's opt-in)."""

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.urls import reverse

from apps.automations.models import Automation
from apps.automations.seed import seed_guide_automations
from apps.crm.models import DeliveryStatus, EmailMessage, SubscriberFieldValue, WebhookDelivery
from apps.members.models import CallStatus, Member, Operation, WebhookCall
from apps.members.services import endpoint_mint
from apps.offerings.models import AccessGrant, ModuleRelease
from apps.tags.services import tag_get_or_create
from tests.automations.helpers import tag, tags_of
from tests.factories import SubscriberFactory
from tests.offerings.helpers import weekly_course

FC = "Foundation Course"


@pytest.fixture
def guide_site(live_server, settings):
    """Offering, release automation and the release endpoint fired by its tag."""
    settings.SITE_URL = live_server.url

    def build(*, store_password: bool):
        course = weekly_course(FC, store_password=store_password)
        seed_guide_automations()
        endpoint = endpoint_mint(
            operation=Operation.RELEASE,
            offering=course,
            trigger_tag=tag_get_or_create(name=f"{FC} – Release Webhook")[0],
        )
        return course, endpoint

    return build


def _purchase(email: str):
    buyer = SubscriberFactory(email=email, first_name="Ada")
    tag(buyer, f"{FC} – Purchase Success")  # committed: workers (eager here) take it from here
    return buyer


def assert_no_plaintext_password_anywhere(subscriber) -> None:
    """Without the opt-in no password exists to leak: not in a field, an event, an email."""
    from apps.crm.models import Event

    assert not SubscriberFieldValue.objects.filter(
        subscriber=subscriber, field__key="accessally_password"
    ).exists()
    payloads = str(list(Event.objects.filter(subscriber=subscriber).values_list("payload")))
    assert "password" not in payloads.replace("password_stored", "")


@pytest.mark.django_db(transaction=True)
def test_release_by_tag_over_http_then_set_password_and_see_the_course(
    guide_site, client, live_server
):
    course, endpoint = guide_site(store_password=False)

    buyer = _purchase("ada@example.com")

    # the hook reached our own endpoint, which ran the release
    endpoint.refresh_from_db()
    delivery = WebhookDelivery.objects.get(hook=endpoint.hook)
    assert (delivery.status, delivery.last_status_code) == (DeliveryStatus.DELIVERED, 202)
    assert WebhookCall.objects.get().status == CallStatus.DONE
    member = Member.objects.get(subscriber=buyer)
    grant = AccessGrant.objects.get(subscriber=buyer, offering=course)
    assert grant.revoked_at is None
    assert list(
        ModuleRelease.objects.filter(grant=grant).values_list("module__position", flat=True)
    ) == [1]
    assert f"{FC} – Release Webhook" not in tags_of(buyer)  # removed after the operation ran
    assert Automation.objects.get(name=f"{FC} – Release").runs.get().status == "waiting"
    # no password anywhere: the member's way in is the one-time link, in the welcome email
    assert not member.user.has_usable_password()
    assert not SubscriberFieldValue.objects.filter(subscriber=buyer).exists()
    welcome = EmailMessage.objects.get(subscriber=buyer, kind="automation")
    assert welcome.status == "sent"
    assert welcome.subject == "Welcome to the Foundation Course"
    assert f"{live_server.url}/login/" in welcome.body_text
    assert "Choose your password (the link works once): http" in welcome.body_text
    assert "Your password" not in welcome.body_text
    sent = mail.outbox[-1]
    assert sent.to == ["ada@example.com"] and sent.body == welcome.body_text
    assert_no_plaintext_password_anywhere(buyer)

    link = urlsplit(re.search(r"(http\S+/password/set/\S+/)", welcome.body_text).group(1)).path
    form = client.get(link, follow=True)
    client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "my own pass 2026", "new_password2": "my own pass 2026"},
    )
    client.post(
        reverse("members:login"),
        {"email": "ada@example.com", "password": "my own pass 2026", "action": "password"},
    )
    dashboard = client.get(reverse("members:dashboard")).content.decode()

    assert FC in dashboard
    assert "0 %" in dashboard


@pytest.mark.django_db(transaction=True)
def test_with_the_opt_in_the_password_in_the_crm_field_logs_the_member_in(guide_site, client):
    guide_site(store_password=True)

    buyer = _purchase("grace@example.com")

    stored = SubscriberFieldValue.objects.get(subscriber=buyer, field__key="accessally_password")
    assert len(stored.value) >= 16
    welcome = EmailMessage.objects.get(subscriber=buyer, kind="automation")
    assert f"Your password: {stored.value}" in welcome.body_text
    assert "set_password" not in welcome.body_text
    response = client.post(
        reverse("members:login"),
        {"email": "grace@example.com", "password": stored.value, "action": "password"},
    )
    assert response.status_code == 302
    assert FC in client.get(reverse("members:dashboard")).content.decode()


@pytest.mark.django_db(transaction=True)
def test_the_demo_member_who_has_a_login_buys_again_and_is_welcomed(live_server, settings, capsys):
    """Issue 13's reproduction: ``seed_demo``, then the purchase tag on member@example.com
    (who already has a login). The release creates no login; the flow still moves on."""
    from django.core.management import call_command

    from apps.automations.models import RunStatus
    from apps.crm.models import Subscriber
    from apps.members.services import operation_run
    from apps.offerings.models import Offering

    settings.SITE_URL, settings.DEBUG = live_server.url, True
    call_command("seed_demo")
    capsys.readouterr()
    member = Subscriber.objects.get(email="member@example.com")
    # a refund first: the re-purchase must grant again, not find access still there
    operation_run(
        operation=Operation.REVOKE,
        offering=Offering.objects.get(name=FC),
        email=member.email,
        source="refund",
    )

    tag(member, f"{FC} – Purchase Success")  # the hook POSTs to the live server's endpoint

    run = Automation.objects.get(name=f"{FC} – Release").runs.get(subscriber=member)
    assert (run.status, run.current_node.kind) == (RunStatus.WAITING, "delay")
    welcome = EmailMessage.objects.get(subscriber=member, kind="automation")
    assert welcome.status == "sent"
    assert f"{live_server.url}/login/link/" in welcome.body_text
    assert "Choose your password" not in welcome.body_text
    assert AccessGrant.objects.get(subscriber=member).revoked_at is None
    assert f"{FC} – Release Webhook" not in tags_of(member)
