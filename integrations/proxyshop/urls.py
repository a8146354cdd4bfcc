"""proxyshop URL patterns; `config/urls.py` mounts them in the staff inventory and portal namespaces."""

from __future__ import annotations

from django.urls import path

from integrations.proxyshop import views

staff_urlpatterns = [
    path("shop/<int:account_id>/plans/", views.staff_shop_plans, name="shop-plans"),
    path("shop/<int:account_id>/purchase/", views.staff_shop_purchase, name="shop-purchase"),
    path("shop/<int:account_id>/trial/", views.staff_shop_trial, name="shop-trial"),
    path("<int:resource_id>/shop/renew/", views.staff_renew, name="shop-renew"),
    path("<int:resource_id>/shop/credentials/", views.staff_change_credentials, name="shop-credentials"),
    path("<int:resource_id>/shop/rotation/", views.staff_set_rotation, name="shop-rotation"),
    path("<int:resource_id>/shop/rotate/", views.staff_rotate_now, name="shop-rotate"),
    path("<int:resource_id>/shop/network/", views.staff_switch_network, name="shop-network"),
]
portal_urlpatterns = [
    path("proxies/<int:resource_id>/shop/credentials/", views.portal_change_credentials, name="shop-credentials"),
    path("proxies/<int:resource_id>/shop/rotation/", views.portal_set_rotation, name="shop-rotation"),
    path("proxies/<int:resource_id>/shop/rotate/", views.portal_rotate_now, name="shop-rotate"),
    path("proxies/<int:resource_id>/shop/network/", views.portal_switch_network, name="shop-network"),
]
