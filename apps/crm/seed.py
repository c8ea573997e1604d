"""crm's part of the demo data: the admin account and a few subscribers."""

import os

from django.conf import settings
from django.contrib.auth import get_user_model

from .models import CustomField
from .services import custom_field_create, subscriber_fields_set, subscriber_get_or_create

DEMO_ADMIN_USERNAME = "admin"
DEMO_ADMIN_EMAIL = "admin@example.com"
# A demo-only credential, printed for the person who just ran `make run`; a real deployment
# creates its own superuser (`manage.py createsuperuser`). Override with DEMO_ADMIN_PASSWORD.
DEMO_ADMIN_DEFAULT_PASSWORD = "tessera-demo"

DEMO_SUBSCRIBERS = [
    ("ada@example.com", "Ada", {"last_name": "Lovelace"}),
    ("grace@example.com", "Grace", {"last_name": "Hopper"}),
    ("alan@example.com", "Alan", {"last_name": "Turing"}),
    ("katherine@example.com", "Katherine", {"last_name": "Johnson"}),
    ("edsger@example.com", "Edsger", {"last_name": "Dijkstra"}),
]
DEMO_FIELDS = ["Last name"]


def seed_admin() -> list[str]:
    if not settings.DEBUG and "DEMO_ADMIN_PASSWORD" not in os.environ:
        # A known password on a production site would be an open door.
        return ["Admin login: not created (DEBUG is off); run manage.py createsuperuser"]
    user_model = get_user_model()
    password = os.environ.get("DEMO_ADMIN_PASSWORD", DEMO_ADMIN_DEFAULT_PASSWORD)
    if user_model.objects.filter(username=DEMO_ADMIN_USERNAME).exists():
        return [f"Admin login: {DEMO_ADMIN_USERNAME} (already existed; password unchanged)"]
    user_model.objects.create_superuser(
        username=DEMO_ADMIN_USERNAME, email=DEMO_ADMIN_EMAIL, password=password
    )
    return [f"Admin login: {DEMO_ADMIN_USERNAME} / {password}"]


def seed_subscribers() -> list[str]:
    existing = set(CustomField.objects.values_list("label", flat=True))
    for label in DEMO_FIELDS:
        if label not in existing:
            custom_field_create(label=label)
    created = 0
    for email, first_name, fields in DEMO_SUBSCRIBERS:
        subscriber, was_created = subscriber_get_or_create(email=email, first_name=first_name)
        subscriber_fields_set(subscriber=subscriber, values=fields)
        created += was_created
    return [f"Subscribers: {len(DEMO_SUBSCRIBERS)} demo subscribers ({created} new)"]


WELCOME_SEQUENCE = "Foundation Course – Welcome"
WAITLIST_FORM = "Foundation Course Waitlist"
DRAFT_BROADCAST = "Doors open next week"


def seed_messaging() -> list[str]:
    """The guide's welcome sequence, a hosted waitlist form and a draft broadcast."""
    from .models import Broadcast, Form, Sequence, SequenceEmail

    sequence, created = Sequence.objects.get_or_create(
        name=WELCOME_SEQUENCE, defaults={"is_purchase": True}
    )
    if created:
        SequenceEmail.objects.create(
            sequence=sequence,
            position=1,
            published=True,
            delay_days=0,
            subject="Your Foundation Course login",
            body=(
                "Hi {{ subscriber.first_name | default: 'there' }},\n\n"
                "Log in at {{ login_url | default: 'the members page' }} with "
                "{{ subscriber.email_address }}.\n\n{{ unsubscribe_url }}\n"
            ),
        )
    form, _ = Form.objects.get_or_create(
        name=WAITLIST_FORM,
        defaults={
            "title": "Join the Foundation Course waitlist",
            "success_message": "You're on the waitlist.",
        },
    )
    Broadcast.objects.get_or_create(
        subject=DRAFT_BROADCAST,
        defaults={
            "content": "Hi {{ subscriber.first_name | default: 'there' }}, the doors open "
            "next week.\n\n{{ unsubscribe_url }}"
        },
    )
    return [
        f"Messaging: sequence {WELCOME_SEQUENCE!r}, form at /forms/{form.pk}/, a draft broadcast"
    ]
