"""The backend contract (conformance/backend/contract.py) and the registry (conformance/backend/registry.py).

A fourth backend comes in three ways with no change to the backend-free side: by its dotted path
(tests/toy_backend.py), and through the `nndl.backends` entry point that an installed package
declares (examples/my_backend, installed here as pip would leave it: a .dist-info on sys.path).
A backend that breaks the contract is one line naming what it lacks, never a traceback.
"""

import importlib.machinery
import re
import sys
import tomllib
import types
from pathlib import Path

import numpy as np
import pytest

import reference
from conformance.backend import contract
from conformance.backend.registry import BUILT_IN, backend_names, load_backend
from conformance.cli.options import DEVICES
from conformance.spec.errors import BackendContractError, NndlError, PortError
from tests import toy_backend
from tests.cli_support import SMALL_BENCH, assert_one_line_error, read_json

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "my_backend"
GRADIENT_CASE = "grad sigmoidx2"  # two small gradient checks (float64 and float32), with dropout and L2
TRAINING_CASE = "train ch3-overfit-1000-l2"  # 10 SGD steps, compared after each
SMALL_RUN = ("--preset", "ch3-xent-30", "--train-size", "500", "--epochs", "1", "--quiet")

pytestmark = pytest.mark.usefixtures("quick_mnist")  # the session's MNIST, read once


def installed(name: str):
    try:
        return load_backend(name)
    except NndlError as error:
        pytest.skip(str(error))


# -- the built-in backends ----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(BUILT_IN))
def test_each_built_in_backend_satisfies_the_contract_under_its_name(name):
    backend = installed(name)
    assert contract.contract_problems(backend) == []
    assert backend.NAME == name and "cpu" in backend.DEVICES


def test_the_devices_are_the_union_of_the_installed_backends_devices():
    devices = set()
    for name in backend_names():
        try:
            devices |= set(load_backend(name).DEVICES)
        except NndlError:
            continue
    assert set(DEVICES) == devices and "cpu" in DEVICES and "tpu" not in DEVICES


def test_the_check_reads_its_names_from_the_protocols():
    """Two names are required of a backend, and five methods of its Model; the rest are optional."""
    assert contract.required_names(contract.Backend) == ["NAME", "Model"]
    assert contract.required_names(contract.Model) == ["train_epoch", "gradients", "parameters", "load"]
    assert contract.required_names(contract.BackendExtras) == [
        "CONTRACT_VERSION",
        "FRAMEWORKS",
        "DEVICES",
        "COMPILES",
        "supports",
        "resolve_device",
        "synchronize",
        "asarray",
        "bench_rows",
    ]
    assert contract.required_names(contract.ModelExtras) == ["evaluate", "predict", "penalty"]


# -- a fourth backend, by its dotted path -------------------------------------------------------


def test_conform_runs_a_backend_named_by_its_dotted_path(nndl, tmp_path):
    for case in (GRADIENT_CASE, TRAINING_CASE):
        path = tmp_path / f"{case}.json"
        result = nndl("conform", "--backends", "numpy,tests.toy_backend", "--case", case, "--json", path)
        assert result.code == 0, result.out + result.err
        assert "toy/numpy" in result.out and read_json(path)["backends"] == ["numpy", "toy"]
        toy = [r for r in read_json(path)["results"] if r["pair"] == "toy vs numpy"]
        assert toy and all(r["passed"] and r["value"] == 0 for r in toy)  # it is the reference


def test_bench_times_a_backend_named_by_its_dotted_path(nndl, tmp_path):
    path = tmp_path / "bench.json"
    result = nndl("bench", *SMALL_BENCH, "--backends", "numpy,tests.toy_backend", "--json", path)
    assert result.code == 0, result.err
    rows = [row["name"] for row in read_json(path)["rows"]]
    assert rows == ["numpy reference", "numpy bare loop", "toy backend"]
    assert "parameters, reference vs toy backend: largest |difference| 0 after one step, 0 after the run" in result.out
    assert result.out.splitlines()[0].endswith(", toy on cpu")
    assert re.search(r", cpu: (numpy|toy), \S+ s an epoch \(against (toy|numpy) ", result.out.strip().splitlines()[-1])


def test_train_runs_a_backend_named_by_its_dotted_path(nndl, tmp_path):
    runs = {}
    for backend in ("numpy", "tests.toy_backend"):
        runs[backend] = tmp_path / f"{backend}.json"
        result = nndl("train", "--backend", backend, *SMALL_RUN, "--json", runs[backend])
        assert result.code == 0, result.err
    toy, numpy = read_json(runs["tests.toy_backend"]), read_json(runs["numpy"])
    assert toy["backend"] == "tests.toy_backend"
    assert toy["epochs"][0]["validation_correct"] == numpy["epochs"][0]["validation_correct"]


