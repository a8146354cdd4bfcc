"""The Telegram twin: the Bot API's outside shape, served by the sandbox under /telegram.

What it keeps: the bot (getMe), the chats that started it, every message the bot sent (sendMessage),
the users' messages as updates (getUpdates with offsets that confirm, or a webhook set by setWebhook,
which then makes getUpdates answer 409 as Telegram does). A chat that never pressed Start, or blocked
the bot, cannot be written to (400 chat not found / 403 blocked). Loopback-only controls under
`/telegram/_twin/`: `start` (a user presses Start on a deep link: `{"code", "chat_id", "username"}`),
`block`, and `messages?chat_id=` (what the bot sent to a chat).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
from typing import Any

import requests
from django.conf import settings
from werkzeug.wrappers import Request, Response

from providers.sandbox.core import ProviderSim, SandboxError, json_response

logger = logging.getLogger(__name__)

BOT_ID = 7000000001
DEFAULT_TOKEN = "7000000001:sandbox-bot-token-for-the-demo"


class TelegramTwin(ProviderSim):
    name = "telegram"
    prefixes = ("/telegram",)

    def reset(self, rng, options: dict[str, Any]) -> None:
        self.token = options.get("telegram_bot_token", settings.TELEGRAM_BOT_TOKEN or DEFAULT_TOKEN)
        self.username = options.get("telegram_bot_username", "reseller_sandbox_bot")
        self.chats: dict[str, dict] = {}  # by chat id: {"id", "username", "first_name", "started", "blocked"}
        self.messages: list[dict] = []  # sent by the bot
        self.updates: list[dict] = []  # not yet confirmed
        self.next_update_id = rng.randint(100_000, 900_000)
        self.next_message_id = 1
        self.webhook_url = ""
        self._outbox: list[tuple[str, dict]] = []
        self._outbox_lock = threading.Lock()

    def error_response(self, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        return json_response(
            {"ok": False, "error_code": status, "description": message}, status=status, headers=headers
        )

    def handle(self, request: Request, prefix: str, subpath: str) -> Response:
        parts = [part for part in subpath.split("/") if part]
        if parts[:1] == ["_twin"]:
            if not _is_loopback(request.remote_addr):
                raise SandboxError(403, "twin controls answer on loopback only")
            return self._control(parts[1:], request)
        if len(parts) != 2 or not parts[0].startswith("bot"):
            raise SandboxError(404, "Not Found")
        if parts[0].removeprefix("bot") != self.token:
            raise SandboxError(401, "Unauthorized")
        params = self._params(request)
        method = parts[1]
        handler = {
            "getMe": self._get_me,
            "sendMessage": self._send_message,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._webhook_info,
        }.get(method)
        if handler is None:
            raise SandboxError(404, "Not Found: method not found")
        return json_response({"ok": True, "result": handler(params)})

    @staticmethod
    def _params(request: Request) -> dict:
        if request.is_json:
            body = request.get_json(silent=True)
            return body if isinstance(body, dict) else {}
        return {**request.args.to_dict(), **request.form.to_dict()}

    # Bot API methods ------------------------------------------------------------------------------

    def _bot(self) -> dict:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Sandbox bot", "username": self.username}

    def _get_me(self, params: dict) -> dict:
        return {**self._bot(), "can_join_groups": False, "supports_inline_queries": False}

    def _send_message(self, params: dict) -> dict:
        chat_id = str(params.get("chat_id", ""))
        text = str(params.get("text", ""))
        if not text.strip():
            raise SandboxError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise SandboxError(400, "Bad Request: message is too long")
        chat = self.chats.get(chat_id)
        if chat is None or not chat["started"]:
            raise SandboxError(400, "Bad Request: chat not found")
        if chat["blocked"]:
            raise SandboxError(403, "Forbidden: bot was blocked by the user")
        message = {
            "message_id": self.next_message_id,
            "from": self._bot(),
            "chat": self._chat(chat),
            "date": int(self.now()),
            "text": text,
        }
        self.next_message_id += 1
        self.messages.append(message)
        return message

    def _get_updates(self, params: dict) -> list[dict]:
        if self.webhook_url:
            raise SandboxError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = params.get("offset")
        if offset is not None:
            offset = int(offset)
            self.updates = [update for update in self.updates if update["update_id"] >= offset]
        limit = max(1, min(int(params.get("limit", 100)), 100))
        return self.updates[:limit]

    def _set_webhook(self, params: dict) -> bool:
        url = str(params.get("url", ""))
        if url and not url.startswith("https://") and not url.startswith("http://"):
            raise SandboxError(400, "Bad Request: bad webhook: invalid URL")
        self.webhook_url = url
        return True

    def _delete_webhook(self, params: dict) -> bool:
        self.webhook_url = ""
        return True

    def _webhook_info(self, params: dict) -> dict:
        return {"url": self.webhook_url, "has_custom_certificate": False, "pending_update_count": len(self.updates)}

    # A user's side ---------------------------------------------------------------------------------

    @staticmethod
    def _chat(chat: dict) -> dict:
        return {
            "id": int(chat["id"]),
            "type": "private",
            "first_name": chat["first_name"],
            "username": chat["username"],
        }

    def _press_start(self, body: dict) -> dict:
        chat_id = str(body.get("chat_id") or 5550000 + len(self.chats) + 1)
        username = str(body.get("username") or f"user{chat_id}")
        chat = self.chats.setdefault(
            chat_id, {"id": chat_id, "username": username, "first_name": username.title(), "blocked": False}
        )
        chat["started"], chat["blocked"] = True, False
        code = str(body.get("code", ""))
        update = {
            "update_id": self.next_update_id,
            "message": {
                "message_id": self.next_message_id,
                "from": {"id": int(chat_id), "is_bot": False, "first_name": chat["first_name"], "username": username},
                "chat": self._chat(chat),
                "date": int(self.now()),
                "text": f"/start {code}".strip(),
                "entities": [{"offset": 0, "length": 6, "type": "bot_command"}],
            },
        }
        self.next_update_id += 1
        self.next_message_id += 1
        if self.webhook_url:
            with self._outbox_lock:
                self._outbox.append((self.webhook_url, update))
        else:
            self.updates.append(update)
        return {"chat_id": chat_id, "update": update}

    def _control(self, route: list[str], request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        if route == ["start"] and request.method == "POST":
            return json_response(self._press_start(body))
        if route == ["block"] and request.method == "POST":
            chat = self.chats.get(str(body.get("chat_id", "")))
            if chat is None:
                raise SandboxError(404, "no such chat")
            chat["blocked"] = True
            return json_response({"ok": True})
        if route == ["messages"]:
            chat_id = request.args.get("chat_id", "")
            sent = [message for message in self.messages if not chat_id or str(message["chat"]["id"]) == chat_id]
            return json_response({"messages": sent})
        raise SandboxError(404, f"unknown twin control /_twin/{'/'.join(route)}")

    def after_request(self) -> None:
        """Post the updates a webhook waits for, outside the sandbox lock (our endpoint may call back)."""
        with self._outbox_lock:
            outbox, self._outbox = self._outbox, []
        for url, update in outbox:
            try:
                requests.post(url, data=json.dumps(update), headers={"Content-Type": "application/json"}, timeout=10)
            except requests.RequestException as exc:
                logger.warning("telegram twin: posting update %s to %s failed: %s", update["update_id"], url, exc)


def _is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False
