from __future__ import annotations

from django.urls import path

from providers import views

app_name = "providers"
urlpatterns = [
    path("", views.account_list, name="account-list"),
    path("new/", views.account_create, name="account-create"),
    path("<int:account_id>/edit/", views.account_edit, name="account-edit"),
    path("<int:account_id>/check/", views.account_check, name="account-check"),
    path("<int:account_id>/rotate-key/", views.account_rotate_key, name="account-rotate-key"),
]
