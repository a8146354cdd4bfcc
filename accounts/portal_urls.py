from __future__ import annotations

from django.urls import path

from inventory import portal_views
from inventory.provider_views import iproxy, proxyshop, unknownproxies

app_name = "portal"
urlpatterns = [
    path("", portal_views.proxy_list, name="home"),
    path("proxies/<int:resource_id>/", portal_views.proxy_detail, name="proxy-detail"),
    path("proxies/export.<str:export_format>", portal_views.proxy_export, name="proxy-export"),
    *unknownproxies.portal_urlpatterns,
    *proxyshop.portal_urlpatterns,
    *iproxy.portal_urlpatterns,
]
