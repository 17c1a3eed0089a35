"""An outside port, as `nndl conform` meets it: a verdict that cannot pass by accident, partial ports
taken as they are, a port's failures one line each, and reports a CI server reads.

Each port here is a few lines around the reference's Model, written into a temporary module, so that
each test plants exactly one behaviour: a decline, an exception, a hang, a misspelt import.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from conformance.suite import engine
from tests.cli_support import assert_one_line_error

pytestmark = pytest.mark.usefixtures("quick_mnist")  # the session's MNIST, read once

DENSE_GRADIENTS = "grad sigmoidx[12] "  # two float64 and two float32 gradient checks, one of them with dropout
SHORT_TRAINING = "train ch3-overfit-1000-l2 float64"  # 10 SGD steps, compared after each

MINIMAL_PORT = """
import reference
from conformance.contract import Unsupported

NAME = "{name}"


class Model:
    def __init__(self, spec, params, device="cpu"):
        self.inner = reference.Model(spec, params)
        self.spec = spec

    def train_epoch(self, data, plan, eta, on_step=None):
        self.inner.train_epoch(data, plan, eta, on_step)

    def gradients(self, x, y, masks, n):
        {gradients}
        return self.inner.gradients(x, y, masks, n)

    def parameters(self):
        return self.inner.parameters()

    def load(self, params):
        self.inner.load(params)
