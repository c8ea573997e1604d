"""Tag names now fold the dash family and the spaces around a dash, as they folded case: "Course
- Purchase Success" typed with a hyphen is the offering's "Course – Purchase Success".

Tags that were twins under the new key (one made by an offering with an en dash, one typed
with a hyphen) are merged into one: every tagging, offering and module access rule, lesson
completion tag, webhook endpoint trigger, automation trigger, step setting and condition,
form, hook and broadcast audience that named a twin names the one kept, and so do the events
(an event step or trigger matches its tag by id). The tag kept is the one an offering or
module uses, else the oldest.

The folding is copied here, not imported: a migration must not change when the code does.
"""

import re

from django.db import migrations

_DASHES = str.maketrans({c: "-" for c in "‐‑‒–—―−﹘﹣－"})
_AROUND_DASH = re.compile(r" ?- ?")
# Where a tag id sits in stored JSON: a step's or trigger's setting, a condition's leaves.
_ID_KEYS = ("tag_id", "has", "has_not")
_CHUNK = 1000


def _fold(name):
    folded = " ".join(name.casefold().translate(_DASHES).split())
    return _AROUND_DASH.sub("-", folded)


def _rewrite(value, twins):
    """``value`` (JSON) with every tag id of a twin replaced by its kept tag's id."""
    if isinstance(value, dict):
        return {
            key: twins.get(item, item)
            if key in _ID_KEYS and isinstance(item, int)
            else [twins.get(i, i) for i in item]
            if key == "tag_ids" and isinstance(item, list)
            else _rewrite(item, twins)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_rewrite(item, twins) for item in value]
    return value


def _rewrite_json_rows(queryset, field, twins):
    changed = []
    for row in queryset.iterator(chunk_size=_CHUNK):
        value = getattr(row, field)
        new = _rewrite(value, twins)
        if new != value:
            setattr(row, field, new)
            changed.append(row)
    queryset.model.objects.bulk_update(changed, [field], batch_size=_CHUNK)


def _id_list(ids, twins):
    return sorted({twins.get(int(i), int(i)) for i in ids or []})


def merge_twins(apps, schema_editor):
    Tag = apps.get_model("tags", "Tag")
    Tagging = apps.get_model("tags", "Tagging")
    Offering = apps.get_model("offerings", "Offering")
    Module = apps.get_model("offerings", "Module")
    Lesson = apps.get_model("offerings", "Lesson")
    WebhookEndpoint = apps.get_model("members", "WebhookEndpoint")
    Trigger = apps.get_model("automations", "Trigger")
    Node = apps.get_model("automations", "Node")
    Form = apps.get_model("crm", "Form")
    FormSubscription = apps.get_model("crm", "FormSubscription")
    Hook = apps.get_model("crm", "Hook")
    Broadcast = apps.get_model("crm", "Broadcast")
    Event = apps.get_model("crm", "Event")

    offering_fields = ("base_tag_id", "instant_tag_id", "revoke_tag_id", "purchase_tag_id")
    convention = {
        tag_id for row in Offering.objects.values_list(*offering_fields) for tag_id in row
    } | set(Module.objects.values_list("access_tag_id", flat=True))
    groups = {}
    for tag_id, name in Tag.objects.order_by("pk").values_list("pk", "name"):
        groups.setdefault(_fold(name), []).append(tag_id)
    twins = {}  # twin id -> kept id
    for ids in groups.values():
        if len(ids) > 1:
            kept = min(ids, key=lambda pk: (pk not in convention, pk))
            twins.update({pk: kept for pk in ids if pk != kept})

    for twin, kept in twins.items():
        # A subscriber who has both keeps the kept tag's row (and its date and source).
        has_kept = Tagging.objects.filter(tag_id=kept).values("subscriber_id")
        Tagging.objects.filter(tag_id=twin, subscriber_id__in=has_kept).delete()
        Tagging.objects.filter(tag_id=twin).update(tag_id=kept)
        for field in offering_fields:
            Offering.objects.filter(**{field: twin}).update(**{field: kept})
        Module.objects.filter(access_tag_id=twin).update(access_tag_id=kept)
        Lesson.objects.filter(completion_tag_id=twin).update(completion_tag_id=kept)
        WebhookEndpoint.objects.filter(trigger_tag_id=twin).update(trigger_tag_id=kept)
        Trigger.objects.filter(tag_id=twin).update(tag_id=kept)
        Hook.objects.filter(tag_id=twin).update(tag_id=kept)
    if twins:
        _rewrite_json_rows(Node.objects.all(), "settings", twins)
        _rewrite_json_rows(Trigger.objects.all(), "params", twins)
        _rewrite_json_rows(Broadcast.objects.filter(condition__isnull=False), "condition", twins)
        _rewrite_json_rows(Event.objects.filter(payload__tag_id__in=list(twins)), "payload", twins)
        for model in (Form, FormSubscription):
            changed = []
            for row in model.objects.iterator(chunk_size=_CHUNK):
                ids = _id_list(row.tag_ids, twins)
                if ids != sorted({int(i) for i in row.tag_ids or []}):
                    row.tag_ids = ids
                    changed.append(row)
            model.objects.bulk_update(changed, ["tag_ids"], batch_size=_CHUNK)
        Tag.objects.filter(pk__in=list(twins)).delete()

    # Every key in the new form (unique again now that each group has one tag).
    retyped = []
    for tag in Tag.objects.iterator(chunk_size=_CHUNK):
        key = _fold(tag.name)
        if key != tag.name_key:
            tag.name_key = key
            retyped.append(tag)
    Tag.objects.bulk_update(retyped, ["name_key"], batch_size=_CHUNK)


class Migration(migrations.Migration):
    dependencies = [
        ("tags", "0001_initial"),
        ("offerings", "0001_initial"),
        ("members", "0004_webhookcall_accepted_index"),
        ("automations", "0001_initial"),
        ("crm", "0005_subscriber_import_updated_at"),
    ]

    operations = [migrations.RunPython(merge_twins, migrations.RunPython.noop)]
