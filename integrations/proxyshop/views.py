"""Staff and portal actions on proxyshop resources (each view reads: resource -> form -> action -> message).

Staff see the shop's plans on a provider account, buy subscriptions (for stock or straight for a
customer: plan, quantity, periods, coupon, with the price shown before a confirm step) or ask for a
trial, and renew a subscription (expired ones too). Staff and customers get the same four actions on
a subscription: new credentials, rotation policy, rotate now and switch network. Rotating goes through
us: the shop's rotate link is never shown.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import customer_required, staff_required
from integrations.proxyshop import actions as services
from integrations.proxyshop import rules
from integrations.proxyshop.forms import PurchaseForm, RenewForm, RotationPolicyForm, SwitchNetworkForm, TrialForm
from integrations.proxyshop.kinds import PROXY_SHOP, SHOP_SUBSCRIPTION
from inventory import submissions
from inventory.access import resource_for_customer, resource_for_staff
from inventory.models import Resource
from ops.units import format_money
from providers.http import errors
from providers.models import ProviderAccount

UNKNOWN_OUTCOME = (
    "We could not confirm the change with the proxy shop: it may or may not have been applied. "
    "The next sync will show the truth; check this page again in a few minutes before trying again."
)


def _subscription(resource_id: int) -> Resource:
    return resource_for_staff(resource_id, kind=SHOP_SUBSCRIPTION)


def _own_subscription(request, resource_id: int) -> Resource:
    return resource_for_customer(request.user, resource_id, kind=SHOP_SUBSCRIPTION)


# The flows, shared by staff and portal: `area` is "staff" or "portal" ---------------------------------
#
# Each one reads top to bottom: the resource (loaded by the view below) -> the form -> the action ->
# a message -> back to the resource's page. A failure upstream becomes a message, never a 500.


def _back(area: str, resource: Resource) -> str:
    name = "inventory:resource-detail" if area == "staff" else "portal:proxy-detail"
    return reverse(name, args=[resource.pk])


def _form_page(request, area: str, resource: Resource, form, title: str, submit: str):
    context = {"resource": resource, "form": form, "title": title, "submit": submit, "back_url": _back(area, resource)}
    return render(request, f"{area}/actions/form.html", context)


def _report_failure(request, exc: errors.ProviderError) -> None:
    """The message for a change that raised: a lost answer may have worked; anything else was refused."""
    if isinstance(exc, errors.UnknownOutcomeError):
        messages.warning(request, UNKNOWN_OUTCOME)
    else:
        messages.error(request, f"The change was refused: {exc.message}")


def _change_credentials(request, area: str, resource: Resource):
    try:
        services.subscription_change_credentials(resource=resource, actor=request.user)
    except errors.ProviderError as exc:
        _report_failure(request, exc)
    else:
        messages.success(request, "New credentials issued: the old password no longer works.")
    return redirect(_back(area, resource))


def _set_rotation(request, area: str, resource: Resource):
    if request.method == "GET":
        subscription = resource.details
        form = RotationPolicyForm(initial={"rotation_policy": (subscription and subscription.rotation_policy) or 0})
        return _form_page(request, area, resource, form, "Auto-rotation", "Save")
    form = RotationPolicyForm(request.POST)
    if not form.is_valid():
        return _form_page(request, area, resource, form, "Auto-rotation", "Save")
    minutes = form.cleaned_data["rotation_policy"]
    try:
        services.subscription_set_rotation(resource=resource, actor=request.user, minutes=minutes)
    except errors.ProviderError as exc:
        _report_failure(request, exc)
    else:
        done = f"The IP now rotates every {minutes} minutes." if minutes else "Auto-rotation is off."
        messages.success(request, done)
    return redirect(_back(area, resource))


def _rotate_now(request, area: str, resource: Resource):
    try:
        rotated = services.subscription_rotate_now(resource=resource, actor=request.user)
    except errors.ProviderError as exc:
        _report_failure(request, exc)
    else:
        subscription = rotated.details
        ip = subscription.current_ip if subscription is not None else None
        messages.success(request, f"The IP was changed: now {ip}." if ip else "The IP was changed.")
    return redirect(_back(area, resource))


def _switch_network(request, area: str, resource: Resource):
    try:
        networks = services.subscription_available_networks(resource=resource)
    except errors.ProviderError as exc:
        messages.error(request, f"Could not load the networks: {exc.message}")
        return redirect(_back(area, resource))
    choices = [(network.id, f"{network.network_label} ({network.country})") for network in networks]
    form = SwitchNetworkForm(request.POST if request.method == "POST" else None, networks=choices)
    if request.method != "POST" or not form.is_valid():
        return _form_page(request, area, resource, form, "Switch network", "Switch")
    target = form.cleaned_data["target_network"]
    try:
        switched = services.subscription_switch_network(resource=resource, actor=request.user, target_network=target)
    except errors.ProviderError as exc:
        _report_failure(request, exc)
    else:
        subscription = switched.details
        label = subscription.network_label if subscription is not None else target
        messages.success(request, f"Switched to {label}; the IP has changed.")
    return redirect(_back(area, resource))


# Staff: the shop account (plans, purchase, trial) ------------------------------------------------------

UNKNOWN_PURCHASE = (
    "We could not confirm the purchase with the proxy shop: it may or may not have been made. Sync the "
    "account and look for new subscriptions in the inventory (in stock) before trying again."
)
TRIAL_NOT_ENABLED = "Trials are not enabled for this API key: ask the shop's support to enable them."


def _shop_account(account_id: int) -> ProviderAccount:
    return get_object_or_404(ProviderAccount, pk=account_id, kind=PROXY_SHOP)


def _plans_url(account: ProviderAccount) -> str:
    return reverse("inventory:shop-plans", args=[account.pk])


def _plan_label(plan) -> str:
    network, price = plan.network, format_money(plan.price_cents)
    return f"{plan.id}: {network.name} {network.city} · {plan.connection_type} · {plan.duration.days} days · {price}"


@staff_required
def staff_shop_plans(request, account_id: int):
    account = _shop_account(account_id)
    try:
        plans = services.shop_plans(account=account)
    except errors.ProviderError as exc:
        messages.error(request, f"Could not load the shop's plans: {exc.message}")
        return redirect("providers:account-detail", account_id=account.pk)
    return render(
        request, "proxyshop/plans.html", {"account": account, "plans": plans, "trial_key": submissions.new_key()}
    )


def _price_lines(plan, form, *, quantity: int = 1) -> dict:
    """The price preview: `price * periods * quantity`, less the coupon's typed discount."""
    repeat = form.cleaned_data["repeat_count"]
    gross = rules.purchase_price_cents(plan.price_cents, repeat, quantity)
    net = rules.purchase_price_cents(plan.price_cents, repeat, quantity, form.discount_percent)
    return {
        "unit": format_money(plan.price_cents),
        "gross": format_money(gross),
        "net": format_money(net),
        "cents": net,
    }


