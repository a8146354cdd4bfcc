"""Reading upstream JSON into dataclasses: a wrong type or missing field becomes MalformedResponseError."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from providers.http.errors import MalformedResponseError

_MISSING = object()


class Reader:
    """Typed access to one JSON object; errors name the provider, operation and field path.

    `Reader(data, provider="shop", operation="plans", path="plans[0]").str("id")`
    """

    def __init__(self, data: Any, *, provider: str, operation: str, path: str = "") -> None:
        self.provider = provider
        self.operation = operation
        self.path = path
        if not isinstance(data, Mapping):
            raise self.error(f"expected an object at {path or 'the top level'}, got {type(data).__name__}")
        self.data = data

    def error(self, message: str) -> MalformedResponseError:
        return MalformedResponseError(message, provider=self.provider, operation=self.operation)

    def _where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str, default: Any) -> Any:
        if key in self.data and self.data[key] is not None:
            return self.data[key]
        if default is _MISSING:
            raise self.error(f"missing field {self._where(key)}")
        return default

    def _typed(self, key: str, default: Any, kinds: tuple[type, ...], label: str) -> Any:
        value = self.data.get(key)
        if type(value) in kinds:
            # The common case in one dict read and one type test (a sync reads 100,000 objects): an exact
            # type never is a boolean standing in for a number; anything else takes the checks below.
            return value
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        # bool is an int in Python; JSON booleans are never numbers.
        if isinstance(value, bool) and bool not in kinds:
            raise self.error(f"{self._where(key)} should be {label}, got a boolean")
        if not isinstance(value, kinds):
            raise self.error(f"{self._where(key)} should be {label}, got {type(value).__name__}")
        return value

    def str(self, key: str, default: Any = _MISSING) -> Any:
        return self._typed(key, default, (str,), "a string")

    def int(self, key: str, default: Any = _MISSING) -> Any:
        value = self._typed(key, default, (int, float, str), "an integer")
        if type(value) is int:
            return value
        if value is default and default is not _MISSING:
            return value
        try:
            number = int(value) if not isinstance(value, float) else value
        except ValueError:
            raise self.error(f"{self._where(key)} should be an integer, got {value!r}") from None
        if isinstance(number, float):
            if not number.is_integer():
                raise self.error(f"{self._where(key)} should be an integer, got {value!r}")
            number = int(number)
        return number

    def float(self, key: str, default: Any = _MISSING) -> Any:
        value = self._typed(key, default, (int, float, str), "a number")
        if value is default and default is not _MISSING:
            return value
        try:
            return float(value)
        except ValueError:
            raise self.error(f"{self._where(key)} should be a number, got {value!r}") from None

    def bool(self, key: str, default: Any = _MISSING) -> Any:
        return self._typed(key, default, (bool,), "true or false")

    def list(self, key: str, default: Any = _MISSING) -> Any:
        return self._typed(key, default, (list,), "a list")

    def str_list(self, key: str, default: Any = _MISSING) -> Any:
        values = self.list(key, default)
        if values is default and default is not _MISSING:
            return values
        for index, value in enumerate(values):
            if not isinstance(value, str):
                raise self.error(f"{self._where(key)}[{index}] should be a string")
        return list(values)

    def object(self, key: str, default: Any = _MISSING) -> Any:
        """A nested Reader (or `default` when absent)."""
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        return Reader(value, provider=self.provider, operation=self.operation, path=self._where(key))

    def objects(self, key: str, default: Any = _MISSING) -> Any:
        """Readers for a list of objects."""
        values = self.list(key, default)
        if values is default and default is not _MISSING:
            return values
        return [
            Reader(value, provider=self.provider, operation=self.operation, path=f"{self._where(key)}[{i}]")
            for i, value in enumerate(values)
        ]

    def unix_seconds(self, key: str, default: Any = _MISSING) -> Any:
        value = self.int(key, default)
        if value is default and default is not _MISSING:
            return value
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)

    def unix_millis(self, key: str, default: Any = _MISSING) -> Any:
        value = self.int(key, default)
        if value is default and default is not _MISSING:
            return value
        return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)

    def rfc3339(self, key: str, default: Any = _MISSING) -> Any:
        value = self.str(key, default)
        if value is default and default is not _MISSING:
            return value
        try:
            return parse_rfc3339(value)
        except ValueError:
            raise self.error(f"{self._where(key)} should be an RFC 3339 time, got {value!r}") from None


def parse_rfc3339(value: str) -> dt.datetime:
    """An aware datetime from RFC 3339, tolerating 'Z' and more than six fractional digits."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if "." in text:
        head, _, rest = text.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest}" if digits else head + rest
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("RFC 3339 times carry an offset")
    return moment


def format_rfc3339(moment: dt.datetime) -> str:
    """RFC 3339 in UTC with a 'Z', as the upstreams write it."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous")
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
