"""The builder's admin views: thin. Each reads the request, calls one service, and answers
with the builder re-rendered (an htmx swap) or, without htmx, a redirect to the page.
Mistakes come back as the service's ValidationError message on the card they concern."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.crm.models import Subscriber
from apps.crm.services import email_normalize
from apps.tags.models import Tag
from apps.tags.services import tag_name_key

from . import services
from .builder import (
    builder_context,
    canvas_build,
    kind_fields,
    tag_names_for,
    test_runs_waiting,
)
from .dryrun import automation_dry_run, subscriber_state
from .facts import offering_facts_all
from .graph import Graph
from .kinds import kind_get
from .kinds.event_spec import place_text
from .lint import automation_lint
from .models import Automation, AutomationStatus, Node, Reentry, Trigger
from .selectors import nodes_with_counts
from .templates import automation_template_course_launch

BUILDER_TEMPLATE = "admin/automations/automation/builder.html"


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _automation(model_admin, request, automation_id, *, change: bool) -> Automation:
    automation = get_object_or_404(Automation, pk=automation_id)
    allowed = (
        model_admin.has_change_permission(request, automation)
        if change
        else model_admin.has_view_permission(request, automation)
    )
    if not allowed:
        raise PermissionDenied
    return automation


def _dry_state_of_subscriber(email: str):
    """The tags and fields of the subscriber with this email, and who that is; or an error."""
    try:  # addresses are stored normalised: the unique index finds them
        subscriber = Subscriber.objects.filter(email=email_normalize(email)).first()
    except ValidationError:
        subscriber = None
    if subscriber is None:
        return None, f"No subscriber has the email {email!r}; check it, or type tags."
    tag_ids, fields = subscriber_state(subscriber_id=subscriber.pk)
    return (tag_ids, fields, subscriber.email), ""


def _typed_fields(typed_fields: str):
    fields = {}
    for pair in typed_fields.replace("\n", ";").split(";"):
        if pair.strip():
            key, sep, value = pair.partition("=")
            if not sep:
                return None, f"Fields are key=value pairs; {pair.strip()!r} has no '='."
            fields[key.strip()] = value.strip()
    return fields, ""


def _dry_state_typed(typed_tags: str, typed_fields: str):
    """Typed tag names (existing tags, by the usual name rule) and key=value fields."""
    names = [n.strip() for n in typed_tags.split(",") if n.strip()]
    # The same name rule as everywhere else: case and spacing do not make another tag.
    try:
        keys = {n: tag_name_key(n) for n in names}
    except ValidationError as exc:
        return None, " ".join(exc.messages)
    by_key = dict(Tag.objects.filter(name_key__in=keys.values()).values_list("name_key", "pk"))
    unknown = [n for n in names if keys[n] not in by_key]
    if unknown:
        return None, f"No tag is named {unknown[0]!r}; check the tag map for its name."
    fields, error = _typed_fields(typed_fields)
    if error:
        return None, error
    who = "typed tags" + (f": {', '.join(names)}" if names else " (none)")
    return ({by_key[keys[n]] for n in names}, fields, who), ""


def _dry_run(request, graph: Graph) -> dict | None:
    """From the query string: a subscriber's email, or typed tags and fields."""
    email = (request.GET.get("dry_email") or "").strip()
    typed_tags = (request.GET.get("dry_tags") or "").strip()
    typed_fields = (request.GET.get("dry_fields") or "").strip()
    if not (email or typed_tags or typed_fields or "dry" in request.GET):
        return None
    if email:
        state, error = _dry_state_of_subscriber(email)
    else:
        state, error = _dry_state_typed(typed_tags, typed_fields)
    if error:
        return {"error": error}
    tag_ids, fields, who = state
    return {"who": who, "result": automation_dry_run(graph=graph, tag_ids=tag_ids, fields=fields)}


