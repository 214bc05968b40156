"""Admission: a key's rate limit and budget, checked before the upstream call."""

from __future__ import annotations

from decimal import Decimal

from tiergate.cost import usd_of
from tiergate.errors import PermissionDenied
from tiergate.routing.plan import Plan
from tiergate.store.records import to_nano
from tiergate.tenancy.keys import KeyInfo
from tiergate.tenancy.ledger import Ledger, Reservation
from tiergate.tokens import estimate_input_tokens
from tiergate.types import ChatRequest, Usage


def worst_case_usd(request: ChatRequest, plan: Plan, input_tokens: int) -> Decimal | None:
    """The most the plan can cost: every tier may run (a ladder escalates), each with the
    request's input and its full ``max_tokens`` (or the model's max output) of output, and
    every tier but the last may be graded by the plan's validators, whose calls (a judge's,
    reading the question and that answer: ``Validator.max_usage``) are billed to the request
    they grade. None when a model involved has no price: then nobody can say."""
    total = Decimal(0)
    for index, tier in enumerate(plan.tiers):
        output = request.max_tokens or tier.model.max_output
        usd = usd_of(Usage(input_tokens=input_tokens, output_tokens=output), tier.model)
        if usd is None:
            return None
        total += usd
        if index == len(plan.tiers) - 1:
            break  # the last tier's answer is returned ungraded
        for validator in plan.validators:
            for model, usage in validator.max_usage(input_tokens, output):
                check = usd_of(usage, model)
                if check is None:
                    return None
                total += check
    return total


class Guard:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    async def admit(
        self,
        key: KeyInfo,
        request: ChatRequest,
        plan: Plan,
        request_id: str,
        *,
        keep: bool = False,
    ) -> Reservation | None:
        if key.budget_usd is None and key.rpm is None and key.tpm is None:
            return None  # nothing to enforce: no estimate, no store round trip
        tokens = estimate_input_tokens(request)
        await self.ledger.count_rate(key, tokens + (request.max_tokens or 0))
        if key.budget_usd is None:
            return None
        worst = worst_case_usd(request, plan, tokens)
        if worst is None:
            # A budget cannot be kept on a model without a price: refuse rather than let the
            # key spend without limit (the catalog leaves some models unpriced on purpose).
            models = [t.model for t in plan.tiers]
            models += [m for v in plan.validators for m, _ in v.max_usage(0, 0)]
            unpriced = next((m.id for m in models if m.pricing is None), "a model it uses")
            raise PermissionDenied(
                f"model {unpriced} has no price in the catalog, so a key with a budget cannot "
                "use it; give it a price under `models:` in the config, or use a key without "
                "a budget",
                param="model",
            )
        return await self.ledger.reserve(key, to_nano(worst) or 0, request_id, keep=keep)
