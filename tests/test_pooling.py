"""Pooling (ch. 6) in the three backends: values and gradients, max-pooling's ties, L2's zero windows.

- On random inputs (no ties) torch and jax agree with the reference to 1e-12, forward and backward;
  a ragged border is dropped, and its gradient is 0.
- At ties each backend's gradient is pinned for both rules: "first" gives it all to the first
  maximum in row-major order, "all" in full to every tied maximum (an all-zero window: to all four).
  The frameworks' own rules, which "first" relies on, are confirmed: torch's max_pool2d and the
  gradient of lax.reduce_window go to the first maximum (and jnp.max would split it).
- L2 pooling on real MNIST digits, directly and after a correlation: gradients finite, equal in
  the three backends to 1e-12, and exactly 0 in all-zero windows; also in float32 and under jax.jit.
- JAX's pools under jit, vmap and lax.scan, in float32 and float64.
"""

import ast

import numpy as np
import pytest

from conformance.suite.results import relative_difference
from reference.convolution import correlate, input_gradient, weight_gradient
from reference.pooling import POOLS
from tests.backend_support import one_torch_thread
from tests.test_layout import ROOT, public_definitions

RULES = [("max", "first"), ("max", "all"), ("l2", "first")]  # L2Pool ignores ties
BACKENDS = ["numpy", "torch_impl", "jax_impl"]
FRAMEWORKS = {"torch_impl": "torch", "jax_impl": "jax"}


def relative(a, b) -> float:
    return relative_difference([(a,)], [(b,)])


def pool_numpy(name, ties, u, grad, size=2):
    """(pooled, dC/du) for dC/dpooled = grad, from the reference's backward."""
    pool = POOLS[name](size, ties)
    pooled = pool.fn(u)
    return pooled, pool.backward(u, pooled, grad)


def pool_torch_impl(name, ties, u, grad, size=2):
    """(pooled, dC/du) for dC/dpooled = grad, from autograd."""
    import torch

    from torch_impl.pooling import POOLS as TORCH_POOLS

    u = torch.tensor(u, requires_grad=True)
    pooled = TORCH_POOLS[name](size, ties).fn(u)
    pooled.backward(torch.tensor(grad))
    return pooled.detach().numpy(), u.grad.numpy()


def pool_jax_impl(name, ties, u, grad, size=2):
    """(pooled, dC/du) for dC/dpooled = grad, from jax.vjp (jitted: one compilation, not one per operation)."""
    import jax

    from jax_impl.pooling import POOLS as JAX_POOLS

    def forward_and_backward(u, grad):
        pooled, vjp = jax.vjp(JAX_POOLS[name](size, ties).fn, u)
        return pooled, vjp(grad)[0]

    return tuple(np.asarray(a) for a in jax.jit(forward_and_backward)(u, grad))


RUNNERS = {"numpy": pool_numpy, "torch_impl": pool_torch_impl, "jax_impl": pool_jax_impl}


def require(backend):
    """Skip the test if the backend's framework is missing; importing jax_impl turns x64 on."""
    if backend in FRAMEWORKS:
        pytest.importorskip(FRAMEWORKS[backend])
        pytest.importorskip(backend)


def runner(backend):
    """The backend's pool_* function."""
    require(backend)
    return RUNNERS[backend]


@pytest.fixture(scope="module", autouse=True)
def single_torch_thread():
    try:
        import torch  # noqa: F401
    except ImportError:
        yield
        return
    with one_torch_thread():
        yield


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch")


@pytest.fixture(scope="module")
def jax():
    pytest.importorskip("jax_impl")  # x64 on
    import jax

    return jax


@pytest.fixture(scope="module")
def digits(mnist):
    """The first 10 MNIST training images as (10, 1, 28, 28) float64: their blank margins are exact 0s."""
    return mnist.training.images[:10].reshape(10, 1, 28, 28).astype(np.float64)


