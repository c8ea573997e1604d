"""/api/v1/: offerings, members and access, automations and runs, webhook endpoints, the
outbox and the event log. Thin: reads through querysets, writes through services."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.routers import APIRootView

from apps.automations.models import ACTIVE_RUN_STATUSES, Automation, Run
from apps.automations.portable import AutomationFileError, automation_export, automation_import
from apps.automations.services import automation_set_status
from apps.crm.models import EmailMessage, Event
from apps.members.models import Member, WebhookEndpoint
from apps.members.services import endpoint_mint, endpoint_revoke, endpoint_rotate
from apps.offerings.models import AccessGrant, Offering

from ..services.automations import automation_replace
from . import serializers as s
from .base import StaffAPI, conflict, model_permissions

RO = (mixins.ListModelMixin, mixins.RetrieveModelMixin)


class StaffAPIRoot(StaffAPI, APIRootView):
    pass


ID_FILTERS = {"subscriber", "automation", "offering"}


def _filters(queryset, request, names: dict[str, str]):
    for param, lookup in names.items():
        value = request.query_params.get(param)
        if value in (None, ""):
            continue
        if param in ID_FILTERS and not value.isdigit():
            raise ValidationError({param: [f"must be an id (a whole number), got {value!r}"]})
        queryset = queryset.filter(**{lookup: value})
    return queryset


def _filter_params(*names):
    return extend_schema(parameters=[OpenApiParameter(n, str) for n in names])


class OfferingViewSet(StaffAPI, *RO, viewsets.GenericViewSet):
    action_permissions = model_permissions(Offering)
    serializer_class = s.OfferingSerializer
    queryset = Offering.objects.select_related(
        "base_tag", "instant_tag", "revoke_tag", "purchase_tag"
    ).prefetch_related("modules__access_tag")


@_filter_params("subscriber", "offering", "active")
class GrantViewSet(StaffAPI, *RO, viewsets.GenericViewSet):
    action_permissions = model_permissions(AccessGrant)
    serializer_class = s.GrantSerializer

    def get_queryset(self):
        queryset = _filters(
            AccessGrant.objects.prefetch_related("releases"),
            self.request,
            {"subscriber": "subscriber_id", "offering": "offering_id"},
        )
        active = self.request.query_params.get("active")
        if active in ("true", "false"):
            queryset = queryset.filter(revoked_at__isnull=active == "true")
        return queryset


class MemberViewSet(StaffAPI, *RO, viewsets.GenericViewSet):
    action_permissions = {
        **model_permissions(Member),
        "access": ["members.view_member", "offerings.view_accessgrant"],
    }
    serializer_class = s.MemberSerializer
    queryset = Member.objects.select_related("user")

    @extend_schema(responses=s.GrantSerializer(many=True))
    @action(detail=True)
    def access(self, request, pk=None):
        """The member's grants, each with the modules released to them and when."""
        member = self.get_object()
        grants = AccessGrant.objects.filter(subscriber_id=member.subscriber_id).prefetch_related(
            "releases"
        )
        # A page like every other list here, as the schema says (it was a bare list).
        page = self.paginate_queryset(grants)
        return self.get_paginated_response(s.GrantSerializer(page, many=True).data)


