"""The course player's pages: dashboard, offering, lesson, downloads, and staff's preview as a
member. Every page reads through a Viewer: the logged-in member, or (staff only) a preview of
what a member with chosen tags, or one given subscriber, would see. A preview is read-only: it
writes nothing, not even the subscriber's progress."""

import mimetypes
from dataclasses import dataclass
from datetime import datetime
from functools import wraps

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.files.storage import FileSystemStorage, default_storage
from django.http import FileResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.crm.models import Subscriber
from apps.offerings.content import video_embed
from apps.offerings.models import AccessGrant, Lesson, LessonAttachment, Offering
from apps.offerings.player import Outline, outline_for, outlines_for
from apps.offerings.services import lesson_complete
from apps.tags.models import Tag

from .models import Member
from .player_hooks import lesson_completion_blocked, player_gate, player_panels

PREVIEW_SESSION_KEY = "member_preview"


@dataclass
class Viewer:
    """Whose eyes a page is seen through. ``preview`` is set for staff previews: ``tag_ids``
    (a member holding exactly these tags, granted access when the preview started) or a real
    ``subscriber_id`` (their grants, tags and progress, read only)."""

    subscriber_id: int | None
    member: Member | None = None
    preview: dict | None = None

    @property
    def read_only(self) -> bool:
        return self.preview is not None

    @property
    def preview_tags(self) -> set[int] | None:
        if self.preview and self.preview.get("tag_ids") is not None:
            return set(self.preview["tag_ids"])
        return None

    def _preview_grant(self, offering: Offering) -> AccessGrant | None:
        if offering.pk != self.preview["offering_id"]:
            return None
        started = datetime.fromisoformat(self.preview["started_at"])
        return AccessGrant(offering=offering, granted_at=started)

    def grant_for(self, offering: Offering) -> AccessGrant | None:
        if self.preview_tags is not None:
            return self._preview_grant(offering)
        return AccessGrant.objects.filter(
            subscriber_id=self.subscriber_id, offering=offering, revoked_at__isnull=True
        ).first()

    def outline(self, offering: Offering) -> Outline:
        tags = self.preview_tags
        return outline_for(
            offering=offering,
            subscriber_id=self.subscriber_id,
            grant=self.grant_for(offering),
            held=tags,
            completed=set() if tags is not None else None,
        )

    def outlines(self) -> list[Outline]:
        tags = self.preview_tags
        if tags is not None:
            offering = Offering.objects.get(pk=self.preview["offering_id"])
            pairs = [(offering, self._preview_grant(offering))]
            return outlines_for(subscriber_id=None, pairs=pairs, held=tags, completed=set())
        grants = (
            AccessGrant.objects.filter(subscriber_id=self.subscriber_id, revoked_at__isnull=True)
            .select_related("offering")
            .order_by("offering__name")
        )
        return outlines_for(
            subscriber_id=self.subscriber_id, pairs=[(g.offering, g) for g in grants]
        )


def page_not_found(request, reason: str | None = None):
    return render(
        request,
        "members/not_found.html",
        {"reason": reason or _("There is no page at this address.")},
        status=404,
    )


def handler404(request, exception=None):
    return page_not_found(request)


def _no_access(request, reason: str, offering=None, status: int = 403):
    return render(
        request, "members/no_access.html", {"offering": offering, "reason": reason}, status=status
    )


def _viewer(request) -> Viewer | None:
    preview = request.session.get(PREVIEW_SESSION_KEY) if request.user.is_staff else None
    if preview:
        return Viewer(subscriber_id=preview.get("subscriber_id"), preview=preview)
    member = Member.objects.select_related("subscriber").filter(user=request.user).first()
    if member is None:
        return None
    return Viewer(subscriber_id=member.subscriber_id, member=member)


