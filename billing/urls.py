"""Staff billing URLs, mounted at /staff/billing/."""

from __future__ import annotations

from django.urls import path

from billing import views

app_name = "billing"
urlpatterns = [
    path("", views.balance_list, name="balance-list"),
    path("customers/<int:customer_id>/", views.customer_ledger, name="customer-ledger"),
    path("customers/<int:customer_id>/top-up/", views.top_up, name="top-up"),
    path("customers/<int:customer_id>/adjust/", views.adjust, name="adjust"),
    path("orders/", views.order_list, name="order-list"),
    path("orders/<int:order_id>/reconcile/", views.order_reconcile, name="order-reconcile"),
    path("products/", views.product_list, name="product-list"),
    path("products/new/", views.product_create, name="product-create"),
    path("products/<int:product_id>/edit/", views.product_edit, name="product-edit"),
]
