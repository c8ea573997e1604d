"""Kit v4's bulk operations: each item on its own, so one bad item fails alone and is listed
in ``failures`` with the reason, beside the items that were done.

Up to ``BULK_SYNC_MAX`` items answer at once; more are kept as a BulkJob, run by a worker, and
the same answer is POSTed to the request's ``callback_url`` (a webhook delivery: signed,
retried) when it is done.
"""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.crm.models import CustomField, Form, Subscriber
from apps.crm.payloads import _iso, subscriber_kit_payload
from apps.crm.services import (
    custom_field_create,
    email_normalize,
    subscriber_fields_set,
    subscriber_get_or_create,
    subscriber_update,
)
from apps.crm.signups import form_subscribe
from apps.tags.models import Tag, Tagging
from apps.tags.services import tag_get_or_create, taggings_add, taggings_remove

from .lock_objects import bulk_jobs_stalled_claim
from .models import BulkJob
from .v3.base import MAX_ID, is_whole_number

BULK_SYNC_MAX = 100
# Kit caps the queue by size (300 MB); a count is the same guard here.
BULK_MAX_ITEMS = 10_000


class ItemError(Exception):
    pass


def _id(item: dict, name: str) -> int:
    value = item.get(name)
    if not is_whole_number(value) or int(value) > MAX_ID:
        raise ItemError(f"{name} must be a whole number.")
    return int(value)


def _found(model, pk: int, what: str):
    obj = model.objects.filter(pk=pk).first()
    if obj is None:
        raise ItemError(f"{what} {pk} not found")
    return obj


def _text(item: dict, name: str) -> str:
    value = item.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ItemError(f"{name} must be text.")
    return str(value)


def _tag(item):
    tag, _ = tag_get_or_create(name=_text(item, "name"))
    return {"id": tag.pk, "name": tag.name, "created_at": _iso(tag.created_at)}


def _tagging(item):
    tag = _found(Tag, _id(item, "tag_id"), "Tag")
    subscriber = _found(Subscriber, _id(item, "subscriber_id"), "Subscriber")
    taggings_add(pairs=[(subscriber.pk, tag.pk)], source="api")
    tagged = Tagging.objects.get(tag=tag, subscriber=subscriber)
    return {**subscriber_kit_payload(subscriber), "tagged_at": _iso(tagged.created_at)}


def _untagging(item):
    tag = _found(Tag, _id(item, "tag_id"), "Tag")
    subscriber = _found(Subscriber, _id(item, "subscriber_id"), "Subscriber")
    taggings_remove(pairs=[(subscriber.pk, tag.pk)], source="api")
    return None


def _subscriber(item):
    email = email_normalize(_text(item, "email_address"))
    first_name = _text(item, "first_name")
    state = item.get("state") or "active"
    if state not in ("active", "inactive"):
        raise ItemError("state must be active or inactive.")
    subscriber, created = subscriber_get_or_create(email=email, first_name=first_name, state=state)
    if not created and first_name:
        subscriber_update(subscriber=subscriber, first_name=first_name)
    fields = item.get("fields") or {}
    if not isinstance(fields, dict):
        raise ItemError("fields must be an object of key: value.")
    subscriber_fields_set(subscriber=subscriber, values=fields)
    subscriber.refresh_from_db()
    return subscriber_kit_payload(subscriber)


def _custom_field(item):
    field = custom_field_create(label=_text(item, "label"))
    return {"id": field.pk, "name": field.name, "key": field.key, "label": field.label}


def _field_value(item):
    subscriber = _found(Subscriber, _id(item, "subscriber_id"), "Subscriber")
    field = _found(CustomField, _id(item, "subscriber_custom_field_id"), "Custom field")
    value = _text(item, "value")
    subscriber_fields_set(subscriber=subscriber, values={field.key: value})
    return {
        "subscriber_id": subscriber.pk,
        "subscriber_custom_field_id": field.pk,
        "value": "[redacted]" if field.sensitive else value,
    }


