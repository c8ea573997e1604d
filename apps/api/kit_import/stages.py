"""The import's stages, in order: each reads Kit page by page and writes a page and the
import's position in one transaction, which first checks that this run still holds the
import's lease (``LeaseLost`` otherwise: a run whose import was handed on writes nothing)."""

from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core.outbox import lease_fence
from apps.crm.models import (
    Broadcast,
    BroadcastStatus,
    CustomField,
    Form,
    Sequence,
    Subscriber,
    SubscriberState,
)
from apps.crm.services import (
    custom_field_create,
    email_normalize,
    subscriber_unsubscribe,
    subscribers_create_bulk,
    subscribers_fields_set,
)
from apps.tags.services import tag_get_or_create, taggings_add

from ..job_leases import KIT_IMPORTS_LEASE_KIND
from ..models import KitImport, KitImportRecord

STAGES = (
    "custom_fields",
    "tags",
    "subscribers",
    "taggings",
    "forms",
    "sequences",
    "broadcasts",
    "webhooks",
)
FAILURES_KEPT = 1000
Progress = Callable[[KitImport], None]
# What a page changes on the import row: saved alone, so the lease (which the heartbeat
# renews meanwhile) is never written back from memory.
PROGRESS_FIELDS = [
    "stage",
    "cursor",
    "counts",
    "totals",
    "failures",
    "webhooks",
    "updated_at",
]


def lease_check(imp: KitImport) -> None:
    """The first statement of a transaction that writes the import's progress: lock its row
    if this run still holds the lease (the token ``imp`` was read with), else ``LeaseLost``."""
    lease_fence(
        KIT_IMPORTS_LEASE_KIND, imp.pk, imp.lease_token, queryset=KitImport.objects.only("pk")
    )


def _count(imp: KitImport, stage: str, what: str, n: int = 1) -> None:
    if n:
        by_stage = imp.counts.setdefault(stage, {})
        by_stage[what] = by_stage.get(what, 0) + n


def _fail(imp: KitImport, stage: str, record, reason: str) -> None:
    _count(imp, stage, "failed")
    if len(imp.failures) < FAILURES_KEPT:
        imp.failures.append({"stage": stage, "record": record, "reason": reason})


def _pages(imp, client, stage: str, path: str, key: str, write, progress, params=None):
    """Each page of ``path`` from the saved cursor on: ``write(items)`` and the new cursor in
    one transaction."""
    while True:
        answer = client.page(path, after=imp.cursor.get("after"), params=params)
        if "total_count" in answer.get("pagination", {}):
            imp.totals[stage] = answer["pagination"]["total_count"]
        items = answer.get(key) or []
        pagination = answer.get("pagination") or {}
        with transaction.atomic():
            lease_check(imp)
            write(items)
            _count(imp, stage, "seen", len(items))
            imp.cursor = {**imp.cursor, "after": pagination.get("end_cursor")}
            imp.save(update_fields=PROGRESS_FIELDS)
        progress(imp)
        if not pagination.get("has_next_page") or not items:
            return


def _records(kind: str) -> dict[int, KitImportRecord]:
    return {r.kit_id: r for r in KitImportRecord.objects.filter(kind=kind)}


def _remember(kind: str, kit_id: int, local_id: int, key: str = "") -> None:
    KitImportRecord.objects.update_or_create(
        kind=kind, kit_id=kit_id, defaults={"local_id": local_id, "key": key}
    )


# Stages -----------------------------------------------------------------------------------


def _custom_fields(imp, client, progress):
    def write(items):
        known = _records("custom_field")
        for item in items:
            label = str(item.get("label") or "").strip()
            record = known.get(item.get("id"))
            field = CustomField.objects.filter(pk=record.local_id).first() if record else None
            field = field or CustomField.objects.filter(label__iexact=label).first()
            if field is None:
                try:
                    field = custom_field_create(label=label)
                except ValidationError as exc:
                    _fail(imp, "custom_fields", label, " ".join(exc.messages))
                    continue
                _count(imp, "custom_fields", "created")
            else:
                _count(imp, "custom_fields", "unchanged")
            _remember("custom_field", item["id"], field.pk, key=str(item.get("key") or ""))

    _pages(imp, client, "custom_fields", "custom_fields", "custom_fields", write, progress)


