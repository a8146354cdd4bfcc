from __future__ import annotations

from django.urls import path

from accounts import portal_views

app_name = "portal"
urlpatterns = [
    path("", portal_views.home, name="home"),
]