def _form_addition(item):
    form = _found(Form, _id(item, "form_id"), "Form")
    subscriber = _found(Subscriber, _id(item, "subscriber_id"), "Subscriber")
    referrer = _text(item, "referrer")[:500]
    subscription = form_subscribe(
        form=form, email=subscriber.email, first_name=subscriber.first_name, referrer=referrer
    )
    return {
        **subscriber_kit_payload(subscriber),
        "added_at": _iso(subscription.created_at),
        "referrer": subscription.referrer or None,
    }


# kind: (request list key, answer list key or None, failure item name, operation)
OPERATIONS = {
    "tags": ("tags", "tags", "tag", _tag),
    "taggings": ("taggings", "subscribers", "tagging", _tagging),
    "untaggings": ("taggings", None, "tagging", _untagging),
    "subscribers": ("subscribers", "subscribers", "subscriber", _subscriber),
    "custom_fields": ("custom_fields", "custom_fields", "custom_field", _custom_field),
    "custom_field_values": (
        "custom_field_values",
        "custom_field_values",
        "custom_field_value",
        _field_value,
    ),
    "form_additions": ("additions", "subscribers", "addition", _form_addition),
}


def bulk_run(*, kind: str, items: list) -> dict:
    """Every item in its own transaction; ``{<answer key>: [...], "failures": [...]}``."""
    _request_key, answer_key, item_name, operation = OPERATIONS[kind]
    done, failures = [], []
    for item in items:
        if not isinstance(item, dict):
            failures.append({item_name: item, "errors": ["Each item must be an object."]})
            continue
        try:
            with transaction.atomic():
                shaped = operation(item)
        except ItemError as exc:
            failures.append({item_name: item, "errors": [str(exc)]})
            continue
        except ValidationError as exc:
            failures.append({item_name: item, "errors": exc.messages})
            continue
        if shaped is not None:
            done.append(shaped)
    answer = {answer_key: done} if answer_key else {}
    answer["failures"] = failures
    return answer


@transaction.atomic
def bulk_job_create(*, kind: str, items: list, callback_url: str) -> BulkJob:
    job = BulkJob.objects.create(kind=kind, items=items, callback_url=callback_url)

    def kick():
        from .tasks import bulk_job_run

        bulk_job_run.delay(job_id=job.pk)

    transaction.on_commit(kick, robust=True)
    return job


def bulk_job_finish(*, job_id: int) -> BulkJob | None:
    """Run a kept job once (a second call does nothing) and owe its callback the answer."""
    import json

    from apps.crm.delivery import webhook_delivery_enqueue

    job = BulkJob.objects.filter(pk=job_id, finished_at__isnull=True).first()
    if job is None:
        return None
    BulkJob.objects.filter(pk=job.pk).update(started_at=timezone.now())
    result = bulk_run(kind=job.kind, items=job.items)
    with transaction.atomic():
        claimed = BulkJob.objects.filter(pk=job.pk, finished_at__isnull=True).update(
            result=result, finished_at=timezone.now()
        )
        if claimed and job.callback_url:
            webhook_delivery_enqueue(
                key=f"bulk:{job.pk}", url=job.callback_url, body=json.dumps(result)
            )
    job.refresh_from_db()
    return job


# A kept job whose worker message was lost is handed out again after this long; one that a
# worker started and did not finish (killed) after the longer wait.
BULK_JOB_UNCLAIMED_AFTER = timedelta(minutes=2)
BULK_JOB_STALLED_AFTER = timedelta(minutes=30)


@transaction.atomic
def bulk_jobs_resume_stalled(*, now=None) -> list[int]:
    """The ids of kept jobs to hand to a worker again (beat's sweep): never started two
    minutes after they were kept, or started half an hour ago and not finished. Claimed with
    SKIP LOCKED, so two sweeps at once hand out different jobs."""
    now = now or timezone.now()
    stalled = bulk_jobs_stalled_claim(
        unclaimed_before=now - BULK_JOB_UNCLAIMED_AFTER,
        started_before=now - BULK_JOB_STALLED_AFTER,
        limit=20,
    )
    # Mark them started now, so the next sweep waits for this hand-over before trying again.
    BulkJob.objects.filter(pk__in=stalled).update(started_at=now)
    return stalled
