"""The JAX backend: the same modules as reference/, with jax.grad and jit. Not written yet."""
