"""The Unknown Proxies API client: residential and ISP tokens, typed results, rules checked before sending.

Documents: shared/provider-api/000 (PATCH /isp/token), 001 (PATCH /resi/token), 002 (POST /resi/token/create);
where they are silent, shared/provider-api/README.md decides. The sandbox twin imports ENDPOINTS and the
list keys below, so correcting a path or an answer shape against the live API is a one-line change here.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from integrations.unknownproxies import rules
from providers.http.base import BaseClient
from providers.http.parsing import Reader
from providers.http.rules import RuleViolation, raise_for

PROVIDER = "unknownproxies"

# Every endpoint, by operation name: (method, path below the base URL).
ENDPOINTS: dict[str, tuple[str, str]] = {
    "create_resi_token": ("POST", "/resi/token/create"),
    "modify_resi_token": ("PATCH", "/resi/token"),
    "get_resi_token": ("GET", "/resi/token"),
    "list_resi_tokens": ("GET", "/resi/tokens"),
    "list_pools": ("GET", "/resi/pools"),
    "create_isp_token": ("POST", "/isp/token/create"),
    "modify_isp_token": ("PATCH", "/isp/token"),
    "get_isp_token": ("GET", "/isp/token"),
    "list_isp_tokens": ("GET", "/isp/tokens"),
}
# Undocumented answer shapes (our decision): the lists are wrapped in an object under these keys,
# e.g. {"tokens": [<token>, ...]} and {"pools": [{"id": "us-s", "name": "US sticky"}, ...]}.
TOKENS_KEY = "tokens"
POOLS_KEY = "pools"


def _timestamp(moment: dt.datetime | None) -> float:
    return (moment or dt.datetime.now(dt.UTC)).timestamp()


def _aware(seconds: float | None) -> dt.datetime | None:
    return None if seconds is None else dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


@dataclass(frozen=True)
class ResiToken:
    """A residential token, as in the response examples of documents 001 and 002."""

    token: str = field(repr=False)
    username: str
    password: str = field(repr=False)
    auth_type: str
    duration_hours: int
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime
    data_usage: int
    data_limit: int
    allowed_pools: tuple[str, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any, *, operation: str, path: str = "") -> ResiToken:
        r = Reader(data, provider=PROVIDER, operation=operation, path=path)
        return cls(
            token=r.str("token"),
            username=r.str("username"),
            password=r.str("password"),
            auth_type=r.str("authType", "user"),
            duration_hours=r.int("durationHours"),
            status=r.str("status"),
            created_at=r.unix_seconds("createdAt"),
            updated_at=r.unix_seconds("updatedAt"),
            data_usage=r.int("dataUsage"),
            data_limit=r.int("dataLimit"),
            allowed_pools=tuple(r.str_list("allowedPools", [])),
            raw=data,
        )

    @property
    def expires_at(self) -> dt.datetime | None:
        """When time runs out; None when durationHours is 0 (only the data limit applies)."""
        return _aware(rules.expires_at(self.created_at.timestamp(), self.duration_hours))

    @property
    def data_remaining(self) -> int:
        return max(0, self.data_limit - self.data_usage)

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        """True when either the time or the data limit is reached at `now` (default: the current time)."""
        return rules.is_expired(
            created_at=self.created_at.timestamp(),
            duration_hours=self.duration_hours,
            data_usage=self.data_usage,
            data_limit=self.data_limit,
            now=_timestamp(now),
        )


@dataclass(frozen=True)
class IspToken:
    """An ISP token, as in the response example of document 000 (it has no data limit)."""

    token: str = field(repr=False)
    username: str
    password: str = field(repr=False)
    auth_type: str
    proxy_type: str
    authenticated_ips: tuple[str, ...]
    proxies: tuple[str, ...]
    duration_hours: int
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime
    data_usage: int
    region: str
    product: str
    quantity: int
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any, *, operation: str, path: str = "") -> IspToken:
        r = Reader(data, provider=PROVIDER, operation=operation, path=path)
        return cls(
            token=r.str("token"),
            username=r.str("username"),
            password=r.str("password"),
            auth_type=r.str("authType"),
            proxy_type=r.str("proxyType"),
            authenticated_ips=tuple(r.str_list("authenticatedIps", [])),
            proxies=tuple(r.str_list("proxies", [])),
            duration_hours=r.int("durationHours"),
            status=r.str("status"),
            created_at=r.unix_seconds("createdAt"),
            updated_at=r.unix_seconds("updatedAt"),
            data_usage=r.int("dataUsage"),
            region=r.str("region"),
            product=r.str("product"),
            quantity=r.int("quantity"),
            raw=data,
        )

    @property
    def expires_at(self) -> dt.datetime | None:
        return _aware(rules.expires_at(self.created_at.timestamp(), self.duration_hours))

    @property
    def can_be_modified(self) -> bool:
        """Only active tokens can be modified (a processing one answers 409)."""
        return not rules.isp_token_modifiable(self.status)

    def is_expired(self, now: dt.datetime | None = None) -> bool:
        return rules.is_time_expired(self.created_at.timestamp(), self.duration_hours, _timestamp(now))


@dataclass(frozen=True)
class Pool:
    """A residential proxy pool id that allowedPools may name."""

    id: str
    name: str
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Any, *, operation: str, path: str = "") -> Pool:
        r = Reader(data, provider=PROVIDER, operation=operation, path=path)
        pool_id = r.str("id")
        return cls(id=pool_id, name=r.str("name", pool_id), raw=data)


class Client(BaseClient):
    """`Client("https://api.unknownproxies.com/api/v1", username, password)`; Basic auth on every call."""

    provider = PROVIDER

    def __init__(self, base_url: str, username: str, password: str, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        # Kept only in encoded header form, out of repr (the base repr shows the URL alone).
        self._authorization = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")

    def _prepare(self, headers: dict[str, str]) -> None:
        headers["Authorization"] = self._authorization

    def _call(self, operation: str, *, params: Mapping[str, Any] | None = None, json_body: Any = None) -> Any:
        method, path = ENDPOINTS[operation]
        return self._request(method, path, operation=operation, params=params, json_body=json_body)

    def _check(self, violations: list[RuleViolation], operation: str) -> None:
        raise_for(violations, provider=self.provider, operation=operation)

    def _tokens(self, operation: str, kind: type[ResiToken] | type[IspToken]) -> list[Any]:
        body = Reader(self._call(operation), provider=self.provider, operation=operation)
        return [kind.from_json(item.data, operation=operation, path=item.path) for item in body.objects(TOKENS_KEY)]

    # Residential ---------------------------------------------------------------

    def create_resi_token(
        self, data_limit: int, username: str | None = None, duration_hours: int | None = None
    ) -> ResiToken:
        """Document 002, "Create Token" (POST /resi/token/create); the password is always generated."""
        operation = "create_resi_token"
        body: dict[str, Any] = {"dataLimit": data_limit}
        if username is not None:
            body["username"] = username
        if duration_hours is not None:
            body["durationHours"] = duration_hours
        self._check(rules.create_resi_token(body), operation)
        return ResiToken.from_json(self._call(operation, json_body=body), operation=operation)

    def modify_resi_token(
        self,
        token: str,
        *,
        data_limit: int | None = None,
        duration_hours: int | None = None,
        allowed_pools: list[str] | None = None,
        current_data_limit: int | None = None,
    ) -> ResiToken:
        """Document 001, "Modify Token" (PATCH /resi/token).

        `allowed_pools=[]` allows every pool. A non-empty list is checked against `list_pools()` first.
        Give `current_data_limit` when known so a lowered limit is refused before sending.
        """
        operation = "modify_resi_token"
        optional = {"dataLimit": data_limit, "durationHours": duration_hours, "allowedPools": allowed_pools}
        body: dict[str, Any] = {
            "token": token,
            **{name: value for name, value in optional.items() if value is not None},
        }
        self._check(rules.modify_resi_token(body, known_pools=None, current_data_limit=current_data_limit), operation)
        if allowed_pools:
            known = [pool.id for pool in self.list_pools()]
            self._check(rules.allowed_pools(allowed_pools, known), operation)
        return ResiToken.from_json(self._call(operation, json_body=body), operation=operation)

    def get_resi_token(self, token: str) -> ResiToken:
        """Retrieve Residential Token, referenced by document 001 (GET /resi/token?token=…, a README decision)."""
        operation = "get_resi_token"
        self._check(rules.token(token), operation)
        return ResiToken.from_json(self._call(operation, params={"token": token}), operation=operation)

    def list_resi_tokens(self) -> list[ResiToken]:
        """List All Residential Tokens, referenced by document 001 (GET /resi/tokens, a README decision)."""
        return self._tokens("list_resi_tokens", ResiToken)

    def list_pools(self) -> list[Pool]:
        """The residential pools that document 001's allowedPools names (GET /resi/pools, README decision)."""
        operation = "list_pools"
        body = Reader(self._call(operation), provider=self.provider, operation=operation)
        return [Pool.from_json(item.data, operation=operation, path=item.path) for item in body.objects(POOLS_KEY)]

    # ISP -------------------------------------------------------------------------

    def create_isp_token(
        self, region: str, product: str, quantity: int, proxy_type: str, auth_type: str, duration_hours: int
    ) -> IspToken:
        """ISP token creation, referenced by document 000 (POST /isp/token/create, README decision).

        The token starts `processing`; it can be modified once it is `active`.
        """
        operation = "create_isp_token"
        body = {
            "region": region,
            "product": product,
            "quantity": quantity,
            "proxyType": proxy_type,
            "authType": auth_type,
            "durationHours": duration_hours,
        }
        self._check(rules.create_isp_token(body), operation)
        return IspToken.from_json(self._call(operation, json_body=body), operation=operation)

    def modify_isp_token(
        self,
        token: str,
        *,
        auth_type: str | None = None,
        authenticated_ips: list[str] | None = None,
        proxy_type: str | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> IspToken:
        """Document 000, "Modify Token" (PATCH /isp/token); a `processing` token raises ConflictError.

        `authenticated_ips=[]` under ip auth becomes ["1.1.1.1"] upstream.
        """
        operation = "modify_isp_token"
        optional = {
            "authType": auth_type,
            "authenticatedIps": authenticated_ips,
            "proxyType": proxy_type,
            "username": username,
            "password": password,
        }
        body: dict[str, Any] = {
            "token": token,
            **{name: value for name, value in optional.items() if value is not None},
        }
        self._check(rules.modify_isp_token(body), operation)
        return IspToken.from_json(self._call(operation, json_body=body), operation=operation)

    def get_isp_token(self, token: str) -> IspToken:
        """Retrieve ISP Token, the equivalent referenced by document 000 (GET /isp/token?token=…)."""
        operation = "get_isp_token"
        self._check(rules.token(token), operation)
        return IspToken.from_json(self._call(operation, params={"token": token}), operation=operation)

    def list_isp_tokens(self) -> list[IspToken]:
        """List All ISP Tokens, the equivalent referenced by document 000 (GET /isp/tokens)."""
        return self._tokens("list_isp_tokens", IspToken)
