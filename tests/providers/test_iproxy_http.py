"""The iProxy client over real HTTP against `manage.py run_sandbox`."""

from __future__ import annotations

import datetime as dt
import logging

from integrations.iproxy.client import Client


def test_it_works_over_real_http(live_sandbox, caplog):
    client = Client(f"{live_sandbox}/iproxy/api/console/v1", "sandbox-key")
    connections = client.list_connections()
    assert len(connections) >= 3
    online = next(c for c in connections if c.basic_info.name == "online with plan")

    access = client.create_proxy_access(online.id, listen_service="http", auth_type="userpass", description="e2e")
    assert access.id in {a.id for a in client.list_proxy_accesses(online.id)}

    link = next(link for link in client.list_action_links(online.id) if link.action == "changeip")
    assert link.link.startswith(f"{live_sandbox}/iproxy/actionlinks/do/changeip/")
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with caplog.at_level(logging.DEBUG):
        assert client.execute_action_link(link).message == "changeip command has been sent"
    # urllib3 logs each request line at DEBUG: the link's path must be masked there too.
    assert link.id not in caplog.text
    history = client.ip_history(online.id, start=start, end=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5))
    assert history and history[-1].date > start
