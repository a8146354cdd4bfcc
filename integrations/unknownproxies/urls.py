"""unknownproxies URL patterns; `config/urls.py` mounts them in the staff inventory and portal namespaces."""

from __future__ import annotations

from django.urls import path

from integrations.unknownproxies import views

staff_urlpatterns = [
    path("<int:resource_id>/unknownproxies/resi/modify/", views.staff_resi_modify, name="up-resi-modify"),
    path("<int:resource_id>/unknownproxies/isp/modify/", views.staff_isp_modify, name="up-isp-modify"),
]
portal_urlpatterns = [
    path("proxies/<int:resource_id>/isp/settings/", views.portal_isp_settings, name="up-isp-settings"),
]
