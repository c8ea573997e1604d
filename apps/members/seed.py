"""A demo member with access to the Foundation Course, and the guide's three endpoints."""

import os

from django.conf import settings

from apps.crm.services import subscriber_get_or_create
from apps.offerings.models import Offering
from apps.tags.services import tag_get_or_create

from .models import Member, Operation, WebhookEndpoint
from .services import endpoint_mint, member_login_ensure, operation_run

DEMO_MEMBER_EMAIL = "member@example.com"
# Demo only, printed for whoever ran `make run`; override with DEMO_MEMBER_PASSWORD.
DEMO_MEMBER_DEFAULT_PASSWORD = "tessera-member"
FC = "Foundation Course"
ENDPOINTS = [
    (Operation.RELEASE, f"{FC} – Release Webhook"),
    (Operation.UPDATE, f"{FC} – Update User"),
    (Operation.REVOKE, None),
]


def seed_demo_member() -> list[str]:
    offering = Offering.objects.filter(name=FC).first()
    if offering is None:
        return []
    lines = []
    if not settings.DEBUG and "DEMO_MEMBER_PASSWORD" not in os.environ:
        lines.append("Member login: not created (DEBUG is off)")
    elif not Member.objects.filter(user__username=DEMO_MEMBER_EMAIL).exists():
        subscriber, _ = subscriber_get_or_create(email=DEMO_MEMBER_EMAIL, first_name="Mia")
        login = member_login_ensure(subscriber=subscriber, source="demo")
        password = os.environ.get("DEMO_MEMBER_PASSWORD", DEMO_MEMBER_DEFAULT_PASSWORD)
        login.member.user.set_password(password)
        login.member.user.save(update_fields=["password"])
        operation_run(
            operation=Operation.RELEASE, offering=offering, email=DEMO_MEMBER_EMAIL, source="demo"
        )
        lines.append(f"Member login: {DEMO_MEMBER_EMAIL} / {password} at /login/")
    else:
        lines.append(f"Member login: {DEMO_MEMBER_EMAIL} (already existed; password unchanged)")
    for operation, tag_name in ENDPOINTS:
        endpoint = WebhookEndpoint.objects.filter(offering=offering, operation=operation).first()
        if endpoint is None:
            endpoint = endpoint_mint(
                offering=offering,
                operation=operation,
                trigger_tag=tag_get_or_create(name=tag_name)[0] if tag_name else None,
                label=f"{FC}: {Operation(operation).label}",
            )
        lines.append(f"Webhook ({Operation(operation).label}): {endpoint.url}")
    return lines
