"""The admin checks Django permissions on every view, Django's and our own (builder, tag map,
email preview, Webhook Generator, import, health): every admin URL × {no permission, view
only, full} for a staff user. The email preview needs "view email" and hides secrets from
those who may not see them (M1)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import URLResolver, reverse
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, SolarSchedule
from rest_framework.authtoken.models import Token

from apps.api.kit_import import kit_import_create
from apps.api.services import api_credentials_get, api_key_create
from apps.automations.models import Automation, Node, Run
from apps.commerce.models import (
    EventStatus,
    Order,
    OrderStatus,
    StripeEvent,
    Subscription,
)
from apps.commerce.services import product_create
from apps.crm.imports.services import subscriber_import_create
from apps.crm.models import (
    Broadcast,
    EmailLayout,
    EmailMessage,
    EmailTemplate,
    Form,
    Hook,
    Purchase,
    Sequence,
    SequenceEmail,
    WebhookDelivery,
)
from apps.learning.services.certificates import (
    certificate_template_create,
    certificates_issue_due,
)
from apps.learning.services.quizzes import quiz_attempt_submit
from apps.members.models import Member, Operation, WebhookCall
from apps.members.services import endpoint_mint, member_login_ensure, operation_run
from apps.offerings.models import Lesson, LessonAttachment
from apps.offerings.services import lesson_complete
from apps.tags.models import Segment
from tests.automations.helpers import build, on_tag, settle, tag, wait
from tests.factories import CustomFieldFactory, SubscriberFactory
from tests.learning.helpers import module_one_check, track_choice
from tests.offerings.helpers import weekly_course
from tests.staff import FULL, NONE, VIEW, staff_user

pytestmark = pytest.mark.django_db

READ = {NONE: 403, VIEW: 200, FULL: 200}
WRITE = {NONE: 403, VIEW: 403, FULL: 200}
NOBODY = {NONE: 403, VIEW: 403, FULL: 403}

# Models whose admin adds nothing (rows come from the system, or from a page of their own:
# the Webhook Generator mints endpoints, releases make members) or deletes nothing (logs).
NO_ADD = {
    "crm.event",
    "crm.webhookdelivery",
    "crm.emailmessage",
    "crm.purchase",
    "automations.run",
    "offerings.accessgrant",
    "members.member",
    "members.webhookendpoint",
    "members.webhookcall",
    "api.apicredential",
    # Stripe and the carts write these; staff read them.
    "commerce.order",
    "commerce.subscription",
    "commerce.stripeevent",
    # Members make these (a quiz attempt, an issued certificate).
    "learning.quizattempt",
    "learning.certificate",
}
NO_DELETE = {
    "crm.event",
    "crm.webhookdelivery",
    "crm.emailmessage",
    "automations.run",
    "members.webhookcall",
    "commerce.order",
    "commerce.subscription",
    "commerce.stripeevent",
    # API keys are revoked, never deleted (the row records what was issued).
    "api.apikey",
}


def _generic(label: str) -> dict[str, tuple[str, dict]]:
    """Django's five pages of a model: url name -> (method, expected per level)."""
    prefix = label.replace(".", "_")
    return {
        f"{prefix}_changelist": ("get", READ),
        f"{prefix}_add": ("get", NOBODY if label in NO_ADD else WRITE),
        f"{prefix}_change": ("get", READ),
        f"{prefix}_delete": ("get", NOBODY if label in NO_DELETE else WRITE),
        f"{prefix}_history": ("get", READ),
    }


def _redirect(status: int = 302) -> dict:
    return {NONE: 403, VIEW: 403, FULL: status}


# Our own views: url name -> (method, expected per level).
CUSTOM = {
    "index": ("get", {NONE: 200, VIEW: 200, FULL: 200}),  # health shows what one may open
    "app_list": ("get", {NONE: 404, VIEW: 200, FULL: 200}),  # Django: no such page for them
    "auth_user_password_change": ("get", WRITE),
    "automations_automation_builder": ("get", READ),
    "automations_builder_new": ("get", WRITE),
    "automations_builder_add": ("post", WRITE),
    "automations_builder_edit": ("post", WRITE),
    "automations_builder_delete": ("post", WRITE),
    "automations_builder_trigger_add": ("post", WRITE),
    "automations_builder_trigger_delete": ("post", WRITE),
    "automations_builder_status": ("post", WRITE),
    "automations_builder_skip_wait": ("post", WRITE),
    "automations_automation_template": ("get", WRITE),
    "crm_sequenceemail_preview": ("get", READ),
    "crm_broadcast_audience_count": ("get", READ),
    "crm_broadcast_send": ("get", WRITE),
    "crm_broadcast_test": ("post", _redirect()),
    "offerings_lesson_attachment": ("get", READ),
    "crm_subscriberimport_status": ("get", READ),
    "members_webhookendpoint_rotate": ("post", _redirect()),
    "members_webhookendpoint_revoke": ("post", _redirect()),
    "tags_tag_map": ("get", READ),
    "tags_tag_map_csv": ("get", READ),
    "tags_tag_suggest": ("get", READ),
    # The subscriber page's hand tools change the subscriber.
    "crm_subscriber_fields": ("post", _redirect()),
    "crm_subscriber_state": ("post", _redirect()),
    "tags_subscriber_tag_add": ("post", _redirect()),
    "tags_subscriber_tag_remove": ("post", _redirect()),
}
# The generator page's form mints a URL: a POST to its list page.
MINT = ("members_webhookendpoint_changelist", "post")