def _tags(imp, client, progress):
    def write(items):
        for item in items:
            try:
                tag, created = tag_get_or_create(name=str(item.get("name") or ""))
            except ValidationError as exc:
                _fail(imp, "tags", item.get("name"), " ".join(exc.messages))
                continue
            _count(imp, "tags", "created" if created else "unchanged")
            _remember("tag", item["id"], tag.pk)

    _pages(imp, client, "tags", "tags", "tags", write, progress)


KIT_STATES = {s.value for s in SubscriberState}


def _subscribers(imp, client, progress):
    def write(items):
        records = KitImportRecord.objects.filter(kind="custom_field")
        local_keys = dict(
            CustomField.objects.filter(pk__in=[r.local_id for r in records]).values_list(
                "pk", "key"
            )
        )
        field_keys = {r.key: local_keys.get(r.local_id) for r in records}
        rows = {}
        for item in items:
            try:
                email = email_normalize(item.get("email_address") or "")
            except ValidationError as exc:
                _fail(imp, "subscribers", item.get("email_address"), " ".join(exc.messages))
                continue
            state = item.get("state") if item.get("state") in KIT_STATES else "active"
            fields = {
                field_keys[k]: v
                for k, v in (item.get("fields") or {}).items()
                if field_keys.get(k) and v not in (None, "")
            }
            rows[email] = (str(item.get("first_name") or "")[:255], state, fields)
        existing = {s.email: s for s in Subscriber.objects.filter(email__in=list(rows))}
        new_active = [(e, r[0]) for e, r in rows.items() if e not in existing and r[1] == "active"]
        created = subscribers_create_bulk(people=new_active)
        # Not-active people arrive in their state, without the activation automations react to.
        created += Subscriber.objects.bulk_create(
            [
                Subscriber(
                    email=e,
                    first_name=r[0],
                    state=r[1],
                    cancelled_at=timezone.now() if r[1] == "cancelled" else None,
                )
                for e, r in rows.items()
                if e not in existing and r[1] != "active"
            ]
        )
        by_email = {**existing, **{s.email: s for s in created}}
        renamed, changed_ids = [], set()
        for email, subscriber in existing.items():
            first_name, state, _fields = rows[email]
            if first_name and first_name != subscriber.first_name:
                subscriber.first_name, subscriber.updated_at = first_name, timezone.now()
                renamed.append(subscriber)
            if state == "cancelled" and subscriber.state != "cancelled":
                subscriber_unsubscribe(subscriber=subscriber)
                changed_ids.add(subscriber.pk)
        if renamed:
            Subscriber.objects.bulk_update(renamed, ["first_name", "updated_at"])
        changed = subscribers_fields_set(
            values={by_email[e].pk: r[2] for e, r in rows.items() if r[2]}
        )
        existing_ids = {s.pk for s in existing.values()}
        updated = (changed_ids | {s.pk for s in renamed} | set(changed)) & existing_ids
        _count(imp, "subscribers", "created", len(created))
        _count(imp, "subscribers", "updated", len(updated))
        _count(imp, "subscribers", "unchanged", len(existing_ids - updated))

    params = {"status": "all", "sort_order": "asc"}
    if not imp.cursor.get("after"):
        params["include_total_count"] = "true"
    _pages(imp, client, "subscribers", "subscribers", "subscribers", write, progress, params)


def _taggings(imp, client, progress):
    tags = sorted(_records("tag").values(), key=lambda r: r.kit_id)
    start = imp.cursor.get("tag_index", 0)
    for index in range(start, len(tags)):
        record = tags[index]
        if imp.cursor.get("tag_index") != index:
            imp.cursor = {"tag_index": index}
            with transaction.atomic():
                lease_check(imp)
                imp.save(update_fields=["cursor", "updated_at"])

        def write(items, record=record):
            emails = [str(i.get("email_address") or "").strip().lower() for i in items]
            ids = dict(Subscriber.objects.filter(email__in=emails).values_list("email", "pk"))
            pairs = [(ids[e], record.local_id) for e in emails if e in ids]
            added = taggings_add(pairs=pairs, source="kit_import")
            _count(imp, "taggings", "created", len(added))
            _count(imp, "taggings", "unchanged", len(pairs) - len(added))

        _pages(
            imp,
            client,
            "taggings",
            f"tags/{record.kit_id}/subscribers",
            "subscribers",
            write,
            progress,
            {"status": "all"},
        )