def spread(pooled, size=2):
    """Each pooled value over its window (the ragged border left out)."""
    return np.repeat(np.repeat(pooled, size, axis=2), size, axis=3)


# -- random inputs: no ties; a ragged border -------------------------------------------------------


@pytest.mark.parametrize("size, shape", [(2, (3, 2, 5, 5)), (3, (3, 2, 8, 7))])
@pytest.mark.parametrize("name, ties", RULES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_random_inputs_agree_and_a_ragged_border_gets_no_gradient(backend, name, ties, size, shape):
    """Random normals (no ties): each backend's pooling and gradient equal the reference's to 1e-12.
    The rows and columns beyond the last whole window (row and column 4 of 5x5 at size 2; rows 6-7
    and column 6 of 8x7 at size 3) are dropped, and their gradient is 0."""
    rng = np.random.default_rng(size)
    rows, cols = shape[2] // size, shape[3] // size
    u, grad = rng.standard_normal(shape), rng.standard_normal((*shape[:2], rows, cols))
    pooled, du = runner(backend)(name, ties, u, grad, size)
    expected_pooled, expected_du = pool_numpy(name, ties, u, grad, size)
    assert pooled.shape == (*shape[:2], rows, cols)
    assert relative(pooled, pool_numpy(name, ties, u[:, :, : rows * size, : cols * size], grad, size)[0]) < 1e-12
    assert relative(pooled, expected_pooled) < 1e-12
    assert relative(du, expected_du) < 1e-12
    assert not du[:, :, rows * size :, :].any() and not du[:, :, :, cols * size :].any()


# -- max-pooling's ties ----------------------------------------------------------------------------

# a window with two tied maxima, at (0,1) and (1,0), and an all-zero window
TIED = np.array([[[[1, 3, 0, 0], [3, 2, 0, 0]]]], dtype=np.float64)
TIED_GRAD = np.array([[[[2, 3]]]], dtype=np.float64)
TIED_DU = {
    "first": np.array([[[[0, 2, 3, 0], [0, 0, 0, 0]]]]),
    "all": np.array([[[[0, 2, 3, 3], [2, 0, 3, 3]]]]),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ties", ["first", "all"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_max_pooling_gradient_at_ties(backend, ties, dtype):
    pooled, du = runner(backend)("max", ties, TIED.astype(dtype), TIED_GRAD.astype(dtype))
    assert np.array_equal(pooled, [[[[3, 0]]]])
    assert du.dtype == dtype
    assert np.array_equal(du, TIED_DU[ties])


# every 2x2 window tied: all four, (0,1) and (1,1), (1,0) and (1,1), (0,1) and (1,1) again
NATIVE_TIES = np.array([[[[5, 5, 0, 5, 0, 0, 0, 2], [5, 5, 5, 5, 5, 5, 1, 2]]]], dtype=np.float64)
FIRST_MAXIMA = np.array([[[[1, 0, 0, 1, 0, 0, 0, 1], [0, 0, 0, 0, 1, 0, 0, 0]]]], dtype=np.float64)


def test_torchs_max_pool2d_gives_the_gradient_to_the_first_maximum(torch):
    u = torch.tensor(NATIVE_TIES, requires_grad=True)
    torch.nn.functional.max_pool2d(u, 2).sum().backward()
    assert np.array_equal(u.grad.numpy(), FIRST_MAXIMA)


def test_lax_reduce_windows_gradient_goes_to_the_first_maximum(jax):
    def pooled_sum(u):
        return jax.lax.reduce_window(u, -np.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID").sum()

    assert np.array_equal(jax.grad(pooled_sum)(NATIVE_TIES), FIRST_MAXIMA)


def test_jnp_max_over_reshaped_windows_would_split_a_tie(jax):
    """Why jax_impl pools with lax.reduce_window: jnp.max's gradient shares a tie evenly."""
    du = jax.grad(lambda u: u.reshape(1, 1, 1, 2, 4, 2).max(axis=(3, 5)).sum())(NATIVE_TIES)
    assert np.array_equal(du[0, 0, :, :2], [[0.25, 0.25], [0.25, 0.25]])


@pytest.mark.parametrize("backend", BACKENDS)
def test_ties_must_be_first_or_all(backend):
    with pytest.raises(ValueError, match="ties"):
        runner(backend)("max", "last", TIED, TIED_GRAD)


# -- L2 pooling on MNIST: all-zero windows ---------------------------------------------------------


def test_a_plain_torch_sqrt_would_give_nan_gradients_at_all_zero_windows(torch, digits):
    """Why torch_impl writes L2 pooling with a double where."""
    u = torch.tensor(digits, requires_grad=True)
    torch.sqrt(torch.nn.functional.avg_pool2d(u * u, 2, divisor_override=1)).sum().backward()
    assert torch.isnan(u.grad).any()


def test_torchs_lp_pool2d_gives_0_at_all_zero_windows_through_its_relu(torch, digits):
    """What torch_impl's docstring says of F.lp_pool2d: not NaN, but no documented promise either."""
    u = torch.tensor(digits, requires_grad=True)
    torch.nn.functional.lp_pool2d(u, 2, 2).sum().backward()
    _, expected = pool_numpy("l2", "first", digits, np.ones((10, 1, 14, 14)))
    assert relative(u.grad.numpy(), expected) < 1e-12


def test_a_plain_jnp_sqrt_would_give_nan_gradients_at_all_zero_windows(jax, digits):
    """Why jax_impl writes L2 pooling with a double where."""

    def pooled_sum(u):
        return jax.numpy.sqrt((u * u).reshape(10, 1, 14, 2, 14, 2).sum(axis=(3, 5))).sum()

    assert np.isnan(jax.jit(jax.grad(pooled_sum))(digits)).any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_l2_pooling_of_mnist_digits(backend, digits):
    """Pooled directly, through a random linear readout: 0 in the all-zero windows, finite elsewhere."""
    readout = np.random.default_rng(2).standard_normal((10, 1, 14, 14))
    pooled, du = runner(backend)("l2", "first", digits, readout)
    expected_pooled, expected_du = pool_numpy("l2", "first", digits, readout)
    zero_windows = spread(expected_pooled == 0)
    assert zero_windows.sum() > 1000
    assert np.isfinite(du).all() and not du[zero_windows].any()
    assert relative(pooled, expected_pooled) < 1e-12
    assert relative(du, expected_du) < 1e-12


def l2_after_correlate_numpy(x, w, readout):
    """dC/du, dC/dw, dC/dx for C = sum(L2 pool(correlate(x, w)) * readout), by the reference's backprop."""
    _, du = pool_numpy("l2", "first", correlate(x, w), readout)
    return du, weight_gradient(x, du, w.shape), input_gradient(du, w, x.shape)


def l2_after_correlate_torch_impl(x, w, readout):
    """The same from autograd."""
    import torch

    from torch_impl.convolution import correlate as torch_correlate
    from torch_impl.pooling import POOLS as TORCH_POOLS

    x, w = (torch.tensor(a, requires_grad=True) for a in (x, w))
    u = torch_correlate(x, w)
    u.retain_grad()
    torch.sum(TORCH_POOLS["l2"](2, "first").fn(u) * torch.tensor(readout)).backward()
    return u.grad.numpy(), w.grad.numpy(), x.grad.numpy()


def l2_after_correlate_jax_impl(x, w, readout):
    """The same from jax.grad under jax.jit; dC/du is dC/dshift for a shift of u by 0."""
    import jax

    from jax_impl.convolution import correlate as jax_correlate
    from jax_impl.pooling import POOLS as JAX_POOLS

    def cost(shift, w, x):
        return (JAX_POOLS["l2"](2, "first").fn(jax_correlate(x, w) + shift) * readout).sum()

    shift = np.zeros(correlate(x, w).shape, x.dtype)
    return tuple(np.asarray(g) for g in jax.jit(jax.grad(cost, argnums=(0, 1, 2)))(shift, w, x))


L2_AFTER_CORRELATE = {
    "numpy": l2_after_correlate_numpy,
    "torch_impl": l2_after_correlate_torch_impl,
    "jax_impl": l2_after_correlate_jax_impl,
}


@pytest.mark.parametrize("dtype, bound", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("backend", BACKENDS)
def test_l2_pooling_after_a_correlation_of_mnist_digits(backend, dtype, bound, digits):
    """20 random 5x5 kernels, then L2 pooling, then a random readout, as a ConvPool layer before its bias."""
    require(backend)
    rng = np.random.default_rng(3)
    w, readout = rng.standard_normal((20, 1, 5, 5)), rng.standard_normal((10, 20, 12, 12))
    expected = l2_after_correlate_numpy(digits, w, readout)
    du, dw, dx = L2_AFTER_CORRELATE[backend](*(a.astype(dtype) for a in (digits, w, readout)))
    zero_windows = spread(POOLS["l2"](2, "first").fn(correlate(digits, w)) == 0)
    assert zero_windows.sum() > 1000
    assert not du[zero_windows].any()
    for got, want in zip((du, dw, dx), expected):
        assert got.dtype == dtype and np.isfinite(got).all()
        assert relative(got, want) < bound


# -- JAX's transformations ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype, bound", [(np.float64, 1e-12), (np.float32, 1e-6)])
@pytest.mark.parametrize("name, ties", RULES)
def test_jax_pools_under_jit_vmap_and_scan(jax, name, ties, dtype, bound):
    """Inputs of 0s and 1s: ties in most windows, and all-zero windows. One jit holds the vmap and the scan."""
    from jax_impl.pooling import POOLS as JAX_POOLS

    rng = np.random.default_rng(4)
    batches = rng.integers(0, 2, (4, 2, 3, 6, 5)).astype(dtype)
    readouts = rng.standard_normal((4, 2, 3, 3, 2)).astype(dtype)
    expected = np.stack([pool_numpy(name, ties, u, r)[1] for u, r in zip(batches, readouts)])
    pool = JAX_POOLS[name](2, ties)
    grad = jax.grad(lambda u, readout: (pool.fn(u) * readout).sum())

    def by_vmap_and_by_scan(batches, readouts):
        _, by_scan = jax.lax.scan(lambda carry, batch: (carry, grad(*batch)), 0, (batches, readouts))
        return jax.vmap(grad)(batches, readouts), by_scan

    for du in jax.jit(by_vmap_and_by_scan)(batches, readouts):
        assert du.dtype == dtype
        assert relative(du, expected) < bound


# -- the layout ------------------------------------------------------------------------------------


def methods(path):
    """{class: {method: docstring}} of a module's top-level classes."""
    classes = (node for node in ast.parse(path.read_text()).body if isinstance(node, ast.ClassDef))
    return {
        cls.name: {f.name: ast.get_docstring(f) or "" for f in cls.body if isinstance(f, ast.FunctionDef)}
        for cls in classes
        if not cls.name.startswith("_")
    }


@pytest.mark.parametrize("backend", ["reference", "torch_impl", "jax_impl"])
def test_the_backends_line_up_and_name_chapter_6(backend):
    """The same classes in the same order in POOLS; backward in the reference only; every method says ch. 6."""
    path = ROOT / backend / "pooling.py"
    assert public_definitions(path) == ["MaxPool", "L2Pool", "POOLS"]
    expected = ["__init__", "fn", "backward"] if backend == "reference" else ["__init__", "fn"]
    for name, docs in methods(path).items():
        assert list(docs) == expected, name
        assert all("ch. 6" in doc for doc in docs.values()), name