# Pages every staff user has for their own account, and Django's autocomplete and
# view-on-site, which check the target model's permission themselves.
NOT_IN_MATRIX = {
    "login",
    "logout",
    "password_change",
    "password_change_done",
    "autocomplete",
    "jsi18n",
    "view_on_site",
}


def _matrix() -> dict[tuple[str, str], dict]:
    rows = {}
    for model in admin.site._registry:
        for name, (method, expected) in _generic(model._meta.label_lower).items():
            rows[(name, method)] = expected
    for name, (method, expected) in CUSTOM.items():
        rows[(name, method)] = expected
    rows[MINT] = _redirect()
    return rows


def _admin_url_names(patterns) -> set[str]:
    names = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            names |= _admin_url_names(pattern.url_patterns)
        elif pattern.name:
            names.add(pattern.name)
    return names


@pytest.fixture
def world(db):
    """One row of every model the admin shows, and what the custom views need."""
    return _world_build()


@pytest.fixture(scope="class")
def world_once(django_db_setup, django_db_blocker):
    """The same world, built once for a class of tests in a transaction rolled back after
    the last of them. Each test runs in a savepoint inside it (pytest-django's ``django_db``),
    so what one test changes (a FULL user's POST deletes a row) is undone before the next;
    the 260 matrix rows no longer build the world 260 times."""
    with django_db_blocker.unblock(), transaction.atomic():
        built = _world_build()
        yield built
        transaction.set_rollback(True)


