"""A stateful simulator of the three upstream APIs (see shared/provider-api/SANDBOX.md)."""

from __future__ import annotations

from .core import SandboxApp

__all__ = ["SandboxApp"]
