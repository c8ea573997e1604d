from rest_framework import serializers

from apps.automations.models import Automation, Run, RunStep
from apps.crm.models import EmailMessage, Event
from apps.members.models import Member, Operation, WebhookEndpoint
from apps.members.purchases import Cart
from apps.offerings.models import AccessGrant, Module, ModuleRelease, Offering

from .base import user_may


class HiddenWithoutPermission:
    """A serializer mixin: ``hidden_fields`` maps a field to the permission needed to see
    it; without the permission the field is null (the shape stays the same)."""

    hidden_fields: dict[str, str] = {}

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        for field, permission in self.hidden_fields.items():
            if not user_may(request, permission):
                data[field] = None
        return data


class ModuleSerializer(serializers.ModelSerializer):
    access_tag = serializers.CharField(source="access_tag.name")

    class Meta:
        model = Module
        fields = [
            "id",
            "position",
            "title",
            "release_rule",
            "release_days",
            "release_date",
            "access_tag",
        ]


class OfferingSerializer(serializers.ModelSerializer):
    modules = ModuleSerializer(many=True, read_only=True)
    tags = serializers.SerializerMethodField()

    class Meta:
        model = Offering
        fields = [
            "id",
            "name",
            "slug",
            "kind",
            "description",
            "store_password",
            "password_field_key",
            "tags",
            "modules",
            "created_at",
        ]

    def get_tags(self, obj) -> dict:
        return {
            "base": obj.base_tag.name,
            "instant": obj.instant_tag.name,
            "revoke": obj.revoke_tag.name,
            "purchase": obj.purchase_tag.name,
        }


class MemberSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email")
    has_password = serializers.SerializerMethodField()

    class Meta:
        model = Member
        fields = ["id", "email", "subscriber", "has_password", "created_at", "source"]

    def get_has_password(self, obj) -> bool:
        return obj.user.has_usable_password()


class ReleaseSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModuleRelease
        fields = ["module", "released_at", "source"]


class GrantSerializer(serializers.ModelSerializer):
    releases = ReleaseSerializer(many=True, read_only=True)
    active = serializers.BooleanField(read_only=True)

    class Meta:
        model = AccessGrant
        fields = [
            "id",
            "subscriber",
            "offering",
            "granted_at",
            "revoked_at",
            "active",
            "next_release_at",
            "source",
            "releases",
        ]


class AutomationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Automation
        fields = ["id", "name", "status", "reentry", "description", "created_at", "updated_at"]


class StatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["draft", "live", "paused"])


class RunStepSerializer(serializers.ModelSerializer):
    class Meta:
        model = RunStep
        fields = [
            "seq",
            "node",
            "node_kind",
            "node_label",
            "arrived_at",
            "at",
            "outcome",
            "branch",
            "detail",
            "error",
        ]


class RunSerializer(serializers.ModelSerializer):
    class Meta:
        model = Run
        fields = [
            "id",
            "automation",
            "subscriber",
            "entry_number",
            "status",
            "current_node",
            "resume_at",
            "attempts",
            "last_error",
            "started_at",
            "finished_at",
        ]


class RunDetailSerializer(RunSerializer):
    steps = RunStepSerializer(many=True, read_only=True)

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "steps"]


class EndpointSerializer(HiddenWithoutPermission, serializers.ModelSerializer):
    url = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="The capability URL; null without the 'see Webhook Generator URLs' permission.",
    )
    hidden_fields = {"url": "members.view_webhookendpoint_url"}

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "label",
            "operation",
            "offering",
            "trigger_tag",
            "cart",
            "status",
            "url",
            "created_at",
            "rotated_at",
        ]
        read_only_fields = ["status", "url", "created_at", "rotated_at"]


class EndpointMintSerializer(serializers.Serializer):
    operation = serializers.ChoiceField(choices=Operation.values)
    offering = serializers.PrimaryKeyRelatedField(queryset=Offering.objects.all())
    trigger_tag = serializers.PrimaryKeyRelatedField(
        queryset=WebhookEndpoint._meta.get_field("trigger_tag").related_model.objects.all(),
        required=False,
        allow_null=True,
    )
    label = serializers.CharField(required=False, allow_blank=True, default="")
    # The purchase operation: the cart that posts to the URL, and that cart's own secret.
    cart = serializers.ChoiceField(choices=Cart.values, required=False, default="")
    cart_secret = serializers.CharField(
        required=False, allow_blank=True, default="", write_only=True
    )


class EmailSerializer(HiddenWithoutPermission, serializers.ModelSerializer):
    hidden_fields = {"body_text": "crm.view_emailmessage_body"}

    class Meta:
        model = EmailMessage
        fields = [
            "id",
            "subscriber",
            "kind",
            "is_marketing",
            "to_email",
            "subject",
            "body_text",
            "status",
            "attempts",
            "error",
            "uncertain",
            "created_at",
            "sent_at",
        ]
        extra_kwargs = {
            "body_text": {
                "allow_null": True,
                "help_text": "Null without the 'read email bodies' permission.",
            }
        }


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = Event
        fields = ["id", "subscriber", "type", "payload", "created_at", "dispatched_at"]
