"""Members, their logins, and the Webhook Generator's operations."""

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from apps.core.bulk import rows_update
from apps.core.doorbell import doorbell_ring
from apps.core.outbox import lease_lost
from apps.core.throttle import window_allow, window_hit
from apps.crm.events import event_record, events_buffered
from apps.crm.messaging.outbox import email_transactional_queue
from apps.crm.models import EmailKind, Subscriber
from apps.crm.services import (
    email_normalize,
    subscriber_fields_set,
    subscriber_get_or_create,
    subscriber_update,
)
from apps.offerings.models import Offering
from apps.offerings.services import offering_grant, offering_revoke, offering_sync_from_tags
from apps.tags.services import tag_names_memo, taggings_remove

from .event_types import MEMBER_LOGIN_CREATED
from .hashers import GENERATED_PASSWORD_ALGORITHM, GENERATED_PASSWORD_MIN_BITS
from .lock_objects import calls_accepted_claim
from .logins import LOGIN_WINDOW
from .models import (
    CallStatus,
    EndpointStatus,
    LoginThrottle,
    Member,
    Operation,
    WebhookCall,
    WebhookEndpoint,
)
from .purchases import Cart, purchase_handler
from .tokens import LOGIN_LINK_MAX_AGE, login_link_tokens, set_password_tokens, uid_for

logger = logging.getLogger(__name__)

# 16 bytes from secrets = 128 bits: enough entropy for the fast hasher (apps/members/hashers.py).
GENERATED_PASSWORD_BYTES = GENERATED_PASSWORD_MIN_BITS // 8
REDACTED = "[redacted]"
_SECRET_WORDS = ("password", "secret", "token", "api_key", "apikey", "signature")


# Members ----------------------------------------------------------------------------------


@dataclass
class LoginResult:
    member: Member
    created: bool
    password: str | None = None


def _lock_subscriber(subscriber_id: int) -> Subscriber:
    # Serialises every operation on one person: twenty copies of one delivery queue here and
    # find the member, grant and event the first one made.
    return Subscriber.objects.select_for_update().get(pk=subscriber_id)


@transaction.atomic
def member_login_ensure(
    *, subscriber: Subscriber, offering: Offering | None = None, source: str
) -> LoginResult:
    """Find the subscriber's login or create it. A new login gets no password (a one-time
    set-password link is its way in) unless the offering opts in to the guide's recipe: then a
    generated password, hashed for the login and written in plain text to the offering's CRM
    field. An existing login's password is never touched."""
    subscriber = _lock_subscriber(subscriber.pk)
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


# Operations -------------------------------------------------------------------------------


def _subscriber_for(*, email: str | None, subscriber_id: int | None, create: bool) -> Subscriber:
    if email:
        if create:
            return subscriber_get_or_create(email=email)[0]
        found = Subscriber.objects.filter(email=email_normalize(email)).first()
    else:
        found = Subscriber.objects.filter(pk=subscriber_id).first()
    if found is None:
        who = email or f"id {subscriber_id}"
        raise ValidationError(
            f"No subscriber with {who}; a Release creates one, this operation does not."
        )
    return found


def operation_run(
    *,
    operation: str,
    offering: Offering,
    email: str | None = None,
    subscriber_id: int | None = None,
    source: str,
    firing_tag_id: int | None = None,
) -> str:
    """Run one of the Webhook Generator's operations for one contact; return what it did.
    Each is idempotent: running it again changes nothing more."""
    subscriber, done = _operation_apply(
        operation=operation,
        offering=offering,
        email=email,
        subscriber_id=subscriber_id,
        source=source,
        firing_tag_id=firing_tag_id,
    )
    return f"{subscriber.email}: {done}"


