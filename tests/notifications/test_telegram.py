"""Telegram: a login links its chat through the bot's deep link, then its chosen news arrive in that chat."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import requests
from django.utils import timezone

from inventory.alerts import alerts_check
from notifications import services, tasks
from notifications.models import Delivery, TelegramLink
from providers.sandbox.testing import SANDBOX_TEST_URL
from tests.factories import ResourceFactory


def link_code(page: str) -> str:
    return re.search(r"https://t\.me/reseller_sandbox_bot\?start=([A-Za-z0-9_-]+)", page).group(1)


@pytest.fixture
def linked(client, alice, telegram):
    """alice linked the chat 5551234 the way a user does: deep link from the portal, Start in Telegram."""
    client.force_login(alice)
    code = link_code(client.post("/portal/notifications/telegram/link/").content.decode())
    telegram.press_start(code, chat_id="5551234")
    assert tasks.poll_telegram() == 1
    return TelegramLink.objects.get(user=alice)


def test_a_login_links_its_chat_with_the_deep_link(client, linked, telegram):
    assert linked.chat_id == "5551234"
    assert linked.chat_name == "alice_tg"
    assert linked.code is None  # used up
    (answer,) = telegram.messages("5551234")
    assert answer.startswith("Linked: Proxy Reseller will send the notifications you chose for alice")
    assert (
        "Linked to the chat <strong>alice_tg</strong>" in client.get("/portal/notifications/settings/").content.decode()
    )
    assert tasks.poll_telegram() == 0  # the update was confirmed by the next offset


def test_the_twin_receives_the_expiry_reminder_after_linking(linked, alice, customer_a, telegram, deliver_now, now):
    services.preferences_save(user=alice, channels={"expiry": ["telegram"]})
    ResourceFactory(customer=customer_a, label="alicesoon", expires_at=now + dt.timedelta(days=2), data_used_bytes=0)
    with deliver_now():
        (alert,) = alerts_check(now=now)
    alert.refresh_from_db()
    assert alert.delivered_at is not None
    assert "alice (portal login)" in alert.recipients
    reminder = telegram.messages("5551234")[-1]
    assert reminder.startswith("Expires soon: ")
    assert "alicesoon" in reminder and alert.message in reminder
    assert f"/portal/proxies/{alert.resource_id}/" in reminder


def test_a_code_works_once_and_not_after_an_hour(client, alice, telegram):
    client.force_login(alice)
    code = link_code(client.post("/portal/notifications/telegram/link/").content.decode())
    TelegramLink.objects.filter(user=alice).update(code_created_at=timezone.now() - dt.timedelta(hours=2))
    telegram.press_start(code, chat_id="777")
    tasks.poll_telegram()
    assert not TelegramLink.objects.get(user=alice).is_linked
    assert telegram.messages("777")[0].startswith("This link is not valid")


def test_a_blocked_bot_fails_the_delivery_without_retrying(linked, alice, customer_a, telegram, deliver_now):
    services.preferences_save(user=alice, channels={"order": ["telegram"]})
    telegram.control("block", {"chat_id": "5551234"})
    with deliver_now():
        (notification,) = services.notify(customer=customer_a, event="order.fulfilled", subject="s", body="b")
    delivery = notification.deliveries.get()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.FAILED, 1)
    assert "403 Forbidden: bot was blocked by the user" in delivery.error


def test_unlinking_stops_the_messages(client, linked, alice, customer_a):
    client.post("/portal/notifications/telegram/unlink/")
    services.preferences_save(user=alice, channels={"order": ["telegram"]})
    (notification,) = services.notify(customer=customer_a, event="order.fulfilled", subject="s", body="b")
    assert not notification.deliveries.exists()


def api(method: str, token: str = "7000000001:sandbox-bot-token-for-the-demo", **params) -> requests.Response:
    return requests.post(f"{SANDBOX_TEST_URL}/telegram/bot{token}/{method}", json=params, timeout=5)


def test_the_twin_answers_like_the_bot_api(telegram):
    assert api("getMe").json()["result"]["username"] == "reseller_sandbox_bot"
    assert api("getMe", token="1:wrong").json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert api("sendMessage", chat_id=99, text="hi").json()["description"] == "Bad Request: chat not found"
    telegram.press_start("abc", chat_id="99")
    (update,) = api("getUpdates").json()["result"]
    assert update["message"]["text"] == "/start abc"
    assert api("getUpdates", offset=update["update_id"] + 1).json()["result"] == []
    sent = api("sendMessage", chat_id=99, text="hi").json()["result"]
    assert sent["chat"]["id"] == 99 and sent["text"] == "hi"
    assert api("setWebhook", url="https://bot.example/hook").json()["result"] is True
    assert api("getUpdates").status_code == 409


def test_an_unreachable_bot_api_is_a_warning_and_the_next_poll_reads_what_waited(
    client, alice, telegram, settings, caplog
):
    client.force_login(alice)
    code = link_code(client.post("/portal/notifications/telegram/link/").content.decode())
    telegram.press_start(code, chat_id="5551234")
    reachable = settings.TELEGRAM_API_BASE
    settings.TELEGRAM_API_BASE = "http://127.0.0.1:9/telegram"  # nothing listens on the discard port
    assert tasks.poll_telegram() == 0
    assert "could not read the bot's updates" in caplog.text
    assert not TelegramLink.objects.get(user=alice).is_linked

    settings.TELEGRAM_API_BASE = reachable
    assert tasks.poll_telegram() == 1
    assert TelegramLink.objects.get(user=alice).is_linked
