"""Members' accounts: the login a release makes, their links, their details."""

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext

from apps.crm.events import event_record
from apps.crm.messaging.outbox import email_transactional_queue
from apps.crm.models import EmailKind, Subscriber
from apps.crm.services import (
    email_normalize,
    subscriber_fields_set,
    subscriber_update,
)
from apps.offerings.models import Offering

from ..event_types import MEMBER_LOGIN_CREATED
from ..hashers import GENERATED_PASSWORD_ALGORITHM, GENERATED_PASSWORD_MIN_BITS
from ..lock_objects import subscriber_for_update
from ..models import (
    Member,
)
from ..tokens import LOGIN_LINK_MAX_AGE, login_link_tokens, set_password_tokens, uid_for

logger = logging.getLogger(__name__)

# 16 bytes from secrets = 128 bits: enough entropy for the fast hasher (apps/members/hashers.py).
GENERATED_PASSWORD_BYTES = GENERATED_PASSWORD_MIN_BITS // 8


@dataclass
class LoginResult:
    member: Member
    created: bool
    password: str | None = None


@transaction.atomic
def member_login_ensure(
    *, subscriber: Subscriber, offering: Offering | None = None, source: str
) -> LoginResult:
    """Find the subscriber's login or create it. A new login gets no password (a one-time
    set-password link is its way in) unless the offering opts in to the guide's recipe: then a
    generated password, hashed for the login and written in plain text to the offering's CRM
    field. An existing login's password is never touched."""
    subscriber = subscriber_for_update(subscriber.pk)
    member = Member.objects.select_related("user").filter(subscriber=subscriber).first()
    if member is not None:
        return LoginResult(member, created=False)
    user_model = get_user_model()
    user = user_model.objects.filter(username=subscriber.email).first()
    if user is not None and (user.is_staff or user.is_superuser):
        # A webhook must never hand a staff account to whoever holds the email address.
        raise ValidationError(
            f"{subscriber.email} belongs to a staff account; give the member "
            "another address or link them by hand."
        )
    if user is not None and Member.objects.filter(user=user).exists():
        raise ValidationError(
            f"The login {subscriber.email} already belongs to another "
            "subscriber (an email changed in the CRM?); fix it in the admin."
        )
    password = None
    if user is None:
        user = user_model(
            username=subscriber.email, email=subscriber.email, first_name=subscriber.first_name
        )
        if offering is not None and offering.store_password:
            password = secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
            # A random secret needs no stretching: the fast hasher, upgraded at first login.
            user.password = make_password(password, hasher=GENERATED_PASSWORD_ALGORITHM)
        else:
            user.set_unusable_password()
        user.save()
    member = Member.objects.create(user=user, subscriber=subscriber, source=source)
    if password is not None:
        subscriber_fields_set(subscriber=subscriber, values={offering.password_field_key: password})
    event_record(
        subscriber_id=subscriber.pk,
        type=MEMBER_LOGIN_CREATED,
        payload={"member_id": member.pk, "source": source, "password_stored": password is not None},
    )
    return LoginResult(member, created=True, password=password)


def member_liquid_variables(subscribers) -> dict[int, dict]:
    """Template variables for members: ``login_url`` and ``login_link_url`` (a one-time link
    that logs them in, for a member who already has a password) always; ``set_password_url``
    (a one-time link) for a member who has no password yet. Subscribers without a login get
    none, so a welcome email that needs one is held until the login exists."""
    members = Member.objects.filter(subscriber__in=list(subscribers)).select_related("user")
    login = f"{settings.SITE_URL}{reverse('members:login')}"
    result = {}
    for member in members:
        values = {"login_url": login, "login_link_url": member_login_link_url(member)}
        if not member.user.has_usable_password():
            values["set_password_url"] = member_set_password_url(member)
        result[member.subscriber_id] = values
    return result


def member_set_password_url(member: Member) -> str:
    user = member.user
    path = reverse(
        "members:password_set",
        kwargs={"uidb64": uid_for(user), "token": set_password_tokens.make_token(user)},
    )
    return f"{settings.SITE_URL}{path}"


