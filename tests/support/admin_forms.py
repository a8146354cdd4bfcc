"""Submit a Django admin change form as a browser would: every field as the form shows it, with some changed."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.test import RequestFactory


def admin_change(client, obj, user, **changes):
    """POST the admin change form of `obj` with its current values and `changes`; returns the response."""
    model_admin = admin.site._registry[type(obj)]
    request = RequestFactory().get("/")
    request.user = user
    form = model_admin.get_form(request, obj, change=True)(instance=obj)
    data = {}
    for bound in form:
        if bound.field.disabled:
            continue
        value = changes.get(bound.name, bound.value())
        widget = getattr(bound.field.widget, "widget", bound.field.widget)  # admin wraps related widgets
        if isinstance(widget, forms.MultiWidget):
            for suffix, part in zip(widget.widgets_names, widget.decompress(value), strict=True):
                data[f"{bound.html_name}{suffix}"] = "" if part is None else part
        elif isinstance(bound.field, forms.BooleanField):
            if value:
                data[bound.html_name] = "on"
        elif value is not None:
            data[bound.html_name] = value
    url = f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/change/"
    return client.post(url, data)
