"""The self-service actions the portal allows, one endpoint per action the integrations offer (registry hook)."""

# No `from __future__ import annotations`: the endpoints below are built at import time and ninja reads their
# annotations as real classes (each action's own input model).

from ninja import Router, Status

from api.auth import require_write
from api.problems import ApiProblem, Problem
from api.proxies import own_resource, proxy_detail
from api.schemas import ActionOut, ActionResult
from inventory.models import ResourceStatus
from providers import registry
from providers.http import errors

router = Router(tags=["self-service"])

ERRORS = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem, 429: Problem}
UPSTREAM_ERRORS = {503: Problem}
# Answers from the provider that mean "try later", not "no".
TRY_LATER = (
    errors.UnavailableError,
    errors.RateLimitedError,
    errors.MalformedResponseError,
    errors.AuthenticationError,
)


@router.get("/proxies/{resource_id}/actions", response={200: list[ActionOut], **ERRORS}, summary="What I may change")
def action_list(request, resource_id: int):
    resource = own_resource(request, resource_id)
    return [{"name": action.name, "label": action.label} for action in registry.self_service_actions(resource.kind)]


def _run(request, resource_id: int, name: str, data: dict):
    require_write(request)
    resource = own_resource(request, resource_id)
    action = next((a for a in registry.self_service_actions(resource.kind) if a.name == name), None)
    if action is None:
        raise ApiProblem(404, f"This proxy has no action {name!r}; GET its /actions for the ones it has.")
    if resource.status == ResourceStatus.VANISHED:
        raise ApiProblem(409, "This proxy has ended.")
    try:
        # No transaction around it: the action records an unknown outcome and its audit rows even when it raises.
        message = action.run(resource=resource, data=data, actor=request.auth.user)
    except registry.ActionInvalid as exc:
        fields = [{"field": field, "message": " ".join(msgs)} for field, msgs in exc.errors.items()]
        raise ApiProblem(422, "The request did not validate.", errors=fields) from exc
    except registry.ActionRefused as exc:
        raise ApiProblem(409, str(exc)) from exc
    except errors.UnknownOutcomeError:
        resource.refresh_from_db()
        return Status(
            202,
            {
                "status": "unconfirmed",
                "message": "The provider's answer was lost: the change may or may not have been made. "
                "Read the proxy again in a few minutes before retrying.",
                "proxy": proxy_detail(resource),
            },
        )
    except TRY_LATER as exc:
        raise ApiProblem(503, f"The provider could not be reached; try again later. ({exc.message})") from exc
    except errors.ProviderError as exc:
        raise ApiProblem(409, f"The provider refused the change: {exc.message}") from exc
    resource.refresh_from_db()
    return Status(200, {"status": "done", "message": message, "proxy": proxy_detail(resource)})


def _endpoint(name: str, schema):
    """One POST endpoint for the action `name`, whose body is `schema` (or none)."""
    if schema is None:

        def view(request, resource_id: int):
            return _run(request, resource_id, name, {})

    else:

        def view(request, resource_id: int, body):
            return _run(request, resource_id, name, body.model_dump(exclude_unset=True))

        view.__annotations__["body"] = schema
    view.__name__ = "action_" + name.replace("-", "_")
    return view


def _register() -> None:
    """An endpoint per action name; kinds that share a name (new credentials) share it and its input."""
    by_name: dict[str, registry.SelfServiceAction] = {}
    for action in registry.self_service_actions():
        first = by_name.setdefault(action.name, action)
        if first.input is not action.input:
            raise ValueError(f"self-service action {action.name!r} is declared with two different inputs")
    for name, action in by_name.items():
        router.post(
            f"/proxies/{{resource_id}}/actions/{name}",
            response={200: ActionResult, 202: ActionResult, **ERRORS, **UPSTREAM_ERRORS},
            summary=action.label,
            operation_id=f"action_{name.replace('-', '_')}",
        )(_endpoint(name, action.input))


_register()
