"""Exact cost of requests: per-call USD, platform credits, counterfactuals, projections."""

from tiergate.cost.credits import CreditPlan, credits_of
from tiergate.cost.engine import Cost, cache_savings_usd, cost_of, counterfactual_usd

__all__ = ["Cost", "CreditPlan", "cache_savings_usd", "cost_of", "counterfactual_usd", "credits_of"]
