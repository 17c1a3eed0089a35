"""The conformance suite: the matrix of cases, the tolerance policy, the checks, the engine that
runs them pair by pair, the report, and --explain.

It imports the run wing and those below it; never the speed wing beside it.
"""
