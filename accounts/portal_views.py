"""Customer portal: a customer's own things only."""

from __future__ import annotations

from django.shortcuts import render

from accounts.access import customer_required


@customer_required
def home(request):
    return render(request, "portal/home.html", {"customer": request.user.customer})
