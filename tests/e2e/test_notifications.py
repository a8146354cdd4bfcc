"""In a real browser: a customer links Telegram through the bot's deep link, chooses it for expiry reminders,
and reads the reminder in the notification feed (the unread badge, then mark all read)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import requests
from django.utils import timezone
from playwright.sync_api import expect

from config.celery import app
from inventory.alerts import alerts_check
from notifications import services
from notifications.sandbox import DEFAULT_TOKEN
from tests.e2e.test_login_flow import sign_in
from tests.factories import ResourceFactory

CHAT_ID = "6662001"


def test_a_customer_links_telegram_and_reads_the_reminder_in_the_feed(
    page, live_server, live_sandbox, alice, customer_a, settings, monkeypatch, output_path
):
    settings.TELEGRAM_BOT_TOKEN = DEFAULT_TOKEN
    settings.TELEGRAM_BOT_USERNAME = ""
    settings.TELEGRAM_API_BASE = f"{live_sandbox}/telegram"
    settings.EMAIL_BACKEND = settings.EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ALERT_EXPIRY_HORIZONS_DAYS = [7]
    monkeypatch.setitem(app.conf, "task_always_eager", True)  # the worker's deliveries, run in this process

    sign_in(page, live_server, "alice")
    page.get_by_role("navigation").get_by_role("link", name="Notifications").click()
    page.get_by_role("link", name="Notification settings").click()
    page.get_by_role("button", name="Link Telegram").click()
    code = page.locator("#telegram-code").inner_text()
    expect(page.locator("#telegram-deep-link")).to_have_text(f"https://t.me/reseller_sandbox_bot?start={code}")
    page.screenshot(path=Path(output_path) / "telegram-link.png", full_page=True)

    # In Telegram: the user opens the link and presses Start; our beat task reads the bot's updates.
    started = requests.post(
        f"{live_sandbox}/telegram/_twin/start",
        json={"code": code, "chat_id": CHAT_ID, "username": "alice_tg"},
        timeout=5,
    )
    started.raise_for_status()
    services.telegram_updates_poll()

    page.get_by_role("link", name="I pressed Start").click()
    expect(page.locator("#telegram-status")).to_contain_text("alice_tg")
    page.get_by_label("Expiry reminders by telegram").check()
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_role("status")).to_contain_text("Saved")

    ResourceFactory(
        customer=customer_a, label="alicesoon", expires_at=timezone.now() + dt.timedelta(days=2), data_used_bytes=0
    )
    assert [alert.delivered_at is not None for alert in alerts_check()] == [True]
    sent = requests.get(f"{live_sandbox}/telegram/_twin/messages?chat_id={CHAT_ID}", timeout=5).json()["messages"]
    assert sent[-1]["text"].startswith("Expires soon: ") and "alicesoon" in sent[-1]["text"]

    page.get_by_role("link", name="Back to notifications").click()
    navigation = page.get_by_role("navigation")
    expect(navigation.get_by_title("Unread")).to_have_text("1 unread")
    rows = page.locator("#notification-rows")
    expect(rows).to_contain_text("Expires soon")
    expect(rows).to_contain_text("alicesoon")
    expect(rows).to_contain_text("Telegram (sent)")
    page.screenshot(path=Path(output_path) / "notification-feed.png", full_page=True)
    page.get_by_role("button", name="Mark all read").click()
    expect(page.get_by_role("status")).to_contain_text("Marked 1 notification read.")
    expect(navigation.get_by_title("Unread")).to_have_count(0)
