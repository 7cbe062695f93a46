"""The app's HTTP operations read off its route table, with the scope each declares for integration API keys."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from service.accounts.deps import ApiKeyScope
from service.accounts.roles import Scope


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    scope: Scope | None
    secured: bool


def _declared_scopes(dependant: Dependant) -> set[Scope]:
    """Every `ApiKeyScope` in a route's dependency tree."""
    found: set[Scope] = set()
    if isinstance(dependant.call, ApiKeyScope):
        found.add(dependant.call.scope)
    for sub in dependant.dependencies:
        found |= _declared_scopes(sub)
    return found


def _routes(app: FastAPI) -> Iterator[tuple[str, set[str], Dependant]]:
    """(path, methods, dependant) of every HTTP route of the app, through included routers."""
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for context in contexts():
                original = context.original_route
                if isinstance(original, APIRoute):  # the route as declared; the context adds the prefix
                    yield context.path, set(original.methods or ()), original.dependant
        elif isinstance(route, APIRoute):
            yield route.path, set(route.methods or ()), route.dependant


def operations(app: FastAPI) -> list[Operation]:
    """Every operation of the app with the scope it declares for API keys (None: it refuses keys)."""
    document = app.openapi()["paths"]
    out: list[Operation] = []
    for path, methods, dependant in _routes(app):
        scopes = _declared_scopes(dependant)
        assert len(scopes) <= 1, f"{path} declares several scopes: {scopes}"
        for method in sorted(methods - {"HEAD", "OPTIONS"}):
            documented = document.get(path, {}).get(method.lower())
            if documented is None:  # not in the document (the console's static files)
                continue
            out.append(Operation(method, path, next(iter(scopes), None), bool(documented.get("security"))))
    return out


def api_key_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every operation that takes an integration API key."""
    return {(op.method, op.path) for op in operations(app) if op.scope is not None}