def _matched(imp, client, progress, *, stage, kind, model, build, update=None):
    """Forms, sequences and broadcasts: create what is new, update what was imported."""

    def write(items):
        known = _records(kind)
        for item in items:
            record = known.get(item.get("id"))
            local = model.objects.filter(pk=record.local_id).first() if record else None
            try:
                values = build(item)
            except (ValidationError, ValueError, TypeError) as exc:
                _fail(
                    imp, stage, item.get("name") or item.get("subject") or item.get("id"), str(exc)
                )
                continue
            if local is None:
                local = model.objects.create(**values)
                _count(imp, stage, "created")
            else:
                changed = {k: v for k, v in values.items() if getattr(local, k) != v}
                if changed and (update is None or update(local)):
                    for k, v in changed.items():
                        setattr(local, k, v)
                    local.save(update_fields=list(changed))
                    _count(imp, stage, "updated")
                else:
                    _count(imp, stage, "unchanged")
            _remember(kind, item["id"], local.pk)

    _pages(imp, client, stage, stage, stage, write, progress)


def _form_values(item):
    return {
        "name": str(item.get("name") or f"Kit form {item.get('id')}")[:255],
        "kind": "embed" if item.get("type") == "embed" else "hosted",
    }


def _sequence_values(item):
    name = str(item.get("name") or f"Kit sequence {item.get('id')}")[:255]
    if (
        Sequence.objects.filter(name=name)
        .exclude(pk__in=KitImportRecord.objects.filter(kind="sequence").values("local_id"))
        .exists()
    ):
        name = f"{name} (from Kit)"[:255]
    return {"name": name, "hold": bool(item.get("hold")), "repeat": bool(item.get("repeat"))}


def _broadcast_values(item):
    return {
        "subject": str(item.get("subject") or "")[:255],
        "content": str(item.get("content") or ""),
        "description": str(item.get("description") or ""),
        "preview_text": str(item.get("preview_text") or "")[:255],
        "thumbnail_url": str(item.get("thumbnail_url") or "")[:2000],
        "thumbnail_alt": str(item.get("thumbnail_alt") or "")[:255],
        "public": bool(item.get("public")),
    }


def _forms(imp, client, progress):
    _matched(imp, client, progress, stage="forms", kind="form", model=Form, build=_form_values)


def _sequences(imp, client, progress):
    _matched(
        imp,
        client,
        progress,
        stage="sequences",
        kind="sequence",
        model=Sequence,
        build=_sequence_values,
    )


def _broadcasts(imp, client, progress):
    # Drafts only: a broadcast imported from Kit is never sent from here by the import, and
    # one already sent or scheduled here keeps what it is.
    _matched(
        imp,
        client,
        progress,
        stage="broadcasts",
        kind="broadcast",
        model=Broadcast,
        build=lambda item: {**_broadcast_values(item), "status": BroadcastStatus.DRAFT},
        update=lambda local: local.status == BroadcastStatus.DRAFT,
    )


def _webhooks(imp, client, progress):
    def write(items):
        seen = {w.get("id") for w in imp.webhooks}
        for item in items:
            if item.get("id") not in seen:
                imp.webhooks.append(
                    {
                        "id": item.get("id"),
                        "event": item.get("event"),
                        "target_url": item.get("target_url"),
                    }
                )

    _pages(imp, client, "webhooks", "webhooks", "webhooks", write, progress)


_STAGE_RUNNERS = {
    "custom_fields": _custom_fields,
    "tags": _tags,
    "subscribers": _subscribers,
    "taggings": _taggings,
    "forms": _forms,
    "sequences": _sequences,
    "broadcasts": _broadcasts,
    "webhooks": _webhooks,
}
