"""The owner's overrides of the brand that settings define (one row at most; blank fields keep the setting)."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", "A colour like #2454d6.")


class BrandOverride(models.Model):
    site_name = models.CharField(max_length=80, blank=True)
    logo_url = models.URLField(blank=True, help_text="An image shown before the site name.")
    logo_svg = models.TextField(blank=True, help_text="Or inline SVG markup, used when there is no logo URL.")
    accent_colour = models.CharField(max_length=7, blank=True, validators=[colour])
    header_colour = models.CharField(max_length=7, blank=True, validators=[colour])
    support_email = models.EmailField(blank=True)
    footer = models.CharField(max_length=300, blank=True)
    email_subject_prefix = models.CharField(
        max_length=40, blank=True, help_text='Before every email subject, e.g. "[Acme] ".'
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    def __str__(self) -> str:
        return self.site_name or "Brand (settings)"
