from __future__ import annotations

from django.urls import path

from inventory import views
from inventory.provider_views import iproxy, proxyshop, unknownproxies

app_name = "inventory"
urlpatterns = [
    path("", views.resource_list, name="resource-list"),
    path("<int:resource_id>/", views.resource_detail, name="resource-detail"),
    path("<int:resource_id>/assign/", views.resource_assign, name="resource-assign"),
    path("sync/<int:account_id>/", views.account_sync, name="account-sync"),
    *unknownproxies.staff_urlpatterns,
    *proxyshop.staff_urlpatterns,
    *iproxy.staff_urlpatterns,
]
