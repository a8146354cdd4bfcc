"""Every error of the customer API as `application/problem+json` (RFC 9457): type, title, status, detail."""

from __future__ import annotations

import functools
from typing import Any

from django.http import Http404, JsonResponse
from ninja import Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

PROBLEM_TYPE = "application/problem+json"

# The short, fixed title of each status (RFC 9457 §3.1.3: the same for every occurrence of the problem).
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    422: "Unprocessable content",
    429: "Too many requests",
    502: "Provider error",
    503: "Provider unavailable",
}


class FieldError(Schema):
    field: str
    message: str


class Problem(Schema):
    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


class ApiProblem(Exception):
    """Raised by an endpoint to answer with a problem of this status; `detail` is fit to show the caller."""

    def __init__(self, status: int, detail: str, *, errors: list[dict] | None = None, headers: dict | None = None):
        super().__init__(detail)
        self.status, self.detail, self.errors, self.headers = status, detail, errors, headers or {}


def problem_response(
    status: int, detail: str, *, errors: list[dict] | None = None, headers: dict | None = None
) -> JsonResponse:
    body: dict[str, Any] = {
        # "about:blank" (RFC 9457 §4.2.1): the status and title say all there is to say about the type.
        "type": "about:blank",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    response = JsonResponse(body, status=status, content_type=PROBLEM_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _field_errors(errors: list[dict]) -> list[dict]:
    """ninja's validation errors (`loc`, `msg`) as `field`/`message` pairs; `loc` starts with body/query/header."""
    return [
        {"field": ".".join(str(part) for part in error.get("loc", ())[1:]) or "body", "message": error.get("msg", "")}
        for error in errors
    ]


def install(api) -> None:
    """Make every error the API can answer a problem document."""

    @api.exception_handler(ApiProblem)
    def _problem(request, exc: ApiProblem):
        return problem_response(exc.status, exc.detail, errors=exc.errors, headers=exc.headers)

    @api.exception_handler(AuthenticationError)
    def _unauthenticated(request, exc):
        return problem_response(
            401,
            "Send a live API key as `Authorization: Bearer <key>`; this one is missing, unknown or revoked.",
            headers={"WWW-Authenticate": 'Bearer realm="api"'},
        )

    @api.exception_handler(ValidationError)
    def _invalid(request, exc: ValidationError):
        return problem_response(422, "The request did not validate.", errors=_field_errors(exc.errors))

    @api.exception_handler(Http404)
    def _not_found(request, exc):
        return problem_response(404, "There is no such thing here (or it is not yours).")

    @api.exception_handler(HttpError)
    def _http_error(request, exc: HttpError):
        return problem_response(exc.status_code, str(exc))


def method_not_allowed_as_problem(view):
    """Wrap one of ninja's path views so a wrong method answers a problem document too (ninja's own 405 is
    plain text, outside its exception handlers), keeping the `Allow` header."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if response.status_code != 405 or response.get("Content-Type", "").startswith(PROBLEM_TYPE):
            return response
        allowed = response.get("Allow", "")
        return problem_response(
            405, f"{request.method} is not allowed here; this path answers {allowed}.", headers={"Allow": allowed}
        )

    return wrapped


def problem_urls(urls: tuple) -> tuple:
    """ninja's `api.urls` with every path view wrapped by `method_not_allowed_as_problem`."""
    patterns, app_name, namespace = urls
    for pattern in patterns:
        pattern.callback = method_not_allowed_as_problem(pattern.callback)
    return patterns, app_name, namespace


def rewrite_schema(schema: dict) -> dict:
    """Declare error responses as `application/problem+json`, which is what they are sent as."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if int(status) >= 400 and "application/json" in content:
                    response["content"] = {PROBLEM_TYPE: content.pop("application/json")}
    return schema
