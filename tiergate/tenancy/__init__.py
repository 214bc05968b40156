"""Tenants, virtual keys, budgets and rate limits (state in the store, shared by replicas)."""

from tiergate.tenancy.guard import Guard
from tiergate.tenancy.keys import KeyInfo, KeyStore
from tiergate.tenancy.ledger import Ledger, Reservation

__all__ = ["Guard", "KeyInfo", "KeyStore", "Ledger", "Reservation"]