class AutomationViewSet(StaffAPI, *RO, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """Automations in the JSON schema of ``automation_export`` (tessera.automation v1)."""

    serializer_class = s.AutomationSerializer
    queryset = Automation.objects.all()
    # Pausing or going live moves (or stops) real people: it is a change to the automation.
    action_permissions = {
        **model_permissions(Automation),
        "status": ["automations.change_automation"],
    }

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def retrieve(self, request, *args, **kwargs):
        return Response(automation_export(self.get_object()))

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT})
    def create(self, request, *args, **kwargs):
        if not isinstance(request.data, dict):
            raise ValidationError({"document": ["must be a JSON object (an automation export)"]})
        automation = automation_import(request.data)
        return Response(automation_export(automation), status=201)

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT)
    def update(self, request, *args, **kwargs):
        """Replace the automation with the document (only while no one is in it)."""
        automation = self.get_object()
        if not isinstance(request.data, dict):
            raise ValidationError({"document": ["must be a JSON object (an automation export)"]})
        if Run.objects.filter(automation=automation, status__in=ACTIVE_RUN_STATUSES).exists():
            return conflict(
                "Subscribers are in this automation; pause it and exit their runs "
                "before replacing it, or import the document as a new automation."
            )
        replaced = automation_replace(automation=automation, document=request.data)
        return Response(automation_export(replaced))

    @extend_schema(request=s.StatusSerializer, responses=s.AutomationSerializer)
    @action(detail=True, methods=["post"])
    def status(self, request, pk=None):
        serializer = s.StatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        automation = automation_set_status(
            automation=self.get_object(), status=serializer.validated_data["status"]
        )
        return Response(s.AutomationSerializer(automation).data)

    def handle_exception(self, exc):
        if isinstance(exc, AutomationFileError):
            return Response({"error": "invalid", "message": " ".join(exc.messages)}, status=400)
        return super().handle_exception(exc)


@_filter_params("automation", "subscriber", "status")
class RunViewSet(StaffAPI, *RO, viewsets.GenericViewSet):
    action_permissions = model_permissions(Run)

    def get_serializer_class(self):
        return s.RunDetailSerializer if self.action == "retrieve" else s.RunSerializer

    def get_queryset(self):
        queryset = Run.objects.all()
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("steps")
        return _filters(
            queryset,
            self.request,
            {"automation": "automation_id", "subscriber": "subscriber_id", "status": "status"},
        )


class EndpointViewSet(StaffAPI, *RO, viewsets.GenericViewSet):
    """The Webhook Generator over the API: mint, rotate, revoke."""

    serializer_class = s.EndpointSerializer
    queryset = WebhookEndpoint.objects.all()
    # A URL grants offerings to whoever calls it: minting, rotating and revoking are rights
    # of their own (and seeing a URL needs one too: the serializer hides it otherwise).
    action_permissions = {
        **model_permissions(WebhookEndpoint),
        "create": ["members.mint_webhookendpoint"],
        "rotate": ["members.rotate_webhookendpoint"],
        "revoke": ["members.revoke_webhookendpoint"],
    }

    @extend_schema(request=s.EndpointMintSerializer, responses={201: s.EndpointSerializer})
    def create(self, request):
        serializer = s.EndpointMintSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = endpoint_mint(**serializer.validated_data)
        return Response(self.get_serializer(endpoint).data, status=201)

    @extend_schema(request=None, responses=s.EndpointSerializer)
    @action(detail=True, methods=["post"])
    def rotate(self, request, pk=None):
        return Response(self.get_serializer(endpoint_rotate(endpoint=self.get_object())).data)

    @extend_schema(request=None, responses=s.EndpointSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        return Response(self.get_serializer(endpoint_revoke(endpoint=self.get_object())).data)


@_filter_params("subscriber", "status")
class EmailViewSet(StaffAPI, *RO, viewsets.GenericViewSet):
    """The outbox. Bodies (which hold live set-password links) only for those who may read
    them: ``crm.view_emailmessage_body``; otherwise ``body_text`` is null."""

    action_permissions = model_permissions(EmailMessage)
    serializer_class = s.EmailSerializer

    def get_queryset(self):
        return _filters(
            EmailMessage.objects.all(),
            self.request,
            {"subscriber": "subscriber_id", "status": "status"},
        )


@_filter_params("subscriber", "type")
class EventViewSet(StaffAPI, *RO, viewsets.GenericViewSet):
    action_permissions = model_permissions(Event)
    serializer_class = s.EventSerializer

    def get_queryset(self):
        return _filters(
            Event.objects.all(), self.request, {"subscriber": "subscriber_id", "type": "type"}
        )
