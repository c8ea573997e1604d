from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html

from .models import Order, Price, Product, StripeEvent, Subscription
from .stripe_events import stripe_configured, stripe_event_replay

NOT_CONFIGURED = (
    "Stripe is not set up, so order forms are hidden: set STRIPE_SECRET_KEY and "
    "STRIPE_WEBHOOK_SECRET in the server's environment (see the README's Selling section)."
)


class PriceInline(admin.TabularInline):
    model = Price
    extra = 1
    fields = [
        "slug",
        "kind",
        "amount",
        "currency",
        "instalments",
        "stripe_price_id",
        "active",
        "order_form",
    ]
    readonly_fields = ["order_form"]
    prepopulated_fields = {}

    @admin.display(description="Order form")
    def order_form(self, obj):
        if not obj.pk:
            return "—"
        url = reverse("commerce:order_form", args=[obj.slug])
        return format_html('<a href="{}" target="_blank">{}</a>', url, url)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    """Products on offerings, their prices (each with an order form), the tags a purchase
    adds, and what a refund, a failed renewal and a cancellation do."""

    list_display = ["name", "offering", "active", "on_refund", "on_cancel"]
    list_filter = ["active", "offering"]
    filter_horizontal = ["success_tags"]
    inlines = [PriceInline]

    def changelist_view(self, request, extra_context=None):
        if not stripe_configured():
            self.message_user(request, NOT_CONFIGURED, messages.WARNING)
        return super().changelist_view(request, extra_context)


class ReadOnlyAdmin(admin.ModelAdmin):
    """State only the webhooks change: read here, never edited."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = [
        "paid_at",
        "subscriber",
        "offering",
        "amount",
        "currency",
        "status",
        "source",
        "flag_reason",
    ]
    list_filter = ["status", "source", "currency", "offering"]
    search_fields = ["external_id", "subscriber__email", "stripe_payment_intent"]
    list_select_related = ["subscriber", "offering"]
    date_hierarchy = "paid_at"


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = [
        "stripe_id",
        "subscriber",
        "price",
        "status",
        "current_period_end",
        "cancel_at_period_end",
        "instalments_paid",
    ]
    list_filter = ["status"]
    search_fields = ["stripe_id", "subscriber__email", "stripe_customer"]
    list_select_related = ["subscriber", "price__product"]


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    """The Stripe webhook's log: every POST, verified or refused, and what it did."""

    list_display = [
        "id",
        "received_at",
        "type",
        "event_id",
        "http_status",
        "status",
        "result",
        "error",
    ]
    list_filter = ["status", "type", "http_status"]
    search_fields = ["event_id", "result", "error"]
    actions = ["replay"]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        # Replaying needs the change permission; the form itself stays read-only.
        return request.user.has_perm("commerce.change_stripeevent") and obj is None

    @admin.action(description="Replay selected events", permissions=["change"])
    def replay(self, request, queryset):
        replayed = 0
        for event in queryset:
            try:
                stripe_event_replay(event=event)
                replayed += 1
            except ValidationError as exc:
                self.message_user(
                    request, f"Event #{event.pk}: {' '.join(exc.messages)}", messages.WARNING
                )
        self.message_user(request, f"Replayed {replayed} event(s).")
