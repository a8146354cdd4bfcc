"""The integrations: what the core needs to know about each kind of upstream, looked up by kind.

Each folder under `integrations/` subclasses `Integration` once and registers it from its AppConfig's
`ready()`. The core (sync, billing, pages, the sandbox) asks this module and never names a kind, so
adding an upstream is one folder and one line in INSTALLED_APPS. The registry sits below every app that
uses it, so its hooks take and return plain objects (accounts, resources, orders, rows) without
importing their modules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar


class UnknownKind(LookupError):
    """Nothing is registered under this kind (a typo, or an integration missing from INSTALLED_APPS)."""


@dataclass(frozen=True)
class ResourceKind:
    """One kind of upstream object the mirror keeps (`Resource.kind`)."""

    value: str
    label: str
    # Customers may hold it (a phone connection itself stays with staff; its proxy accesses are sold).
    sold: bool = True
    # Staff are alerted when the sync sees it offline (a phone; the accesses on it follow their phone).
    alerts_offline: bool = False


@dataclass(frozen=True)
class ProductKind:
    """One line of our catalog (`Product.kind`) and the resource kind it creates and renews."""

    value: str
    label: str
    resource_kind: str
    # False: sold for a fixed period with no upstream extension; a replacement purchase is offered instead.
    renewable: bool = True
    # Its products top up any resource of `resource_kind` on their account, not only those they sold
    # (more GB for a token staff assigned by hand, too).
    renews_any: bool = False
    # What the portal's renew button says.
    renew_label: str = "Renew"
    # A renewal spends the provider account's balance (False: it rides on something else that is paid for,
    # as an iProxy port rides on its phone's plan; the integration's `upstream_costs_ahead` counts that).
    renewal_spends_balance: bool = True


@dataclass(frozen=True)
class Credential:
    """One line of "how to connect" on the staff and portal detail pages."""

    label: str
    value: str
    secret: bool = False


@dataclass(frozen=True)
class Endpoint:
    """One proxy a resource gives: where it listens, how to sign in, which protocols it speaks.

    Integrations return these; `inventory.presenters` formats them (host:port:user:pass, URLs, JSON),
    so every export format comes out the same for every kind.
    """

    host: str
    port: int
    user: str = ""
    password: str = ""
    # What the proxy speaks at this port, e.g. ("http",), ("socks5",) or both.
    schemes: tuple[str, ...] = ("http",)


@dataclass(frozen=True)
class WatchedField:
    """One value of a resource that someone could change in the provider's own console (`inventory.drift`).

    `key` is stable (it names the field in drift items and restore calls); `secret` values are masked in
    lists; `customer_facing` ones are told to the customer when staff accept the change (new credentials);
    `restorable` is False where the upstream has no call that sets our value back (a generated password).
    """

    key: str
    label: str
    secret: bool = False
    customer_facing: bool = False
    restorable: bool = True


@dataclass(frozen=True)
class CheckResult:
    """What one cheap read with an account's credentials said."""

    message: str
    balance_cents: int | None = None


@dataclass(frozen=True)
class UsageGrowth:
    """Data one resource used in one closed period, read apart from its row (`Integration.read_usage`).

    The core adds it to the resource's running total in the usage history; growth 0 still records that the
    period was read (the next read starts at `end`).
    """

    kind: str
    upstream_id: str
    start: dt.datetime
    end: dt.datetime
    bytes_used: int


@dataclass(frozen=True)
class UsageProblem:
    """A usage figure that could not be read this sync; reported on the sync run, never failing it."""

    kind: str
    upstream_id: str
    reason: str


@dataclass(frozen=True)
class UsageReading:
    growth: tuple[UsageGrowth, ...] = ()
    problems: tuple[UsageProblem, ...] = ()