def test_an_unknown_dotted_path_is_one_line(nndl):
    result = nndl("conform", "--backends", "numpy,no_such_package_for_nndl.backend")
    assert_one_line_error(result, "unknown backend 'no_such_package_for_nndl.backend'", "dotted path")
    result = nndl("train", "--backend", "no_such_package_for_nndl", *SMALL_RUN)
    assert_one_line_error(result, "unknown backend 'no_such_package_for_nndl'", "numpy, torch, jax")


def test_a_named_module_that_cannot_be_imported_is_one_line_naming_its_import_error(nndl, tmp_path, monkeypatch):
    """A port that does not import never passes: issue 19's "skipped ... then every backend conforms"."""
    (tmp_path / "needs_a_framework.py").write_text("import no_such_framework_for_nndl\n")
    (tmp_path / "fails_as_it_loads.py").write_text("NAME = 'fails'\nraise RuntimeError('a bad\\nday')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = nndl("conform", "--backends", "numpy,needs_a_framework", "--case", GRADIENT_CASE)
    assert_one_line_error(
        result,
        "the backend 'needs_a_framework' cannot be imported: "
        "ModuleNotFoundError: No module named 'no_such_framework_for_nndl'",
    )
    result = nndl("conform", "--backends", "numpy,fails_as_it_loads", "--case", GRADIENT_CASE)
    assert_one_line_error(result, "the backend 'fails_as_it_loads' cannot be imported: RuntimeError: a bad day")


# -- a backend an installed package registers ------------------------------------------------


def install_example(site: Path, monkeypatch, entry_points: dict[str, str] | None = None) -> None:
    """examples/my_backend as `pip install -e` leaves it: the package importable, and a .dist-info on
    sys.path whose entry_points.txt declares what its pyproject.toml declares (or `entry_points`)."""
    pyproject = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())
    if entry_points is None:
        entry_points = pyproject["project"]["entry-points"]["nndl.backends"]
    dist_info = site / "nndl_my_backend-0.1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {pyproject['project']['name']}\nVersion: 0.1.0\n"
    )
    lines = [f"{name} = {module}" for name, module in entry_points.items()]
    (dist_info / "entry_points.txt").write_text("\n".join(["[nndl.backends]", *lines, ""]))
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.syspath_prepend(str(site))


def test_the_example_backend_satisfies_the_contract(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    import my_backend

    assert contract.contract_problems(my_backend) == []


def test_an_installed_package_registers_a_backend_through_its_entry_point(tmp_path, monkeypatch, nndl):
    install_example(tmp_path / "site-packages", monkeypatch)
    assert backend_names()[: len(BUILT_IN)] == list(BUILT_IN) and "my_backend" in backend_names()
    assert load_backend("my_backend").NAME == "my_backend"
    result = nndl("conform", "--backends", "numpy,my_backend", "--case", GRADIENT_CASE)
    assert result.code == 0, result.err
    assert "my_backend/numpy" in result.out and "every backend conforms" in result.out


def test_a_backend_registered_under_another_name_than_its_own_is_refused(tmp_path, monkeypatch):
    install_example(tmp_path / "site-packages", monkeypatch, {"mine": "my_backend"})
    with pytest.raises(BackendContractError, match="my_backend is registered as the mine backend, but its NAME is"):
        load_backend("mine")


# -- backends that break the contract ---------------------------------------------------------


class TransposedGradients(reference.Model):
    """The reference, but its gradients give dC/dW transposed: (n_in, n_out)."""

    def gradients(self, x, y, masks, n):
        return [(w.T, b) for w, b in super().gradients(x, y, masks, n)]


def reference_model_without(method: str) -> type:
    """A copy of the reference's Model class with one method left out."""
    return type("Model", (), {key: value for key, value in vars(reference.Model).items() if key != method})


@pytest.fixture
def fake_backend(monkeypatch):
    """Make a module `name`, importable by its dotted path: the toy backend's contract names, with
    `changes` (a name given None is left out)."""

    def make(name: str, **changes):
        module = types.ModuleType(name)
        module.__spec__ = importlib.machinery.ModuleSpec(name, loader=None)
        names = {key: getattr(toy_backend, key) for key in contract.required_names(contract.Backend)}
        names.update({"NAME": name, **changes})
        vars(module).update({key: value for key, value in names.items() if value is not None})
        monkeypatch.setitem(sys.modules, name, module)

    return make


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"Model": reference_model_without("gradients")},
            (
                "it has no Model.gradients (the gradient of a batch's mean cost plus the regulariser's term, "
                "which conformance compares)"
            ),
        ),
        ({"NAME": None}, "it has no NAME (what --backends and the report call the backend)"),
        ({"DEVICES": "cpu"}, "its DEVICES is 'cpu', not a tuple of str"),
        (
            {"Model": reference_model_without("load"), "NAME": None},
            (
                "it has no NAME (what --backends and the report call the backend); it has no Model.load (set the "
                "parameters from the canonical layout: how a run resumes, and how checks restart a model)"
            ),
        ),
        ({"bench_rows": 3}, "its bench_rows is not a function"),
        ({"supports": "dense only"}, "its supports is not a function"),
        ({"Ensemble": type("Ensemble", (), {"train_epoch": print})}, "it has no Ensemble.parameters"),
    ],
    ids=[
        "no Model.gradients",
        "no NAME",
        "DEVICES a string",
        "two names missing",
        "bench_rows not a function",
        "supports not a function",
        "an Ensemble without parameters",
    ],
)
def test_conform_says_in_one_line_what_a_backend_lacks(nndl, fake_backend, changes, problem):
    fake_backend("breaker", **changes)
    result = nndl("conform", "--backends", "numpy,breaker")
    assert_one_line_error(result, f"breaker breaks the backend contract: {problem}")


