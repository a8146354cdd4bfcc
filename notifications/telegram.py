"""A client for the Telegram Bot API (https://core.telegram.org/bots/api), the few methods we use.

Plain `requests` on one session and one `_request()`: the API is a call per method (GET for reads, a JSON POST
for changes) to `<TELEGRAM_API_BASE>/bot<token>/<method>`, answering `{"ok": true, "result": ...}` or
`{"ok": false, "error_code": ..., "description": ...}`. In demo and tests the base is the sandbox twin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

TIMEOUT_SECONDS = 10
# Telegram's documented limit for a message's text.
MAX_TEXT = 4096


class TelegramError(Exception):
    def __init__(self, message: str, *, status: int | None = None, retry: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.retry = retry


@dataclass(frozen=True)
class StartCommand:
    """A user pressed Start in our bot (`/start <payload>` from a deep link)."""

    update_id: int
    chat_id: str
    chat_name: str
    payload: str


@dataclass(frozen=True)
class Update:
    update_id: int
    start: StartCommand | None


class TelegramClient:
    def __init__(self, *, token: str, api_base: str = "https://api.telegram.org") -> None:
        if not token:
            raise TelegramError("TELEGRAM_BOT_TOKEN is not set.", retry=False)
        self.base = f"{api_base.rstrip('/')}/bot{token}"
        self.session = requests.Session()

    def _request(self, method: str, payload: dict[str, Any] | None = None, *, read_only: bool = False) -> Any:
        """One Bot API call; reads go as GET (the API takes either), so only changes are POSTed."""
        try:
            if read_only:
                response = self.session.get(f"{self.base}/{method}", params=payload, timeout=TIMEOUT_SECONDS)
            else:
                response = self.session.post(f"{self.base}/{method}", json=payload or {}, timeout=TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            raise TelegramError(f"{method}: {type(exc).__name__}") from exc
        try:
            answer = response.json()
        except ValueError:
            raise TelegramError(f"{method}: HTTP {response.status_code}, not JSON", status=response.status_code)
        if not answer.get("ok"):
            status = int(answer.get("error_code") or response.status_code)
            # 429 and 5xx may pass; 400 (chat not found), 401 (bad token), 403 (blocked) will not.
            raise TelegramError(
                f"{method}: {status} {answer.get('description', '')}".strip(),
                status=status,
                retry=status == 429 or status >= 500,
            )
        return answer["result"]

    def get_me(self) -> str:
        """getMe: the bot's username (for the t.me deep link)."""
        return str(self._request("getMe", read_only=True).get("username", ""))

    def send_message(self, *, chat_id: str, text: str) -> int:
        """sendMessage: plain text (no parse mode, so nothing in it is read as markup); returns the message id."""
        result = self._request("sendMessage", {"chat_id": chat_id, "text": text[:MAX_TEXT]})
        return int(result["message_id"])

    def get_updates(self, *, offset: int | None) -> list[Update]:
        """getUpdates (long polling without the wait): messages only; `offset` confirms all before it."""
        payload: dict[str, Any] = {"timeout": 0, "allowed_updates": ["message"]}
        if offset is not None:
            payload["offset"] = offset
        return [parse_update(raw) for raw in self._request("getUpdates", payload)]


def parse_update(raw: dict) -> Update:
    message = raw.get("message") or {}
    text = str(message.get("text") or "")
    chat = message.get("chat") or {}
    start = None
    if text == "/start" or text.startswith("/start "):
        name = chat.get("username") or " ".join(filter(None, [chat.get("first_name"), chat.get("last_name")]))
        start = StartCommand(
            update_id=int(raw["update_id"]),
            chat_id=str(chat.get("id", "")),
            chat_name=str(name or "")[:200],
            payload=text.removeprefix("/start").strip(),
        )
    return Update(update_id=int(raw["update_id"]), start=start)