"""


@pytest.fixture
def port(tmp_path, monkeypatch):
    """Write an importable module from MINIMAL_PORT: NAME `name` (default: the module's), the line
    `gradients` first in Model.gradients, and `extra` at its end."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(module: str, gradients: str = "pass", extra: str = "", name: str | None = None) -> str:
        source = MINIMAL_PORT.format(name=name or module, gradients=gradients) + textwrap.dedent(extra)
        (tmp_path / f"{module}.py").write_text(source)
        return module

    return write


def flat(text: str) -> str:
    """The report with its 100-column wrapping undone."""
    return " ".join(text.split())


def test_a_minimal_port_conforms_and_every_figure_is_counted(nndl, port, tmp_path):
    name = port("minimal")
    path = tmp_path / "r.json"
    result = nndl("conform", "--backends", f"numpy,{name}", "--case", SHORT_TRAINING, "--json", path)
    assert result.code == 0, result.err
    assert "1 check ran, 0 failed: every backend conforms" in flat(result.out)
    report = json.loads(path.read_text())
    assert report["conforms"] and report["checks"] == 1 and report["not_run"] == []


def test_a_port_that_declines_has_n_a_rows_with_its_reason_and_the_other_pairs_run(nndl, port, tmp_path):
    extra = """
    def supports(spec):
        return "no dropout" if spec.network.has_dropout else None
    """
    name = port("nodropout", extra=extra)
    path = tmp_path / "r.json"
    result = nndl("conform", "--backends", f"numpy,{name},tests.toy_backend", "--case", DENSE_GRADIENTS, "--json", path)
    assert result.code == 0, result.err
    out = flat(result.out)
    assert "not applicable, so neither passed nor counted: 4 checks: nodropout declines: no dropout" in out
    assert "10 checks ran, 0 failed: every backend conforms" in out
    rows = json.loads(path.read_text())["results"]
    declined = [row for row in rows if row["not_applicable"]]
    assert {row["pair"] for row in declined} == {"nodropout vs numpy", "toy vs nodropout"}
    assert all(row["value"] is None and row["no_value"] == "nodropout declines: no dropout" for row in declined)
    assert all(row["passed"] and row["value"] == 0 for row in rows if row["pair"] == "toy vs numpy")


def test_unsupported_raised_by_a_model_is_a_decline(nndl, port):
    name = port(
        "f64only",
        gradients='if x.dtype != "float64" or self.spec.training.dtype != "float64": raise Unsupported("float64 only")',
    )
    result = nndl("conform", "--backends", f"numpy,{name}", "--case", "grad sigmoidx1 ")
    assert result.code == 0, result.err
    assert "1 check: f64only declines: float64 only" in flat(result.out)


def test_a_port_that_declines_everything_is_not_a_verdict(nndl, port):
    name = port("nothing", extra="\ndef supports(spec):\n    return 'nothing yet'\n")
    result = nndl("conform", "--backends", f"numpy,{name}", "--case", DENSE_GRADIENTS)
    assert result.code == 1
    out = flat(result.out)
    assert "not a verdict: no pair of backends was compared (name at least two in --backends); " in out
    assert "the nothing backend ran no check" in out and "every backend conforms" not in out


def test_an_exception_in_a_ports_method_fails_that_check_in_one_line_and_the_run_goes_on(nndl, port, tmp_path):
    name = port("raiser", gradients='if masks[0] is not None: raise ValueError("masks\\n  not handled")')
    path = tmp_path / "r.json"
    result = nndl("conform", "--backends", f"numpy,{name}", "--case", DENSE_GRADIENTS, "--json", path)
    assert result.code == 1 and "Traceback" not in result.out + result.err
    line = (
        "the raiser backend's Model.gradients raised ValueError: masks not handled "
        "(in grad sigmoidx2 sigmoid/cross_entropy l2 dropout default float64)"
    )
    assert line in flat(result.out)
    rows = json.loads(path.read_text())["results"]
    failed = [row for row in rows if not row["passed"]]
    assert [row["case"].split()[-1] for row in failed] == ["float64", "float32"]  # the two dropout cases
    assert all(row["value"] is None and row["error"].startswith("the raiser backend's") for row in failed)
    assert sum(1 for row in rows if row["passed"] and row["pair"] == "raiser vs numpy") == 2  # the others ran
    shown = nndl("conform", "--backends", f"numpy,{name}", "--case", "grad sigmoidx2 .* float64", "--traceback")
    assert "Traceback (most recent call last)" in shown.err and 'raise ValueError("masks' in shown.err


def test_a_function_left_unwritten_fails_it_is_not_a_decline(nndl, port):
    name = port("unwritten", gradients="raise NotImplementedError")
    result = nndl("conform", "--backends", f"numpy,{name}", "--case", "grad sigmoidx1 .* float64")
    assert result.code == 1
    out = flat(result.out)
    assert "the unwritten backend's Model.gradients raised NotImplementedError (a function not written yet)" in out
    assert "not applicable" not in out


def test_a_port_that_hangs_fails_that_check_when_its_time_is_up(nndl, port):
    name = port("hangs", gradients="while True: pass")
    result = nndl("conform", "--backends", f"numpy,{name}", "--case", "grad sigmoidx1 .* float64", "--timeout", "1")
    assert result.code == 1
    assert (
        "the hangs backend's Model.gradients ran past the time limit (1 s of its own methods in one check; --timeout)"
        in flat(result.out)
    )


def test_a_port_named_like_a_built_in_or_twice_is_refused_in_one_line(nndl, port):
    """Issue 19: a port whose NAME was "numpy" silently replaced the reference."""
    port("impostor", name="numpy")
    assert_one_line_error(
        nndl("conform", "--backends", "numpy,impostor"),
        "impostor's NAME 'numpy' is reserved for nndl's own numpy backend (reference): give the port a name of its own",
    )
    port("twin", name="toy")
    assert_one_line_error(
        nndl("conform", "--backends", "numpy,tests.toy_backend,twin"),
        "--backends names two backends called 'toy' (tests.toy_backend and twin): each needs a NAME of its own",
    )
    port("spaced", name="finite differences")
    assert_one_line_error(nndl("conform", "--backends", "numpy,spaced"), "spaced's NAME 'finite differences' cannot")


def test_a_contract_version_of_another_nndl_is_one_line(nndl, port):
    name = port("future", extra="\nCONTRACT_VERSION = 2\n")
    assert_one_line_error(
        nndl("conform", "--backends", f"numpy,{name}"),
        "future was written for version 2 of the backend contract, and this nndl speaks version 1",
    )


def test_the_json_is_strict_null_and_a_reason_where_no_number_applies(nndl, tmp_path):
    path = tmp_path / "r.json"
    result = nndl(
        "conform", "--backends", "numpy,tests.toy_backend", "--case", "grad conv1 max-all tanh", "--json", path
    )
    assert result.code == 0, result.err

    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    report = json.loads(path.read_text(), parse_constant=refuse)  # NaN, Infinity and -Infinity refused
    finite_differences = [row for row in report["results"] if row["pair"] == "numpy vs finite differences"]
    assert finite_differences and all(row["value"] is None for row in finite_differences)
    assert all("network3's rule" in row["no_value"] for row in finite_differences)


def test_the_junit_xml_has_each_check_and_a_failure_with_its_explanation(nndl, tmp_path):
    path = tmp_path / "conform.xml"
    result = nndl(
        "conform", "--backends", "numpy,tests.broken_bp2_backend", "--case", "grad sigmoidx2 .* float64",
        "--explain", "--junit-xml", path,
    )  # fmt: skip
    assert result.code == 1
    suite = next(iter(JUnitXml.fromfile(str(path))))
    cases = {(case.classname, case.name): case for case in suite}
    assert len(cases) == suite.tests == 2
    broken = cases["grad sigmoidx2 sigmoid/cross_entropy l2 dropout default float64", "gradient: bp2bug vs numpy"]
    (failure,) = broken.result
    assert isinstance(failure, Failure) and "gradient, bp2bug vs numpy" in failure.message
    assert failure.text.startswith("layer 3 (output): fine\nlayer 2: dC/dW")
    assert "delta^2 is the first wrong delta" in failure.text and "BP2 through layer 3" in failure.text
    assert suite.failures == 1 and suite.errors == 0 and suite.skipped == 0
    assert not cases[
        "grad sigmoidx2 sigmoid/cross_entropy l2 dropout default float64", "gradient: numpy vs finite differences"
    ].result


def test_the_junit_xml_marks_a_ports_exception_an_error_and_a_decline_skipped(nndl, port, tmp_path):
    name = port(
        "partial",
        gradients="assert masks[0] is None, 'no dropout here'",
        extra="""
    def supports(spec):
        return "float64 only" if spec.training.dtype != "float64" else None
    """,
    )
    path = tmp_path / "conform.xml"
    result = nndl("conform", "--backends", f"numpy,{name}", "--case", DENSE_GRADIENTS, "--junit-xml", path)
    assert result.code == 1
    results = [case.result[0] for case in next(iter(JUnitXml.fromfile(str(path)))) if case.result]
    assert [type(found) for found in results] == [Error, Skipped, Skipped]
    assert "raised AssertionError: no dropout here" in results[0].message
    assert results[1].message == "partial declines: float64 only"


def test_case_takes_several_patterns_and_list_prints_the_configurations(nndl):
    listed = nndl("conform", "--list", "--case", "^train ch1", "--case", "ensemble")
    assert listed.code == 0
    lines = listed.out.strip().splitlines()
    assert lines[0] == "4 configurations in --quick matching --case:"
    assert lines[1] == "  train ch1-sigmoid-30 float64: first 10 steps, one epoch, correct counts"
    assert lines[3].startswith("  ensemble of 4: dropout relu-100 softmax 200 images: members, one epoch")
    full = nndl("conform", "--list", "--full")
    assert full.out.startswith(f"{len(engine.planned_checks('full'))} configurations in --full:")


def test_the_nndl_script_finds_a_port_in_the_folder_it_runs_in(port, tmp_path):
    """A learner runs `nndl conform --backends numpy,myport` beside myport.py, with no PYTHONPATH."""
    port("beside")
    script = Path(sys.executable).parent / "nndl"
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    arguments = [str(script), "conform", "--backends", "numpy,beside", "--case", "grad sigmoidx1 .* float64"]
    finished = subprocess.run(
        arguments, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300, check=False
    )
    assert finished.returncode == 0, finished.stderr
    assert "2 checks ran, 0 failed: every backend conforms" in flat(finished.stdout)
