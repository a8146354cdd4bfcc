"""iproxy URL patterns; `config/urls.py` mounts them in the staff inventory and portal namespaces."""

from __future__ import annotations

from django.urls import path

from integrations.iproxy import account_views, views

staff_urlpatterns = [
    path("iproxy/<int:account_id>/connections/new/", views.connection_new, name="iproxy-connection-new"),
    path("iproxy/connections/<int:resource_id>/", views.connection_page, name="iproxy-connection"),
    path(
        "iproxy/connections/<int:resource_id>/settings/", views.connection_settings, name="iproxy-connection-settings"
    ),
    path(
        "iproxy/connections/<int:resource_id>/prolongate/",
        views.connection_prolongate,
        name="iproxy-connection-prolongate",
    ),
    path("iproxy/connections/<int:resource_id>/reboot/", views.connection_reboot, name="iproxy-connection-reboot"),
    path(
        "iproxy/connections/<int:resource_id>/change-ip/",
        views.connection_change_ip,
        name="iproxy-connection-change-ip",
    ),
    path("iproxy/connections/<int:resource_id>/accesses/new/", views.access_create, name="iproxy-access-create"),
    path("iproxy/accesses/<int:resource_id>/update/", views.access_update, name="iproxy-access-update"),
    *[
        path(f"iproxy/connections/<int:resource_id>/{route}", view, name=f"iproxy-{name}")
        for route, view, name in (
            ("basic-info/", views.connection_basic_info, "connection-basic-info"),
            ("change-plan/", views.connection_change_plan, "connection-change-plan"),
            ("recreate/", views.connection_recreate, "connection-recreate"),
            ("delete/", views.connection_delete, "connection-delete"),
            ("command/", views.connection_command, "connection-command"),
            ("pin-code/", views.connection_pin_code, "connection-pin-code"),
            ("api-key/", views.connection_api_key, "connection-api-key"),
            ("capacity/", views.connection_capacity, "connection-capacity"),
            ("ovpn/", views.connection_ovpn, "ovpn"),
            ("ovpn/new/", views.ovpn_create, "ovpn-create"),
            ("ovpn/update/", views.ovpn_update, "ovpn-update"),
            ("ovpn/close/", views.ovpn_delete, "ovpn-delete"),
            ("ovpn/config/", views.ovpn_download, "ovpn-config"),
            ("team/", views.connection_team, "team"),
            ("team/modify/", views.team_modify, "team-modify"),
            ("team/remove/", views.team_remove, "team-remove"),
            ("links/", views.connection_links, "links"),
            ("links/new/", views.link_create, "link-create"),
            ("links/remove/", views.link_delete, "link-delete"),
            ("sms/", views.connection_sms, "sms"),
            ("statistics/", views.connection_statistics, "statistics"),
        )
    ],
    path("iproxy/accesses/<int:resource_id>/delete/", views.access_delete, name="iproxy-access-delete"),
]
# The account itself (user info, balance, basic info).
staff_urlpatterns += [
    path("iproxy/<int:account_id>/account/", account_views.account_page, name="iproxy-account"),
    path("iproxy/<int:account_id>/account/update/", account_views.account_update, name="iproxy-account-update"),
]
portal_urlpatterns = [
    path(
        "proxies/<int:resource_id>/iproxy/new-credentials/",
        views.portal_new_credentials,
        name="iproxy-access-new-credentials",
    ),
    path("proxies/<int:resource_id>/iproxy/change-ip/", views.portal_change_ip, name="iproxy-access-change-ip"),
    path("proxies/<int:resource_id>/iproxy/connection/", views.portal_connection, name="iproxy-access-connection"),
    path("proxies/<int:resource_id>/iproxy/statistics/", views.portal_statistics, name="iproxy-access-statistics"),
]
