"""The portal shop: our catalog and prices, buying and renewing from the balance, the customer's history,
and the automatic orders (auto-renew, auto top-up, the monthly cap on them)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.access import customer_required
from billing import automatic, coupons, selectors, services
from billing.forms import AutoRenewForm, AutoTopUpForm, CouponApplyForm, OrderForm, SpendingCapForm
from billing.models import Order, OrderState, Product, format_money
from inventory.access import resource_for_customer
from payments.services import online_top_up_available

PER_PAGE = 50


def _get_order_for_customer(user, order_id: int) -> Order:
    return get_object_or_404(
        Order.objects.select_related("product", "resource"), pk=order_id, customer_id=user.customer_id
    )


def _get_product_on_sale(product_id: int) -> Product:
    return get_object_or_404(Product.objects.select_related("account"), pk=product_id, active=True)


def _coupon_from_query(request):
    """The coupon typed in the catalog's coupon box, if the customer may use it (else a message says why)."""
    form = CouponApplyForm(request.GET or None)
    code = form.cleaned_data["coupon"].strip() if form.is_valid() else ""
    if not code:
        return form, None
    try:
        return form, coupons.coupon_quote(code=code, customer=request.user.customer)
    except coupons.CouponRefused as exc:
        messages.error(request, str(exc))
        return form, None


def _offer(product: Product, coupon) -> tuple[Product, OrderForm, int]:
    """A product with its buy form; with a coupon, the form expects the discounted price."""
    discount = coupon.discount_on(product.price_cents) if coupon else 0
    return product, OrderForm.fresh(product.price_cents - discount, coupon.code if coupon else ""), discount


@customer_required
def catalog(request):
    customer = request.user.customer
    renewable = selectors.renewable_resources(customer=customer)
    coupon_form, coupon = _coupon_from_query(request)
    return render(
        request,
        "portal/shop/catalog.html",
        {
            "customer": customer,
            "balance": format_money(services.customer_balance(customer=customer)),
            "coupon_form": coupon_form,
            "coupon": coupon,
            "offers": [_offer(product, coupon) for product in selectors.products_on_sale()],
            "renewable": [
                (resource, product, OrderForm.fresh(product.renewal_price_cents)) for resource, product in renewable
            ],
            "online_top_up": online_top_up_available(),
        },
    )


def _report(request, order: Order) -> None:
    text = services.customer_message(order)
    if order.state == OrderState.FULFILLED:
        messages.success(request, text)
    elif order.state == OrderState.FAILED:
        messages.error(request, text)
    else:
        messages.warning(request, text)


def _order_from_form(request, place):
    """Read the key and shown price, call `place(key, price)`, and turn the outcome into a message and a redirect."""
    form = OrderForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That request could not be read: please try again.")
        return redirect("store:catalog")
    try:
        order = place(form.cleaned_data["idempotency_key"], form.cleaned_data["expected_price_cents"])
    except services.BillingError as exc:
        messages.error(request, str(exc))
        return redirect("store:catalog")
    _report(request, order)
    return redirect("store:order-detail", order_id=order.pk)


@require_POST
@customer_required
def buy(request, product_id: int):
    product = _get_product_on_sale(product_id)
    return _order_from_form(
        request,
        lambda key, price: services.order_place(
            customer=request.user.customer,
            product=product,
            idempotency_key=key,
            actor=request.user,
            expected_price_cents=price,
            # Looked up (never trusted) by the service; the page's discounted price is the expected price.
            coupon_code=request.POST.get("coupon", "")[:40],
        ),
    )


@require_POST
@customer_required
def renew(request, resource_id: int):
    resource = resource_for_customer(request.user, resource_id)
    return _order_from_form(
        request,
        lambda key, price: services.order_renew(
            customer=request.user.customer,
            resource=resource,
            idempotency_key=key,
            actor=request.user,
            expected_price_cents=price,
        ),
    )


@customer_required
def history(request, cap_form=None):
    customer = request.user.customer
    orders = Paginator(selectors.orders_for_customer(customer=customer), PER_PAGE).get_page(request.GET.get("page"))
    cap = selectors.spending_cap_cents(customer=customer)
    return render(
        request,
        "portal/shop/history.html",
        {
            "balance": format_money(services.customer_balance(customer=customer)),
            "orders": orders,
            "entries": selectors.ledger_for_customer(customer=customer)[:100],
            "online_top_up": online_top_up_available(),
            "cap_form": cap_form or SpendingCapForm(initial={"monthly_cap": None if cap is None else cap / 100}),
            "automatic_spent": format_money(selectors.automatic_spend_this_month(customer=customer)),
        },
    )


@customer_required
def order_detail(request, order_id: int):
    """The order and its state; while it is processing, the status part reloads itself (htmx, every 2 s)."""
    order = _get_order_for_customer(request.user, order_id)
    template = "portal/shop/order_detail.html#status" if request.htmx else "portal/shop/order_detail.html"
    return render(request, template, {"order": order, "message": services.customer_message(order)})


@require_POST
@customer_required
def spending_cap(request):
    form = SpendingCapForm(request.POST)
    if not form.is_valid():
        return history(request, cap_form=form)
    cap = automatic.spending_cap_set(
        customer=request.user.customer, monthly_cap_cents=form.monthly_cap_cents, actor=request.user
    )
    messages.success(request, f"Monthly limit for automatic orders: {cap.monthly_cap}.")
    return redirect("store:history")


@require_POST
@customer_required
def auto_renew(request, resource_id: int):
    resource = resource_for_customer(request.user, resource_id)
    form = AutoRenewForm(request.POST)
    if not form.is_valid() or not selectors.automation_for(resource=resource)["renewable"]:
        messages.error(request, "This proxy was not bought in our shop, so it cannot renew itself.")
        return redirect("portal:proxy-detail", resource_id=resource.pk)
    wish = automatic.auto_renew_set(resource=resource, enabled=form.cleaned_data["enabled"], actor=request.user)
    messages.success(request, "Auto-renew is on." if wish.enabled else "Auto-renew is off.")
    return redirect("portal:proxy-detail", resource_id=resource.pk)


@require_POST
@customer_required
def auto_top_up(request, resource_id: int):
    resource = resource_for_customer(request.user, resource_id)
    form = AutoTopUpForm(request.POST, packs=selectors.top_up_packs(resource=resource))
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("portal:proxy-detail", resource_id=resource.pk)
    wish = automatic.auto_top_up_set(
        resource=resource,
        enabled=form.cleaned_data["enabled"],
        threshold_percent=form.cleaned_data["threshold_percent"],
        product=form.cleaned_data["product"],
        actor=request.user,
    )
    if wish.enabled:
        messages.success(request, f"Auto top-up is on: {wish.product.name} at {wish.threshold_percent}% usage.")
    else:
        messages.success(request, "Auto top-up is off.")
    return redirect("portal:proxy-detail", resource_id=resource.pk)
