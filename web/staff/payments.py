"""Staff view of online payments: every payment, filterable by status, with what it booked."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from accounts.access import staff_required
from payments import services
from payments.forms import PaymentFilterForm
from payments.models import Payment

PER_PAGE = 50


def _get_payment_for_staff(payment_id: int) -> Payment:
    return get_object_or_404(Payment.objects.select_related("customer"), pk=payment_id)


@staff_required
def payment_list(request):
    filters = PaymentFilterForm(request.GET or None)
    status = filters.cleaned_data["status"] if filters.is_valid() else ""
    page = Paginator(services.payments_for_staff(status=status), PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "staff/payments/payment_list.html",
        {"page": page, "payments": page.object_list, "filters": filters, "status": status},
    )


@staff_required
def payment_detail(request, payment_id: int):
    payment = _get_payment_for_staff(payment_id)
    return render(
        request,
        "staff/payments/payment_detail.html",
        {"payment": payment, "entries": services.ledger_entries_for(payment), "events": payment.events.all()},
    )
