"""Staff pages for what each sale earns (margins by order, product, customer and month) and our coupons."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render

from accounts.access import owner_required, staff_required
from billing import coupons, selectors
from billing.forms import CouponForm
from billing.models import Coupon, OrderState, format_money

PER_PAGE = 50
VIEWS = {"order": "Orders", "product": "Products", "customer": "Customers", "month": "Months"}


def _get_coupon_for_staff(coupon_id: int) -> Coupon:
    return get_object_or_404(Coupon, pk=coupon_id)


@owner_required
def margins(request):
    by = request.GET.get("by", "order")
    if by not in VIEWS:
        by = "order"
    context = {"by": by, "views": VIEWS}
    if by == "order":
        page = Paginator(selectors.margin_order_list(), PER_PAGE).get_page(request.GET.get("page"))
        context.update(page=page, orders=page.object_list)
    else:
        rows = selectors.margin_rows(by=by)
        for row in rows:
            for key in ("revenue", "discount", "cost", "margin"):
                row[key] = format_money(row[f"{key}_cents"])
        context.update(rows=rows, group_label=VIEWS[by][:-1])
    return render(request, "staff/billing/margins.html", context)


@staff_required
def coupon_list(request):
    counted = ~Q(redemptions__order__state=OrderState.FAILED) & Q(redemptions__isnull=False)
    coupon_rows = Coupon.objects.annotate(uses=Count("redemptions", filter=counted)).order_by("-active", "code")
    return render(request, "staff/billing/coupon_list.html", {"coupons": coupon_rows})


def _coupon_form_page(request, form: CouponForm, coupon: Coupon | None):
    if request.method == "POST" and form.is_valid():
        try:
            coupon = coupons.coupon_save(actor=request.user, coupon=coupon, **form.service_fields())
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"Coupon {coupon.code} saved.")
            return redirect("billing:coupon-list")
    title = f"Edit coupon {coupon.code}" if coupon else "New coupon"
    return render(request, "staff/form_page.html", {"form": form, "title": title})


@owner_required
def coupon_create(request):
    return _coupon_form_page(request, CouponForm(request.POST or None, initial={"active": True}), None)


@owner_required
def coupon_edit(request, coupon_id: int):
    coupon = _get_coupon_for_staff(coupon_id)
    return _coupon_form_page(request, CouponForm.for_coupon(coupon, request.POST or None), coupon)
