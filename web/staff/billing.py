"""Staff billing pages: balances, a customer's ledger with top-up and adjustment, orders, the catalog."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.access import customer_for_staff, owner_required, staff_required
from accounts.selectors import CUSTOMER_SORTS
from billing import selectors, services
from billing.forms import AdjustmentForm, DecisionForm, OrderFilterForm, ProductForm, TopUpForm
from billing.models import Order, OrderState, Product, format_money
from inventory.models import Resource
from ops import seek
from providers import registry
from providers.http import errors

PER_PAGE = 50


def _get_order_for_staff(order_id: int) -> Order:
    return get_object_or_404(Order.objects.select_related("customer", "product__account", "resource"), pk=order_id)


def _get_product_for_staff(product_id: int) -> Product:
    return get_object_or_404(Product.objects.select_related("account"), pk=product_id)


@staff_required
def balance_list(request):
    search = request.GET.get("q", "").strip()
    customers = selectors.customers_with_balances(search=search)
    order = seek.sort_order(CUSTOMER_SORTS, request.GET.get("sort"))
    page = _seek(request, customers, order)
    for customer in page.object_list:
        customer.balance = format_money(customer.balance_cents)
    unknown = Order.objects.filter(state=OrderState.UNKNOWN).count()
    undecided = selectors.orders_needing_decision().count()
    return render(
        request,
        "staff/billing/balance_list.html",
        {
            "page": page,
            "customers": page.object_list,
            "q": search,
            "unknown_count": unknown,
            "decision_count": undecided,
            "count": seek.list_count(customers, filtered=bool(search)),
            "sort": order,
            **seek.list_queries(request.GET),
        },
    )


def _seek(request, queryset, order: seek.SortOrder) -> seek.SeekPage:
    after, before = request.GET.get("after", ""), request.GET.get("before", "")
    return seek.seek_page(queryset, order, per_page=PER_PAGE, after=after, before=before)


@staff_required
def customer_ledger(request, customer_id: int, top_up_form=None, adjust_form=None):
    customer = customer_for_staff(customer_id)
    entries = selectors.ledger_for_customer(customer=customer)
    page = _seek(request, entries, selectors.NEWEST_FIRST)
    spending_cap, automatic_spent = selectors.automatic_spending(customer=customer)
    return render(
        request,
        "staff/billing/customer_ledger.html",
        {
            "customer": customer,
            "balance": format_money(services.customer_balance(customer=customer)),
            "page": page,
            "entries": page.object_list,
            "count": seek.list_count(entries, filtered=True),
            **seek.list_queries(request.GET),
            "orders": selectors.orders_for_customer(customer=customer)[:20],
            "spending_cap": spending_cap,
            "automatic_spent": format_money(automatic_spent),
            "top_up_form": top_up_form or TopUpForm(),
            "adjust_form": adjust_form or AdjustmentForm(),
        },
    )


@require_POST
@staff_required
def top_up(request, customer_id: int):
    customer = customer_for_staff(customer_id)
    form = TopUpForm(request.POST)
    if not form.is_valid():
        return customer_ledger(request, customer_id, top_up_form=form)
    entry = services.balance_top_up(
        customer=customer, amount_cents=form.amount_cents, actor=request.user, note=form.cleaned_data["note"]
    )
    messages.success(request, f"Added {entry.amount} to {customer.name}'s balance.")
    return redirect("billing:customer-ledger", customer_id=customer.pk)


@require_POST
@staff_required
def adjust(request, customer_id: int):
    customer = customer_for_staff(customer_id)
    form = AdjustmentForm(request.POST)
    if not form.is_valid():
        return customer_ledger(request, customer_id, adjust_form=form)
    if form.amount_cents < 0 and not request.user.is_owner:
        raise PermissionDenied("Only owners can take money from a balance.")
    try:
        entry = services.balance_adjust(
            customer=customer, amount_cents=form.amount_cents, actor=request.user, note=form.cleaned_data["note"]
        )
    except services.BillingError as exc:
        form.add_error("amount", str(exc))
        return customer_ledger(request, customer_id, adjust_form=form)
    messages.success(request, f"Adjusted {customer.name}'s balance by {entry.amount}.")
    return redirect("billing:customer-ledger", customer_id=customer.pk)


@staff_required
def order_list(request):
    filters = OrderFilterForm(request.GET or None)
    state = filters.cleaned_data["state"] if filters.is_valid() else ""
    orders = selectors.orders_for_staff(state=state)
    page = _seek(request, orders, selectors.NEWEST_FIRST)
    return render(
        request,
        "staff/billing/order_list.html",
        {
            "page": page,
            "orders": page.object_list,
            "filters": filters,
            "state": state,
            "count": seek.list_count(orders, filtered=bool(state)),
            **seek.list_queries(request.GET),
        },
    )


@require_POST
@staff_required
def order_reconcile(request, order_id: int):
    order = _get_order_for_staff(order_id)
    if not services.order_is_reconcilable(order):
        messages.info(request, f"Order {order.pk} is already {order.get_state_display().lower()}.")
        return redirect("billing:order-list")
    try:
        order = services.order_reconcile(order=order, actor=request.user)
    except errors.ProviderError as exc:
        messages.error(request, f"Order {order.pk} is still unknown: the provider could not be read ({exc}).")
        return redirect("billing:order-list")
    except (services.BillingError, services.LaneBusy) as exc:
        messages.error(request, f"Order {order.pk} is still unknown: {exc}")
        return redirect("billing:order-list")
    if order.state == OrderState.NEEDS_DECISION:
        messages.warning(request, f"Order {order.pk} needs a decision: {order.evidence.get('why', '')}")
        return redirect("billing:decision-list")
    if order.state == OrderState.FULFILLED:
        messages.success(request, f"Order {order.pk} was found upstream: fulfilled and assigned to {order.customer}.")
    else:
        messages.warning(request, f"Order {order.pk} never happened upstream: failed and {order.price} refunded.")
    return redirect("billing:order-list")


@staff_required
def decision_list(request):
    """The queue of orders reconciliation could not settle alone, with what it found upstream."""
    orders = list(selectors.orders_needing_decision())
    found = Resource.objects.in_bulk(
        {item["resource"] for order in orders for item in order.evidence.get("found", []) if item.get("resource")}
    )
    for order in orders:
        order.candidates = [
            found[item["resource"]] for item in order.evidence.get("found", []) if item.get("resource") in found
        ]
    return render(request, "staff/billing/decision_list.html", {"orders": orders})


@require_POST
@staff_required
def decide_settle(request, order_id: int):
    order = _get_order_for_staff(order_id)
    form = DecisionForm(request.POST)
    resource = None
    if form.is_valid() and form.cleaned_data["resource"]:
        resource = Resource.objects.filter(pk=form.cleaned_data["resource"]).first()
    if resource is None:
        messages.error(request, "Choose one of the resources found.")
        return redirect("billing:decision-list")
    try:
        order = services.order_decide_settle(order=order, resource=resource, actor=request.user)
    except services.BillingError as exc:
        messages.error(request, str(exc))
        return redirect("billing:decision-list")
    messages.success(request, f"Order {order.pk} settled with {resource} and assigned to {order.customer}.")
    return redirect("billing:decision-list")


@require_POST
@staff_required
def decide_refund(request, order_id: int):
    order = _get_order_for_staff(order_id)
    form = DecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        order = services.order_decide_refund(order=order, actor=request.user, note=note)
    except services.BillingError as exc:
        messages.error(request, str(exc))
        return redirect("billing:decision-list")
    messages.warning(request, f"Order {order.pk} refunded ({order.price}).")
    return redirect("billing:decision-list")


@staff_required
def product_list(request):
    products = list(Product.objects.select_related("account").order_by("-active", "name", "pk"))
    for product in products:
        product.reads_cost = registry.reads_upstream_cost(product.kind)
    return render(request, "staff/billing/product_list.html", {"products": products})


@require_POST
@owner_required
def product_upstream_cost(request, product_id: int):
    product = _get_product_for_staff(product_id)
    try:
        product = services.product_cost_from_upstream(product=product, actor=request.user)
    except (errors.ProviderError, services.BillingError) as exc:
        messages.error(request, f"The cost of {product.name} could not be read: {exc}")
    else:
        flag = " It now sells below cost: check its prices." if product.below_cost else ""
        messages.success(request, f"{product.name} costs us {product.cost} (renewal {product.renewal_cost}).{flag}")
    return redirect("billing:product-list")


@owner_required
def product_create(request):
    form = ProductForm(request.POST or None, initial={"active": True})
    if request.method == "POST" and form.is_valid():
        try:
            product = services.product_create(actor=request.user, **form.service_fields())
        except services.BillingError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Product {product.name} added.")
            return redirect("billing:product-list")
    return render(request, "staff/billing/product_form.html", {"form": form, "title": "New product"})


@owner_required
def product_edit(request, product_id: int):
    product = _get_product_for_staff(product_id)
    form = ProductForm.for_product(product, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            product = services.product_update(product=product, actor=request.user, **form.service_fields())
        except services.BillingError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Product {product.name} saved.")
            return redirect("billing:product-list")
    return render(
        request, "staff/billing/product_form.html", {"form": form, "title": f"Edit {product.name}", "product": product}
    )
