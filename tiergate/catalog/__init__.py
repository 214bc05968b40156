"""The model catalog: ids, aliases and pinned snapshots, capabilities, limits and prices.

Data lives in ``models.yaml`` (not code); the user's config can override or add models.
"""

from tiergate.catalog.loader import Catalog, load_catalog
from tiergate.catalog.models import ModelInfo, Pricing, Rates

__all__ = ["Catalog", "ModelInfo", "Pricing", "Rates", "load_catalog"]
