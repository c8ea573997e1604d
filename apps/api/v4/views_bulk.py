"""Kit v4's bulk endpoints: up to 100 items answer at once (200); more answer 202 ``{}`` and
the result goes to ``callback_url`` when done (apps/api/bulk.py)."""

from rest_framework.response import Response

from apps.api.bulk import BULK_MAX_ITEMS, BULK_SYNC_MAX, OPERATIONS, bulk_job_create, bulk_run

from .base import V4Error, V4View, invalid, text_param


class BulkView(V4View):
    kind = ""
    success_codes = {"POST": (200, 202), "DELETE": (200, 202)}

    def post(self, request):
        return self.run(self.kind)

    def run(self, kind: str):
        body = self.body()
        list_key = OPERATIONS[kind][0]
        items = body.get(list_key)
        if not isinstance(items, list) or not items:
            raise invalid(f"{list_key} must be a non-empty list.")
        if len(items) > BULK_MAX_ITEMS:
            raise V4Error(413, f"At most {BULK_MAX_ITEMS} {list_key} in one request.")
        callback = text_param(body.get("callback_url"), "callback_url", max_length=2000)
        if len(items) <= BULK_SYNC_MAX:
            return Response(bulk_run(kind=kind, items=items))
        if callback and not callback.startswith(("http://", "https://")):
            raise invalid("callback_url must be an http(s) URL.")
        bulk_job_create(kind=kind, items=items, callback_url=callback)
        return Response({}, status=202)


class BulkTagsView(BulkView):
    kind = "tags"


class BulkTaggingsView(BulkView):
    kind = "taggings"

    def delete(self, request):
        return self.run("untaggings")


class BulkSubscribersView(BulkView):
    kind = "subscribers"


class BulkCustomFieldsView(BulkView):
    kind = "custom_fields"


class BulkCustomFieldValuesView(BulkView):
    kind = "custom_field_values"


class BulkFormAdditionsView(BulkView):
    kind = "form_additions"
