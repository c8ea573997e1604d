"""Kit v3: account, tags, subscribers and custom fields. Views parse, call services, shape."""

from email.utils import parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_date
from rest_framework.response import Response

from apps.crm.models import CustomField, Subscriber, SubscriberState
from apps.crm.services import (
    custom_field_delete,
    custom_field_relabel,
    email_normalize,
    subscriber_unsubscribe,
)
from apps.tags.models import Tag, Tagging
from apps.tags.services import taggings_remove

from ..services.kit import (
    kit_custom_fields_create,
    kit_subscriber_update,
    kit_tag_subscribe,
    kit_tags_create,
)
from . import shapes
from .base import (
    AUTH_FAILED,
    V3Error,
    V3View,
    as_dict,
    as_id_list,
    as_text,
    not_found,
    page_of,
    path_id,
    unprocessable,
    whole_or_paged,
)

# Kit answers 400 to more custom fields than this in one update.
MAX_FIELDS_PER_UPDATE = 125
FIELDS_ANSWERED_AT_ONCE = 10


def account_email() -> str:
    """The sender address alone: DEFAULT_FROM_EMAIL may carry a display name."""
    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1] or settings.DEFAULT_FROM_EMAIL


class AccountView(V3View):
    def get(self, request):
        return Response(
            {
                "name": settings.ACCOUNT_NAME,
                "plan_type": "creator",
                "primary_email_address": account_email(),
            }
        )


# Tags -------------------------------------------------------------------------------------


def _tag_or_404(tag_id) -> Tag:
    found = Tag.objects.filter(pk=path_id(tag_id)).first()
    if found is None:
        raise not_found("Tag not found", "")
    return found


class TagsView(V3View):
    access = "key"

    def get(self, request):
        tags = whole_or_paged(
            Tag.objects.order_by("pk"), self.args_, lambda rows: list(map(shapes.tag, rows))
        )
        return Response({"tags": tags})

    def post(self, request):
        """``tag`` is one object (answered with a bare object) or a list (a bare list)."""
        given = self.args_.get("tag")
        many = isinstance(given, list)
        items = given if many else [given]
        if not items or not all(isinstance(t, dict) for t in items):
            raise unprocessable('tag must be an object {"name": ...} or a list of them.')
        created = kit_tags_create(names=[t.get("name") for t in items])
        shaped = [shapes.tag_created(t) for t in created]
        return Response(shaped if many else shaped[0])


def _permission_tag_ids() -> set[int]:
    """Tags that grant access or fire a release."""
    from apps.members.models import WebhookEndpoint
    from apps.offerings.models import Module, Offering

    guarded = set(Module.objects.values_list("access_tag_id", flat=True))
    guarded |= set(
        WebhookEndpoint.objects.filter(trigger_tag__isnull=False).values_list(
            "trigger_tag_id", flat=True
        )
    )
    for row in Offering.objects.values_list(
        "base_tag_id", "instant_tag_id", "purchase_tag_id", "revoke_tag_id"
    ):
        guarded |= set(row)
    return guarded - {None}


def _public_key_guard(*, tag_ids, field_keys) -> None:
    """What the public key (published in every form's page) may not do: write a sensitive
    field, add a tag that grants access or fires a release, or start anything that leads to
    one, however many automations (each adding a tag, setting a field or starting another)
    stand between; nor write a field that such an automation reads."""
    from apps.automations.selectors import automation_chain_tags, fields_read_toward

    tag_ids, field_keys = set(tag_ids), set(field_keys)
    sensitive = sorted(
        CustomField.objects.filter(key__in=field_keys, sensitive=True).values_list("key", flat=True)
    )
    if sensitive:
        raise V3Error(
            401,
            AUTH_FAILED,
            f"The public key cannot write the sensitive field {sensitive[0]!r}; "
            "use the API secret.",
        )
    if not tag_ids and not field_keys:
        return
    permission = _permission_tag_ids()
    if automation_chain_tags(tag_ids=tag_ids, field_keys=field_keys) & permission:
        raise V3Error(
            401,
            AUTH_FAILED,
            "You do not have sufficient permissions to access this resource: with the public "
            "key this would grant access to an offering (directly or through automations); "
            "use the API secret.",
        )
    read = sorted(field_keys & fields_read_toward(tag_ids=permission))
    if read:
        raise V3Error(
            401,
            AUTH_FAILED,
            f"The public key cannot write the field {read[0]!r}: an automation that grants "
            "access reads it; use the API secret.",
        )


