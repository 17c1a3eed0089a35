"""The backend contract at its port-facing path: what `examples/my_backend` and an outside port import.

The contract lives in conformance/backend/contract.py; this module gives its public names under
the path the README promises, so that a port written against it keeps working.
"""

from conformance.backend.contract import *  # the whole public contract, by design