def member_login_link_url(member: Member) -> str:
    user = member.user
    path = reverse(
        "members:login_link",
        kwargs={"uidb64": uid_for(user), "token": login_link_tokens.make_token(user)},
    )
    return f"{settings.SITE_URL}{path}"


LINK_MINUTES = int(LOGIN_LINK_MAX_AGE.total_seconds() // 60)


@transaction.atomic
def member_login_link_email(*, email: str) -> bool:
    """Queue a one-time login link in the outbox if a member has this address (the page
    never says whether one does). Staff log in through the admin, never by link."""
    member = (
        Member.objects.select_related("user", "subscriber")
        .filter(user__email__iexact=email, user__is_active=True, user__is_staff=False)
        .first()
    )
    if member is None:
        return False
    email_transactional_queue(
        subscriber=member.subscriber,
        kind=EmailKind.LOGIN_LINK,
        subject=gettext("Your login link"),
        body=gettext(
            "Hello %(name)s,\n\nOpen this link to log in (it works once, within %(minutes)s "
            "minutes):\n%(link)s\n\nIf you did not ask for it, ignore this email.\n"
        )
        % {
            "name": member.subscriber.first_name or gettext("there"),
            "minutes": LINK_MINUTES,
            "link": member_login_link_url(member),
        },
        to_email=member.user.email,
    )
    return True


EMAIL_CHANGE_SALT = "tessera.members.email_change"
EMAIL_CHANGE_MAX_AGE = timedelta(days=2)


def member_email_change_request(*, member: Member, email: str) -> str | None:
    """Ask the new address to confirm before it replaces the old one: otherwise a member could
    claim somebody else's address (and their next purchase). Returns the address a link was
    sent to, or None if nothing changes."""
    new = email_normalize(email)
    if new == member.subscriber.email:
        return None
    if Subscriber.objects.filter(email=new).exclude(pk=member.subscriber_id).exists():
        message = gettext("Another subscriber already uses %(email)s.")
        raise ValidationError(message % {"email": new})
    token = signing.dumps({"member": member.pk, "email": new}, salt=EMAIL_CHANGE_SALT)
    link = f"{settings.SITE_URL}{reverse('members:email_confirm', args=[token])}"
    email_transactional_queue(
        subscriber=member.subscriber,
        kind=EmailKind.EMAIL_CHANGE,
        subject=gettext("Confirm your new email address"),
        body=gettext(
            "Open this link to use %(email)s for your account:\n%(link)s\n\n"
            "If you did not ask for this, ignore this email."
        )
        % {"email": new, "link": link},
        to_email=new,
    )
    return new


def member_email_change_confirm(*, token: str) -> Member:
    try:
        data = signing.loads(
            token, salt=EMAIL_CHANGE_SALT, max_age=EMAIL_CHANGE_MAX_AGE.total_seconds()
        )
    except signing.BadSignature:
        raise ValidationError(gettext("This confirmation link is invalid or expired.")) from None
    member = Member.objects.select_related("subscriber", "user").get(pk=data["member"])
    return member_account_update(
        member=member, first_name=member.subscriber.first_name, email=data["email"]
    )


@transaction.atomic
def member_account_update(*, member: Member, first_name: str, email: str) -> Member:
    """Change name and email on the login and the subscriber together (one database: no
    desync between the member site and the CRM)."""
    subscriber = subscriber_update(subscriber=member.subscriber, first_name=first_name, email=email)
    user = member.user
    user_model = get_user_model()
    if user_model.objects.filter(username=subscriber.email).exclude(pk=user.pk).exists():
        raise ValidationError(f"Another login already uses {subscriber.email}.")
    user.username = user.email = subscriber.email
    user.first_name = subscriber.first_name
    user.save(update_fields=["username", "email", "first_name"])
    return member


@transaction.atomic
def member_password_change(*, user, password: str):
    """A member's new password (the account page's form checked the old one)."""
    user.set_password(password)
    user.save()
    return user
