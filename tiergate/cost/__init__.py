"""Exact cost of requests: per-call USD, platform credits, counterfactuals, cache savings,
automatic prompt-cache breakpoints and workload projections. Rules in ``docs/cost.md``."""

from tiergate.cost.caching import Breakpoint, apply_cache_breakpoints, plan_cache_breakpoints
from tiergate.cost.credits import CreditPlan, credits_of
from tiergate.cost.engine import UNPRICED, Cost, cost_of, counterfactual_usd, rates_for, usd_of
from tiergate.cost.projection import DAYS_PER_MONTH, Projection, Workload, money, project_workload
from tiergate.cost.savings import cache_hit_rate, cache_savings_usd

__all__ = [
    "DAYS_PER_MONTH",
    "UNPRICED",
    "Breakpoint",
    "Cost",
    "CreditPlan",
    "Projection",
    "Workload",
    "apply_cache_breakpoints",
    "cache_hit_rate",
    "cache_savings_usd",
    "cost_of",
    "counterfactual_usd",
    "credits_of",
    "money",
    "plan_cache_breakpoints",
    "project_workload",
    "rates_for",
    "usd_of",
]
