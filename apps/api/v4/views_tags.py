"""Kit v4: tags and who has them."""

from rest_framework.response import Response

from apps.crm.models import Subscriber
from apps.crm.payloads import _iso
from apps.tags.models import Tag, Tagging
from apps.tags.services import tag_get_or_create, tag_rename, taggings_remove

from ..services.kit import kit_tag_add
from .base import PAGE_PARAMS, V4View, cursor_page, get_or_404, text_param
from .views_subscribers import membership_page, subscriber_by_email, subscribers_shaped

# Tags -------------------------------------------------------------------------------------


def tag_shape(tag: Tag) -> dict:
    return {"id": tag.pk, "name": tag.name, "created_at": _iso(tag.created_at)}


class TagsView(V4View):
    query_params = PAGE_PARAMS

    def get(self, request):
        return Response(
            cursor_page(
                Tag.objects.all(),
                request.query_params,
                "tags",
                lambda rows: list(map(tag_shape, rows)),
            )
        )

    def post(self, request):
        """201 with a new tag; 200 with the existing one when the name is taken (Kit)."""
        name = text_param(self.body().get("name"), "name", required=True)
        tag, created = tag_get_or_create(name=name)
        return Response({"tag": tag_shape(tag)}, status=201 if created else 200)


class TagView(V4View):
    def put(self, request, tag_id):
        tag = get_or_404(Tag, tag_id)
        name = text_param(self.body().get("name"), "name", required=True)
        return Response({"tag": tag_shape(tag_rename(tag=tag, name=name))})


class TagSubscribersView(V4View):
    query_params = (*PAGE_PARAMS, "status", "tagged_after", "tagged_before")

    def get(self, request, tag_id):
        tag = get_or_404(Tag, tag_id)
        return Response(
            membership_page(
                Tagging.objects.filter(tag=tag),
                request.query_params,
                at="created_at",
                label="tagged_at",
            )
        )

    def post(self, request, tag_id):
        """Tag by email address: the subscriber must exist (v4, unlike v3)."""
        tag = get_or_404(Tag, tag_id)
        subscriber = subscriber_by_email(self.body().get("email_address"))
        return _tag(tag, subscriber)

    def delete(self, request, tag_id):
        tag = get_or_404(Tag, tag_id)
        subscriber = subscriber_by_email(self.body().get("email_address"))
        taggings_remove(pairs=[(subscriber.pk, tag.pk)], source="api")
        return Response(status=204)


def _tag(tag: Tag, subscriber: Subscriber) -> Response:
    """201 when newly tagged, 200 when the subscriber had the tag already."""
    added = kit_tag_add(tag=tag, subscriber=subscriber)
    tagging = Tagging.objects.get(subscriber=subscriber, tag=tag)
    return Response(
        {
            "subscriber": subscribers_shaped(
                [tagging], lambda r: {"tagged_at": _iso(r.created_at)}
            )[0]
        },
        status=201 if added else 200,
    )


class TagSubscriberView(V4View):
    def post(self, request, tag_id, subscriber_id):
        return _tag(get_or_404(Tag, tag_id), get_or_404(Subscriber, subscriber_id))

    def delete(self, request, tag_id, subscriber_id):
        tag, subscriber = get_or_404(Tag, tag_id), get_or_404(Subscriber, subscriber_id)
        taggings_remove(pairs=[(subscriber.pk, tag.pk)], source="api")
        return Response(status=204)
