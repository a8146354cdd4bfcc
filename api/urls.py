"""The customer API at /api/: its ninja instance, key auth, problem errors and docs (Swagger UI served locally)."""

from __future__ import annotations

from ninja import NinjaAPI
from ninja.openapi.docs import Swagger

from api import actions, orders, problems, proxies
from api.auth import ApiKeyAuth


class CustomerApi(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        return problems.rewrite_schema(super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params))

    @property
    def urls(self):
        return problems.problem_urls(super().urls)


api = CustomerApi(
    title="Customer API",
    version="1",
    description=(
        "Your proxies, orders and balance. Authenticate with an API key from the portal's API keys page: "
        "`Authorization: Bearer <key>`. Errors are `application/problem+json` (RFC 9457)."
    ),
    auth=ApiKeyAuth(),
    urls_namespace="api",
    # "ninja" is in INSTALLED_APPS, so Swagger UI's files come from ninja's own static folder, never a CDN.
    docs=Swagger(settings={"persistAuthorization": False}),
    docs_url="/docs",
    openapi_url="/openapi.json",
)
problems.install(api)
api.add_router("", proxies.router)
api.add_router("", orders.router)
api.add_router("", actions.router)
