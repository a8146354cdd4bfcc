"""Sandbox twin of the iProxy Console API and its action links, validating with the same rules as the client."""

from __future__ import annotations

from integrations.iproxy.sandbox.routes import IProxySim

__all__ = ["IProxySim"]
