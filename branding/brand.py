"""The brand every page and email shows: BRAND_* settings, with the owner's edits (BrandOverride) on top.

One small query each time it is read (once per page, once per email), so an edit shows at once everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields

from django.conf import settings
from django.db import transaction

from branding.models import BrandOverride
from ops import audit

EDITABLE = (
    "site_name",
    "logo_url",
    "logo_svg",
    "accent_colour",
    "header_colour",
    "support_email",
    "footer",
    "email_subject_prefix",
)
# Inline SVG is the owner's markup shown on every page: keep it to drawing, never scripts or handlers.
UNSAFE_SVG = re.compile(r"<\s*script|\bon\w+\s*=|javascript:|<\s*foreignObject", re.IGNORECASE)


@dataclass(frozen=True)
class Brand:
    site_name: str
    logo_url: str
    logo_svg: str
    accent_colour: str
    header_colour: str
    support_email: str
    footer: str
    email_subject_prefix: str

    @property
    def subject_prefix(self) -> str:
        prefix = self.email_subject_prefix.strip()
        return f"{prefix} " if prefix else ""

    @property
    def signature(self) -> str:
        lines = ["-- ", self.site_name]
        if self.support_email:
            lines.append(f"Questions? Write to {self.support_email}")
        return "\n".join(lines)


def from_settings() -> Brand:
    return Brand(
        site_name=settings.BRAND_SITE_NAME,
        logo_url=settings.BRAND_LOGO_URL,
        logo_svg=settings.BRAND_LOGO_SVG,
        accent_colour=settings.BRAND_ACCENT_COLOUR,
        header_colour=settings.BRAND_HEADER_COLOUR,
        support_email=settings.BRAND_SUPPORT_EMAIL,
        footer=settings.BRAND_FOOTER,
        email_subject_prefix=settings.BRAND_EMAIL_SUBJECT_PREFIX,
    )


def current() -> Brand:
    """The brand in force: each non-blank field of the owner's override replaces the setting."""
    base = from_settings()
    override = BrandOverride.objects.order_by("pk").first()
    if override is not None:
        changes = {name: value for name in EDITABLE if (value := getattr(override, name))}
        base = Brand(**{f.name: changes.get(f.name, getattr(base, f.name)) for f in fields(Brand)})
    return base


def is_safe_svg(markup: str) -> bool:
    return not markup or (markup.lstrip().lower().startswith("<svg") and not UNSAFE_SVG.search(markup))


@transaction.atomic
def brand_update(*, actor, **changes: str) -> BrandOverride:
    """Save the owner's brand edits (blank = back to the setting); audited with what changed."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"Not brand fields: {sorted(unknown)}")
    override = BrandOverride.objects.select_for_update().order_by("pk").first() or BrandOverride()
    before = {name: getattr(override, name) for name in EDITABLE}
    for name, value in changes.items():
        setattr(override, name, value)
    override.updated_by = actor if getattr(actor, "pk", None) else None
    override.full_clean()
    override.save()
    changed = {name: value for name, value in changes.items() if before[name] != value}
    audit.record(action="branding.update", actor=actor, target=override, data={"changed": changed})
    return override
