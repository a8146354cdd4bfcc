"""Sandbox twin of the proxyshop API (placeholder until its issue lands)."""

from __future__ import annotations

import random
from typing import Any

from werkzeug.wrappers import Request, Response

from .core import ProviderSim, SandboxError


class ProxyShopSim(ProviderSim):
    name = "shop"
    prefixes = ("/shop",)

    def reset(self, rng: random.Random, options: dict[str, Any]) -> None:
        pass

    def handle(self, request: Request, prefix: str, subpath: str) -> Response:
        raise SandboxError(404, "not simulated yet")
