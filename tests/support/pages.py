"""Reading pages the test client got back."""

from __future__ import annotations

import html


def page(response) -> str:
    """The page's text with HTML entities resolved, so assertions read as a user would."""
    return html.unescape(response.content.decode())
