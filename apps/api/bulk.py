"""Kit v4's bulk operations: each item on its own, so one bad item fails alone and is listed
in ``failures`` with the reason, beside the items that were done.

Up to ``BULK_SYNC_MAX`` items answer at once; more are kept as a BulkJob, run by a worker, and
the same answer is POSTed to the request's ``callback_url`` (a webhook delivery: signed,
retried) when it is done. A kept job runs under a lease (``job_leases.py``), in batches that
each check the lease token, so a job whose worker died resumes at its next batch elsewhere.
"""

import json
import math

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.outbox import LeaseLost, lease_fence, lease_finish, lease_take_over
from apps.crm.delivery import webhook_delivery_enqueue
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

from .job_leases import BULK_JOBS_LEASE_KIND, jobs_dispatch_on_commit
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
    """Keep a big request, queued: the dispatcher hands it to a worker after the commit."""
    job = BulkJob.objects.create(kind=kind, items=items, callback_url=callback_url)
    jobs_dispatch_on_commit()
    return job


# Items done in one transaction (each in its own savepoint, so one bad item fails alone): the
# unit a job handed on to another worker resumes from.
BULK_BATCH = BULK_SYNC_MAX


def bulk_job_finish(*, job_id: int, token: int | None = None) -> BulkJob | None:
    """Run a kept job under its lease, batch by batch, and owe its callback the answer.
    ``token`` is the lease a worker was sent with the job; without one the caller takes the
    job over. A finished job is not run again; a run whose lease was handed on (it stalled)
    stops at its next batch, writing nothing, and the new holder resumes there."""
    if token is None:
        token = lease_take_over(
            BULK_JOBS_LEASE_KIND, job_id, unfinished=Q(finished_at__isnull=True)
        )
        if token is None:
            return BulkJob.objects.filter(pk=job_id).first()
    try:
        with transaction.atomic():
            job = lease_fence(BULK_JOBS_LEASE_KIND, job_id, token)
            if job.started_at is None:
                job.started_at = timezone.now()
                job.save(update_fields=["started_at"])
        for index in range(job.batches_done, math.ceil(len(job.items) / BULK_BATCH)):
            _bulk_batch(job_id=job_id, token=token, index=index)
        with transaction.atomic():
            job = lease_fence(BULK_JOBS_LEASE_KIND, job_id, token)
            result = job.result or bulk_run(kind=job.kind, items=[])
            won = lease_finish(
                BULK_JOBS_LEASE_KIND, job_id, token, result=result, finished_at=timezone.now()
            )
            if won and job.callback_url:
                webhook_delivery_enqueue(
                    key=f"bulk:{job.pk}", url=job.callback_url, body=json.dumps(result)
                )
    except LeaseLost:
        pass
    return BulkJob.objects.get(pk=job_id)


@transaction.atomic
def _bulk_batch(*, job_id: int, token: int, index: int) -> None:
    job = lease_fence(BULK_JOBS_LEASE_KIND, job_id, token)
    if job.batches_done != index:
        return  # another run did this batch
    answer = bulk_run(kind=job.kind, items=job.items[index * BULK_BATCH : (index + 1) * BULK_BATCH])
    result = job.result or {}
    for key, values in answer.items():
        result.setdefault(key, []).extend(values)
    # The failures come last in the answer, as Kit's do.
    job.result = {
        **{k: v for k, v in result.items() if k != "failures"},
        "failures": result["failures"],
    }
    job.batches_done += 1
    job.save(update_fields=["result", "batches_done"])