def _contact(
    params, *, with_secret: bool = True, also_tags: tuple[int, ...] = ()
) -> tuple[str, str, dict, list[int]]:
    """A subscribe call's email, first name, fields and extra tag ids, checked."""
    email = as_text(params.get("email"), "email")
    try:
        email = email_normalize(email)
    except ValidationError:
        raise unprocessable("Email address is invalid", error="Error updating subscriber") from None
    extra = as_id_list(params.get("tags"), "tags")
    if len(Tag.objects.filter(pk__in=extra)) != len(set(extra)):
        raise not_found("Tag not found", "")
    first_name = as_text(params.get("first_name") or params.get("name"), "first_name")
    fields = as_dict(params.get("fields"), "fields")
    if not with_secret:
        _public_key_guard(tag_ids=[*extra, *also_tags], field_keys=[str(k) for k in fields])
    return email, first_name, fields, extra


class TagSubscribeView(V3View):
    access = "key"

    def post(self, request, tag_id):
        tag_obj = _tag_or_404(tag_id)
        email, first_name, fields, tag_ids = _contact(
            self.args_, with_secret=self.with_secret, also_tags=(tag_obj.pk,)
        )
        subscriber = kit_tag_subscribe(
            tag=tag_obj, email=email, first_name=first_name, fields=fields, tag_ids=tag_ids
        )
        tagging = Tagging.objects.get(subscriber=subscriber, tag=tag_obj)
        return Response(
            {
                "subscription": shapes.subscription(
                    pk=tagging.pk,
                    state="active",
                    created_at=tagging.created_at,
                    subscribable_id=tag_obj.pk,
                    kind="tag",
                    subscriber=self.subscriber_shape(subscriber),
                )
            }
        )


class TagUnsubscribeView(V3View):
    def post(self, request, tag_id):
        tag_obj = _tag_or_404(tag_id)
        subscriber = Subscriber.objects.filter(email=_email_param(self.args_)).first()
        if subscriber is None:
            raise not_found()
        taggings_remove(pairs=[(subscriber.pk, tag_obj.pk)], source="api")
        return Response(shapes.tag(tag_obj))


def _email_param(params) -> str:
    email = params.get("email")
    if email is not None and not isinstance(email, str):
        raise unprocessable("email must be an email address (text).")
    return (email or "").strip().lower()


def _state_filter(queryset, params, field: str):
    state = params.get("subscriber_state")
    if state in ("active", "cancelled"):
        queryset = queryset.filter(**{field: state})
    elif state:
        raise unprocessable("subscriber_state must be active or cancelled.")
    return queryset


def _order(params) -> str:
    order = params.get("sort_order", "asc")
    if order not in ("asc", "desc"):
        raise unprocessable("sort_order must be asc or desc.")
    return "" if order == "asc" else "-"


def _subscriptions_page(queryset, params, *, kind: str, subscribable_id: int) -> dict:
    def render(rows):
        subs = dict(
            zip(
                [r.subscriber_id for r in rows],
                shapes.subscribers([r.subscriber for r in rows]),
                strict=True,
            )
        )
        return [
            shapes.subscription(
                pk=r.pk,
                state=getattr(r, "state", "active"),
                created_at=r.created_at,
                subscribable_id=subscribable_id,
                kind=kind,
                subscriber=subs[r.subscriber_id],
                referrer=getattr(r, "referrer", None),
                source=getattr(r, "source", None) or None,
            )
            for r in rows
        ]

    queryset = _state_filter(queryset.select_related("subscriber"), params, "subscriber__state")
    return page_of(queryset.order_by(f"{_order(params)}pk"), params, "subscriptions", render)


class TagSubscriptionsView(V3View):
    def get(self, request, tag_id):
        tag_obj = _tag_or_404(tag_id)
        return Response(
            _subscriptions_page(
                Tagging.objects.filter(tag=tag_obj),
                self.args_,
                kind="tag",
                subscribable_id=tag_obj.pk,
            )
        )


# Subscribers ------------------------------------------------------------------------------


def _subscriber_or_404(subscriber_id) -> Subscriber:
    found = Subscriber.objects.filter(pk=path_id(subscriber_id)).first()
    if found is None:
        raise not_found()
    return found


def _date(params, name):
    value = params.get(name)
    if not value:
        return None
    try:
        parsed = parse_date(str(value))
    except ValueError:
        parsed = None
    if parsed is None:
        raise unprocessable(f"{name} must be a date as yyyy-mm-dd, got {value!r}.")
    return parsed


