"""Forms for money and the catalog: amounts are typed as decimals and handed to services in minor units."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.core.validators import RegexValidator

from billing.models import Coupon, CouponKind, OrderState, Product
from providers import registry
from providers.models import ProviderAccount

MAX_AMOUNT = Decimal("1000000.00")


def to_cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def _decimal(cents: int | None) -> Decimal | None:
    return None if cents is None else Decimal(cents) / 100


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


class OrderForm(forms.Form):
    """A buy or renew button: the idempotency key rendered with the page (a double-submit repeats it)."""

    idempotency_key = forms.CharField(
        widget=forms.HiddenInput,
        validators=[RegexValidator(r"^[A-Za-z0-9_-]{16,64}$", "Invalid request key: please reload the page.")],
    )

    # The price the page showed: if it changed before the click, the order is refused, never charged.
    expected_price_cents = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=0)

    # The coupon the page applied (its discounted price is the expected price).
    coupon = forms.CharField(widget=forms.HiddenInput, required=False, max_length=40)

    @classmethod
    def fresh(cls, price_cents: int | None = None, coupon: str = "") -> OrderForm:
        return cls(
            initial={"idempotency_key": new_idempotency_key(), "expected_price_cents": price_cents, "coupon": coupon}
        )


class TopUpForm(forms.Form):
    amount = forms.DecimalField(
        min_value=Decimal("0.01"), max_value=MAX_AMOUNT, decimal_places=2, help_text="What the customer paid us."
    )
    note = forms.CharField(max_length=300, required=False, help_text="e.g. the bank transfer reference.")

    def __init__(self, *args, **kwargs):
        # Ids of its own: the ledger page shows it beside the adjustment form, and each label focuses its own field.
        kwargs.setdefault("auto_id", "top-up-%s")
        super().__init__(*args, **kwargs)

    @property
    def amount_cents(self) -> int:
        return to_cents(self.cleaned_data["amount"])


class AdjustmentForm(forms.Form):
    amount = forms.DecimalField(
        min_value=-MAX_AMOUNT,
        max_value=MAX_AMOUNT,
        decimal_places=2,
        help_text="Positive to credit, negative to debit (owners only).",
    )
    note = forms.CharField(max_length=300, help_text="Why: it stays on the customer's ledger.")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "adjust-%s")
        super().__init__(*args, **kwargs)

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount == 0:
            raise forms.ValidationError("An adjustment cannot be zero.")
        return amount

    @property
    def amount_cents(self) -> int:
        return to_cents(self.cleaned_data["amount"])


class OrderFilterForm(forms.Form):
    state = forms.ChoiceField(choices=[("", "All states"), *OrderState.choices], required=False)


class ProductForm(forms.Form):
    """The catalog entry; the kind's integration adds and reads the fields of its parameters."""

    name = forms.CharField(max_length=120)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    kind = forms.ChoiceField(choices=registry.product_kind_choices)
    account = forms.ModelChoiceField(queryset=ProviderAccount.objects.none())
    price = forms.DecimalField(min_value=Decimal("0.01"), max_value=MAX_AMOUNT, decimal_places=2)
    renewal_price = forms.DecimalField(min_value=Decimal("0.01"), max_value=MAX_AMOUNT, decimal_places=2)
    cost = forms.DecimalField(
        min_value=Decimal("0"),
        max_value=MAX_AMOUNT,
        decimal_places=2,
        required=False,
        help_text="What one purchase costs us upstream; blank when unknown (or read it from the provider's prices).",
    )
    renewal_cost = forms.DecimalField(
        min_value=Decimal("0"),
        max_value=MAX_AMOUNT,
        decimal_places=2,
        required=False,
        help_text="What one renewal costs us upstream; blank when unknown.",
    )
    confirm_below_cost = forms.BooleanField(
        required=False, label="Sell below cost", help_text="Owners only: save a price below what it costs us."
    )
    active = forms.BooleanField(required=False, initial=True, help_text="Shown and sold in the portal.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Accounts of the providers that sell something (read per form, as integrations register at start-up).
        sellers = [integration for integration in registry.all_integrations() if integration.product_kinds]
        self.fields["account"].queryset = ProviderAccount.objects.filter(kind__in=[i.kind for i in sellers])
        # Each selling integration adds the fields of its parameters, shown between the account and the prices.
        fields = dict(self.fields)
        ordered = {name: fields.pop(name) for name in ("name", "description", "kind", "account")}
        for integration in sellers:
            ordered.update(integration.product_fields())
        self.fields = {**ordered, **fields}
        self.parameters: dict = {}

    @classmethod
    def for_product(cls, product: Product, data=None) -> ProductForm:
        initial = {
            "name": product.name,
            "description": product.description,
            "kind": product.kind,
            "account": product.account_id,
            **product.parameters,
            "price": Decimal(product.price_cents) / 100,
            "renewal_price": Decimal(product.renewal_price_cents) / 100,
            "cost": _decimal(product.cost_cents),
            "renewal_cost": _decimal(product.renewal_cost_cents),
            "active": product.active,
        }
        return cls(data, initial=initial)

    def clean(self):
        data = super().clean()
        kind, account = data.get("kind"), data.get("account")
        if not kind:
            return data
        integration = registry.for_product_kind(kind)
        if account and account.kind != integration.kind:
            label = registry.product_kind(kind).label
            self.add_error("account", f"A {label} product needs a {integration.kind} provider account.")
        # The integration that sells this kind reads its own parameters from the form's fields.
        self.parameters, errors = integration.product_parameters(kind, data)
        for field, message in errors.items():
            self.add_error(field, message)
        self._check_margin(data)
        return data

    def _check_margin(self, data: dict) -> None:
        pairs = (("price", "cost", "price"), ("renewal_price", "renewal_cost", "renewal price"))
        below = [
            f"the {label} {data[price]} is below the cost {data[cost]}"
            for price, cost, label in pairs
            if data.get(price) is not None and data.get(cost) is not None and data[price] < data[cost]
        ]
        if below and not data.get("confirm_below_cost"):
            self.add_error(
                "confirm_below_cost", f"This product would sell below cost ({'; '.join(below)}): tick to confirm."
            )

    def service_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "description": data["description"],
            "kind": data["kind"],
            "account": data["account"],
            "parameters": self.parameters,
            "price_cents": to_cents(data["price"]),
            "renewal_price_cents": to_cents(data["renewal_price"]),
            "cost_cents": None if data["cost"] is None else to_cents(data["cost"]),
            "renewal_cost_cents": None if data["renewal_cost"] is None else to_cents(data["renewal_cost"]),
            "active": data["active"],
            "confirm_below_cost": data["confirm_below_cost"],
        }


