"""The owner's brand form: blank fields fall back to the BRAND_* settings."""

from __future__ import annotations

from django import forms

from branding.brand import EDITABLE, is_safe_svg
from branding.models import BrandOverride


class BrandForm(forms.ModelForm):
    logo_url = forms.URLField(
        required=False, assume_scheme="https", help_text="An image shown before the site name.", label="Logo URL"
    )

    class Meta:
        model = BrandOverride
        fields = EDITABLE
        widgets = {"logo_svg": forms.Textarea(attrs={"rows": 4}), "footer": forms.TextInput()}
        help_texts = {"site_name": "Shown on every page and in every email; blank keeps the setting."}

    def clean_logo_svg(self) -> str:
        markup = self.cleaned_data["logo_svg"].strip()
        if not is_safe_svg(markup):
            raise forms.ValidationError("Inline SVG must start with <svg and hold no scripts or event handlers.")
        return markup