def viewer_required(view=None, *, anonymous_status: int | None = None):
    """Member pages: the member, or a staff preview. Logged out: the login page, or for a
    download ``anonymous_status`` (a file link must not answer with an HTML login page)."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                if anonymous_status:
                    return _no_access(
                        request, _("Log in to download this file."), status=anonymous_status
                    )
                return redirect(f"{reverse('members:login')}?next={request.get_full_path()}")
            viewer = _viewer(request)
            if viewer is None:
                return _no_access(request, staff_without_profile_reason(request))
            request.viewer = viewer
            return view(request, *args, **kwargs)

        return wrapper

    return decorate(view) if view else decorate


def staff_without_profile_reason(request) -> str:
    if request.user.is_staff:
        return _(
            "Staff logins have no member profile. To see the member area, open an offering "
            "in the admin and use “Preview as a member”."
        )
    return _("This login has no member profile.")


@viewer_required
def dashboard_view(request):
    outlines = request.viewer.outlines()
    context = {"outlines": outlines}
    context["panels"] = player_panels("dashboard", request, context)
    return render(request, "members/dashboard.html", context)


@viewer_required
def offering_view(request, slug):
    offering = Offering.objects.filter(slug=slug).first()
    if offering is None:
        return page_not_found(request, _("There is no such offering."))
    outline = request.viewer.outline(offering)
    if not outline.any_open:
        return _no_access(request, _("You do not have access to this offering."), offering)
    gated = player_gate(request, request.viewer, offering)
    if gated is not None:
        return gated
    context = {"offering": offering, "outline": outline}
    context["panels"] = player_panels("offering", request, context)
    return render(request, "members/offering.html", context)


@viewer_required
def lesson_view(request, slug, lesson_slug):
    offering = Offering.objects.filter(slug=slug).first()
    if offering is None:
        return page_not_found(request, _("There is no such offering."))
    viewer = request.viewer
    outline = viewer.outline(offering)
    item = outline.find(lesson_slug)
    if item is None:
        return page_not_found(request, _("There is no such lesson."))
    if not outline.any_open:
        return _no_access(request, _("You do not have access to this offering."), offering)
    before, after = outline.neighbours(item)
    if request.method == "POST":
        if viewer.read_only:
            messages.info(request, _("This is a preview: nothing was saved."))
            return redirect("members:lesson", slug=slug, lesson_slug=lesson_slug)
        if not item.open:
            return _no_access(request, _("This lesson is still locked."), offering)
        blocked = lesson_completion_blocked(request, item.lesson.pk)
        if blocked:
            messages.error(request, blocked)
            return redirect("members:lesson", slug=slug, lesson_slug=lesson_slug)
        lesson_complete(
            subscriber=viewer.member.subscriber,
            lesson=Lesson.objects.select_related("module").get(pk=item.lesson.pk),
        )
        messages.success(request, _("“%(title)s” is complete.") % {"title": item.lesson.title})
        if request.POST.get("then") == "next":
            # The next lesson as it is now: completing this one may have opened it (in order).
            following = viewer.outline(offering).neighbours(item)[1]
            if following is not None and following.open:
                return redirect("members:lesson", slug=slug, lesson_slug=following.lesson.slug)
            return redirect("members:offering", slug=slug)
        return redirect("members:lesson", slug=slug, lesson_slug=lesson_slug)
    gated = player_gate(request, viewer, offering)
    if gated is not None:
        return gated
    lesson, attachments = None, []
    if item.open:
        lesson = Lesson.objects.get(pk=item.lesson.pk)  # the body, left out of the outline
        attachments = list(LessonAttachment.objects.filter(lesson_id=lesson.pk))
    context = {
        "offering": offering,
        "outline": outline,
        "item": item,
        "lesson": lesson or item.lesson,
        "embed": video_embed(lesson.video_url) if lesson else None,
        "attachments": attachments,
        "previous": before,
        "next": after,
    }
    if item.open:
        context["blocked"] = lesson_completion_blocked(request, item.lesson.pk)
        context["panels"] = player_panels("lesson", request, context)
    return render(request, "members/lesson.html", context)


def _serve(name: str, *, download_as: str | None):
    """A stored file through the app (local storage), or a redirect to a signed URL that
    expires (S3: the bucket stays private)."""
    if not isinstance(default_storage, FileSystemStorage):
        return HttpResponseRedirect(default_storage.url(name))
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    inline = download_as is None or content_type.startswith(("video/", "audio/", "image/"))
    response = FileResponse(
        default_storage.open(name, "rb"),
        as_attachment=not inline,
        filename=download_as or name.rsplit("/", 1)[-1],
        content_type=content_type,
    )
    response["Cache-Control"] = "private, max-age=300"
    return response


@viewer_required(anonymous_status=403)
def attachment_view(request, slug, lesson_slug, pk):
    offering = Offering.objects.filter(slug=slug).first()
    attachment = (
        LessonAttachment.objects.filter(
            pk=pk, lesson__slug=lesson_slug, lesson__offering__slug=slug
        ).first()
        if offering
        else None
    )
    if attachment is None or not attachment.file:
        return page_not_found(request, _("There is no such file."))
    item = request.viewer.outline(offering).find(lesson_slug)
    if item is None or not item.open:
        return _no_access(request, _("You do not have access to this file."), offering)
    extension = attachment.file.name.rsplit(".", 1)[-1] if "." in attachment.file.name else ""
    label = attachment.label
    if extension and not label.lower().endswith(f".{extension.lower()}"):
        label = f"{label}.{extension}"
    return _serve(attachment.file.name, download_as=label)


@viewer_required(anonymous_status=403)
def offering_image_view(request, slug):
    offering = get_object_or_404(Offering, slug=slug)
    viewer = request.viewer
    if not offering.image:
        return page_not_found(request, _("This offering has no picture."))
    if viewer.grant_for(offering) is None and not viewer.read_only:
        return _no_access(request, _("You do not have access to this offering."), offering)
    return _serve(offering.image.name, download_as=None)


# Staff preview ------------------------------------------------------------------------------


@require_POST
@staff_member_required
def preview_start_view(request):
    """From the offering's admin page: see it as a member with the chosen tags, or as one
    subscriber. Stored in the session only; nothing is written anywhere else."""
    offering_id = request.POST.get("offering", "")
    offering = Offering.objects.filter(pk=offering_id).first() if offering_id.isdigit() else None
    if offering is None:
        messages.error(request, "Choose an offering to preview, from its admin page.")
        return redirect("admin:offerings_offering_changelist")
    admin_page = reverse("admin:offerings_offering_change", args=[offering.pk])
    email = (request.POST.get("email") or "").strip().lower()
    preview = {"offering_id": offering.pk, "started_at": timezone.now().isoformat()}
    if email:
        subscriber = Subscriber.objects.filter(email__iexact=email).first()
        if subscriber is None:
            messages.error(request, f"No subscriber has the email {email}; check the address.")
            return redirect(admin_page)
        preview |= {"subscriber_id": subscriber.pk, "label": f"{subscriber.email}"}
    else:
        try:
            ids = [int(x) for x in request.POST.getlist("tags")]
        except ValueError:
            messages.error(request, "Choose tags from the list.")
            return redirect(admin_page)
        names = list(Tag.objects.filter(pk__in=ids).order_by("name").values_list("name", flat=True))
        preview |= {
            "tag_ids": ids,
            "subscriber_id": None,
            "label": ", ".join(names) or "no tags",
        }
    request.session[PREVIEW_SESSION_KEY] = preview
    return redirect("members:offering", slug=offering.slug)


@require_POST
@staff_member_required
def preview_end_view(request):
    preview = request.session.pop(PREVIEW_SESSION_KEY, None)
    if preview:
        return redirect("admin:offerings_offering_change", preview["offering_id"])
    return redirect("admin:index")