@dataclass(frozen=True)
class SelfServiceAction:
    """One change a customer may make to their own resource from the customer API, as the portal allows.

    `run(resource=, data=, actor=)` validates `data` with the integration's own forms and rules, calls its
    action and returns what to tell the customer; it raises `ActionInvalid` for bad input, `ActionRefused`
    for a rule that says no, and lets `ProviderError`s through (the API turns each into a problem answer).
    `input` is the pydantic model of the request body (None: the action takes none), for the API schema.
    """

    name: str
    label: str
    resource_kind: str
    run: Callable[..., str]
    input: type | None = None


@dataclass(frozen=True)
class UpcomingCost:
    """Money a provider account will spend on a known date unless someone stops it (the runway's lines).

    `cents` is None when the price is not known (it is listed but not counted).
    """

    due_at: dt.datetime
    cents: int | None
    what: str
    resource: Any = None


class ActionInvalid(Exception):
    """The action's input failed validation; `errors` maps a field name to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items()))
        self.errors = errors


class ActionRefused(Exception):
    """A rule refuses the action for this resource now (ended, too soon, not on a phone); fit to show."""


class Integration:
    """Everything kind-specific the core calls; one subclass per upstream, in `integrations/<kind>/`."""

    kind: ClassVar[str]  # ProviderAccount.kind
    label: ClassVar[str]
    default_base_url: ClassVar[str] = ""
    # The account's username field: Unknown Proxies signs in with Basic auth, the others with a key alone.
    uses_username: ClassVar[bool] = False
    # The upstream keeps a money balance we watch (low-balance alerts, the provider list).
    has_balance: ClassVar[bool] = False
    # The account's API key can be replaced from the dashboard.
    rotatable_key: ClassVar[bool] = False
    # What staff call the provider's own web console in messages ("" = the label).
    console_name: ClassVar[str] = ""
    # Parents before children: the sync writes them in this order.
    resource_kinds: ClassVar[tuple[ResourceKind, ...]] = ()
    product_kinds: ClassVar[tuple[ProductKind, ...]] = ()
    # Upstream JSON keys that are our own credentials: kept in the mirror, never shown, staff included.
    hidden_upstream_keys: ClassVar[frozenset[str]] = frozenset()
    # Where this API lives on the sandbox (the demo accounts point there).
    sandbox_path: ClassVar[str] = ""
    # Templates of the action panels on the staff and portal resource pages ("" = none).
    staff_panel_template: ClassVar[str] = ""
    portal_panel_template: ClassVar[str] = ""
    # Template of the panel on the staff provider account page: account-level screens ("" = none).
    # It gets `account`, and links to the integration's own `staff_urlpatterns` that take an account_id.
    account_panel_template: ClassVar[str] = ""

    # Accounts ------------------------------------------------------------------------------------

    def client(self, account: Any, **options: Any) -> Any:
        """A client for this account's base URL and decrypted credentials."""
        raise NotImplementedError

    def check(self, client: Any) -> CheckResult:
        """One cheap read that proves the credentials work; raises ProviderError when they do not."""
        raise NotImplementedError

    def balance_cents(self, client: Any) -> int | None:
        """The upstream money balance, for integrations that have one."""
        return None

    def rotate_key(self, client: Any) -> str:
        """Ask upstream for a new API key and return it (only when `rotatable_key`)."""
        raise NotImplementedError

    # Sync ------------------------------------------------------------------------------------------

    def read(self, client: Any, now: dt.datetime) -> list[Any]:
        """Every upstream list the mirror keeps, as `inventory.mirror.Row`s; nothing is written here."""
        raise NotImplementedError

    # The usage history of some kinds is read apart from their rows (`read_usage`), not as a row's counter.
    reads_usage_apart: ClassVar[bool] = False

    def read_usage(
        self, client: Any, rows: list[Any], *, read_until: Mapping[tuple[str, str], dt.datetime], now: dt.datetime
    ) -> UsageReading:
        """Usage that is not a counter on the rows (only when `reads_usage_apart`): the growth since
        `read_until[(kind, upstream_id)]` (where the last reading ended, absent before the first), read after
        `read()` and before anything is written. A failed read is a problem in the answer, never raised."""
        return UsageReading()

    def offline_since(self, resource: Any) -> dt.datetime | None:
        """When a resource the sync saw offline went offline, from the mirror (None when not known)."""
        return None

    def details(self, resource: Any) -> Any:
        """The mirrored upstream JSON of a resource as this integration's typed object (None if unreadable).

        Pages, forms and actions read these instead of the raw `resource.upstream` dict.
        """
        return None

    # Drift: changes made outside the dashboard (`inventory.drift`) ------------------------------------
    # The module that watches this upstream (`integrations/<kind>/drift.py`): `watched_fields(kind)`,
    # `watched_values(kind, upstream)` and `restore(resource, values, actor)`. None: changes are never drift.
    drift: ClassVar[Any] = None

    def watched_fields(self, resource_kind: str) -> tuple[WatchedField, ...]:
        """The values of this kind the sync compares with the mirror (none: changes are never drift)."""
        return self.drift.watched_fields(resource_kind) if self.drift is not None else ()

    def watched_values(self, resource_kind: str, upstream: Any) -> dict[str, Any]:
        """The watched values read from a mirrored upstream JSON, by `WatchedField.key` (JSON-able values).

        Never usage or natural expiry: only what a person changes. Unreadable JSON gives {} (nothing judged).
        """
        return self.drift.watched_values(resource_kind, upstream) if self.drift is not None else {}

    def restore_drift(self, resource: Any, values: dict[str, Any], actor: Any) -> Any:
        """Push our values (by watched key) back upstream through the integration's ordinary audited actions.

        Raises `ActionRefused` where they cannot be set back (a generated password, a deleted resource).
        """
        if self.drift is None:
            raise ActionRefused(f"{self.label} changes cannot be restored from here")
        return self.drift.restore(resource, values, actor)

    # Pages -----------------------------------------------------------------------------------------

    def credentials(self, resource: Any) -> list[Credential]:
        return []

    def endpoints(self, resource: Any) -> list[Endpoint]:
        """The proxies this resource gives (none for a phone itself), read from the mirror.

        Read only `resource.kind` and `resource.upstream`: exports pass light rows, not model instances.
        """
        return []

    def staff_urlpatterns(self) -> list:
        return []

    def portal_urlpatterns(self) -> list:
        return []

    def self_service_actions(self) -> list[SelfServiceAction]:
        """What a customer may change on their own resources through the customer API (the portal's actions)."""
        return []

    # Billing ---------------------------------------------------------------------------------------

    def product_fields(self) -> dict[str, Any]:
        """Form fields for the parameters of the products this integration sells (all optional)."""
        return {}

    def product_parameters(self, product_kind: str, data: dict) -> tuple[dict, dict[str, str]]:
        """The `Product.parameters` from the product form's fields, and errors by field name."""
        return {}, {}

    def product_summary(self, product: Any) -> str:
        return product.name

    def product_upstream_cost(self, product: Any, client: Any) -> tuple[int, int] | None:
        """What a purchase and a renewal of `product` cost us, from the provider's price list (minor units).

        None when the provider's API gives no price (the owner enters the cost by hand).
        """
        return None

    def renewable(self, resource: Any, now: dt.datetime) -> str:
        """Why this resource cannot be renewed now ("" when it can)."""
        return ""

    # Foresight (`billing.foresight`): what the coming days cost upstream, and what upstream still serves.

    def upstream_costs_ahead(self, account: Any, start: dt.datetime, end: dt.datetime) -> list[UpcomingCost]:
        """Costs this account will be charged between `start` and `end` besides customers' auto-renewals
        (which the core counts from their products), e.g. plans upstream prolongs that our sales depend on."""
        return []

    def serving_until(self, resource: Any) -> dt.datetime | None:
        """When upstream stops serving this sold resource (None: no time limit). Reads the mirror only."""
        return resource.expires_at

    def align_refusal(self, resource: Any) -> str:
        """Why staff cannot make upstream serve this resource through its paid period here ("" when they can)."""
        return self.extend_refusal(resource)

    def align(self, resource: Any, actor: Any) -> Any:
        """Make upstream serve `resource` at least until its `paid_through` (costs us money upstream)."""
        return self.extend(resource, actor)

    def purchasable(self, product: Any, now: dt.datetime) -> str:
        """Why this product cannot be bought now, asked before any charge ("" when it can)."""
        return ""

    # Staff bulk actions (`inventory.bulk`): each answers per resource, so one refusal never stops the rest.
    # A capability the integration lacks says why in the row's result.

    def refresh(self, resource: Any, actor: Any) -> Any:
        """Read this one resource from upstream now and mirror it (audited by the integration's action)."""
        raise NotImplementedError(f"{self.label} resources are refreshed by the account's sync")

    def extend_refusal(self, resource: Any) -> str:
        """Why staff cannot extend this resource by one period now ("" when they can)."""
        return f"{self.label} resources cannot be extended here"

    def extend(self, resource: Any, actor: Any) -> Any:
        """Renew or prolong by one period, the way this upstream allows (costs us money upstream)."""
        raise NotImplementedError(self.extend_refusal(resource))

    def add_gb_refusal(self, resource: Any) -> str:
        """Why staff cannot add traffic to this resource ("" when they can); integrations selling by GB override it."""
        return f"{self.label} resources are not sold by GB, so they cannot get more"

    def add_gb(self, resource: Any, gb: int, actor: Any) -> Any:
        """Raise the resource's data limit by `gb` whole gigabytes upstream."""
        raise NotImplementedError(self.add_gb_refusal(resource))

    # The module that sells `product_kinds`: `prepare`, `submit` and `find` below call it.
    fulfilment: ClassVar[Any] = None

    def prepare(self, order: Any) -> dict:
        """What `submit` will send, decided before anything is sent (stored on the order first)."""
        return self.fulfilment.prepare(order)

    def submit(self, order: Any) -> list[Any]:
        """The one upstream call that costs money (never retried); returns the rows to mirror."""
        return self.fulfilment.submit(order)

    def find(self, order: Any) -> list[Any] | None:
        """Reconciliation: rows of what a lost call produced, or None when upstream shows no trace."""
        return self.fulfilment.find(order)

    def lane(self, order: Any) -> str:
        """What `find` could confuse this order with: orders of one lane (same account) take turns upstream.

        The fulfilment module may define `lane(order)`; by default purchases of one product share a lane
        and renewals of one resource do.
        """
        named = getattr(self.fulfilment, "lane", None)
        if named is not None:
            return named(order)
        if order.kind == "renewal":
            return f"renew:{order.resource_id}"
        return f"product:{order.product_id}"

    # Sandbox and demo ------------------------------------------------------------------------------

    def simulator(self) -> type | None:
        """The sandbox twin of this API (a `providers.sandbox.core.ProviderSim` subclass)."""
        return None

    def demo_accounts(self) -> list[dict]:
        """Provider accounts `seed_demo` creates against the sandbox: name, username, secret."""
        return []

    def demo_products(self) -> list[dict]:
        """Products `seed_demo` puts in the demo shop (fields of `Product`, without the account)."""
        return []

    def demo_prepare(self, account: Any) -> None:
        """After the demo sync of one of this integration's accounts: set up what the demo shop needs."""

    def demo_assignments(self) -> dict[str, list[str]]:
        """Upstream ids of the sandbox's demo data to hand to each demo customer (by contact email)."""
        return {}


