"""iProxy actions: staff run our phones end to end, customers serve themselves on their own proxy access.

Each action makes one upstream change through the account's client, refreshes the local mirror from the
typed answer with the sync's own mapping (`iproxy_connection_row`, `iproxy_access_row`), then writes an
audit row without secrets. When the upstream's answer is lost the audit says so and the error is raised
again: the next sync shows the truth. Action link URLs are credentials: they are read from the upstream
when needed, used once and never stored, logged, audited or shown.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
import string
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from integrations.iproxy import client as iproxy
from integrations.iproxy import rules
from integrations.iproxy.kinds import IPROXY_ACCESS, IPROXY_CONNECTION
from integrations.iproxy.mirror import iproxy_access_row, iproxy_connection_row
from integrations.iproxy.models import PhoneCapacity
from inventory.mirror import Row, mark_vanished, mirror_row
from inventory.models import Resource, ResourceStatus
from inventory.outcomes import recording_unknown_outcome
from ops import audit
from providers.http import errors
from providers.models import ProviderAccount
from providers.registry import client_for_account

logger = logging.getLogger(__name__)

# iProxy sells 30-day plans; a prolongation is a multiple of them (the upstream refuses anything else too).
PLAN_DAYS = 30
# A customer may change their phone's IP this often (per proxy access).
CHANGE_IP_INTERVAL_SECONDS = 120
STATS_CACHE_SECONDS = 60
TRAFFIC_DAYS = 30
PASSWORD_LENGTH = 12
PASSWORD_ALPHABET = string.ascii_letters + string.digits
# The comment on the action links this dashboard creates and executes itself (never handed to anyone).
LINK_COMMENT = "reseller dashboard (server-side)"
VIA_COMMAND, VIA_LINK = "command", "link"
UNKNOWN_NOTE = "outcome unknown, next sync shows the truth"
STALE_NOTE = "the change was made; the mirror catches up at the next sync"


class ChangeIpTooSoon(Exception):
    """The customer changed this proxy's IP less than CHANGE_IP_INTERVAL_SECONDS ago."""

    def __init__(self, wait_seconds: int) -> None:
        self.wait_seconds = wait_seconds
        super().__init__(
            f"The IP of this proxy was changed moments ago. You can change it again in {wait_seconds} seconds."
        )


class NotOnAPhone(Exception):
    """The proxy access is not linked to its phone in the mirror yet (the next sync links it)."""


# Helpers ---------------------------------------------------------------------------------------


def _client(account: ProviderAccount) -> iproxy.Client:
    client = client_for_account(account)
    assert isinstance(client, iproxy.Client)
    return client


@contextmanager
def _unknown_outcome(*, action: str, actor: User | None, target: Any, customer=None, data: Mapping) -> Iterator[None]:
    """Record a lost answer before it propagates, with iProxy's note as the outcome."""
    with recording_unknown_outcome(
        action=action, actor=actor, target=target, customer=customer, data={**data, "outcome": UNKNOWN_NOTE}
    ):
        yield


def _refresh_connection(client: iproxy.Client, account: ProviderAccount, connection_id: str) -> Resource:
    """Read one phone, its online status and its proxy accesses, and mirror them (three GETs)."""
    now = timezone.now()
    connection = client.get_connection(connection_id)
    online = next((s for s in client.connection_statuses() if s.connection_id == connection_id), None)
    accesses = client.list_proxy_accesses(connection_id)
    row = iproxy_connection_row(connection, online, now)
    with transaction.atomic():
        resource = mirror_row(account, row, parent=None, now=now)
        for access in accesses:
            mirror_row(account, iproxy_access_row(access, row.status, now), parent=resource, now=now)
        mark_vanished(
            Resource.objects.filter(account=account, kind=IPROXY_ACCESS, parent=resource).exclude(
                upstream_id__in=[access.id for access in accesses]
            ),
            now=now,
        )
    return resource


def _try_refresh(client: iproxy.Client, connection: Resource) -> tuple[Resource, bool]:
    """Refresh after a change that already happened: a failed read must not hide that success."""
    try:
        return _refresh_connection(client, connection.account, connection.upstream_id), True
    except errors.ProviderError as exc:
        logger.warning("iproxy mirror refresh of %s failed: %s", connection.upstream_id, exc)
        return connection, False


def _mirror_access(access: iproxy.ProxyAccess, connection: Resource) -> Resource:
    now = timezone.now()
    return mirror_row(connection.account, iproxy_access_row(access, connection.status, now), parent=connection, now=now)


def _server_side_link(client: iproxy.Client, connection_id: str, action: str) -> iproxy.ActionLink:
    """Our own action link for this phone and action, created the first time it is needed."""
    links = client.list_action_links(connection_id, action=action)
    for link in links:
        if link.comment == LINK_COMMENT:
            return link
    created = client.create_action_link(connection_id, action=action, comment=LINK_COMMENT)
    for link in client.list_action_links(connection_id, action=action):
        if link.id == created.id:
            return link
    raise errors.MalformedResponseError(
        "the new action link is missing from the list", provider=iproxy.PROVIDER, operation="list action links"
    )


