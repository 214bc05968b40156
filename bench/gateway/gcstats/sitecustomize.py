"""Instrument (bench only): counts the cyclic collector's runs inside a tiergate process.

``gcstats.py`` puts this directory on the gateway's PYTHONPATH. SIGUSR1 zeroes the counters,
SIGUSR2 writes them as JSON to ``$GCSTATS_OUT``: collections per generation, the time they
took (from ``gc.callbacks``) and the objects they freed. With ``GCSTATS_DEFAULT=1`` the
gateway keeps Python's default threshold (700) instead of raising it at start-up, for the
side-by-side comparison.
"""

import gc
import json
import os
import signal
import time

_counts = [0, 0, 0]
_seconds = [0.0, 0.0, 0.0]
_freed = [0, 0, 0]
_started = [0.0]


def _callback(phase, info):
    generation = info["generation"]
    if phase == "start":
        _started[0] = time.perf_counter()
        return
    _counts[generation] += 1
    _seconds[generation] += time.perf_counter() - _started[0]
    _freed[generation] += info["collected"]


def _reset(signum, frame):
    for values in (_counts, _seconds, _freed):
        values[:] = [0] * 3


def _write(signum, frame):
    with open(os.environ["GCSTATS_OUT"], "w") as out:
        json.dump(
            {
                "collections": _counts,
                "seconds": _seconds,
                "freed": _freed,
                "threshold": gc.get_threshold(),
            },
            out,
        )


gc.callbacks.append(_callback)
signal.signal(signal.SIGUSR1, _reset)
signal.signal(signal.SIGUSR2, _write)
if os.environ.get("GCSTATS_DEFAULT") == "1":
    import tiergate.server.app

    tiergate.server.app.GC_YOUNG_THRESHOLD = 700  # tune_collector() then keeps the default