@transaction.atomic
def _operation_apply(
    *,
    operation: str,
    offering: Offering,
    email: str | None,
    subscriber_id: int | None,
    source: str,
    firing_tag_id: int | None,
) -> tuple[Subscriber, str]:
    """``operation_run``'s work: the subscriber it acted on, and what it did."""
    subscriber = _subscriber_for(
        email=email, subscriber_id=subscriber_id, create=operation == Operation.RELEASE
    )
    subscriber = _lock_subscriber(subscriber.pk)
    if operation == Operation.RELEASE:
        login = member_login_ensure(subscriber=subscriber, offering=offering, source=source)
        offering_grant(
            subscriber=subscriber,
            offering=offering,
            source=source,
            announce=True,
            new_login=login.created,
        )
        done = ("member created" if login.created else "member existed") + "; access granted"
    elif operation == Operation.UPDATE:
        done = offering_sync_from_tags(subscriber=subscriber, offering=offering, source=source)
    elif operation == Operation.REVOKE:
        revoked = offering_revoke(subscriber=subscriber, offering=offering, source=source)
        done = "access revoked" if revoked else "no active access; revoke tag added"
    else:
        raise ValidationError(f"Unknown operation {operation!r}.")
    if firing_tag_id:
        # The guide removes the tag after the webhook ran so it can fire again later.
        taggings_remove(pairs=[(subscriber.pk, firing_tag_id)], source=source)
    return subscriber, done


# Inbound calls ----------------------------------------------------------------------------


class ContactError(ValueError):
    """The request names no usable contact; the message says what to send."""


EMAIL_KEYS = (
    "subscriber.email_address",
    "email",
    "email_address",
    "contact[email]",
    "contact.email",
    "Email",
)
ID_KEYS = ("subscriber.id", "id", "contactId", "contact_id", "contact[id]", "contact.id")


def _flatten(data, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict):
                flat.update(_flatten(value, name))
            else:
                flat[name] = value[0] if isinstance(value, list) and len(value) == 1 else value
    return flat


def contact_from_payload(data) -> tuple[str | None, int | None]:
    """The contact a CRM sent: Kit's ``{"subscriber": {...}}``, a form post or JSON, with the
    email or the id under the names CRMs use. An email wins over an id."""
    flat = _flatten(data if isinstance(data, dict) else {})
    for key in EMAIL_KEYS:
        value = flat.get(key)
        if isinstance(value, str) and value.strip():
            try:
                return email_normalize(value), None
            except ValidationError:
                raise ContactError(f"'{key}' is not a valid email address: {value!r}.") from None
    for key in ID_KEYS:
        value = flat.get(key)
        if value not in (None, ""):
            try:
                return None, int(str(value).strip())
            except ValueError:
                raise ContactError(
                    f"'{key}' must be a subscriber id (a number), got {value!r}."
                ) from None
    raise ContactError(
        "No contact in the request: send the email as 'email' (or Kit's "
        "subscriber.email_address), or the subscriber id as 'id', 'contactId', 'contact_id' or "
        "'contact[id]'."
    )


