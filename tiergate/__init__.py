"""tiergate: an LLM gateway that routes each request to the cheapest model that does it well."""

__version__ = "0.1.0"
