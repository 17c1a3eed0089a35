"""The shared spec, the shared random streams, the data, the training loop and the CLI: no torch or jax here."""