def test_train_refuses_in_one_line_a_model_without_the_evaluate_it_needs(nndl, fake_backend):
    fake_backend("breaker", Model=reference_model_without("evaluate"))
    assert_one_line_error(
        nndl("train", "--backend", "breaker", *SMALL_RUN),
        "the breaker backend's Model has no evaluate: optional in the backend contract, but nndl train reports "
        "each epoch's accuracy with it",
    )


def test_bench_times_a_minimal_backend_by_its_models_row(nndl, fake_backend):
    """NAME and a Model of five methods: bench derives the backend's row from its Model."""
    fake_backend("minimal", Model=reference_model_without("evaluate"))
    result = nndl("bench", *SMALL_BENCH, "--backends", "numpy,minimal")
    assert result.code == 0, result.err
    assert "minimal backend" in result.out


def test_gradients_of_the_wrong_shape_fail_their_check_in_one_line_naming_the_array(nndl, fake_backend):
    fake_backend("transposed", Model=TransposedGradients)
    result = nndl("conform", "--backends", "numpy,transposed", "--case", GRADIENT_CASE)
    assert result.code == 1 and "Traceback" not in result.err + result.out
    out = " ".join(result.out.split())  # the report wraps its lines at 100 columns
    assert (
        "the transposed backend's Model.gradients gave layer 0 W of shape (784, 30), expected (30, 784), "
        "which breaks the backend contract (in grad sigmoidx2" in out
    )
    assert "3 checks ran, 2 failed" in out  # its float64 and float32 gradients; and numpy against finite differences


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ([(np.zeros((3, 2)), np.zeros(3))], "1 layers, expected 2"),
        ([(np.zeros((3, 2)), np.zeros(3)), (np.zeros((1, 3)), [0.0])], "a list as layer 1 b, expected a NumPy array"),
        ([(np.zeros((3, 2)), np.zeros(3)), (np.zeros((1, 3)),)], "1 arrays for layer 1, expected (W, b)"),
        ({"W": 1}, "a dict, expected a list of (W, b) pairs"),
    ],
)
def test_the_layout_check_names_what_is_wrong(params, problem):
    shapes = [((3, 2), (3,)), ((1, 3), (1,))]
    with pytest.raises(PortError) as raised:
        contract.check_layout(params, shapes, "toy", "Model.parameters")
    assert str(raised.value) == f"the toy backend's Model.parameters gave {problem}, which breaks the backend contract"


def test_the_layout_check_passes_the_canonical_layout():
    shapes = [((3, 2), (3,)), ((1, 3), (1,))]
    contract.check_layout([(np.zeros(w), np.zeros(b)) for w, b in shapes], shapes, "toy", "Model.parameters")


def test_parameters_of_the_wrong_shape_are_caught_in_training_checks(nndl, fake_backend):
    class TransposedParameters(reference.Model):
        def parameters(self):
            return [(w.T.copy(), b.copy()) for w, b in self.params]

    fake_backend("transposed_parameters", Model=TransposedParameters)
    result = nndl("conform", "--backends", "numpy,transposed_parameters", "--case", TRAINING_CASE)
    assert result.code == 1 and "Traceback" not in result.err + result.out
    out = " ".join(result.out.split())  # the report wraps its lines at 100 columns
    assert (
        "the transposed_parameters backend's Model.parameters gave layer 0 W of shape (784, 30), expected "
        "(30, 784), which breaks the backend contract (in train ch3-overfit-1000-l2 float64)" in out
    )


def test_the_port_facing_paths_give_every_public_name_of_the_modules_they_stand_for():
    """README, "What a port imports": conformance.contract and conformance.training stay importable."""
    import conformance.contract
    import conformance.training
    from conformance.run import training

    for shim, module in ((conformance.contract, contract), (conformance.training, training)):
        public = {name for name in vars(module) if not name.startswith("_")}
        assert public <= set(vars(shim)), f"{shim.__name__} lacks {public - set(vars(shim))}"
        assert all(getattr(shim, name) is getattr(module, name) for name in public)


def test_the_example_port_imports_only_the_port_facing_paths():
    import ast
    from pathlib import Path

    source = Path(__file__).resolve().parents[1] / "examples/my_backend/my_backend/__init__.py"
    imported = {node.module for node in ast.walk(ast.parse(source.read_text())) if isinstance(node, ast.ImportFrom)}
    assert {module for module in imported if module.startswith("conformance")} == {
        "conformance.contract",
        "conformance.training",
    }
