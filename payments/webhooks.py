"""The endpoint payment gateways call: verified by the gateway, booked by the services, 400 otherwise."""

from __future__ import annotations

import logging

from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments import gateways, services
from payments.gateways.base import InvalidWebhook

logger = logging.getLogger(__name__)


@csrf_exempt  # the gateway signs the request instead
@require_POST
def receive(request, gateway: str):
    configured = gateways.configured(gateway)
    if configured is None:
        raise Http404("No such payment gateway.")
    try:
        event = configured.parse_webhook(payload=request.body, headers=request.headers)
    except InvalidWebhook as exc:
        logger.warning("%s webhook refused: %s", gateway, exc)
        return HttpResponseBadRequest("Invalid webhook signature.")
    outcome = services.payment_event_handle(gateway=gateway, event=event)
    return JsonResponse({"received": True, "outcome": outcome})