class SubscribersView(V3View):
    def get(self, request):
        params = self.args_
        queryset = Subscriber.objects.all()
        if params.get("sort_field") == "cancelled_at":
            queryset = queryset.filter(state=SubscriberState.CANCELLED)
            order_by = "cancelled_at"
        elif params.get("sort_field"):
            raise unprocessable("sort_field can only be cancelled_at.")
        else:
            if params.get("status") != "all":
                queryset = queryset.filter(state=SubscriberState.ACTIVE)
            order_by = "pk"
        if params.get("email_address"):
            queryset = queryset.filter(email=str(params["email_address"]).strip().lower())
        for name, lookup in (
            ("from", "created_at__date__gte"),
            ("to", "created_at__date__lte"),
            ("updated_from", "updated_at__date__gte"),
            ("updated_to", "updated_at__date__lte"),
        ):
            day = _date(params, name)
            if day:
                queryset = queryset.filter(**{lookup: day})
        queryset = queryset.order_by(f"{_order(params)}{order_by}", "pk")
        return Response(page_of(queryset, params, "subscribers", shapes.subscribers))


class SubscriberView(V3View):
    def get(self, request, subscriber_id):
        return Response({"subscriber": shapes.subscribers([_subscriber_or_404(subscriber_id)])[0]})

    def put(self, request, subscriber_id):
        """Kit answers 200 for up to 10 custom fields and 202 for more (processed later in
        Kit; at once here); more than 125 is a 400."""
        subscriber = _subscriber_or_404(subscriber_id)
        fields = as_dict(self.args_.get("fields"), "fields")
        if len(fields) > MAX_FIELDS_PER_UPDATE:
            raise V3Error(
                400, "Bad Request", f"At most {MAX_FIELDS_PER_UPDATE} custom fields per request."
            )
        first_name, email = self.args_.get("first_name"), self.args_.get("email_address")
        kit_subscriber_update(
            subscriber=subscriber,
            first_name=None if first_name is None else as_text(first_name, "first_name"),
            email=None if email is None else as_text(email, "email_address"),
            fields=fields,
        )
        subscriber.refresh_from_db()
        return Response(
            {"subscriber": shapes.subscribers([subscriber])[0]},
            status=200 if len(fields) <= FIELDS_ANSWERED_AT_ONCE else 202,
        )


class UnsubscribeView(V3View):
    def put(self, request):
        email = _email_param(self.args_)
        subscriber = Subscriber.objects.filter(email=email).first() if email else None
        if subscriber is None:
            raise not_found()
        subscriber_unsubscribe(subscriber=subscriber)
        subscriber.refresh_from_db()
        return Response({"subscriber": shapes.subscribers([subscriber])[0]})


class SubscriberTagsView(V3View):
    access = "key"

    def get(self, request, subscriber_id):
        subscriber = _subscriber_or_404(subscriber_id)
        tags = Tag.objects.filter(taggings__subscriber=subscriber).order_by("pk")
        return Response({"tags": [shapes.tag(t) for t in tags]})


class SubscriberTagView(V3View):
    def delete(self, request, subscriber_id, tag_id):
        subscriber, tag_obj = _subscriber_or_404(subscriber_id), _tag_or_404(tag_id)
        taggings_remove(pairs=[(subscriber.pk, tag_obj.pk)], source="api")
        return Response(shapes.tag(tag_obj))


# Custom fields ----------------------------------------------------------------------------


def _field_or_404(field_id) -> CustomField:
    found = CustomField.objects.filter(pk=path_id(field_id)).first()
    if found is None:
        raise not_found()
    return found


class CustomFieldsView(V3View):
    access = {"GET": "key", "POST": "secret"}

    def get(self, request):
        fields = CustomField.objects.order_by("pk")
        return Response({"custom_fields": [shapes.custom_field(f) for f in fields]})

    def post(self, request):
        """``label`` is one string (a bare object back) or a list (a bare list)."""
        given = self.args_.get("label")
        many = isinstance(given, list)
        labels = given if many else [given]
        if not labels or not all(isinstance(x, str) for x in labels):
            raise unprocessable("label must be a text or a list of texts.")
        created = kit_custom_fields_create(labels=labels)
        shaped = [shapes.custom_field(f) for f in created]
        return Response(shaped if many else shaped[0])


class CustomFieldView(V3View):
    def put(self, request, field_id):
        field = _field_or_404(field_id)
        label = self.args_.get("label")
        if not isinstance(label, str):
            raise unprocessable("label must be text.")
        custom_field_relabel(field=field, label=label)
        return Response(status=204)

    def delete(self, request, field_id):
        custom_field_delete(field=_field_or_404(field_id))
        return Response(status=204)


class UnknownView(V3View):
    """Any other /v3/ path: Kit's 404 body, not an HTML page."""

    access = "key"

    def get(self, request, rest):
        raise not_found()

    post = put = delete = get
