"""Portal shop URLs, mounted at /portal/shop/."""

from __future__ import annotations

from django.urls import path

from billing import portal_views

app_name = "shop"
urlpatterns = [
    path("", portal_views.catalog, name="catalog"),
    path("buy/<int:product_id>/", portal_views.buy, name="buy"),
    path("renew/<int:resource_id>/", portal_views.renew, name="renew"),
    path("history/", portal_views.history, name="history"),
    path("orders/<int:order_id>/", portal_views.order_detail, name="order-detail"),
]
