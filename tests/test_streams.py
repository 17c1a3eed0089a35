"""The shared random streams: the same seed gives the same bits, every stream has the right law."""

import hashlib

import numpy as np
import pytest

from conformance.data import streams
from conformance.data.streams import batch_bounds, dropout_masks, epoch_order, epoch_plan, initial_parameters
from conformance.spec.presets import load_preset
from conformance.spec.spec import Spec
from tests.nets import tiny_spec

# sha256 of the draws for seed 0, taken once. A NumPy that draws other bits from PCG64, or
# a change to the streams, fails here, before any trajectory can drift.
GOLDEN_CH1_INIT = "b97a741fdbecc320e2155f62fb22378452fd2ae0aef30064e8d73756834b4fa3"
GOLDEN_ORDER = "888c3ef6a52dd6c1c445afefd7068ecaf7c3df182cdffbf0da52ed12f8974f6b"
GOLDEN_MASKS = "00d9f5985f598caa93f88a75927d137a7640467a9ec039af0a1da2c158781d3a"
# ch3-l2-30 with dropout 0.5 and 0.2 on its two layers' inputs, 3,000 examples, epoch 2, seed 7: the
# bits of the masks as drawn before they were drawn in chunks (one rng.random((n, n_in)) per layer)
GOLDEN_CHUNKED_MASKS = "ebd9a08c25e77680730c2b76515b74429132356d3058eb81901dbd2a35dcea4a"


def digest(*arrays):
    """sha256 of the arrays' bytes, little-endian whatever the machine."""
    sha = hashlib.sha256()
    for array in arrays:
        sha.update(np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes())
    return sha.hexdigest()


def test_the_draws_are_the_same_bits_on_every_run_and_machine():
    params = initial_parameters(load_preset("ch1-sigmoid-30").network, seed=0)
    assert digest(*[array for layer in params for array in layer]) == GOLDEN_CH1_INIT
    assert digest(epoch_order(50_000, epoch=1, seed=0)) == GOLDEN_ORDER
    assert digest(*dropout_masks(tiny_spec(dropout=0.5).network, 100, epoch=1, seed=0)) == GOLDEN_MASKS


def test_the_canonical_layout_and_the_two_inits():
    large = load_preset("ch1-sigmoid-100").network  # large init
    default = load_preset("ch3-l2-100").network  # default init, same sizes
    for network in (large, default):
        params = initial_parameters(network, seed=3)
        assert [(w.shape, b.shape) for w, b in params] == [((100, 784), (100,)), ((10, 100), (10,))]
        assert all(w.dtype == np.float64 and b.dtype == np.float64 for w, b in params)
    (w_large, b_large), _ = initial_parameters(large, seed=3)
    (w_default, b_default), _ = initial_parameters(default, seed=3)
    assert abs(w_large.std() - 1.0) < 0.01
    assert abs(w_default.std() - 1 / np.sqrt(784)) < 0.01 / np.sqrt(784)
    np.testing.assert_array_equal(b_large, b_default)  # biases are N(0, 1) in both
    np.testing.assert_array_equal(w_default, w_large / np.sqrt(784))


def test_seeds_give_different_draws_and_streams_are_independent():
    network = tiny_spec().network
    a, b = initial_parameters(network, seed=0), initial_parameters(network, seed=1)
    assert not np.array_equal(a[0][0], b[0][0])
    with_dropout = tiny_spec(dropout=0.5).network
    np.testing.assert_array_equal(initial_parameters(with_dropout, seed=0)[0][0], a[0][0])


def test_epoch_orders_are_permutations_that_change_each_epoch():
    first, second = epoch_order(1000, epoch=1, seed=0), epoch_order(1000, epoch=2, seed=0)
    np.testing.assert_array_equal(np.sort(first), np.arange(1000))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(epoch_order(1000, epoch=5, seed=0, shuffle=False), np.arange(1000))


def test_dropout_masks_keep_each_unit_with_probability_one_minus_p():
    spec = tiny_spec(dropout=0.3, sizes=[200, 100, 10])
    masks = dropout_masks(spec.network, 5000, epoch=1, seed=0)
    assert [mask.shape for mask in masks] == [(5000, 200), (5000, 100)]
    for mask in masks:
        assert mask.dtype == bool
        assert abs(mask.mean() - 0.7) < 0.005
    assert dropout_masks(tiny_spec().network, 10, epoch=1, seed=0) == [None, None]
    plan = epoch_plan(spec, 5000, epoch=2, seed=0)
    assert not np.array_equal(plan.masks[0], masks[0])


def test_the_last_batch_is_shorter():
    assert batch_bounds(25, 10) == [(0, 10), (10, 20), (20, 25)]
    assert batch_bounds(20, 10) == [(0, 10), (10, 20)]


@pytest.mark.parametrize("chunk", [streams.MASK_CHUNK_DRAWS, 784 * 3, 1000, 1])
def test_masks_drawn_in_chunks_have_the_bits_of_one_draw(monkeypatch, chunk):
    """However many rows of uniforms are drawn per call (all, three, one), the masks are the same."""
    monkeypatch.setattr(streams, "MASK_CHUNK_DRAWS", chunk)
    tree = load_preset("ch3-l2-30").to_dict()
    tree["network"]["layers"][0]["dropout"], tree["network"]["layers"][1]["dropout"] = 0.5, 0.2
    network = Spec.from_dict(tree).network
    masks = dropout_masks(network, 3000, epoch=2, seed=7)
    assert [mask.shape for mask in masks] == [(3000, 784), (3000, 30)]
    assert digest(*masks) == GOLDEN_CHUNKED_MASKS
