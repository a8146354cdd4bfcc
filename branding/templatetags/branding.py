"""The brand in templates without a request (emails): `{% load branding %}{% brand_name %}`."""

from __future__ import annotations

from django import template

from branding.brand import current

register = template.Library()


@register.simple_tag
def brand_name() -> str:
    return current().site_name


@register.simple_tag
def brand_subject_prefix() -> str:
    return current().subject_prefix


@register.simple_tag
def brand_signature() -> str:
    return current().signature


@register.simple_tag
def brand_support_email() -> str:
    return current().support_email
