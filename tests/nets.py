"""Small specs and batches for tests: tiny networks whose gradients can be checked by hand."""

import numpy as np

from conformance.spec.spec import Spec

OUTPUT_OF_COST = {"quadratic": "sigmoid", "cross_entropy": "sigmoid", "log_likelihood": "softmax"}


def tiny_spec(
    hidden=("sigmoid",),
    cost="cross_entropy",
    regularizer="none",
    lmbda=0.0,
    dropout=0.0,
    sizes=None,
    init="default",
    dtype="float64",
    batch_size=10,
    eta=0.5,
):
    """A spec with len(hidden) hidden layers; `dropout` applies to every layer's input."""
    sizes = sizes or [6] + [5] * len(hidden) + [4]
    activations = list(hidden) + [OUTPUT_OF_COST[cost]]
    layers = [
        {"type": "dense", "size": size, "activation": activation, "dropout": dropout}
        for size, activation in zip(sizes[1:], activations)
    ]
    return Spec.from_dict(
        {
            "name": "tiny",
            "network": {"input": sizes[0], "layers": layers, "cost": cost, "init": init},
            "training": {
                "epochs": 1,
                "batch_size": batch_size,
                "eta": eta,
                "regularizer": regularizer,
                "lmbda": lmbda,
                "dtype": dtype,
            },
        },
        "tests/nets.py",
    )


def random_batch(spec, m, seed):
    """Inputs in [0, 1), one-hot outputs, and dropout keep-masks for m examples."""
    rng = np.random.default_rng(seed)
    sizes = spec.network.sizes
    x = rng.random((m, sizes[0]))
    y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], m)]
    masks = [
        None if layer.dropout == 0 else rng.random((m, n_in)) >= layer.dropout
        for layer, n_in in zip(spec.network.layers, sizes)
    ]
    return x, y, masks
