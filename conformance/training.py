"""The shared epoch loop at its port-facing path: `prepare_data`, `evaluate` and the rest of
conformance/run/training.py, under the path the README promises to an outside port.
"""

from conformance.run.training import *  # the loop's public names, by design
