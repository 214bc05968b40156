"""Metrics (Prometheus) for the gateway."""