def _send(client: iproxy.Client, connection_id: str, action: str, via: str) -> None:
    if via == VIA_LINK:
        client.execute_action_link(_server_side_link(client, connection_id, action))
    elif via == VIA_COMMAND:
        client.push_command(connection_id, action)
    else:
        raise ValueError(f"via must be {VIA_COMMAND!r} or {VIA_LINK!r}")


def _when(value: dt.datetime | Any | None) -> str | None:
    if value is iproxy.CLEAR:
        return "cleared"
    return value.isoformat() if isinstance(value, dt.datetime) else None


def _check_kind(resource: Resource, kind: str) -> None:
    if resource.kind != kind or resource.account.kind != "iproxy":
        raise ValueError(f"expected an {kind} resource, got {resource.kind}")


def new_password() -> str:
    """A random 12-character password of letters and digits (what iProxy itself generates)."""
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


# Staff: connections (our phones) ---------------------------------------------------------------------


def connection_create(
    *,
    account: ProviderAccount,
    name: str,
    actor: User | None,
    country: str | None = None,
    city: str | None = None,
    server_id: str | None = None,
    description: str | None = None,
    prolongation_enabled: bool | None = None,
) -> Resource:
    """Create a phone connection (country + city, or a server id) and mirror it, with no plan yet."""
    data = {"name": name, "country": country, "city": city, "server_id": server_id}
    action = "iproxy.connection.create"
    client = _client(account)
    with _unknown_outcome(action=action, actor=actor, target=account, data=data):
        created = client.create_connection(
            name=name,
            description=description,
            prolongation_enabled=prolongation_enabled,
            country=country,
            city=city,
            server_id=server_id,
        )
    try:
        resource = _refresh_connection(client, account, created.id)
        refreshed = True
    except errors.ProviderError as exc:
        logger.warning("iproxy mirror refresh of new connection %s failed: %s", created.id, exc)
        # A placeholder until the sync: a connection starts without a plan, which the sync maps to expired.
        resource = mirror_row(
            account,
            Row(
                kind=IPROXY_CONNECTION,
                upstream_id=created.id,
                label=name,
                status=ResourceStatus.EXPIRED,
                expires_at=None,
                upstream=created.raw,
            ),
            parent=None,
            now=timezone.now(),
        )
        refreshed = False
    audit.record(
        action=action,
        actor=actor,
        target=resource,
        data={**data, "connection": created.id, "server": created.server_id, "mirror_refreshed": refreshed},
    )
    return resource


def connection_settings_current(connection: Resource) -> dict[str, Any]:
    """The phone's settings as last mirrored, read through the client's parser: {} when the mirror cannot be read
    (a form then shows no current values, and every value posted counts as a change)."""
    phone = connection.details
    return dict(phone.settings.raw) if phone is not None else {}


def connection_settings_update(*, connection: Resource, changes: Mapping[str, Any], actor: User | None) -> Resource:
    """Send only the settings that differ from the mirrored ones; returns the refreshed connection.

    The client checks each value against the documented ranges before anything is sent.
    """
    _check_kind(connection, IPROXY_CONNECTION)
    current = connection_settings_current(connection)
    changed = {key: value for key, value in changes.items() if _normal(current.get(key)) != _normal(value)}
    if not changed:
        return connection
    # macros_url may carry a token of the customer's automation: say it changed, not what to.
    data = {
        "connection": connection.upstream_id,
        "changes": {key: "[changed]" if key == "macros_url" else value for key, value in changed.items()},
    }
    action = "iproxy.connection.settings_update"
    client = _client(connection.account)
    with _unknown_outcome(action=action, actor=actor, target=connection, data=data):
        client.update_connection_settings(connection.upstream_id, **changed)
    resource, refreshed = _try_refresh(client, connection)
    audit.record(action=action, actor=actor, target=resource, data={**data, "mirror_refreshed": refreshed})
    return resource


