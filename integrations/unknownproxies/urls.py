"""unknownproxies URL patterns; `config/urls.py` mounts them in the staff inventory and portal namespaces."""

from __future__ import annotations

from django.urls import path

from integrations.unknownproxies import views

staff_urlpatterns = [
    path("unknownproxies/<int:account_id>/resi/new/", views.staff_resi_create, name="up-resi-create"),
    path("unknownproxies/<int:account_id>/isp/new/", views.staff_isp_create, name="up-isp-create"),
    path("<int:resource_id>/unknownproxies/resi/modify/", views.staff_resi_modify, name="up-resi-modify"),
    path("<int:resource_id>/unknownproxies/isp/modify/", views.staff_isp_modify, name="up-isp-modify"),
    path("<int:resource_id>/unknownproxies/resi/refresh/", views.staff_resi_refresh, name="up-resi-refresh"),
    path("<int:resource_id>/unknownproxies/isp/refresh/", views.staff_isp_refresh, name="up-isp-refresh"),
]
portal_urlpatterns = [
    path("proxies/<int:resource_id>/isp/settings/", views.portal_isp_settings, name="up-isp-settings"),
]