def _world_build() -> dict:
    course = weekly_course()
    operation_run(operation=Operation.RELEASE, offering=course, email="m@example.com", source="t")
    flow = build(triggers=on_tag("Go"), steps=[wait(1, "days")])
    person = SubscriberFactory(is_test=True)
    tag(person, "Go")
    settle()
    idle = build(triggers=on_tag("Idle"), steps=[wait(1, "days")], name="Idle")
    subscriber = Member.objects.get().subscriber
    sequence = Sequence.objects.create(name="Welcome")
    endpoint = endpoint_mint(operation=Operation.RELEASE, offering=course)
    WebhookCall.objects.create(endpoint=endpoint, http_status=202, status="done")
    EmailMessage.objects.create(
        subscriber=subscriber,
        key="t:1",
        kind="system",
        to_email=subscriber.email,
        subject="Hi",
        body_text="Set your password: https://example.com/set/secret-token/",
    )
    WebhookDelivery.objects.create(key="t:1", url="https://example.com/hook")
    Purchase.objects.create(
        transaction_id="tx-1",
        subscriber=subscriber,
        email_address=subscriber.email,
        transaction_time=datetime(2026, 1, 1, tzinfo=UTC),
    )
    SequenceEmail.objects.create(sequence=sequence, subject="Hi", body="Hello")
    Form.objects.create(name="Signup")
    CustomFieldFactory()
    Broadcast.objects.create(subject="News")
    EmailLayout.objects.create(name="Brand", html="{{ content }} {{ unsubscribe_url }}")
    Hook.objects.create(event_name="subscriber_activate", target_url="https://e.com", secret="s")
    subscriber_import_create(data=b"email\na@example.com\n", filename="people.csv")
    api_credentials_get()
    api_key_create(name="Zapier")
    kit_import_create(api_key="kit_x", base_url="https://api.kit.com")
    Segment.objects.create(name="Buyers", condition={"has": 1})
    EmailTemplate.objects.create(name="Classic")
    Token.objects.create(user=User.objects.create_user("token-holder", is_staff=True))
    ClockedSchedule.objects.create(clocked_time=datetime(2026, 1, 1, tzinfo=UTC))
    CrontabSchedule.objects.create()
    SolarSchedule.objects.create(event="sunrise", latitude=0, longitude=0)
    member_login_ensure(subscriber=subscriber, source="t")
    price = product_create(offering=course, name="Course", slug="course", amount=Decimal(10))
    Order.objects.create(
        external_id="cs_1",
        source="stripe",
        subscriber=subscriber,
        offering=course,
        price=price,
        status=OrderStatus.PAID,
        currency="USD",
        amount=Decimal(10),
        paid_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    Subscription.objects.create(
        stripe_id="sub_1", subscriber=subscriber, price=price, started_at=timezone.now()
    )
    StripeEvent.objects.create(event_id="evt_1", status=EventStatus.DONE, http_status=200)
    quiz = module_one_check()
    quiz_attempt_submit(subscriber=subscriber, quiz=quiz, answers={})
    track_choice(course)
    certificate_template_create(offering=course, name="Completion", variants=[("All", None)])
    for lesson in Lesson.objects.filter(offering=course).select_related("module"):
        lesson_complete(subscriber=subscriber, lesson=lesson)
    certificates_issue_due(subscriber_ids=[subscriber.pk])
    attachment = LessonAttachment(lesson=Lesson.objects.first(), title="Worksheet")
    attachment.file.save("worksheet.pdf", ContentFile(b"%PDF-1.4 worksheet"), save=True)
    return {
        "flow": flow,
        "idle": idle,
        "run": Run.objects.get(automation=flow, subscriber=person),
        "person": person,
        "endpoint": endpoint,
        "sequence_email": SequenceEmail.objects.get(),
    }


def _url(name: str, world) -> str:
    flow, idle = world["flow"], world["idle"]
    node = Node.objects.filter(automation=flow).first()
    args = {
        "app_list": {"app_label": "crm"},
        "auth_user_password_change": {"id": User.objects.order_by("pk").first().pk},
        "automations_builder_edit": {"automation_id": flow.pk, "node_id": node.pk},
        "automations_builder_delete": {"automation_id": idle.pk, "node_id": idle.nodes.get().pk},
        "automations_builder_trigger_delete": {
            "automation_id": idle.pk,
            "trigger_id": idle.triggers.get().pk,
        },
        "automations_builder_skip_wait": {"automation_id": flow.pk, "run_id": world["run"].pk},
        "crm_sequenceemail_preview": {"pk": world["sequence_email"].pk},
        "crm_broadcast_send": {"pk": Broadcast.objects.get().pk},
        "crm_broadcast_test": {"pk": Broadcast.objects.get().pk},
        "offerings_lesson_attachment": {"pk": LessonAttachment.objects.get().pk},
        "crm_subscriberimport_status": {
            "pk": apps.get_model("crm.subscriberimport").objects.get().pk
        },
        "members_webhookendpoint_rotate": {"pk": world["endpoint"].pk},
        "members_webhookendpoint_revoke": {"pk": world["endpoint"].pk},
        "crm_subscriber_fields": {"pk": world["person"].pk},
        "crm_subscriber_state": {"pk": world["person"].pk},
        "tags_subscriber_tag_add": {"subscriber_id": world["person"].pk},
        "tags_subscriber_tag_remove": {
            "subscriber_id": world["person"].pk,
            "tag_id": world["person"].taggings.first().tag_id,
        },
    }
    if name in args:
        return reverse(f"admin:{name}", kwargs=args[name])
    if name.startswith("automations_builder") or name == "automations_automation_builder":
        return reverse(f"admin:{name}", kwargs={"automation_id": flow.pk})
    for suffix in ("_change", "_delete", "_history"):
        if name.endswith(suffix):
            model = next(
                m
                for m in admin.site._registry
                if name == f"{m._meta.label_lower.replace('.', '_')}{suffix}"
            )
            obj = idle if model is Automation else model.objects.order_by("pk").first()
            assert obj is not None, f"the fixture makes no {model._meta.label}"
            return reverse(f"admin:{name}", args=[obj.pk])
    return reverse(f"admin:{name}")


def _post_data(name: str, world) -> dict:
    offering = world["endpoint"].offering_id
    return {
        "automations_builder_add": {"kind": "end", "parent": "", "position": "0"},
        "automations_builder_edit": {"amount": "2", "unit": "days"},
        "automations_builder_trigger_add": {"event_type": "tag_add", "tag": "Another"},
        "automations_builder_status": {"status": "paused"},
        "members_webhookendpoint_changelist": {"operation": "release", "offering": offering},
        "tags_subscriber_tag_add": {"name": "Go"},
        "crm_subscriber_state": {"state": "active"},
    }.get(name, {})


def test_the_matrix_names_every_admin_view():
    names = _admin_url_names(admin.site.get_urls())
    covered = {name for name, _method in _matrix()} | NOT_IN_MATRIX
    assert names == covered


class TestTheMatrix:
    @pytest.mark.parametrize("row", sorted(_matrix()), ids=lambda r: f"{r[1].upper()} {r[0]}")
    def test_every_admin_view_checks_django_permissions(self, client, world_once, row):
        world = world_once
        name, method = row
        got = {}
        # The levels in this order: only "full" may change anything, and it comes last.
        for level in (NONE, VIEW, FULL):
            # given a staff user at this level, logged in
            client.force_login(staff_user(f"staff-{level}", level))
            # when they open (or post to) the view, as the builder's htmx does
            response = getattr(client, method)(
                _url(name, world), _post_data(name, world), HTTP_HX_REQUEST="true"
            )
            got[level] = response.status_code
        # then each gets what their level allows
        assert got == _matrix()[row]


# The email preview (M1) --------------------------------------------------------------------


@pytest.fixture
def welcome_email():
    course = weekly_course(store_password=True)
    operation_run(operation=Operation.RELEASE, offering=course, email="m@example.com", source="t")
    sequence = Sequence.objects.create(name="Welcome")
    email = SequenceEmail.objects.create(
        sequence=sequence,
        subject="Welcome",
        body="Password: {{ subscriber.accessally_password }}\nLogin: {{ login_url }}",
    )
    member = Member.objects.select_related("subscriber").get()
    return email, member


def _preview(client, email, member):
    url = reverse("admin:crm_sequenceemail_preview", args=[email.pk])
    return client.get(url, {"subscriber": member.subscriber_id})


def test_the_preview_needs_view_email_and_view_subscriber(client, welcome_email):
    email, member = welcome_email
    client.force_login(staff_user("nobody"))
    assert _preview(client, email, member).status_code == 403
    client.force_login(staff_user("emails-only", perms=["crm.view_sequenceemail"]))
    assert _preview(client, email, member).status_code == 403


def test_the_preview_hides_secrets_from_those_who_may_not_see_them(client, welcome_email):
    # given the stored password of a member who was released with one
    email, member = welcome_email
    password = member.subscriber.field_values.get(field__key="accessally_password").value
    client.force_login(staff_user("support", VIEW))
    # when a view-only user previews the welcome email
    page = _preview(client, email, member).content.decode()
    # then the password is a placeholder and the page says why
    assert password not in page
    assert "Password: [redacted]" in page
    assert "seeing them needs" in page


def test_the_preview_shows_secrets_to_those_who_may(client, welcome_email):
    email, member = welcome_email
    password = member.subscriber.field_values.get(field__key="accessally_password").value
    client.force_login(staff_user("creator", VIEW, perms=["crm.view_subscriber_secrets"]))
    page = _preview(client, email, member).content.decode()
    assert f"Password: {password}" in page


def test_a_set_password_link_is_hidden_in_the_preview(client):
    # given a member without a password (the default), and a welcome email with their link
    course = weekly_course()
    operation_run(operation=Operation.RELEASE, offering=course, email="m@example.com", source="t")
    member = Member.objects.get()
    email = SequenceEmail.objects.create(
        sequence=Sequence.objects.create(name="W"), subject="Hi", body="Set: {{ set_password_url }}"
    )
    client.force_login(staff_user("support", VIEW))
    # then the link (which would log its holder in) is a placeholder
    page = _preview(client, email, member).content.decode()
    assert "Set: [redacted]" in page and "/password/" not in page.split('id="preview"')[1]


def test_the_outbox_page_shows_bodies_only_with_the_body_permission(client, world):
    message = EmailMessage.objects.get()
    url = reverse("admin:crm_emailmessage_change", args=[message.pk])
    client.force_login(staff_user("support", VIEW))
    assert "secret-token" not in client.get(url).content.decode()
    client.force_login(staff_user("creator", VIEW, perms=["crm.view_emailmessage_body"]))
    assert "secret-token" in client.get(url).content.decode()


def test_the_generator_hides_urls_and_buttons_without_their_rights(client, world):
    url = reverse("admin:members_webhookendpoint_changelist")
    client.force_login(staff_user("support", VIEW))
    page = client.get(url).content.decode()
    assert world["endpoint"].url not in page
    assert 'id="mint"' not in page and 'value="Rotate"' not in page
    client.force_login(staff_user("owner", FULL))
    page = client.get(url).content.decode()
    assert world["endpoint"].url in page and 'value="Rotate"' in page


# Actions -----------------------------------------------------------------------------------


def test_a_view_only_user_is_offered_no_action_that_changes_anything(rf, db):
    # given a view-only staff user on every list page
    request = rf.get("/admin/")
    request.user = staff_user("viewer", VIEW)
    # then no list offers them an action (requeue, send a broadcast, revoke, unsubscribe...)
    offered = {
        (model._meta.label_lower, name)
        for model, model_admin in admin.site._registry.items()
        for name in model_admin.get_actions(request)
    }
    assert offered == set()


def test_a_full_user_is_offered_every_action(rf, db):
    request = rf.get("/admin/")
    request.user = staff_user("owner", FULL)
    missing = [
        (model._meta.label_lower, name)
        for model, model_admin in admin.site._registry.items()
        for name in (model_admin.actions or [])
        if (getattr(name, "__name__", name)) not in model_admin.get_actions(request)
    ]
    assert missing == []
