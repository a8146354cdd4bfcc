"""The portal's online top-up: choose an amount, pay on the gateway's page, see a receipt per payment."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from accounts.access import customer_required
from billing.models import format_money
from billing.services import customer_balance
from payments import gateways, services
from payments.forms import TopUpAmountForm
from payments.models import Payment


def _get_payment_for_customer(user, payment_id: int) -> Payment:
    return get_object_or_404(Payment, pk=payment_id, customer_id=user.customer_id)


@customer_required
def top_up(request):
    gateway = gateways.configured()
    if gateway is None:
        messages.info(request, "Online top-up is not available: to top up, please contact us.")
        return redirect("store:catalog")
    form = TopUpAmountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            payment = services.payment_open(
                customer=request.user.customer, amount_cents=form.amount_cents, actor=request.user
            )
            receipt = request.build_absolute_uri(reverse("store:payment-detail", args=[payment.pk]))
            payment = services.payment_checkout(
                payment=payment,
                success_url=f"{receipt}?checkout=done",
                cancel_url=f"{receipt}?checkout=cancelled",
                customer_email=request.user.email,
            )
        except services.PaymentRefused as exc:
            form.add_error(None, str(exc))
        else:
            return redirect(payment.checkout_url)
    response = render(
        request,
        "portal/payments/top_up.html",
        {"form": form, "balance": format_money(customer_balance(customer=request.user.customer))},
        status=400 if form.errors else 200,
    )
    # The form's redirect goes to the gateway's page, which the CSP's form-action must allow.
    response._csp_update = {"form-action": [gateway.checkout_origin]}
    return response


@customer_required
def payment_list(request):
    payments = services.payments_for_customer(customer=request.user.customer)[:200]
    return render(request, "portal/payments/payment_list.html", {"payments": payments})


@customer_required
def payment_detail(request, payment_id: int):
    payment = _get_payment_for_customer(request.user, payment_id)
    returned = request.GET.get("checkout", "")
    return render(
        request,
        "portal/payments/receipt.html",
        {
            "payment": payment,
            "entries": services.ledger_entries_for(payment),
            "returned": returned,
            "balance": format_money(customer_balance(customer=request.user.customer)),
        },
    )