def builder_render(
    request, automation: Automation, *, error_key: str = "", error: str = "", slot=None
):
    nodes = nodes_with_counts(automation)
    graph = Graph.build(nodes)
    triggers = list(automation.triggers.select_related("tag").order_by("pk"))
    ctx = builder_context(automation)
    tag_names_for(graph, triggers, ctx)
    lint = automation_lint(graph=graph, triggers=triggers)
    dry = _dry_run(request, graph)
    canvas = canvas_build(
        graph=graph,
        ctx=ctx,
        lint=lint,
        test_runs=test_runs_waiting(automation),
        dry=dry.get("result") if dry else None,
        error_key=error_key,
        error=error,
        open_slot=slot,
    )
    trigger_messages: dict[int, list[str]] = {}
    for message in lint:
        if message.trigger_id:
            trigger_messages.setdefault(message.trigger_id, []).append(message.text)
    return {
        "automation": automation,
        "canvas": canvas,
        "triggers": [
            {
                "trigger": t,
                "label": ctx["event_labels"].get(t.event_type, t.event_type)
                + place_text(t.params, ctx["place_names"]),
                "messages": trigger_messages.get(t.pk, []),
            }
            for t in triggers
        ],
        "general_messages": [m.text for m in lint if not m.node_id and not m.trigger_id],
        "ctx": ctx,
        "dry": dry,
        "dry_query": request.GET if dry else {},
        "statuses": AutomationStatus.choices,
        "reentries": Reentry.choices,
        "error_key": error_key,
        "error": error,
        "slot": slot,
        "base": reverse("admin:automations_automation_builder", args=[automation.pk]),
    }


def _answer(request, automation, notice: str = "", **kwargs):
    if _is_htmx(request):
        return TemplateResponse(
            request, BUILDER_TEMPLATE, builder_render(request, automation, **kwargs)
        )
    if kwargs.get("error"):
        messages.error(request, kwargs["error"])
    if notice:
        messages.success(request, notice)
    return HttpResponseRedirect(
        reverse("admin:automations_automation_change", args=[automation.pk])
    )


