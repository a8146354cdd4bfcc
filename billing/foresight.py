"""Foresight: what the coming days will cost upstream, what upstream stops serving before the customer's paid
period ends, and which renewals would now sell below cost, each listed for staff and alerted once per cycle.

- Runway: for each provider account, the upstream costs of the next FORESIGHT_DAYS (customers' auto-renewals
  at their renewal product's cost, orders already charged and on their way upstream, and whatever the
  integration schedules itself: `Integration.upstream_costs_ahead`), summed in due order against the balance
  last read from upstream. The runway is the whole days until the first cost the balance cannot pay.
- Expiry alignment: a sold resource's `paid_through` against `Integration.serving_until`; a gap is fixed by
  `Integration.align` (prolong the phone's plan, renew upstream) through the integration's audited actions.
- Margin at risk: products whose renewal cost (read from upstream on a schedule, or entered by an owner) is
  above their renewal price, with the sold resources that would renew at a loss.

The alerts go to staff by `inventory.alerts.alert_staff` (the same record-then-deliver path as the others).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.utils import timezone

from accounts.models import User
from billing import services
from billing.models import AutoRenewal, Order, OrderKind, OrderState, Product, format_money
from billing.selectors import renewal_product_for
from inventory.alerts import alert_staff
from inventory.models import Alert, Resource, ResourceStatus
from providers import crypto, registry
from providers import services as provider_services
from providers.http import errors
from providers.models import ProviderAccount
from providers.registry import UpcomingCost

logger = logging.getLogger(__name__)

# Resources a customer can still use: the ones whose paid period and renewals matter.
LIVE_STATUSES = (ResourceStatus.ACTIVE, ResourceStatus.PROCESSING, ResourceStatus.OFFLINE)
# Orders charged to the customer and not yet answered upstream: they spend the account's balance first.
IN_FLIGHT = (OrderState.PENDING, OrderState.SUBMITTED)
DAY = dt.timedelta(days=1)
# Upstreams round times (to the second, to the minute): a gap shorter than this is no gap.
ALIGNMENT_TOLERANCE = dt.timedelta(minutes=5)


# Runway -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Runway:
    """An account's upstream costs ahead against its balance."""

    account: ProviderAccount
    start: dt.datetime
    end: dt.datetime
    costs: list[UpcomingCost]
    balance_cents: int | None
    # The due time of the first cost the balance cannot pay (None: all are covered, or no balance is known).
    runs_out_at: dt.datetime | None = None
    # Costs whose price is not known: listed, not counted.
    unknown: int = 0
    total_cents: int = 0
    # Whole days until `runs_out_at` (None when the balance covers the window or is not known).
    days: int | None = None
    window_days: int = 0

    @property
    def has_balance(self) -> bool:
        return self.balance_cents is not None

    @property
    def summary(self) -> str:
        if self.balance_cents is None:
            return f"{format_money(self.total_cents)} due in the next {self.window_days} days (balance not known)"
        if self.days is None:
            return f"covers the next {self.window_days} days"
        return f"runway: {self.days} day{'' if self.days == 1 else 's'}"

    @property
    def total(self) -> str:
        return format_money(self.total_cents)

    @property
    def balance(self) -> str:
        return format_money(self.balance_cents)


