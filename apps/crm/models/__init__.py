"""crm's models, one module per sub-domain; every model is re-exported here, so
``from apps.crm.models import Subscriber`` keeps working and Django registers them all."""

from .broadcasts import Broadcast, BroadcastStatus
from .deliveries import DeliveryAttempt, DeliveryStatus, Hook, WebhookDelivery
from .emails import (
    ActivityKind,
    BodyFormat,
    EmailActivity,
    EmailKind,
    EmailKindTraits,
    EmailLayout,
    EmailMessage,
    EmailStatus,
    EmailTemplate,
    email_kind_traits,
)
from .events import Event
from .forms import Form, FormKind, FormSubscription, Purchase
from .imports import ImportStatus, SubscriberImport
from .sequences import (
    ALL_WEEKDAYS,
    Sequence,
    SequenceEmail,
    SequenceSubscription,
    SubscriptionState,
)
from .subscribers import CustomField, Subscriber, SubscriberFieldValue, SubscriberState

__all__ = [
    "ALL_WEEKDAYS",
    "ActivityKind",
    "BodyFormat",
    "Broadcast",
    "BroadcastStatus",
    "CustomField",
    "DeliveryAttempt",
    "DeliveryStatus",
    "EmailActivity",
    "EmailKind",
    "EmailKindTraits",
    "EmailLayout",
    "EmailMessage",
    "EmailStatus",
    "EmailTemplate",
    "Event",
    "Form",
    "FormKind",
    "FormSubscription",
    "Hook",
    "ImportStatus",
    "Purchase",
    "Sequence",
    "SequenceEmail",
    "SequenceSubscription",
    "Subscriber",
    "SubscriberFieldValue",
    "SubscriberImport",
    "SubscriberState",
    "SubscriptionState",
    "WebhookDelivery",
    "email_kind_traits",
]
