"""Wire formats: pure translate functions between HTTP JSON bodies and ``tiergate.types``.

One module per format (``openai``, ``anthropic``), each covering both directions: serving
clients (decode request, encode response / stream / error) and calling upstreams (encode
request, decode response / stream / error).
"""
