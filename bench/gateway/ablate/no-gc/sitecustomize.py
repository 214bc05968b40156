"""Ablation (bench only): tiergate with Python's cyclic garbage collector off.

``ab.py --variant no-gc`` puts this directory on the gateway's PYTHONPATH. Reference counting
still frees almost everything; only the collector's periodic scans of young objects stop. The
difference to the full pipeline is what those scans cost per request, end to end.
"""

import gc

gc.disable()