_REGISTRY: dict[str, Integration] = {}


def register(integration: Integration) -> Integration:
    if integration.kind in _REGISTRY and type(_REGISTRY[integration.kind]) is not type(integration):
        raise ValueError(f"another integration is already registered as {integration.kind!r}")
    _REGISTRY[integration.kind] = integration
    return integration


def unregister(kind: str) -> None:
    _REGISTRY.pop(kind, None)


def get(kind: str) -> Integration:
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise UnknownKind(f"no integration is registered for provider kind {kind!r}") from None


def all_integrations() -> Iterable[Integration]:
    return tuple(_REGISTRY.values())


def for_account(account: Any) -> Integration:
    return get(account.kind)


def for_resource_kind(resource_kind: str) -> Integration:
    for integration in _REGISTRY.values():
        if any(kind.value == resource_kind for kind in integration.resource_kinds):
            return integration
    raise UnknownKind(f"no integration mirrors resource kind {resource_kind!r}")


def for_product_kind(product_kind: str) -> Integration:
    for integration in _REGISTRY.values():
        if any(kind.value == product_kind for kind in integration.product_kinds):
            return integration
    raise UnknownKind(f"no integration sells product kind {product_kind!r}")


def product_kind(value: str) -> ProductKind:
    for integration in _REGISTRY.values():
        for kind in integration.product_kinds:
            if kind.value == value:
                return kind
    raise UnknownKind(f"no integration sells product kind {value!r}")


