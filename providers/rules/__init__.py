"""Every documented upstream validation rule, as plain functions returning messages.

One module per provider; clients, forms and the sandbox all call these, so a rule lives in one place.
A rule returns a list of `RuleViolation` (empty when the input is fine).
"""

from __future__ import annotations

from .common import RuleViolation, raise_for

__all__ = ["RuleViolation", "raise_for"]
