"""The model catalog: ids, aliases and pinned snapshots, capabilities, limits and prices.

Data lives in ``models.yaml`` (not code); the user's config ``models:`` entries override or add.
"""

from tiergate.catalog.loader import Catalog, load_catalog
from tiergate.catalog.models import ModelInfo, Pricing, Rates
from tiergate.config.models import CAPABILITIES

__all__ = ["CAPABILITIES", "Catalog", "ModelInfo", "Pricing", "Rates", "load_catalog"]
