"""Staff area URL patterns by namespace; `config/urls.py` mounts them and adds each integration's."""

from __future__ import annotations

from django.urls import path

from web.staff import (
    alerts,
    audit,
    billing,
    customers,
    drift,
    foresight,
    inventory,
    margins,
    notifications,
    payments,
    providers,
    timeline,
)

# namespace "staff", at /staff/
staff_patterns = [
    path("", customers.home, name="home"),
    path("customers/", customers.customer_list, name="customer-list"),
    path("customers/new/", customers.customer_create, name="customer-create"),
    path("customers/<int:customer_id>/", customers.customer_detail, name="customer-detail"),
    path("customers/<int:customer_id>/edit/", customers.customer_edit, name="customer-edit"),
    path("customers/<int:customer_id>/logins/", customers.customer_login_add, name="customer-login-add"),
    path("customers/<int:customer_id>/timeline/", timeline.customer_timeline, name="customer-timeline"),
    path("audit/", audit.audit_log, name="audit-log"),
    path("alerts/", alerts.alert_list, name="alert-list"),
    path("alerts/<int:alert_id>/acknowledge/", alerts.alert_acknowledge, name="alert-acknowledge"),
    path("drift/", drift.drift_list, name="drift-list"),
    path("drift/<int:item_id>/", drift.drift_detail, name="drift-detail"),
    path("drift/<int:item_id>/accept/", drift.drift_accept, name="drift-accept"),
    path("drift/<int:item_id>/restore/", drift.drift_restore, name="drift-restore"),
    path("notifications/deliveries/", notifications.delivery_list, name="delivery-list"),
    path("brand/", notifications.brand_edit, name="brand"),
]

# namespace "inventory", at /staff/inventory/
inventory_patterns = [
    path("", inventory.resource_list, name="resource-list"),
    path("<int:resource_id>/", inventory.resource_detail, name="resource-detail"),
    path("<int:resource_id>/assign/", inventory.resource_assign, name="resource-assign"),
    path("sync/<int:account_id>/", inventory.account_sync, name="account-sync"),
    path("bulk/", inventory.bulk_create, name="bulk-create"),
    path("bulk/<int:job_id>/", inventory.bulk_detail, name="bulk-detail"),
    path("bulk/<int:job_id>/export/", inventory.bulk_export, name="bulk-export"),
]

# namespace "providers", at /staff/providers/
provider_patterns = [
    path("", providers.account_list, name="account-list"),
    path("new/", providers.account_create, name="account-create"),
    path("<int:account_id>/", providers.account_detail, name="account-detail"),
    path("<int:account_id>/edit/", providers.account_edit, name="account-edit"),
    path("<int:account_id>/check/", providers.account_check, name="account-check"),
    path("<int:account_id>/rotate-key/", providers.account_rotate_key, name="account-rotate-key"),
]

# namespace "billing", at /staff/billing/
billing_patterns = [
    path("", billing.balance_list, name="balance-list"),
    path("customers/<int:customer_id>/", billing.customer_ledger, name="customer-ledger"),
    path("customers/<int:customer_id>/top-up/", billing.top_up, name="top-up"),
    path("customers/<int:customer_id>/adjust/", billing.adjust, name="adjust"),
    path("orders/", billing.order_list, name="order-list"),
    path("orders/<int:order_id>/reconcile/", billing.order_reconcile, name="order-reconcile"),
    path("decisions/", billing.decision_list, name="decision-list"),
    path("decisions/<int:order_id>/settle/", billing.decide_settle, name="decide-settle"),
    path("decisions/<int:order_id>/refund/", billing.decide_refund, name="decide-refund"),
    path("products/", billing.product_list, name="product-list"),
    path("products/new/", billing.product_create, name="product-create"),
    path("products/<int:product_id>/edit/", billing.product_edit, name="product-edit"),
    path("products/<int:product_id>/upstream-cost/", billing.product_upstream_cost, name="product-upstream-cost"),
    path("margins/", margins.margins, name="margins"),
    path("margins/at-risk/", foresight.margin_risk, name="margin-risk"),
    path("alignment/", foresight.alignment_list, name="alignment"),
    path("alignment/<int:resource_id>/fix/", foresight.alignment_fix, name="alignment-fix"),
    path("coupons/", margins.coupon_list, name="coupon-list"),
    path("coupons/new/", margins.coupon_create, name="coupon-create"),
    path("coupons/<int:coupon_id>/edit/", margins.coupon_edit, name="coupon-edit"),
    path("payments/", payments.payment_list, name="payment-list"),
    path("payments/<int:payment_id>/", payments.payment_detail, name="payment-detail"),
]
