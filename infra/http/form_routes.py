"""One route handler serving several forms: the same steps, each route reading the body as its own form's model."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel


def taking(handler: Callable[..., Awaitable[Any]], form: type[BaseModel], name: str) -> Callable[..., Awaitable[Any]]:
    """The handler as a route whose `body` is read as `form` (FastAPI reads the body's model from the signature);
    `name` is the route function's name, which the OpenAPI operation id is made from."""

    @functools.wraps(handler)
    async def route(*args: Any, **kwargs: Any) -> Any:
        return await handler(*args, **kwargs)

    signature = inspect.signature(handler, eval_str=True)
    route.__signature__ = signature.replace(parameters=[  # type: ignore[attr-defined]
        parameter.replace(annotation=form) if parameter.name == "body" else parameter
        for parameter in signature.parameters.values()
    ])
    route.__name__ = route.__qualname__ = name
    del route.__wrapped__  # type: ignore[attr-defined]  # FastAPI reads the signature above, not the handler's
    return route