def _confirmed_cents(request) -> int | None:
    """The total the confirm step showed (posted only by its button), or None."""
    value = request.POST.get("confirmed_cents", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 12 else None


def _priced_page(request, template_context: dict, form, *, status: int = 200, price: dict | None = None):
    context = {**template_context, "form": form, "price": price}
    if price is not None:
        context["hidden"] = form.confirm_fields()
    return render(request, "proxyshop/priced_form.html", context, status=status)


@staff_required
@require_http_methods(["GET", "POST"])
def staff_shop_purchase(request, account_id: int):
    account = _shop_account(account_id)
    try:
        listed = [entry.plan for entry in services.shop_plans(account=account) if entry.plan is not None]
    except errors.ProviderError as exc:
        messages.error(request, f"Could not load the shop's plans: {exc.message}")
        return redirect("providers:account-detail", account_id=account.pk)
    plans = {plan.id: plan for plan in listed}
    form = PurchaseForm(
        request.POST if request.method == "POST" else None,
        plans=[(plan.id, _plan_label(plan)) for plan in listed],
        initial={"plan_id": request.GET.get("plan", "")},
    )
    page = {"account": account, "title": "Buy subscriptions", "back_url": _plans_url(account), "quantity": True}
    if request.method != "POST" or not form.is_valid():
        return _priced_page(request, page, form, status=400 if request.method == "POST" else 200)
    plan = plans[form.cleaned_data["plan_id"]]
    price = _price_lines(plan, form, quantity=form.cleaned_data["quantity"])
    if _confirmed_cents(request) != price["cents"]:
        # The confirm step: nothing is bought until the price shown here is confirmed.
        return _priced_page(request, page, form, price=price)
    scope, key = "shop-purchase", form.cleaned_data["request_key"]
    if not submissions.claim(scope, key):
        messages.info(request, "This purchase was already sent: nothing more was bought.")
        return _after_purchase(account, submissions.previous(scope, key))
    try:
        bought = services.shop_purchase(account=account, actor=request.user, **form.action_kwargs())
    except errors.UnknownOutcomeError:
        messages.warning(request, UNKNOWN_PURCHASE)
        return redirect(_plans_url(account))
    except errors.ProviderError as exc:
        submissions.release(scope, key)
        _purchase_refused(form, exc)
        return _priced_page(request, page, form, status=400)
    submissions.remember(scope, key, [resource.pk for resource in bought])
    labels = ", ".join(resource.label for resource in bought)
    messages.success(request, f"Bought {len(bought)} subscription{'s' if len(bought) != 1 else ''}: {labels}.")
    return _after_purchase(account, [resource.pk for resource in bought])


def _purchase_refused(form, exc: errors.ProviderError) -> None:
    """Put the shop's refusal on the form: a coupon on its field (nothing was bought), the rest above."""
    if isinstance(exc, errors.CouponRejectedError):
        form.add_error("coupon_code", f"The shop refused this coupon: {exc.message}. Nothing was bought.")
    elif isinstance(exc, errors.SoldOutError):
        form.add_error(None, f"The shop refused: {exc.message}. It is marked sold out on the plans page.")
    elif isinstance(exc, errors.InsufficientBalanceError):
        form.add_error(None, f"Our balance at the shop is too low: {exc.message}. Top it up in the shop first.")
    else:
        form.add_error(None, f"The shop refused: {exc.message}")


def _after_purchase(account: ProviderAccount, resource_ids: list[int]):
    if len(resource_ids) == 1:
        return redirect("inventory:resource-detail", resource_id=resource_ids[0])
    query = urlencode({"account": account.pk, "kind": SHOP_SUBSCRIPTION})
    return redirect(f"{reverse('inventory:resource-list')}?{query}")


@staff_required
@require_POST
def staff_shop_trial(request, account_id: int):
    account = _shop_account(account_id)
    try:
        listed = [entry.id for entry in services.shop_plans(account=account) if entry.plan is not None]
    except errors.ProviderError as exc:
        messages.error(request, f"Could not load the shop's plans: {exc.message}")
        return redirect(_plans_url(account))
    form = TrialForm(request.POST, plan_ids=listed)
    if not form.is_valid():
        messages.error(request, "Choose a plan the shop lists for the trial.")
        return redirect(_plans_url(account))
    scope, key = "shop-trial", form.cleaned_data["request_key"]
    if not submissions.claim(scope, key):
        messages.info(request, "This trial was already asked for: nothing more was requested.")
        return _after_purchase(account, submissions.previous(scope, key))
    try:
        given = services.shop_trial(account=account, actor=request.user, plan_id=form.cleaned_data["plan_id"])
    except errors.TrialNotEnabledError:
        submissions.release(scope, key)
        messages.info(request, TRIAL_NOT_ENABLED)
        return redirect(_plans_url(account))
    except errors.UnknownOutcomeError:
        messages.warning(request, UNKNOWN_PURCHASE)
        return redirect(_plans_url(account))
    except errors.ProviderError as exc:
        submissions.release(scope, key)
        messages.error(request, f"The shop refused the trial: {exc.message}")
        return redirect(_plans_url(account))
    submissions.remember(scope, key, [resource.pk for resource in given])
    messages.success(request, f"Trial subscription issued: {', '.join(resource.label for resource in given)}.")
    return _after_purchase(account, [resource.pk for resource in given])


# Staff: one subscription --------------------------------------------------------------------------------


@staff_required
@require_http_methods(["GET", "POST"])
def staff_renew(request, resource_id: int):
    resource = _subscription(resource_id)
    back = _back("staff", resource)
    try:
        plans = {plan.id: plan for plan in services.subscription_renewal_plans(resource=resource)}
    except errors.ProviderError as exc:
        messages.error(request, f"Could not load the renewal plans: {exc.message}")
        return redirect(back)
    choices = [
        (plan.id, f"{plan.id} · {plan.connection_type} · {plan.duration.days} days · {format_money(plan.price_cents)}")
        for plan in plans.values()
    ]
    form = RenewForm(request.POST if request.method == "POST" else None, plans=choices)
    page = {"resource": resource, "title": "Renew subscription", "back_url": back}
    if request.method != "POST" or not form.is_valid():
        return _priced_page(request, page, form, status=400 if request.method == "POST" else 200)
    price = _price_lines(plans[form.cleaned_data["plan_id"]], form)
    if _confirmed_cents(request) != price["cents"]:
        return _priced_page(request, page, form, price=price)
    scope, key = "shop-renew", form.cleaned_data["request_key"]
    if not submissions.claim(scope, key):
        messages.info(request, "This renewal was already sent: it was not sent again.")
        return redirect(back)
    try:
        renewed = services.subscription_renew(resource=resource, actor=request.user, **form.action_kwargs())
    except errors.UnknownOutcomeError:
        messages.warning(request, UNKNOWN_OUTCOME)
        return redirect(back)
    except errors.ProviderError as exc:
        submissions.release(scope, key)
        _purchase_refused(form, exc)
        return _priced_page(request, page, form, status=400)
    submissions.remember(scope, key, [renewed.pk])
    messages.success(request, f"Renewed: now active until {renewed.expires_at:%Y-%m-%d %H:%M} UTC.")
    return redirect(back)


# Staff ------------------------------------------------------------------------------------------------


@staff_required
@require_POST
def staff_change_credentials(request, resource_id: int):
    return _change_credentials(request, "staff", _subscription(resource_id))


@staff_required
@require_http_methods(["GET", "POST"])
def staff_set_rotation(request, resource_id: int):
    return _set_rotation(request, "staff", _subscription(resource_id))


@staff_required
@require_POST
def staff_rotate_now(request, resource_id: int):
    return _rotate_now(request, "staff", _subscription(resource_id))


@staff_required
@require_http_methods(["GET", "POST"])
def staff_switch_network(request, resource_id: int):
    return _switch_network(request, "staff", _subscription(resource_id))


# Portal -----------------------------------------------------------------------------------------------


@customer_required
@require_POST
def portal_change_credentials(request, resource_id: int):
    return _change_credentials(request, "portal", _own_subscription(request, resource_id))


@customer_required
@require_http_methods(["GET", "POST"])
def portal_set_rotation(request, resource_id: int):
    return _set_rotation(request, "portal", _own_subscription(request, resource_id))


@customer_required
@require_POST
def portal_rotate_now(request, resource_id: int):
    return _rotate_now(request, "portal", _own_subscription(request, resource_id))


@customer_required
@require_http_methods(["GET", "POST"])
def portal_switch_network(request, resource_id: int):
    return _switch_network(request, "portal", _own_subscription(request, resource_id))
