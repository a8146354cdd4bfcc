"""Customer portal URL patterns by namespace; `config/urls.py` mounts them and adds each integration's."""

from __future__ import annotations

from django.urls import path

from web.portal import api_keys, notifications, payments, proxies, shop

# namespace "portal", at /portal/
portal_patterns = [
    path("", proxies.proxy_list, name="home"),
    path("proxies/<int:resource_id>/", proxies.proxy_detail, name="proxy-detail"),
    path("proxies/export.<str:export_format>", proxies.proxy_export, name="proxy-export"),
    path("notifications/", notifications.notification_list, name="notification-list"),
    path("api-keys/", api_keys.api_key_list, name="api-key-list"),
    path("api-keys/<int:key_id>/revoke/", api_keys.api_key_revoke, name="api-key-revoke"),
    path("notifications/read/", notifications.notification_read_all, name="notification-read-all"),
    path("notifications/<int:notification_id>/read/", notifications.notification_read, name="notification-read"),
    path("notifications/settings/", notifications.notification_settings, name="notification-settings"),
    path("notifications/telegram/link/", notifications.telegram_link, name="telegram-link"),
    path("notifications/telegram/unlink/", notifications.telegram_unlink, name="telegram-unlink"),
    path("notifications/webhooks/", notifications.webhook_create, name="webhook-create"),
    path("notifications/webhooks/<int:endpoint_id>/delete/", notifications.webhook_delete, name="webhook-delete"),
]

# namespace "store" (our storefront; "shop" is the proxy-shop provider kind), at /portal/shop/
shop_patterns = [
    path("", shop.catalog, name="catalog"),
    path("buy/<int:product_id>/", shop.buy, name="buy"),
    path("renew/<int:resource_id>/", shop.renew, name="renew"),
    path("history/", shop.history, name="history"),
    path("orders/<int:order_id>/", shop.order_detail, name="order-detail"),
    path("top-up/", payments.top_up, name="top-up"),
    path("payments/", payments.payment_list, name="payment-list"),
    path("payments/<int:payment_id>/", payments.payment_detail, name="payment-detail"),
    path("spending-cap/", shop.spending_cap, name="spending-cap"),
    path("auto-renew/<int:resource_id>/", shop.auto_renew, name="auto-renew"),
    path("auto-top-up/<int:resource_id>/", shop.auto_top_up, name="auto-top-up"),
]
