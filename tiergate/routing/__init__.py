"""Routing: policies that turn a request into a plan (which models, in which order, checked how).

- ``plan``: Plan, Tier, Validator / Verdict, RoutingState, the Policy protocol.
- ``direct``: the request names a model; serve it with that model.
- ``routes``: ``build_policies`` builds the configured routes (selected by the requested model
  name) from the ``routes:`` YAML, validated by ``spec``.
- ``rules``, ``ladder``, ``learned_route``: the three route kinds.
- ``shadow``: a route that also tries a candidate model on a sample of its requests.
- ``rollout``: a route that serves a set share of its requests with a candidate model.
- ``capability``: capability filters and the per-request cost cap every route applies.
- ``validators``: checks between ladder rungs (JSON, schema, regex, labels, length, Python, judge).
- ``learned``: the trained router (scikit-learn), imported only by configs that use it.

Nothing is re-exported here on purpose: importing ``tiergate.routing.plan`` (as the executor
does) must not pull in every policy.
"""
