from __future__ import annotations

from django.urls import path

from accounts import staff_views

app_name = "staff"
urlpatterns = [
    path("", staff_views.home, name="home"),
    path("customers/", staff_views.customer_list, name="customer-list"),
    path("customers/new/", staff_views.customer_create, name="customer-create"),
    path("customers/<int:customer_id>/", staff_views.customer_detail, name="customer-detail"),
    path("customers/<int:customer_id>/edit/", staff_views.customer_edit, name="customer-edit"),
    path("customers/<int:customer_id>/logins/", staff_views.customer_login_add, name="customer-login-add"),
]
