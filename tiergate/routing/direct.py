"""The policy for a request that names a concrete model: serve it with that model.

The model's own deployments serve it; an id none serves may still match a family deployment
(``claude-*``, ``tiergate.providers.families``). Either way the request is checked against
what the catalog says the model can take (tools, images, context size) before anything is
sent, so that it fails at once with a 400 in the caller's format instead of upstream, or
half-way through a stream. An id the catalog does not know is not checked: nothing is known
about it.
"""

from __future__ import annotations

from tiergate.catalog import Catalog, ModelInfo
from tiergate.errors import InvalidRequest, NotFound
from tiergate.routing.plan import Plan, RoutingState, Tier
from tiergate.tokens import estimate_input_tokens
from tiergate.types import ChatRequest


class DirectPolicy:
    name = "direct"

    def __call__(self, request: ChatRequest, catalog: Catalog, state: RoutingState) -> Plan:
        model = catalog.get(request.model)
        deployments = state.deployments_for(model.id) if model is not None else ()
        if deployments:
            assert model is not None
            check_fits(request, model)
            return Plan(
                tiers=(Tier(model, deployments),),
                reason=f"requested model {model.id}",
                policy=self.name,
            )
        served = state.families.serve(request.model, model) if state.families else None
        if served is not None:
            if served.known:
                check_fits(request, served.model)
            return Plan(
                tiers=(Tier(served.model, (served.deployment,)),),
                reason=f"requested model {request.model}, served by the {served.pattern} family"
                + ("" if served.known else " (not in the catalog: unpriced)"),
                policy=self.name,
            )
        if model is None:
            catalog.resolve(request.model)  # raises NotFound, with close names as hints
        served_ids = sorted(state.deployments)
        raise NotFound(
            f"model {request.model!r} is in the catalog but no deployment serves it; "
            f"models served here: {', '.join(served_ids) or 'none'}",
            param="model",
        )


def check_fits(request: ChatRequest, model: ModelInfo) -> None:
    """Raise ``InvalidRequest`` when ``model`` cannot take the request: tools to a model
    without tool use, images or PDFs to a text-only model, a prompt over its context window.
    The output limit is left to the upstream (catalog figures for it are conservative)."""
    capabilities = model.capabilities
    if request.tools and "tools" not in capabilities:
        raise InvalidRequest(
            f"model {model.id} does not support tools; send the request without tools or "
            "to a model that has tool use",
            param="tools",
        )
    if "vision" not in capabilities and request.needs_vision():
        raise InvalidRequest(
            f"model {model.id} takes text only; it cannot read images or PDF documents",
            param="messages",
        )
    prompt = estimate_input_tokens(request)
    if prompt > model.context_window:
        raise InvalidRequest(
            f"the prompt is about {prompt} tokens, over the {model.context_window}-token "
            f"context window of model {model.id}",
            param="messages",
        )