class CouponForm(forms.Form):
    """A coupon as staff type it: the amount off as a decimal, the window in the site's time zone."""

    code = forms.RegexField(
        regex=r"^[A-Za-z0-9_-]{3,40}$",
        max_length=40,
        error_messages={"invalid": "Use 3 to 40 letters, digits, - or _."},
        help_text="What customers type; not case-sensitive.",
    )
    description = forms.CharField(max_length=200, required=False)
    kind = forms.ChoiceField(choices=CouponKind.choices)
    percent_off = forms.IntegerField(min_value=1, max_value=100, required=False, help_text="For percent off: 1 to 100.")
    amount_off = forms.DecimalField(
        min_value=Decimal("0.01"), max_value=MAX_AMOUNT, decimal_places=2, required=False, help_text="For amount off."
    )
    valid_from = forms.DateTimeField(required=False, help_text="Blank: from now. e.g. 2026-12-01 00:00")
    valid_until = forms.DateTimeField(required=False, help_text="Blank: no end.")
    max_redemptions = forms.IntegerField(min_value=1, required=False, help_text="Uses in total; blank for no limit.")
    max_per_customer = forms.IntegerField(
        min_value=1, required=False, initial=1, help_text="Uses per customer; blank for no limit."
    )
    active = forms.BooleanField(required=False, initial=True)

    @classmethod
    def for_coupon(cls, coupon: Coupon, data=None) -> CouponForm:
        initial = {
            "code": coupon.code,
            "description": coupon.description,
            "kind": coupon.kind,
            "percent_off": coupon.percent_off,
            "amount_off": _decimal(coupon.amount_off_cents),
            "valid_from": coupon.valid_from,
            "valid_until": coupon.valid_until,
            "max_redemptions": coupon.max_redemptions,
            "max_per_customer": coupon.max_per_customer,
            "active": coupon.active,
        }
        return cls(data, initial=initial)

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == CouponKind.PERCENT and not data.get("percent_off"):
            self.add_error("percent_off", "A percent-off coupon needs its percentage.")
        if kind == CouponKind.FIXED and not data.get("amount_off"):
            self.add_error("amount_off", "An amount-off coupon needs its amount.")
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and end and end <= start:
            self.add_error("valid_until", "The end must come after the start.")
        return data

    def service_fields(self) -> dict:
        data = self.cleaned_data
        percent = data["kind"] == CouponKind.PERCENT
        return {
            "code": data["code"],
            "description": data["description"],
            "kind": data["kind"],
            "percent_off": data["percent_off"] if percent else None,
            "amount_off_cents": None if percent else to_cents(data["amount_off"]),
            "valid_from": data["valid_from"],
            "valid_until": data["valid_until"],
            "max_redemptions": data["max_redemptions"],
            "max_per_customer": data["max_per_customer"],
            "active": data["active"],
        }


class CouponApplyForm(forms.Form):
    """The portal's coupon box (GET): the catalog shows the discounted prices."""

    coupon = forms.CharField(max_length=40, required=False, label="Coupon code")


class AutoRenewForm(forms.Form):
    """The auto-renew switch on a proxy's page."""

    enabled = forms.BooleanField(required=False, label="Renew automatically before it expires")


class AutoTopUpForm(forms.Form):
    """Auto top-up of a token with a data limit: when usage crosses the threshold, buy the chosen GB pack."""

    enabled = forms.BooleanField(required=False, label="Top up automatically")
    threshold_percent = forms.IntegerField(
        min_value=1, max_value=100, initial=90, label="When usage reaches (%)", help_text="From 1 to 100."
    )
    product = forms.ModelChoiceField(queryset=Product.objects.none(), required=False, label="Buy this pack")

    def __init__(self, *args, packs=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = packs if packs is not None else Product.objects.none()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("enabled") and not cleaned.get("product"):
            self.add_error("product", "Choose the pack to buy when the threshold is reached.")
        return cleaned


class SpendingCapForm(forms.Form):
    """The customer's monthly limit on automatic orders; empty means no limit."""

    monthly_cap = forms.DecimalField(
        required=False,
        min_value=Decimal("0.00"),
        max_value=MAX_AMOUNT,
        decimal_places=2,
        label="Monthly limit for automatic orders",
        help_text="Auto-renew and auto top-up stop when this month's automatic orders reach it. Empty: no limit.",
    )

    @property
    def monthly_cap_cents(self) -> int | None:
        amount = self.cleaned_data["monthly_cap"]
        return None if amount is None else to_cents(amount)


class DecisionForm(forms.Form):
    """Staff settle an order that needs a decision: with one of the resources found, or by a refund."""

    resource = forms.IntegerField(required=False, widget=forms.HiddenInput)
    note = forms.CharField(max_length=300, required=False)
