"""Sales figures for the admin home: revenue per offering and per month, refunds, active
subscriptions, and a bar chart of the revenue drawn as SVG on the server (no script, no
chart library: the page's Content-Security-Policy stays strict)."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from .models import Order, OrderStatus, Subscription, SubscriptionStatus

REPORT_MONTHS = 12
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 640, 220, 36
# Colour-blind-safe palette (Okabe-Ito), one per offering, in order of revenue.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"]
SALE_STATUSES = [OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED]


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass
class SalesReport:
    currency: str
    months: list[str]
    offerings: list[tuple[str, str]]  # (name, colour)
    rows: list[dict]  # per month: revenue per offering, refunds, total
    bars: list[Bar]
    axis: list[tuple[float, str]]  # (y, label)
    labels: list[tuple[float, str]]  # (x, month)
    refunds_total: Decimal
    revenue_total: Decimal
    active_subscriptions: int
    other_currencies: list[str]
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT


def _cents(value) -> Decimal:
    """A sum as money: SQLite's SUM of decimals comes back without its two places."""
    return Decimal(value or 0).quantize(Decimal("0.01"))


def _month_start(now: datetime, back: int) -> datetime:
    year, month = now.year, now.month - back
    while month <= 0:
        year, month = year - 1, month + 12
    return now.replace(year=year, month=month, day=1, hour=0, minute=0, second=0, microsecond=0)


def sales_report(*, now: datetime | None = None) -> SalesReport | None:
    """The last REPORT_MONTHS months, in the currency most orders were paid in (a chart
    cannot add euros to dollars); None before the first sale. A fixed number of queries."""
    now = timezone.localtime(now or timezone.now())
    since = _month_start(now, REPORT_MONTHS - 1)
    sales = Order.objects.filter(status__in=SALE_STATUSES, paid_at__gte=since)
    currencies = list(
        sales.values("currency")
        .annotate(n=Count("pk"))
        .order_by("-n")
        .values_list("currency", flat=True)
    )
    active = Subscription.objects.filter(
        status__in=[SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE]
    ).count()
    if not currencies:
        return None if not active else _empty(active)
    currency = currencies[0]
    revenue = defaultdict(Decimal)
    for row in (
        sales.filter(currency=currency)
        .annotate(month=TruncMonth("paid_at"))
        .values("month", "offering__name")
        .annotate(total=Sum("amount"))
    ):
        key = (row["month"].strftime("%Y-%m"), row["offering__name"] or "(no offering)")
        revenue[key] += _cents(row["total"])
    refunds = defaultdict(Decimal)
    for row in (
        Order.objects.filter(currency=currency, refunded_at__gte=since)
        .annotate(month=TruncMonth("refunded_at"))
        .values("month")
        .annotate(total=Sum("amount_refunded"))
    ):
        refunds[row["month"].strftime("%Y-%m")] += _cents(row["total"])
    for row in (
        Order.objects.filter(
            currency=currency, status=OrderStatus.PARTIALLY_REFUNDED, refunded_at__isnull=True
        )
        .annotate(month=TruncMonth("paid_at"))
        .values("month")
        .annotate(total=Sum("amount_refunded"))
    ):
        refunds[row["month"].strftime("%Y-%m")] += _cents(row["total"])
    months = [
        _month_start(now, back).strftime("%Y-%m") for back in range(REPORT_MONTHS - 1, -1, -1)
    ]
    by_offering = defaultdict(Decimal)
    for (_, name), total in revenue.items():
        by_offering[name] += total
    names = sorted(by_offering, key=lambda n: (-by_offering[n], n))
    colours = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}
    rows = [
        {
            "month": m,
            "by_offering": [revenue.get((m, n), Decimal(0)) for n in names],
            "total": sum((revenue.get((m, n), Decimal(0)) for n in names), Decimal(0)),
            "refunds": refunds.get(m, Decimal(0)),
        }
        for m in months
    ]
    bars, axis, labels = _chart(rows, names, colours, currency)
    return SalesReport(
        currency=currency,
        months=months,
        offerings=[(n, colours[n]) for n in names],
        rows=[r for r in rows if r["total"] or r["refunds"]],
        bars=bars,
        axis=axis,
        labels=labels,
        refunds_total=sum(refunds.values(), Decimal(0)),
        revenue_total=sum(by_offering.values(), Decimal(0)),
        active_subscriptions=active,
        other_currencies=currencies[1:],
    )


def _empty(active: int) -> SalesReport:
    return SalesReport("", [], [], [], [], [], [], Decimal(0), Decimal(0), active, [])


def _chart(rows, names, colours, currency):
    """Stacked bars, one per month, one segment per offering; a y axis in four steps."""
    peak = max((r["total"] for r in rows), default=Decimal(0)) or Decimal(1)
    plot_h = CHART_HEIGHT - 2 * CHART_PAD
    slot = (CHART_WIDTH - CHART_PAD * 2) / len(rows)
    bars, labels = [], []
    for i, row in enumerate(rows):
        x = CHART_PAD + i * slot + slot * 0.15
        base = CHART_HEIGHT - CHART_PAD
        for name, amount in zip(names, row["by_offering"], strict=True):
            if not amount:
                continue
            h = float(amount / peak) * plot_h
            base -= h
            bars.append(
                Bar(
                    x,
                    base,
                    slot * 0.7,
                    h,
                    colours[name],
                    f"{row['month']} · {name}: {amount} {currency}",
                )
            )
        labels.append((x + slot * 0.35, row["month"][2:].replace("-", "/")))
    axis = [
        (CHART_HEIGHT - CHART_PAD - plot_h * step / 4, f"{peak * step / 4:.0f}")
        for step in range(5)
    ]
    return bars, axis, labels
