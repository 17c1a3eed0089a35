"""The valid cross-correlation of ch. 6 and the reference's backprop through it, in float64.

- correlate against its definition (a loop over pixels, written here in the test only), and the
  three backends against each other;
- the reference's weight_gradient and input_gradient (ch. 6's backprop problem) against central
  finite differences of C = sum(correlate(x, w) * R), and against torch autograd and jax.grad.
Shapes have kh != kw and H != W, and several channels and filters, so that no transposed axis
goes unseen.
"""

import numpy as np
import pytest

from conformance.suite.gradients import finite_difference_gradients
from conformance.suite.results import relative_difference
from reference.convolution import correlate, input_gradient, weight_gradient
from tests.backend_support import one_torch_thread
from tests.test_layout import ROOT, public_definitions

SHAPES = [((2, 3, 7, 6), (4, 3, 3, 2)), ((3, 1, 8, 9), (2, 1, 5, 5))]  # (x, w)
REFERENCE_ONLY = ["weight_gradient", "input_gradient"]  # what autograd and jax.grad derive


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    with one_torch_thread():
        yield torch


@pytest.fixture(scope="module")
def jax():
    jax = pytest.importorskip("jax")
    import jax_impl  # noqa: F401  (x64 on)

    return jax


def relative(a, b) -> float:
    return relative_difference([(a,)], [(b,)])


def case(x_shape, w_shape, seed=0):
    """x, w and a random readout R of correlate's output, so that C = sum(correlate(x, w) * R)."""
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    out_shape = (x_shape[0], w_shape[0], x_shape[2] - w_shape[2] + 1, x_shape[3] - w_shape[3] + 1)
    return x, w, rng.standard_normal(out_shape)


def correlate_by_definition(x, w):
    """y[n,f,i,j] = sum_{c,p,q} x[n,c,i+p,j+q] w[f,c,p,q], one pixel at a time."""
    m, _, h, width = x.shape
    filters, _, kh, kw = w.shape
    y = np.zeros((m, filters, h - kh + 1, width - kw + 1))
    for n, f, i, j in np.ndindex(y.shape):
        y[n, f, i, j] = np.sum(x[n, :, i : i + kh, j : j + kw] * w[f])
    return y


def torch_gradients(torch, x, w, r):
    """(y, dC/dx, dC/dw) of C = sum(correlate(x, w) * R), from autograd."""
    from torch_impl.convolution import correlate as torch_correlate

    x, w = (torch.tensor(a, requires_grad=True) for a in (x, w))
    y = torch_correlate(x, w)
    torch.sum(y * torch.tensor(r)).backward()
    return y.detach().numpy(), x.grad.numpy(), w.grad.numpy()


def jax_gradients(jax, x, w, r, way="correlate"):
    """(y, dC/dx, dC/dw) of C = sum(correlate(x, w) * R), from jax.grad (jitted: one compilation)."""
    from jax_impl import convolution

    jax_correlate = getattr(convolution, way)
    dx, dw = jax.jit(jax.grad(lambda x, w: (jax_correlate(x, w) * r).sum(), argnums=(0, 1)))(x, w)
    return np.asarray(jax.jit(jax_correlate)(x, w)), np.asarray(dx), np.asarray(dw)


@pytest.mark.parametrize("x_shape, w_shape", SHAPES)
def test_correlate_is_the_definition(x_shape, w_shape):
    x, w, _ = case(x_shape, w_shape)
    y = correlate(x, w)
    assert y.shape == (x_shape[0], w_shape[0], x_shape[2] - w_shape[2] + 1, x_shape[3] - w_shape[3] + 1)
    assert relative(y, correlate_by_definition(x, w)) < 1e-12


def test_correlate_keeps_float32():
    x, w, _ = case(*SHAPES[0])
    assert correlate(x.astype(np.float32), w.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("x_shape, w_shape", SHAPES)
def test_weight_and_input_gradients_match_finite_differences(x_shape, w_shape):
    x, w, r = case(x_shape, w_shape)
    [(fd_x, fd_w)] = finite_difference_gradients(lambda trial: np.sum(correlate(*trial[0]) * r), [(x.copy(), w.copy())])
    assert relative(weight_gradient(x, r, w.shape), fd_w) < 1e-9
    assert relative(input_gradient(r, w, x.shape), fd_x) < 1e-9


@pytest.mark.parametrize("x_shape, w_shape", SHAPES)
def test_torch_autograd_agrees(torch, x_shape, w_shape):
    x, w, r = case(x_shape, w_shape)
    y, dx, dw = torch_gradients(torch, x, w, r)
    assert relative(y, correlate(x, w)) < 1e-12
    assert relative(dw, weight_gradient(x, r, w.shape)) < 1e-12
    assert relative(dx, input_gradient(r, w, x.shape)) < 1e-12


@pytest.mark.parametrize("x_shape, w_shape", SHAPES)
def test_jax_grad_agrees(jax, x_shape, w_shape):
    x, w, r = case(x_shape, w_shape)
    y, dx, dw = jax_gradients(jax, x, w, r)
    assert relative(y, correlate(x, w)) < 1e-12
    assert relative(dw, weight_gradient(x, r, w.shape)) < 1e-12
    assert relative(dx, input_gradient(r, w, x.shape)) < 1e-12


@pytest.mark.parametrize("x_shape, w_shape", SHAPES)
@pytest.mark.parametrize("way", ["correlate", "correlate_in_scan"])
def test_both_of_jaxs_ways_agree_with_the_reference(jax, way, x_shape, w_shape):
    """JAX correlates by XLA's convolution, and inside a scan by a matrix product on the CPU."""
    x, w, r = case(x_shape, w_shape, seed=1)
    y, dx, dw = jax_gradients(jax, x, w, r, way)
    assert relative(y, correlate(x, w)) < 1e-12
    assert relative(dw, weight_gradient(x, r, w.shape)) < 1e-12
    assert relative(dx, input_gradient(r, w, x.shape)) < 1e-12


def test_jaxs_first_layer_correlation_in_a_scan_is_the_references_bitwise(jax):
    """network3's tie rule sends a window's gradient to every tied maximum: the ties must be the same
    in every backend. MNIST's plateaus of equal pixels tie windows of a first layer, and those ties
    survive where its correlations are equal to the last bit (chapter 6's first layer, float64)."""
    from jax_impl.convolution import correlate_in_scan

    rng = np.random.default_rng(2)
    x, w = rng.random((10, 1, 28, 28)).round(2), rng.standard_normal((20, 1, 5, 5))
    assert np.array_equal(np.asarray(jax.jit(correlate_in_scan)(x, w)), correlate(x, w))


@pytest.mark.parametrize("backend", ["torch_impl", "jax_impl"])
def test_the_backends_share_the_references_names_in_its_order(backend):
    names = [name for name in public_definitions(ROOT / "reference" / "convolution.py") if name not in REFERENCE_ONLY]
    scan_only = ["correlate_in_scan"] if backend == "jax_impl" else []  # XLA's CPU convolution in a loop: jax only
    assert public_definitions(ROOT / backend / "convolution.py") == names + scan_only == ["correlate", *scan_only]