def product_kinds_renewing_any(resource_kind: str) -> list[str]:
    """Product kinds whose products top up any resource of this kind on their account."""
    return [
        kind.value
        for integration in _REGISTRY.values()
        for kind in integration.product_kinds
        if kind.renews_any and kind.resource_kind == resource_kind
    ]


def self_service_actions(resource_kind: str | None = None) -> list[SelfServiceAction]:
    """Every integration's customer API actions (of this resource kind, when given)."""
    return [
        action
        for integration in _REGISTRY.values()
        for action in integration.self_service_actions()
        if resource_kind is None or action.resource_kind == resource_kind
    ]


def client_for_account(account: Any, **options: Any) -> Any:
    """A client for this account's kind, base URL and decrypted credentials."""
    return for_account(account).client(account, **options)


def _resource_kinds_where(flag: str) -> list[str]:
    return [
        kind.value for integration in _REGISTRY.values() for kind in integration.resource_kinds if getattr(kind, flag)
    ]


def offline_alert_kinds() -> list[str]:
    return _resource_kinds_where("alerts_offline")


def sold_resource_kinds() -> list[str]:
    return _resource_kinds_where("sold")


# Choices for the model fields: callables, so migrations name this function, not today's list.


def reads_upstream_cost(product_kind: str) -> bool:
    """Whether the integration selling `product_kind` reads its cost from the provider's price list."""
    integration = for_product_kind(product_kind)
    return type(integration).product_upstream_cost is not Integration.product_upstream_cost


def provider_kind_choices() -> list[tuple[str, str]]:
    return [(integration.kind, integration.label) for integration in _REGISTRY.values()]


def resource_kind_choices() -> list[tuple[str, str]]:
    return [(kind.value, kind.label) for integration in _REGISTRY.values() for kind in integration.resource_kinds]


def product_kind_choices() -> list[tuple[str, str]]:
    return [(kind.value, kind.label) for integration in _REGISTRY.values() for kind in integration.product_kinds]


# Twins of outside services that are not provider integrations (a payment provider). Their app registers a
# dotted path from its `ready()`, as the core cannot import the layers above it; the class is imported only
# when a sandbox is built, so production never loads the sandbox's development packages.
_sandbox_twin_paths: list[str] = []


def register_sandbox_twin(path: str) -> None:
    if path not in _sandbox_twin_paths:
        _sandbox_twin_paths.append(path)


def sandbox_twins() -> list[type]:
    from django.utils.module_loading import import_string

    return [import_string(path) for path in _sandbox_twin_paths]
