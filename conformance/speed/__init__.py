"""Speed: the bench (each backend beside its baselines) and `--backend auto`, the fastest installed
backend for a net on this machine.

It imports the run wing and those below it; never the suite wing beside it.
"""