def payload_redact(data):
    if isinstance(data, dict):
        return {
            k: (REDACTED if any(w in str(k).lower() for w in _SECRET_WORDS) else payload_redact(v))
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [payload_redact(v) for v in data]
    return data


def _kick() -> None:
    from .tasks import webhook_calls_process

    doorbell_ring(webhook_calls_process)


def webhook_call_accept(
    *,
    endpoint: WebhookEndpoint,
    payload: dict,
    remote_addr: str | None,
    path: str,
    delivery_id: str = "",
) -> tuple[WebhookCall, bool]:
    """Log an accepted call and queue its processing after commit. A repeated delivery id
    returns the first call and queues nothing, even when the copies arrive at once."""
    delivery_id = delivery_id[:200]
    if delivery_id:
        first = WebhookCall.objects.filter(endpoint=endpoint, delivery_id=delivery_id).first()
        if first is not None:
            return first, False
    try:
        with transaction.atomic():
            call = WebhookCall.objects.create(
                endpoint=endpoint,
                payload=payload_redact(payload),
                remote_addr=remote_addr,
                path=path_redact(path),
                http_status=202,
                status=CallStatus.ACCEPTED,
                delivery_id=delivery_id,
            )
            transaction.on_commit(_kick, robust=True)
    except IntegrityError:
        # The same delivery arrived twice at once: the other copy won the unique constraint.
        return WebhookCall.objects.get(endpoint=endpoint, delivery_id=delivery_id), False
    return call, True


def path_redact(path: str) -> str:
    """The logged path without its signature: the log must not hand out working URLs."""
    head, _, _signature = path.rstrip("/").rpartition("/")
    return f"{head}/{REDACTED}/"[:500] if head.count("/") >= 5 else path[:500]


REFUSALS_PER_ADDRESS_PER_MINUTE = 30


def webhook_refusals_exceeded(*, remote_addr: str | None) -> bool:
    """This address had REFUSALS_PER_ADDRESS_PER_MINUTE calls refused in the last minute.
    Read on every call, so a counter in the cache (one round trip), not the call log."""
    return not window_allow(
        f"refused:{remote_addr}", limit=REFUSALS_PER_ADDRESS_PER_MINUTE, count=False
    )


def webhook_call_rate_exceeded(*, endpoint: WebhookEndpoint) -> bool:
    """One URL took INBOUND_WEBHOOK_RATE_PER_MINUTE calls in the last minute (this one
    counts)."""
    return not window_allow(
        f"inbound:{endpoint.pk}", limit=settings.INBOUND_WEBHOOK_RATE_PER_MINUTE
    )


def webhook_call_refuse(
    *,
    endpoint: WebhookEndpoint | None,
    payload: dict,
    remote_addr: str | None,
    path: str,
    http_status: int,
    error: str,
    count_refusal: bool = True,
) -> WebhookCall:
    """Log a refused call. The body is kept only for a caller that held a valid URL (a 400);
    the view stops logging an address that keeps knocking (no log flooding). A 429 is logged
    without counting as one more refusal (``count_refusal``)."""
    if count_refusal:
        window_hit(f"refused:{remote_addr}")
    return WebhookCall.objects.create(
        endpoint=endpoint,
        payload=payload_redact(payload) if http_status == 400 else {},
        remote_addr=remote_addr,
        path=path_redact(path),
        http_status=http_status,
        status=CallStatus.REFUSED,
        error=error,
        finished_at=timezone.now(),
    )


CALLS_PER_BATCH = 50
CALLS_LEASE_KIND = "webhook calls"
# An accepted call is rung at once; one still waiting after this lost its ring (a flushed
# broker, a dead worker). Calls being run are row-locked and skipped, so the sweep may be
# eager: a lost ring costs seconds, not minutes.
CALL_STUCK_AFTER = timedelta(seconds=10)
CALLS_RESUMED_PER_SWEEP = 200


class _BatchRedo(Exception):
    """A call of the batch raised: the batch is rolled back and its calls run one by one."""


def webhook_calls_process(
    *, limit: int = CALLS_PER_BATCH, received_before: datetime | None = None
) -> tuple[int, bool]:
    """Run up to ``limit`` accepted calls, oldest first, in one transaction; return how many
    ran and whether more may be waiting.

    The calls are claimed with SKIP LOCKED, so two workers take different ones; their events
    are inserted together and tag names looked up once (a launch sends thousands of calls
    within minutes, and one task and one commit per call was most of a worker's time). A call
    whose operation raises anything rolls the whole batch back, and its calls are then run
    one by one, each in its own transaction, so a bad call fails alone and says why; so are
    they when the batch's own writes fail (a deadlock with another batch, a lost
    connection)."""
    claimed: list[int] = []
    try:
        with transaction.atomic(), events_buffered(), tag_names_memo():
            calls = list(calls_accepted_claim(limit=limit, received_before=received_before))
            claimed = [call.pk for call in calls]
            now = timezone.now()
            for call in calls:
                outcome = _call_run(call, redo_on_error=True)
                call.status, call.result, call.error, call.subscriber_id = outcome
                call.finished_at = now
            rows_update(calls, _CALL_DONE_FIELDS)
    except (_BatchRedo, DatabaseError):  # a call raised, or the batch's own writes failed
        # Calls another worker ran meanwhile (this one stalled, and PostgreSQL ended its
        # transaction) are skipped: their lease was lost, and nothing is written for them.
        lost = [c for c in claimed if webhook_call_process(call_id=c) == "skipped"]
        lease_lost(CALLS_LEASE_KIND, lost)
    return len(claimed), len(claimed) == limit


_CALL_DONE_FIELDS = ["status", "result", "error", "finished_at", "subscriber"]


def webhook_call_process(*, call_id: int) -> str:
    """Run one accepted call's operation in a transaction of its own (a batch's fallback,
    and the task older releases queued per call). A call already run, or being run by
    another worker, is left alone: "skipped"."""
    with transaction.atomic():
        call = next(iter(calls_accepted_claim(limit=1, pk=call_id)), None)
        if call is None:
            return "skipped"
        call.status, call.result, call.error, call.subscriber_id = _call_run(call)
        call.finished_at = timezone.now()
        call.save(update_fields=_CALL_DONE_FIELDS)
    return call.status


def _call_run(
    call: WebhookCall, *, redo_on_error: bool = False
) -> tuple[str, str, str, int | None]:
    """Run the call's operation: (status, result, error, subscriber id). A contact the
    payload does not give is the call's own failure; with ``redo_on_error`` any failure of
    the operation itself raises ``_BatchRedo`` instead of being recorded."""
    endpoint = call.endpoint
    email, subscriber_id = None, None
    if endpoint.operation != Operation.PURCHASE:
        try:
            email, subscriber_id = contact_from_payload(call.payload)
        except ContactError as exc:
            return CallStatus.FAILED, "", str(exc), None
    try:
        if endpoint.operation == Operation.PURCHASE:
            # A cart's order: its own shape, read by the handler commerce registered.
            subscriber, done = purchase_handler().apply(
                endpoint=endpoint, payload=call.payload, source=f"webhook:{endpoint.public_id}"
            )
        else:
            subscriber, done = _operation_apply(
                operation=endpoint.operation,
                offering=endpoint.offering,
                email=email,
                subscriber_id=subscriber_id,
                source=f"webhook:{endpoint.public_id}",
                firing_tag_id=endpoint.trigger_tag_id,
            )
        return CallStatus.DONE, f"{subscriber.email}: {done}", "", subscriber.pk
    except Exception as exc:
        if redo_on_error:
            raise _BatchRedo from exc
        if isinstance(exc, ValidationError):
            error = " ".join(exc.messages)
        else:  # never leave a call "accepted" for ever: say what broke
            logger.exception("webhook call %s failed", call.pk)
            error = f"Unexpected error: {type(exc).__name__}: {exc}"
        return CallStatus.FAILED, "", error, _call_subscriber_id(email, subscriber_id)


def _call_subscriber_id(email: str | None, subscriber_id: int | None) -> int | None:
    """The subscriber a failed call named, if there is one."""
    if email:
        return Subscriber.objects.filter(email=email).values_list("pk", flat=True).first()
    if subscriber_id is None:
        return None
    return Subscriber.objects.filter(pk=subscriber_id).values_list("pk", flat=True).first()


def webhook_calls_resume_stuck() -> int:
    """Calls accepted but never processed (a lost broker message, a dead worker): run them
    now. Beat calls this; operations are idempotent, so a late duplicate changes nothing."""
    before = timezone.now() - CALL_STUCK_AFTER
    done, more = 0, True
    while more and done < CALLS_RESUMED_PER_SWEEP:
        ran, more = webhook_calls_process(received_before=before)
        done += ran
    return done


@transaction.atomic
def webhook_call_replay(*, call: WebhookCall) -> None:
    """Run a logged call again (after fixing what made it fail); its operations are
    idempotent, so replaying one that worked changes nothing."""
    if call.endpoint_id is None or call.status == CallStatus.REFUSED:
        raise ValidationError("Only accepted calls can be replayed.")
    WebhookCall.objects.filter(pk=call.pk).update(
        status=CallStatus.ACCEPTED, error="", finished_at=None
    )
    transaction.on_commit(_kick, robust=True)


# Endpoints --------------------------------------------------------------------------------


def _hook_sync(endpoint: WebhookEndpoint) -> None:
    """The built-in CRM's registration: "when the trigger tag is added, POST here", as a
    Kit hook (signed, retried, logged like any other)."""
    from apps.crm.hooks import hook_create
    from apps.crm.models import Hook

    if endpoint.hook_id:
        Hook.objects.filter(pk=endpoint.hook_id).update(
            target_url=endpoint.url, active=endpoint.status == EndpointStatus.ACTIVE
        )
    elif endpoint.trigger_tag_id and endpoint.status == EndpointStatus.ACTIVE:
        endpoint.hook = hook_create(
            event_name="subscriber.tag_add",
            target_url=endpoint.url,
            filter_value=endpoint.trigger_tag_id,
        )
        endpoint.save(update_fields=["hook"])


# Carts that sign their posts or send a shared secret: a purchase URL for them needs it.
CART_SECRET_NAMES = {
    Cart.THRIVECART: "ThriveCart's secret word (Settings > API & Webhooks)",
    Cart.WOOCOMMERCE: "the WooCommerce webhook's secret",
    Cart.GUMROAD: "your Gumroad seller id (it comes with every ping)",
    Cart.STRIPE_LINK: "the Stripe webhook endpoint's signing secret (whsec_...)",
}


@transaction.atomic
def endpoint_mint(
    *,
    operation: str,
    offering: Offering,
    trigger_tag=None,
    label: str = "",
    cart: str = "",
    cart_secret: str = "",
) -> WebhookEndpoint:
    if operation not in Operation.values:
        raise ValidationError(
            f"Unknown operation {operation!r}; choose release, update, revoke or purchase."
        )
    cart_secret = (cart_secret or "").strip()
    if operation == Operation.PURCHASE:
        if cart not in Cart.values:
            raise ValidationError("A purchase URL needs its cart: choose which cart posts here.")
        if cart in CART_SECRET_NAMES and not cart_secret:
            raise ValidationError(
                f"{Cart(cart).label} is checked with {CART_SECRET_NAMES[cart]}; paste it in "
                "'Cart secret'."
            )
        if trigger_tag is not None:
            raise ValidationError("A purchase URL is called by the cart, not fired by a tag.")
    elif cart or cart_secret:
        raise ValidationError("A cart and its secret belong to the purchase operation only.")
    endpoint = WebhookEndpoint.objects.create(
        operation=operation,
        offering=offering,
        trigger_tag=trigger_tag,
        label=label,
        cart=cart,
        cart_secret=cart_secret,
    )
    _hook_sync(endpoint)
    return endpoint


@transaction.atomic
def endpoint_rotate(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new secret, so every URL handed out before stops working (the CRM hook follows)."""
    endpoint.secret = WebhookEndpoint._meta.get_field("secret").default()
    endpoint.rotated_at = timezone.now()
    endpoint.save(update_fields=["secret", "rotated_at"])
    _hook_sync(endpoint)
    return endpoint


@transaction.atomic
def endpoint_revoke(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    endpoint.status = EndpointStatus.REVOKED
    endpoint.save(update_fields=["status"])
    _hook_sync(endpoint)
    return endpoint


# Email requests (login links, password resets) ----------------------------------------


LINK_REQUESTS_PER_EMAIL = 5
LINK_REQUESTS_PER_ADDRESS = 20


@transaction.atomic
def email_request_allowed(*, purpose: str, email: str, address: str | None) -> bool:
    """Login-link and password-reset emails: a few per address and per mailbox in the window,
    so nobody can flood a member's inbox (the page answers the same either way)."""
    now = timezone.now()
    keys = [(f"{purpose}:email:{email.strip().lower()}", LINK_REQUESTS_PER_EMAIL)]
    if address:
        keys.append((f"{purpose}:address:{address}", LINK_REQUESTS_PER_ADDRESS))
    allowed = True
    for key, limit in keys:
        row, _ = LoginThrottle.objects.select_for_update().get_or_create(
            key=key, defaults={"window_started_at": now}
        )
        if row.window_started_at < now - LOGIN_WINDOW:
            row.failures, row.window_started_at = 0, now
        row.failures += 1
        row.save(update_fields=["failures", "window_started_at"])
        allowed = allowed and row.failures <= limit
    return allowed
