"""Staff area: the dashboard and customer management."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.access import customer_for_staff, staff_required
from accounts.models import Customer
from accounts.staff_forms import CustomerForm, CustomerLoginForm
from billing import foresight
from inventory import drift
from inventory import selectors as inventory_selectors
from ops import seek
from payments import services as payment_services
from providers.models import ProviderAccount
from web.staff.timeline import timeline_context

CUSTOMERS_PER_PAGE = 50


@staff_required
def home(request):
    customers = selectors.customers_for_staff()
    now = timezone.now()
    return render(
        request,
        "staff/home.html",
        {
            "customer_count": seek.list_count(customers, filtered=False),
            "active_count": customers.filter(status="active").count(),
            "inventory": inventory_selectors.dashboard_figures(now=now),
            "expiring": inventory_selectors.expiring_soon(now=now),
            "failing_accounts": ProviderAccount.objects.filter(enabled=True).exclude(last_error=""),
            "open_drift": drift.open_drift_count(),
            "runways": foresight.runways(now=now),
            "runway_alert_days": settings.RUNWAY_ALERT_DAYS,
            "misaligned_count": len(foresight.misalignments(now=now)),
            "margin_risk_count": len(foresight.margins_at_risk()) if request.user.is_owner else 0,
        },
    )


@staff_required
def customer_list(request):
    search = request.GET.get("q", "").strip()
    customers = selectors.customers_for_staff(search=search)
    order = seek.sort_order(selectors.CUSTOMER_SORTS, request.GET.get("sort"))
    page = seek.seek_page(
        customers,
        order,
        per_page=CUSTOMERS_PER_PAGE,
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
    )
    template = "staff/customer_list.html#results" if request.htmx else "staff/customer_list.html"
    return render(
        request,
        template,
        {
            "page": page,
            "customers": page.object_list,
            "q": search,
            "count": seek.list_count(customers, filtered=bool(search)),
            "sort": order,
            **seek.list_queries(request.GET),
        },
    )


@staff_required
def customer_create(request):
    form = CustomerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        customer = services.customer_create(actor=request.user, **form.cleaned_data)
        messages.success(request, f"Customer {customer.name} created.")
        return redirect("staff:customer-detail", customer_id=customer.pk)
    return render(request, "staff/form_page.html", {"form": form, "title": "New customer"})


@staff_required
def customer_detail(request, customer_id: int):
    customer = customer_for_staff(customer_id)
    return render(
        request,
        "staff/customer_detail.html",
        {
            "customer": customer,
            "users": customer.users.all(),
            "login_form": CustomerLoginForm(),
            "payments": payment_services.payments_for_customer(customer=customer)[:20],
            **timeline_context(customer, before=None),
        },
    )


@staff_required
@require_POST
def customer_login_add(request, customer_id: int):
    customer = customer_for_staff(customer_id)
    form = CustomerLoginForm(request.POST)
    if form.is_valid():
        user = services.customer_login_invite(
            customer=customer, actor=request.user, request=request, **form.cleaned_data
        )
        messages.success(request, f"Login {user.username} added; we emailed {user.email} a link to choose a password.")
        return redirect("staff:customer-detail", customer_id=customer.pk)
    return render(
        request,
        "staff/customer_detail.html",
        {
            "customer": customer,
            "users": customer.users.all(),
            "login_form": form,
            **timeline_context(customer, before=None),
        },
        status=400,
    )


@staff_required
def customer_edit(request, customer_id: int):
    customer = customer_for_staff(customer_id)
    form = CustomerForm(request.POST or None, instance=Customer.objects.get(pk=customer.pk))
    if request.method == "POST" and form.is_valid():
        services.customer_update(customer=customer, actor=request.user, **form.cleaned_data)
        messages.success(request, "Customer saved.")
        return redirect("staff:customer-detail", customer_id=customer.pk)
    return render(request, "staff/form_page.html", {"form": form, "title": f"Edit {customer.name}"})
