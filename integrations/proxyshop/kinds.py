"""The names this integration registers: its provider kind, resource kinds and product kinds."""

PROXY_SHOP = "shop"
SHOP_SUBSCRIPTION = "shop_subscription"
SHOP_PLAN = "shop_plan"