def _normal(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def connection_prolongate(
    *, connection: Resource, days: int, actor: User | None, coupon_code: str | None = None
) -> Resource:
    """Pay for `days` more of the phone's plan (a multiple of PLAN_DAYS) from our iProxy balance."""
    _check_kind(connection, IPROXY_CONNECTION)
    client = _client(connection.account)
    # The upstream wants the plan exactly as it stands now, so it is read fresh rather than from the mirror.
    plan = client.get_connection(connection.upstream_id).active_plan
    if plan is None:
        raise errors.ConflictError(
            "this connection has no active plan to prolongate", provider=iproxy.PROVIDER, operation="prolongate plan"
        )
    data = {"connection": connection.upstream_id, "days": days, "plan": plan.id, "coupon": bool(coupon_code)}
    action = "iproxy.connection.prolongate"
    with _unknown_outcome(action=action, actor=actor, target=connection, data=data):
        change = client.prolongate_plan(
            connection.upstream_id, active_plan=plan, days=days, plan_days=PLAN_DAYS, coupon_code=coupon_code
        )
    resource, refreshed = _try_refresh(client, connection)
    audit.record(
        action=action,
        actor=actor,
        target=resource,
        data={
            **data,
            "expires_at": change.active_plan.expires_at.isoformat(),
            "coupon_applied": change.is_coupon_applied,
            "mirror_refreshed": refreshed,
        },
    )
    return resource


def resource_refresh(*, resource: Resource, actor: User | None) -> Resource:
    """Read a phone (or a proxy access's phone) with its accesses from upstream and mirror them."""
    connection = _parent(resource) if resource.kind == IPROXY_ACCESS else resource
    _check_kind(connection, IPROXY_CONNECTION)
    refreshed = _refresh_connection(_client(connection.account), connection.account, connection.upstream_id)
    audit.record(action="iproxy.connection.refresh", actor=actor, target=resource, customer=resource.customer, data={})
    return Resource.objects.get(pk=resource.pk) if resource.pk != refreshed.pk else refreshed


def connection_reboot(*, connection: Resource, actor: User | None, via: str = VIA_COMMAND) -> Resource:
    """Reboot the phone by command push, or through our server-side action link (`via="link"`)."""
    return _connection_command(connection=connection, actor=actor, command="reboot", via=via)


def connection_change_ip(*, connection: Resource, actor: User | None, via: str = VIA_COMMAND) -> Resource:
    """Give the phone a new external IP by command push, or through our server-side action link."""
    return _connection_command(connection=connection, actor=actor, command="changeip", via=via)


def _connection_command(
    *, connection: Resource, actor: User | None, command: str, via: str, customer=None, access: Resource | None = None
) -> Resource:
    _check_kind(connection, IPROXY_CONNECTION)
    action = f"iproxy.connection.{'reboot' if command == 'reboot' else 'change_ip'}"
    data: dict[str, Any] = {"connection": connection.upstream_id, "via": via}
    target: Resource = connection
    if access is not None:
        action, target = "iproxy.access.change_ip", access
        data["access"] = access.upstream_id
    client = _client(connection.account)
    with _unknown_outcome(action=action, actor=actor, target=target, customer=customer, data=data):
        _send(client, connection.upstream_id, command, via)
    cache.delete(stats_key(connection))
    resource, refreshed = _try_refresh(client, connection)
    audit.record(
        action=action, actor=actor, target=target, customer=customer, data={**data, "mirror_refreshed": refreshed}
    )
    return resource


# Staff: proxy accesses (what customers buy) ---------------------------------------------------------


def access_create(
    *,
    connection: Resource,
    actor: User | None,
    listen_service: str,
    auth_type: str,
    login: str | None = None,
    password: str | None = None,
    description: str | None = None,
    acl_inbound_ips: list[str] | None = None,
    expires_at: dt.datetime | None = None,
) -> Resource:
    """Open a proxy access (port) on a phone; it becomes an unassigned iproxy_access Resource (in stock).

    Without a login and password the upstream generates them; a noauth access needs allowed IPs.
    """
    _check_kind(connection, IPROXY_CONNECTION)
    ips = list(acl_inbound_ips or [])
    data = {
        "connection": connection.upstream_id,
        "listen_service": listen_service,
        "auth_type": auth_type,
        "auth": "given" if login else ("generated" if auth_type == "userpass" else "none"),
        "acl_inbound_ips": ips,
        "expires_at": _when(expires_at),
    }
    action = "iproxy.access.create"
    client = _client(connection.account)
    with _unknown_outcome(action=action, actor=actor, target=connection, data=data):
        access = client.create_proxy_access(
            connection.upstream_id,
            listen_service=listen_service,
            auth_type=auth_type,
            login=login or None,
            password=password or None,
            description=description or None,
            acl_inbound_policy=iproxy_acl_policy(ips),
            acl_inbound_ips=ips or None,
            expires_at=expires_at,
        )
    resource = _mirror_access(access, connection)
    audit.record(action=action, actor=actor, target=resource, data={**data, "access": access.id})
    return resource


def iproxy_acl_policy(ips: list[str]) -> str | None:
    """The only documented inbound policy applies whenever IPs are listed."""
    return "deny_except" if ips else None


def access_update(
    *,
    access: Resource,
    actor: User | None,
    expires_at: dt.datetime | Any | None = None,
    login: str | None = None,
    password: str | None = None,
    acl_inbound_ips: list[str] | None = None,
    description: str | None = None,
    customer_action: bool = False,
) -> Resource:
    """Change a proxy access: None leaves a field alone; `expires_at=iproxy.CLEAR` removes the expiry,
    `acl_inbound_ips=[]` switches the ACL off, a login and a password replace the credentials."""
    _check_kind(access, IPROXY_ACCESS)
    connection = _parent(access)
    data: dict[str, Any] = {"connection": connection.upstream_id, "access": access.upstream_id}
    if expires_at is not None:
        data["expires_at"] = _when(expires_at)
    if login is not None or password is not None:
        data["auth"] = "replaced"
    if acl_inbound_ips is not None:
        data["acl_inbound_ips"] = list(acl_inbound_ips)
    if description is not None:
        data["description"] = description
    action = "iproxy.access.new_credentials" if customer_action else "iproxy.access.update"
    client = _client(access.account)
    with _unknown_outcome(action=action, actor=actor, target=access, customer=access.customer, data=data):
        answer = client.update_proxy_access(
            connection.upstream_id,
            access.upstream_id,
            login=login,
            password=password,
            description=description,
            acl_inbound_ips=acl_inbound_ips,
            expires_at=expires_at,
        )
    resource = _mirror_access(answer, connection)
    audit.record(action=action, actor=actor, target=resource, customer=resource.customer, data=data)
    return resource


def access_delete(*, access: Resource, actor: User | None) -> Resource:
    """Close a proxy access upstream; its Resource is marked gone (kept, so its history stays readable)."""
    _check_kind(access, IPROXY_ACCESS)
    connection = _parent(access)
    data = {"connection": connection.upstream_id, "access": access.upstream_id}
    action = "iproxy.access.delete"
    with _unknown_outcome(action=action, actor=actor, target=access, customer=access.customer, data=data):
        _client(access.account).delete_proxy_access(connection.upstream_id, access.upstream_id)
    now = timezone.now()
    mark_vanished(Resource.objects.filter(pk=access.pk), now=now)
    access.status, access.vanished_at = ResourceStatus.VANISHED, now
    audit.record(action=action, actor=actor, target=access, customer=access.customer, data=data)
    return access


def _parent(access: Resource) -> Resource:
    if access.parent is None:
        raise NotOnAPhone("This proxy is not linked to its phone yet; try again after the next sync.")
    return access.parent


# Customers: self-service on their own access --------------------------------------------------------


def access_new_credentials(*, access: Resource, actor: User | None) -> Resource:
    """Replace the access's password with a new random one (the login stays); the old one stops working."""
    current = access.details
    login = current.auth.login if current is not None and current.auth is not None else None
    if not login or current.auth_type != "userpass":
        raise errors.InvalidRequestError(
            "this proxy is reached by IP address, not with a login and password",
            provider=iproxy.PROVIDER,
            operation="update proxy access",
        )
    return access_update(access=access, actor=actor, login=login, password=new_password(), customer_action=True)


def access_set_connection(
    *, access: Resource, actor: User | None, listen_service: str, allowed_ips: list[str]
) -> Resource:
    """The customer picks how their proxy is reached: http or socks5, and login/password or an IP allow-list.

    Allowed IPs make it an IP allow-list access (noauth with an inbound ACL); none make it login and
    password again (iProxy then generates new credentials). Only what changes is sent.
    """
    _check_kind(access, IPROXY_ACCESS)
    connection = _parent(access)
    current = access.details
    changes: dict[str, Any] = {}
    if current is None or listen_service != current.listen_service:
        changes["listen_service"] = listen_service
    auth_type = "noauth" if allowed_ips else "userpass"
    if current is None or auth_type != current.auth_type:
        changes["auth_type"] = auth_type
    if current is None or list(allowed_ips) != list(current.acl_inbound_ips):
        changes["acl_inbound_ips"] = list(allowed_ips)
    if not changes:
        return access
    data = {"connection": connection.upstream_id, "access": access.upstream_id, **changes}
    action = "iproxy.access.connection_mode"
    with _unknown_outcome(action=action, actor=actor, target=access, customer=access.customer, data=data):
        answer = _client(access.account).update_proxy_access(connection.upstream_id, access.upstream_id, **changes)
    resource = _mirror_access(answer, connection)
    audit.record(action=action, actor=actor, target=resource, customer=resource.customer, data=data)
    return resource


def change_ip_key(access: Resource) -> str:
    return f"iproxy:change-ip:{access.account_id}:{access.upstream_id}"


def access_change_ip(*, access: Resource, actor: User | None) -> Resource:
    """Change the external IP of the access's phone, at most once per CHANGE_IP_INTERVAL_SECONDS.

    It runs through our own server-side action link; the customer never sees the link. A refusal that
    certainly changed nothing frees the limit again; a lost answer keeps it.
    """
    _check_kind(access, IPROXY_ACCESS)
    connection = _parent(access)
    key, now = change_ip_key(access), timezone.now().timestamp()
    if not cache.add(key, now, timeout=CHANGE_IP_INTERVAL_SECONDS):
        since = cache.get(key, now)
        raise ChangeIpTooSoon(max(1, int(CHANGE_IP_INTERVAL_SECONDS - (now - since))))
    try:
        _connection_command(
            connection=connection,
            actor=actor,
            command="changeip",
            via=VIA_LINK,
            customer=access.customer,
            access=access,
        )
    except errors.UnknownOutcomeError:
        raise
    except errors.ProviderError:
        cache.delete(key)
        raise
    access.refresh_from_db()
    return access


# Statistics (read-only) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statistics:
    """A phone's recent traffic, uptime and IP history, as fetched at `fetched_at`."""

    fetched_at: dt.datetime
    traffic: iproxy.DailyTraffic
    uptime: tuple[iproxy.UptimeEntry, ...]
    ip_history: tuple[iproxy.IpHistoryEntry, ...]


def stats_key(connection: Resource) -> str:
    return f"iproxy:stats:{connection.account_id}:{connection.upstream_id}"


def connection_statistics(*, connection: Resource) -> Statistics:
    """Traffic by day for the last TRAFFIC_DAYS days, uptime and IP history for the last 24 hours.

    Three upstream reads, kept for STATS_CACHE_SECONDS so a reloaded page does not repeat them.
    """
    _check_kind(connection, IPROXY_CONNECTION)
    key = stats_key(connection)
    cached = cache.get(key)
    if isinstance(cached, Statistics):
        return cached
    client = _client(connection.account)
    now = timezone.now()
    day_ago = now - dt.timedelta(hours=24)
    stats = Statistics(
        fetched_at=now,
        traffic=client.traffic_by_day(
            connection.upstream_id, start=now - dt.timedelta(days=TRAFFIC_DAYS), end=now, timezone=settings.TIME_ZONE
        ),
        uptime=tuple(client.uptime(connection.upstream_id, start=day_ago, end=now)),
        ip_history=tuple(client.ip_history(connection.upstream_id, start=day_ago, end=now)),
    )
    cache.set(key, stats, timeout=STATS_CACHE_SECONDS)
    return stats


# Staff: the rest of a phone's console (issue 10) --------------------------------------------------------
# Each change below follows the same steps as those above: one upstream call inside the unknown-outcome
# helper, a mirror refresh that may fail without hiding the success, then one audit row without secrets.

# Commands that cut the phone's traffic or change what customers get: staff confirm them first.
DISRUPTIVE_COMMANDS = frozenset({"reboot", "changeip", "fix_lte", "toggle_proxy", "upgrade_app", "refresh"})


class HasActivePlan(Exception):
    """iProxy deletes only a connection without an active plan; one with a plan is recreated instead."""

    def __init__(self, expires_at: dt.datetime | None) -> None:
        until = f" (paid until {expires_at:%Y-%m-%d %H:%M} UTC)" if expires_at else ""
        super().__init__(
            f"This connection has an active plan{until}, and iProxy deletes only connections without one. "
            "Recreate it instead to move the plan to a new connection."
        )


class UnknownUpstreamItem(Exception):
    """The OpenVPN access or action link named in the request is not on this phone (any more)."""


def _refreshed_audit(
    client: iproxy.Client, connection: Resource, *, action: str, actor: User | None, data: Mapping[str, Any]
) -> Resource:
    resource, refreshed = _try_refresh(client, connection)
    audit.record(action=action, actor=actor, target=resource, data={**data, "mirror_refreshed": refreshed})
    return resource


def connection_basic_info_update(
    *, connection: Resource, actor: User | None, name: str | None = None, description: str | None = None
) -> Resource:
    """Rename the phone and/or change its description (Connection control 4)."""
    _check_kind(connection, IPROXY_CONNECTION)
    data = {"connection": connection.upstream_id, "name": name, "description": description}
    action = "iproxy.connection.basic_info_update"
    client = _client(connection.account)
    with _unknown_outcome(action=action, actor=actor, target=connection, data=data):
        client.update_connection_basic_info(connection.upstream_id, name=name, description=description)
    return _refreshed_audit(client, connection, action=action, actor=actor, data=data)


def connection_change_plan(
    *, connection: Resource, plan_id: str, actor: User | None, coupon_code: str | None = None
) -> tuple[Resource, iproxy.PlanChange]:
    """Move the phone to another iProxy plan (Connection control 8); a phone without a plan buys this one."""
    _check_kind(connection, IPROXY_CONNECTION)
    phone = connection.details
    current = phone.active_plan if phone is not None else None
    data = {
        "connection": connection.upstream_id,
        "plan_id": plan_id,
        "previous_plan": current.id if current is not None else None,
        "coupon_code": coupon_code,
    }
    action = "iproxy.connection.change_plan"
    client = _client(connection.account)
    with _unknown_outcome(action=action, actor=actor, target=connection, data=data):
        change = client.change_plan(
            connection.upstream_id, plan_id=plan_id, active_plan=current, coupon_code=coupon_code
        )
    data = {
        **data,
        "expires_at": change.active_plan.expires_at.isoformat(),
        "coupon_applied": change.is_coupon_applied,
    }
    return _refreshed_audit(client, connection, action=action, actor=actor, data=data), change


def connection_recreate(
    *,
    connection: Resource,
    name: str,
    server_id: str,
    actor: User | None,
    description: str | None = None,
    prolongation_enabled: bool | None = None,
) -> Resource:
    """Replace the phone's connection by a new one that keeps its plan (Special api 1).

    The old connection and every proxy access on it end upstream: their mirror rows are marked vanished.
    """
    _check_kind(connection, IPROXY_CONNECTION)
    data = {"connection": connection.upstream_id, "name": name, "server_id": server_id}
    action = "iproxy.connection.recreate"
    account, client = connection.account, _client(connection.account)
    with _unknown_outcome(action=action, actor=actor, target=connection, data=data):
        created = client.recreate_connection(
            connection.upstream_id,
            name=name,
            server_id=server_id,
            description=description,
            prolongation_enabled=prolongation_enabled,
        )
    now = timezone.now()
    mark_vanished(Resource.objects.filter(pk=connection.pk) | connection.children.all(), now=now)
    try:
        resource = _refresh_connection(client, account, created.id)
        refreshed = True
    except errors.ProviderError as exc:
        logger.warning("iproxy mirror refresh of recreated connection %s failed: %s", created.id, exc)
        row = Row(
            kind=IPROXY_CONNECTION,
            upstream_id=created.id,
            label=name,
            status=connection.status,
            expires_at=connection.expires_at,
            upstream=created.raw,
        )
        resource, refreshed = mirror_row(account, row, parent=None, now=now), False
    _copy_capacity(connection, resource)
    audit.record(
        action=action,
        actor=actor,
        target=resource,
        data={**data, "new_connection": created.id, "old_resource": connection.pk, "mirror_refreshed": refreshed},
    )
    return resource


def connection_delete(*, connection: Resource, reason: str, actor: User | None) -> Resource:
    """Delete a phone connection without an active plan (Connection control 9); HasActivePlan otherwise."""
    _check_kind(connection, IPROXY_CONNECTION)
    phone = connection.details
    plan = phone.active_plan if phone is not None else None
    if plan is not None and plan.expires_at > timezone.now():
        raise HasActivePlan(plan.expires_at)
    data = {"connection": connection.upstream_id, "reason": reason}
    action = "iproxy.connection.delete"
    with _unknown_outcome(action=action, actor=actor, target=connection, data=data):
        try:
            _client(connection.account).delete_connection(connection.upstream_id, reason=reason)
        except errors.ConflictError:
            # Our mirror was older than upstream: a plan was bought meanwhile.
            raise HasActivePlan(None) from None
    now = timezone.now()
    mark_vanished(Resource.objects.filter(pk=connection.pk) | connection.children.all(), now=now)
    connection.refresh_from_db()
    audit.record(action=action, actor=actor, target=connection, data=data)
    return connection


def connection_sms(*, connection: Resource) -> list[iproxy.Sms]:
    """The last 100 SMS the phone received, newest first (Connection control 10; read only)."""
    _check_kind(connection, IPROXY_CONNECTION)
    messages = _client(connection.account).sms_history(connection.upstream_id)
    return sorted(messages, key=lambda sms: sms.created_at, reverse=True)


def team_access_modify(
    *, connection: Resource, email: str, permissions: Mapping[str, bool], actor: User | None
) -> Resource:
    """Give a team member these permissions on the phone (Connection control 6); every name is sent."""
    _check_kind(connection, IPROXY_CONNECTION)
    granted = sorted(name for name, value in permissions.items() if value)
    data = {"connection": connection.upstream_id, "email": email, "granted": granted}
    action = "iproxy.connection.team_modify"
    client = _client(connection.account)
    with _unknown_outcome(action=action, actor=actor, target=connection, data=data):
        client.modify_team_access(connection.upstream_id, email=email, permissions=dict(permissions))
    return _refreshed_audit(client, connection, action=action, actor=actor, data=data)


def team_access_remove(*, connection: Resource, email: str, actor: User | None) -> Resource:
    """Take a team member off the phone (Connection control 7)."""
    _check_kind(connection, IPROXY_CONNECTION)
    data = {"connection": connection.upstream_id, "email": email}
    action = "iproxy.connection.team_remove"
    client = _client(connection.account)
    with _unknown_outcome(action=action, actor=actor, target=connection, data=data):
        client.remove_team_access(connection.upstream_id, email=email)
    return _refreshed_audit(client, connection, action=action, actor=actor, data=data)


def connection_new_pin_code(*, connection: Resource, actor: User | None) -> iproxy.PinCode:
    """A new PIN for the phone app, returned to be shown once; the audit row keeps only its expiry."""
    _check_kind(connection, IPROXY_CONNECTION)
    data = {"connection": connection.upstream_id}
    action = "iproxy.connection.pin_code"
    with _unknown_outcome(action=action, actor=actor, target=connection, data=data):
        pin = _client(connection.account).new_pin_code(connection.upstream_id)
    audit.record(
        action=action, actor=actor, target=connection, data={**data, "valid_until": pin.expires_at.isoformat()}
    )
    return pin


def connection_new_api_key(*, connection: Resource, actor: User | None) -> iproxy.ApiKey:
    """A new API key for this connection (the old one stops working), returned to be shown once, never stored."""
    _check_kind(connection, IPROXY_CONNECTION)
    data = {"connection": connection.upstream_id}
    action = "iproxy.connection.api_key"
    with _unknown_outcome(action=action, actor=actor, target=connection, data=data):
        new = _client(connection.account).new_connection_api_key(connection.upstream_id)
    audit.record(action=action, actor=actor, target=connection, data=data)
    return new


def connection_push_command(
    *, connection: Resource, command: str, actor: User | None, enabled: bool | None = None
) -> iproxy.CommandSent:
    """Send one documented command to the phone (Connection control 11); toggle_proxy takes `enabled`."""
    _check_kind(connection, IPROXY_CONNECTION)
    params = {"enabled": bool(enabled)} if command in rules.COMMAND_PUSH_PARAMS else None
    data: dict[str, Any] = {"connection": connection.upstream_id, "command": command}
    if params is not None:
        data["params"] = params
    action = "iproxy.connection.command"
    client = _client(connection.account)
    with _unknown_outcome(action=action, actor=actor, target=connection, data=data):
        sent = client.push_command(connection.upstream_id, command, params)
    cache.delete(stats_key(connection))
    _refreshed_audit(client, connection, action=action, actor=actor, data={**data, "message": sent.message})
    return sent


# Staff: OpenVPN accesses ---------------------------------------------------------------------------------


def ovpn_list(*, connection: Resource) -> list[iproxy.OvpnAccess]:
    """The phone's OpenVPN accesses, as upstream has them now (OpenVPN access API 2)."""
    _check_kind(connection, IPROXY_CONNECTION)
    return sorted(_client(connection.account).list_ovpn_accesses(connection.upstream_id), key=lambda o: o.name)


def _ovpn_data(connection: Resource, ovpn_id: str, **extra: Any) -> dict[str, Any]:
    return {"connection": connection.upstream_id, "ovpn": ovpn_id, **extra}


def ovpn_create(
    *, connection: Resource, name: str, actor: User | None, description: str | None = None
) -> iproxy.OvpnAccess:
    """Open an OpenVPN access on the phone (OpenVPN access API 1)."""
    _check_kind(connection, IPROXY_CONNECTION)
    data = {"connection": connection.upstream_id, "name": name}
    action = "iproxy.ovpn.create"
    with _unknown_outcome(action=action, actor=actor, target=connection, data=data):
        created = _client(connection.account).create_ovpn_access(
            connection.upstream_id, name=name, description=description
        )
    audit.record(action=action, actor=actor, target=connection, data={**data, "ovpn": created.id})
    return created


def ovpn_update(
    *,
    connection: Resource,
    ovpn_id: str,
    actor: User | None,
    name: str | None = None,
    description: str | None = None,
    expires_at: dt.datetime | None = None,
) -> iproxy.OvpnAccess:
    """Rename an OpenVPN access, change its description or its expiry (OpenVPN access API 5)."""
    _check_kind(connection, IPROXY_CONNECTION)
    data = _ovpn_data(connection, ovpn_id, name=name, description=description, expires_at=_when(expires_at))
    action = "iproxy.ovpn.update"
    with _unknown_outcome(action=action, actor=actor, target=connection, data=data):
        updated = _client(connection.account).update_ovpn_access(
            connection.upstream_id, ovpn_id, name=name, description=description, expires_at=expires_at
        )
    audit.record(action=action, actor=actor, target=connection, data=data)
    return updated


def ovpn_delete(*, connection: Resource, ovpn_id: str, actor: User | None) -> None:
    """Close an OpenVPN access (OpenVPN access API 6); its config stops working."""
    _check_kind(connection, IPROXY_CONNECTION)
    data = _ovpn_data(connection, ovpn_id)
    action = "iproxy.ovpn.delete"
    with _unknown_outcome(action=action, actor=actor, target=connection, data=data):
        _client(connection.account).delete_ovpn_access(connection.upstream_id, ovpn_id)
    audit.record(action=action, actor=actor, target=connection, data=data)


def ovpn_config(*, connection: Resource, ovpn_id: str, actor: User | None) -> iproxy.OvpnConfig:
    """The .ovpn file, its sha1 checked by the client; who downloaded which one is audited (not the file)."""
    _check_kind(connection, IPROXY_CONNECTION)
    config = _client(connection.account).ovpn_config(connection.upstream_id, ovpn_id)
    audit.record(
        action="iproxy.ovpn.config_download",
        actor=actor,
        target=connection,
        data=_ovpn_data(connection, ovpn_id, sha1=config.sha1),
    )
    return config


# Staff: action links (each URL is a credential) ------------------------------------------------------------


def link_handle(link: iproxy.ActionLink) -> str:
    """A stable name for a link that reveals nothing of it: staff pick links by this, never by id or URL."""
    return hashlib.sha256(f"{link.connection_id}:{link.id}".encode()).hexdigest()[:16]


def masked_link(link: iproxy.ActionLink) -> str:
    """The link with its secret part hidden, e.g. https://i.fxdx.in/actionlinks/do/reboot/••••••"""
    head, _, _ = link.link.rpartition("/")
    return f"{head}/••••••"


def action_links(*, connection: Resource) -> list[iproxy.ActionLink]:
    """The phone's action links (Action links API 2); callers show them masked."""
    _check_kind(connection, IPROXY_CONNECTION)
    return _client(connection.account).list_action_links(connection.upstream_id)


def action_link_create(
    *, connection: Resource, action: str, actor: User | None, comment: str | None = None
) -> iproxy.ActionLink:
    """Make an action link (Action links API 1) and return it whole, to be shown once and never stored."""
    _check_kind(connection, IPROXY_CONNECTION)
    data = {"connection": connection.upstream_id, "action": action, "comment": comment}
    audit_action = "iproxy.action_link.create"
    client = _client(connection.account)
    with _unknown_outcome(action=audit_action, actor=actor, target=connection, data=data):
        created = client.create_action_link(connection.upstream_id, action=action, comment=comment)
    found = next((link for link in client.list_action_links(connection.upstream_id) if link.id == created.id), None)
    if found is None:
        raise errors.MalformedResponseError(
            "the new action link is missing from the list", provider=iproxy.PROVIDER, operation="list action links"
        )
    audit.record(action=audit_action, actor=actor, target=connection, data={**data, "handle": link_handle(found)})
    return found


def action_link_delete(*, connection: Resource, handle: str, actor: User | None) -> iproxy.ActionLink:
    """Delete the phone's action link with this handle (Action links API 4); anyone holding it loses it."""
    _check_kind(connection, IPROXY_CONNECTION)
    client = _client(connection.account)
    link = next(
        (item for item in client.list_action_links(connection.upstream_id) if link_handle(item) == handle), None
    )
    if link is None:
        raise UnknownUpstreamItem("That action link is not on this phone any more.")
    data = {"connection": connection.upstream_id, "action": link.action, "handle": handle, "comment": link.comment}
    audit_action = "iproxy.action_link.delete"
    with _unknown_outcome(action=audit_action, actor=actor, target=connection, data=data):
        client.delete_action_link(connection.upstream_id, link.id)
    audit.record(action=audit_action, actor=actor, target=connection, data=data)
    return link


# Staff: statistics for any range -------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffStatistics:
    """A phone's numbers for one range and time zone: traffic by day and by hour and port, uptime, IPs."""

    start: dt.datetime
    end: dt.datetime
    timezone: str
    fetched_at: dt.datetime
    traffic: iproxy.DailyTraffic
    ports: tuple[iproxy.PortTraffic, ...]
    uptime: tuple[iproxy.UptimeEntry, ...]
    ip_history: tuple[iproxy.IpHistoryEntry, ...]


def connection_statistics_range(
    *, connection: Resource, start: dt.datetime, end: dt.datetime, tz: str
) -> StaffStatistics:
    """Four reads (Connection statistics 1-4) for staff; daily totals are cut in `tz`."""
    _check_kind(connection, IPROXY_CONNECTION)
    client, cid = _client(connection.account), connection.upstream_id
    return StaffStatistics(
        start=start,
        end=end,
        timezone=tz,
        fetched_at=timezone.now(),
        traffic=client.traffic_by_day(cid, start=start, end=end, timezone=tz),
        ports=tuple(client.traffic_by_hour_and_port(cid, start=start, end=end)),
        uptime=tuple(client.uptime(cid, start=start, end=end)),
        ip_history=tuple(client.ip_history(cid, start=start, end=end)),
    )


# Staff: how many ports we sell on a phone -------------------------------------------------------------------


def phone_capacity(connection: Resource) -> int:
    """The most accesses we sell on this phone (0 when staff have set none)."""
    capacity = PhoneCapacity.objects.filter(connection=connection).first()
    return capacity.max_ports if capacity is not None else 0


def phone_plan_price(connection: Resource) -> int | None:
    """What one period of this phone's plan costs us, as the owner entered it (None when not known)."""
    capacity = PhoneCapacity.objects.filter(connection=connection).first()
    return capacity.plan_price_cents if capacity is not None else None


_UNCHANGED: Any = object()


def phone_capacity_set(
    *, connection: Resource, max_ports: int, actor: User | None, plan_price_cents: int | None = _UNCHANGED
) -> PhoneCapacity:
    """Set how many proxy accesses the shop may sell on this phone (accesses already open stay) and, when
    given, what one period of its plan costs us (None: not known)."""
    _check_kind(connection, IPROXY_CONNECTION)
    previous = phone_capacity(connection)
    defaults: dict[str, Any] = {"max_ports": max_ports}
    data: dict[str, Any] = {"connection": connection.upstream_id, "max_ports": max_ports, "previous": previous}
    if plan_price_cents is not _UNCHANGED:
        defaults["plan_price_cents"] = plan_price_cents
        if plan_price_cents != phone_plan_price(connection):
            data["plan_price_cents"] = plan_price_cents
    capacity, _ = PhoneCapacity.objects.update_or_create(connection=connection, defaults=defaults)
    audit.record(action="iproxy.connection.capacity", actor=actor, target=connection, data=data)
    return capacity


def _copy_capacity(old: Resource, new: Resource) -> None:
    """A recreated connection is the same phone: it keeps the capacity staff set."""
    capacity = PhoneCapacity.objects.filter(connection=old).first()
    if capacity is not None and (capacity.max_ports or capacity.plan_price_cents is not None):
        PhoneCapacity.objects.update_or_create(
            connection=new, defaults={"max_ports": capacity.max_ports, "plan_price_cents": capacity.plan_price_cents}
        )
