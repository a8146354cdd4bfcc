from __future__ import annotations

app_name = "shop"
urlpatterns: list = []