def runway_from(
    *, costs: list[UpcomingCost], balance_cents: int | None, now: dt.datetime
) -> tuple[dt.datetime | None, int | None]:
    """(when the balance runs out, whole days until then) for costs paid in due order; (None, None) when the
    balance covers them all or is not known. A cost of unknown price is not counted."""
    if balance_cents is None:
        return None, None
    spent = 0
    for cost in sorted(costs, key=lambda cost: cost.due_at):
        if cost.cents is None:
            continue
        spent += cost.cents
        if spent > balance_cents:
            return cost.due_at, max(0, (cost.due_at - now) // DAY)
    return None, None


def upcoming_costs(account: ProviderAccount, *, start: dt.datetime, end: dt.datetime) -> list[UpcomingCost]:
    """Every cost known to fall on this account between `start` and `end`, in due order."""
    costs = [*_auto_renewal_costs(account, start, end), *_in_flight_costs(account, start)]
    costs += registry.for_account(account).upstream_costs_ahead(account, start, end)
    return sorted(costs, key=lambda cost: (cost.due_at, cost.what))


def _auto_renewal_costs(account: ProviderAccount, start: dt.datetime, end: dt.datetime) -> list[UpcomingCost]:
    """Auto-renewals customers turned on, due AUTO_RENEW_DAYS_BEFORE their expiry, at the renewal's cost."""
    lead = dt.timedelta(days=settings.AUTO_RENEW_DAYS_BEFORE)
    bought_from = Order.objects.filter(
        resource=OuterRef("resource"), kind=OrderKind.PURCHASE, state=OrderState.FULFILLED
    ).order_by("-created_at", "-id")
    wishes = (
        AutoRenewal.objects.filter(
            enabled=True,
            resource__account=account,
            resource__customer__isnull=False,
            resource__status__in=LIVE_STATUSES,
            resource__expires_at__gt=start,
            resource__expires_at__lte=end + lead,
        )
        .annotate(bought_from=Subquery(bought_from.values("product_id")[:1]))
        .select_related("resource")
        .order_by("resource__expires_at", "pk")
    )
    wishes = list(wishes)
    products = Product.objects.in_bulk({wish.bought_from for wish in wishes if wish.bought_from})
    costs = []
    for wish in wishes:
        resource = wish.resource
        product = products.get(wish.bought_from)
        if product is None or not registry.product_kind(product.kind).renewable:
            product = renewal_product_for(resource=resource)  # a top-up pack for a token assigned by hand
        if product is None or not registry.product_kind(product.kind).renewal_spends_balance:
            continue
        costs.append(
            UpcomingCost(
                due_at=max(start, resource.expires_at - lead),
                cents=product.renewal_cost_cents,
                what=f"{resource}: auto-renewal ({product.name})",
                resource=resource,
            )
        )
    return costs


def _in_flight_costs(account: ProviderAccount, start: dt.datetime) -> list[UpcomingCost]:
    orders = Order.objects.filter(product__account=account, state__in=IN_FLIGHT).select_related("product")
    costs = []
    for order in orders.order_by("created_at", "pk"):
        if order.kind == OrderKind.RENEWAL and not registry.product_kind(order.product.kind).renewal_spends_balance:
            continue
        costs.append(
            UpcomingCost(due_at=start, cents=order.cost_cents, what=f"order {order.pk} on its way ({order.product})")
        )
    return costs


def account_runway(account: ProviderAccount, *, now: dt.datetime | None = None) -> Runway:
    """The runway of one account from the balance last read (`ProviderAccount.balance_cents`)."""
    now = now or timezone.now()
    end = now + dt.timedelta(days=settings.FORESIGHT_DAYS)
    costs = upcoming_costs(account, start=now, end=end)
    balance = account.balance_cents if registry.for_account(account).has_balance else None
    runs_out_at, days = runway_from(costs=costs, balance_cents=balance, now=now)
    return Runway(
        account=account,
        start=now,
        end=end,
        costs=costs,
        balance_cents=balance,
        runs_out_at=runs_out_at,
        unknown=sum(1 for cost in costs if cost.cents is None),
        total_cents=sum(cost.cents for cost in costs if cost.cents is not None),
        days=days,
        window_days=settings.FORESIGHT_DAYS,
    )


def runways(*, now: dt.datetime | None = None) -> list[Runway]:
    """The runway of every enabled account that has costs ahead or a balance."""
    now = now or timezone.now()
    found = [account_runway(account, now=now) for account in ProviderAccount.objects.filter(enabled=True)]
    return [runway for runway in found if runway.costs or runway.has_balance]


def short_runways(*, now: dt.datetime | None = None) -> list[Runway]:
    """Runways shorter than RUNWAY_ALERT_DAYS, shortest first (the dashboard's warning)."""
    short = [r for r in runways(now=now) if r.days is not None and r.days < settings.RUNWAY_ALERT_DAYS]
    return sorted(short, key=lambda runway: runway.days)


# Expiry alignment ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Misalignment:
    """A sold resource upstream stops serving before the end of what its customer paid for."""

    resource: Resource
    paid_through: dt.datetime
    serving_until: dt.datetime
    # Why staff cannot fix it from the list ("" when one click can).
    refusal: str

    @property
    def gap(self) -> dt.timedelta:
        return self.paid_through - self.serving_until

    @property
    def gap_days(self) -> float:
        return round(self.gap / DAY, 1)


def misalignments(*, now: dt.datetime | None = None) -> list[Misalignment]:
    """Sold resources whose paid period runs past when upstream will serve them, soonest to stop first.

    The database keeps the candidates to those whose own expiry, or whose parent's (a port's phone), ends
    before the paid period; the integration's `serving_until` decides.
    """
    now = now or timezone.now()
    paid = F("paid_through")
    candidates = (
        # Expired ones too: a port whose phone has already lapsed is the worst case.
        Resource.objects.filter(customer__isnull=False, paid_through__gt=now)
        .exclude(status=ResourceStatus.VANISHED)
        .filter(
            Q(expires_at__lt=paid)
            | Q(parent__isnull=False, parent__expires_at__lt=paid)
            | Q(parent__isnull=False, parent__expires_at__isnull=True)
        )
        .select_related("customer", "account", "parent")
        .order_by("pk")
    )
    found = []
    for resource in candidates:
        integration = resource.integration
        until = integration.serving_until(resource)
        if until is None or until >= resource.paid_through - ALIGNMENT_TOLERANCE:
            continue
        found.append(
            Misalignment(
                resource=resource,
                paid_through=resource.paid_through,
                serving_until=until,
                refusal=integration.align_refusal(resource),
            )
        )
    return sorted(found, key=lambda item: (item.serving_until, item.resource.pk))


def resource_align(*, resource: Resource, actor: User) -> Resource:
    """Make upstream serve a sold resource through its paid period (the integration's audited actions).

    Raises ValueError with the refusal when it cannot be done here, ProviderError when upstream refuses.
    """
    integration = resource.integration
    refusal = integration.align_refusal(resource)
    if refusal:
        raise ValueError(refusal)
    return integration.align(resource, actor)


# Margin at risk -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MarginRisk:
    """A product whose next renewals would sell below cost, and the sold resources they would renew."""

    product: Product
    resources: int
    auto_renewing: int

    @property
    def loss_per_renewal_cents(self) -> int:
        return self.product.renewal_cost_cents - self.product.renewal_price_cents

    @property
    def loss_per_renewal(self) -> str:
        return format_money(self.loss_per_renewal_cents)

    @property
    def loss_per_cycle(self) -> str:
        return format_money(self.loss_per_renewal_cents * self.resources)


def margins_at_risk() -> list[MarginRisk]:
    """Renewable products whose renewal cost is above their renewal price and that renew sold resources now."""
    live_sold = Q(
        orders__kind=OrderKind.PURCHASE,
        orders__state=OrderState.FULFILLED,
        orders__resource__customer__isnull=False,
        orders__resource__status__in=LIVE_STATUSES,
    )
    products = (
        Product.objects.filter(renewal_cost_cents__isnull=False, renewal_cost_cents__gt=F("renewal_price_cents"))
        .annotate(
            sold=Count("orders__resource", filter=live_sold, distinct=True),
            auto=Count(
                "orders__resource",
                filter=live_sold & Q(orders__resource__auto_renewal__enabled=True),
                distinct=True,
            ),
        )
        .filter(sold__gt=0)
        .select_related("account")
        .order_by("name", "pk")
    )
    return [
        MarginRisk(product=product, resources=product.sold, auto_renewing=product.auto)
        for product in products
        if registry.product_kind(product.kind).renewable
    ]


# The scheduled check ------------------------------------------------------------------------------------


def product_costs_refresh() -> int:
    """Read the upstream cost of every active product whose provider publishes one; how many changed.

    A provider that fails to answer is logged and skipped; the owner-entered costs are never touched.
    """
    changed = 0
    for product in Product.objects.filter(active=True).select_related("account").order_by("pk"):
        if not product.account.enabled or not registry.reads_upstream_cost(product.kind):
            continue
        before = (product.cost_cents, product.renewal_cost_cents)
        try:
            after = services.product_cost_from_upstream(product=product, actor=None, only_if_changed=True)
        except (errors.ProviderError, crypto.SecretUnreadable, services.BillingError) as exc:
            logger.warning("foresight: could not read the cost of %r: %s", product, exc)
            continue
        changed += (after.cost_cents, after.renewal_cost_cents) != before
    return changed


def _balances_refresh() -> None:
    kinds = [integration.kind for integration in registry.all_integrations() if integration.has_balance]
    for account in ProviderAccount.objects.filter(enabled=True, kind__in=kinds).order_by("pk"):
        try:
            provider_services.provider_balance_read(account=account)
        except (errors.ProviderError, crypto.SecretUnreadable) as exc:
            logger.warning("foresight: could not read the balance of %r: %s", account, exc)


def _runway_alerts(now: dt.datetime) -> list[Alert]:
    if settings.RUNWAY_ALERT_DAYS <= 0:
        return []
    created = []
    for runway in short_runways(now=now):
        account, due = runway.account, runway.runs_out_at
        message = (
            f"The balance of {account.name} ({account.get_kind_display()}), {runway.balance}, pays for the "
            f"upstream costs due until {due:%Y-%m-%d %H:%M %Z} only: {runway.summary} (warning under "
            f"{settings.RUNWAY_ALERT_DAYS} days). Top it up before a renewal fails for lack of funds."
        )
        alert = alert_staff(
            kind=Alert.Kind.RUNWAY,
            subject=f"account:{account.pk}",
            threshold=f"{settings.RUNWAY_ALERT_DAYS}d",
            # A new date it runs out (a top-up moved it, or a new cost came first) is a new warning.
            cycle=f"runs out {due.astimezone(dt.UTC).date().isoformat()}",
            message=message,
            account=account,
        )
        created += [alert] if alert else []
    return created


def _misalignment_alerts(now: dt.datetime) -> list[Alert]:
    created = []
    for item in misalignments(now=now):
        resource = item.resource
        message = (
            f"{resource} ({resource.customer.name}) is paid through {item.paid_through:%Y-%m-%d %H:%M %Z}, "
            f"but upstream serves it only until {item.serving_until:%Y-%m-%d %H:%M %Z} "
            f"({item.gap_days} days short). "
            + (f"It cannot be fixed from the list: {item.refusal}." if item.refusal else "Fix it from the list.")
        )
        alert = alert_staff(
            kind=Alert.Kind.MISALIGNED,
            subject=f"resource:{resource.pk}",
            threshold="short",
            # Either date moving (a plan prolonged, a renewal paid) starts a new cycle.
            cycle=f"{_utc_minute(item.serving_until)} < {_utc_minute(item.paid_through)}",
            message=message,
            resource=resource,
            account=resource.account,
        )
        created += [alert] if alert else []
    return created


def _utc_minute(moment: dt.datetime) -> str:
    return f"{moment.astimezone(dt.UTC):%Y%m%dT%H%M}"


def _margin_alerts() -> list[Alert]:
    created = []
    for risk in margins_at_risk():
        product = risk.product
        message = (
            f"{product.name} renews for {product.renewal_price} but a renewal now costs us {product.renewal_cost}: "
            f"{risk.loss_per_renewal} lost on each of the {risk.resources} sold resource(s) it renews "
            f"({risk.auto_renewing} renew by themselves). Change the renewal price before they renew."
        )
        alert = alert_staff(
            kind=Alert.Kind.MARGIN,
            subject=f"product:{product.pk}",
            threshold="below cost",
            # Once per cost (and price): a new upstream price or an owner's edit is a new warning.
            cycle=f"cost {product.renewal_cost_cents} price {product.renewal_price_cents}",
            message=message,
            account=product.account,
        )
        created += [alert] if alert else []
    return created


def foresight_check(*, now: dt.datetime | None = None) -> list[Alert]:
    """Refresh upstream costs and balances, then warn staff of short runways, misaligned expiries and
    renewals below cost; returns the alerts this run created (each is sent once per cycle)."""
    now = now or timezone.now()
    product_costs_refresh()
    _balances_refresh()
    return [*_runway_alerts(now), *_misalignment_alerts(now), *_margin_alerts()]