def _messages(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _refill(fields, data):
    """Keep what was typed in a form that is shown again with its error."""
    for item in fields:
        if item.widget not in ("condition", "checkbox") and item.name in data:
            item.value = data[item.name]
    return fields


def _fields_of(kind: str, ctx: dict) -> list:
    """An unknown kind has no form (its error says what the known kinds are)."""
    try:
        return kind_fields(kind, {}, ctx)
    except ValueError:
        return []


def _parent(automation, request):
    parent_id = request.POST.get("parent") or request.GET.get("parent") or None
    if not parent_id:
        return None
    try:
        return Node.objects.get(pk=int(parent_id), automation=automation)
    except (ValueError, Node.DoesNotExist):
        raise Http404("No such step in this automation.") from None


@require_GET
def builder_view(request, model_admin, automation_id):
    automation = _automation(model_admin, request, automation_id, change=False)
    return TemplateResponse(request, BUILDER_TEMPLATE, builder_render(request, automation))


@require_GET
def node_new_view(request, model_admin, automation_id):
    """The "+" picker: the kinds, or (with ``kind``) the new step's form."""
    automation = _automation(model_admin, request, automation_id, change=True)
    slot = {
        "parent": request.GET.get("parent", ""),
        "branch": request.GET.get("branch", ""),
        "position": request.GET.get("position", ""),
        "kind": request.GET.get("kind", ""),
    }
    ctx = builder_context(automation)
    if slot["kind"]:
        try:
            slot["kind_label"] = kind_get(slot["kind"]).label
        except ValueError as exc:
            slot["error"] = str(exc)
            slot["kind"] = ""
        else:
            slot["fields"] = kind_fields(slot["kind"], {}, ctx)
    return TemplateResponse(
        request,
        "admin/automations/automation/builder_slot.html",
        {
            "automation": automation,
            "slot": slot,
            "ctx": ctx,
            "base": reverse("admin:automations_automation_builder", args=[automation.pk]),
        },
    )


@require_POST
def node_add_view(request, model_admin, automation_id):
    automation = _automation(model_admin, request, automation_id, change=True)
    kind = request.POST.get("kind", "")
    position = request.POST.get("position") or None
    try:
        # One service, one transaction: a tag the form names is created only if the step is.
        services.node_create_from_form(
            automation=automation,
            kind=kind,
            data=request.POST,
            parent=_parent(automation, request),
            branch=request.POST.get("branch", ""),
            position=int(position) if position is not None else None,
            label=request.POST.get("label", "").strip(),
        )
    except (ValidationError, ValueError) as exc:
        message = _messages(exc) if isinstance(exc, ValidationError) else str(exc)
        slot = {
            "parent": request.POST.get("parent", ""),
            "branch": request.POST.get("branch", ""),
            "position": request.POST.get("position", ""),
            "kind": kind,
            "error": message,
            "label": request.POST.get("label", ""),
            "fields": _refill(_fields_of(kind, builder_context(automation)), request.POST),
        }
        return _answer(request, automation, error_key="slot", error=message, slot=slot)
    return _answer(request, automation)


@require_POST
def node_edit_view(request, model_admin, automation_id, node_id):
    automation = _automation(model_admin, request, automation_id, change=True)
    node = get_object_or_404(Node, pk=node_id, automation=automation)
    try:
        services.node_update_from_form(
            node=node, data=request.POST, label=request.POST.get("label", "").strip()
        )
    except ValidationError as exc:
        return _answer(request, automation, error_key=f"node-{node.pk}", error=_messages(exc))
    return _answer(request, automation)


@require_POST
def node_delete_view(request, model_admin, automation_id, node_id):
    automation = _automation(model_admin, request, automation_id, change=True)
    node = get_object_or_404(Node, pk=node_id, automation=automation)
    moved = services.node_delete(node=node)
    notice = f"{moved} run(s) waiting at a deleted step moved on to the next step." if moved else ""
    return _answer(request, automation, notice=notice)


@require_POST
def trigger_add_view(request, model_admin, automation_id):
    automation = _automation(model_admin, request, automation_id, change=True)
    try:
        services.trigger_add_from_form(automation=automation, data=request.POST)
    except ValidationError as exc:
        return _answer(request, automation, error_key="trigger", error=_messages(exc))
    return _answer(request, automation)


@require_POST
def trigger_delete_view(request, model_admin, automation_id, trigger_id):
    automation = _automation(model_admin, request, automation_id, change=True)
    services.trigger_delete(
        trigger=get_object_or_404(Trigger, pk=trigger_id, automation=automation)
    )
    return _answer(request, automation)


@require_POST
def status_view(request, model_admin, automation_id):
    automation = _automation(model_admin, request, automation_id, change=True)
    try:
        services.automation_change(
            automation=automation,
            status=request.POST.get("status", ""),
            reentry=request.POST.get("reentry", ""),
            wait_warn_days=request.POST.get("wait_warn_days", "keep"),
        )
    except ValidationError as exc:
        return _answer(request, automation, error_key="status", error=_messages(exc))
    return _answer(request, automation)


@require_POST
def skip_wait_view(request, model_admin, automation_id, run_id):
    automation = _automation(model_admin, request, automation_id, change=True)
    if not automation.runs.filter(pk=run_id).exists():
        raise Http404("No such run in this automation.")
    try:
        services.run_skip_wait(run_id=run_id)
    except ValidationError as exc:
        return _answer(request, automation, error_key="skip", error=_messages(exc))
    return _answer(request, automation)


def template_view(request, model_admin):
    """New from a template: choose an offering, get the Course launch flow as a draft."""
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    offerings = offering_facts_all()
    error = ""
    if request.method == "POST":
        try:
            offering_id = int(request.POST.get("offering") or 0)
            automation = automation_template_course_launch(
                offering_id=offering_id, name=request.POST.get("name", "")
            )
        except ValueError:
            error = "Choose an offering from the list."
        except ValidationError as exc:
            error = _messages(exc)
        else:
            messages.success(
                request,
                f"Built {automation.name!r} as a draft: review it, then switch it live.",
            )
            return HttpResponseRedirect(
                reverse("admin:automations_automation_change", args=[automation.pk])
            )
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "New automation from a template",
        "opts": model_admin.model._meta,
        "offerings": offerings,
        "error": error,
    }
    return TemplateResponse(request, "admin/automations/automation/template.html", context)
