"""The README's walkthrough "Check your own port": a learner's port (examples/learner_port) that runs
`nndl conform --quick` whole, declining what it cannot run; its copy with BP2 broken, which
`--explain` names; and the ports that must not pass: one that cannot be imported, one named "numpy".
"""

import sys

import pytest

from tests.cli_support import assert_one_line_error, read_json

pytestmark = pytest.mark.usefixtures("quick_mnist")  # the session's MNIST, read once

PORT = "examples.learner_port.adapter"
BROKEN_PORT = "examples.learner_port.broken_bp2"


@pytest.fixture
def port_module(tmp_path, monkeypatch):
    """Write a port module into a folder on sys.path; it is forgotten after the test."""
    monkeypatch.syspath_prepend(tmp_path)
    written = []

    def write(name: str, source: str) -> str:
        (tmp_path / f"{name}.py").write_text(source)
        written.append(name)
        return name

    yield write
    for name in written:
        sys.modules.pop(name, None)


# --quick's checks that the port does not run, by reason: the one optional name it leaves out, and
# what its `supports` declines (the first reason that applies to a configuration)
QUICK_NOT_APPLICABLE = {
    "learner has no perceptron module (optional in the contract)": 1,
    "learner declines: dense layers only": 35,
    "learner declines: sigmoid neurons only": 34,
    "learner declines: no dropout": 2,
    "learner declines: no L1": 3,
    "learner declines: float64 only": 3,
}


def conform_json(nndl, tmp_path, port: str, *options):
    """`nndl conform` of numpy against `port`: (the result, its output as one line, its JSON)."""
    path = tmp_path / "conform.json"
    result = nndl("conform", "--backends", f"numpy,{port}", *options, "--json", path)
    return result, " ".join(result.out.split()), read_json(path)


def ran(report, backend: str) -> list[dict]:
    """The checks of `backend` that ran: neither n/a nor left out."""
    return [r for r in report["results"] if backend in r["pair"].split(" vs ") and not r["not_applicable"]]


def test_the_learners_port_conforms_in_the_whole_quick_run(nndl, tmp_path):
    """The walkthrough's command, as the README shows it: no --case, the port declining what it cannot run.

    25 to 60 s on 2 cores, as measured with the machine quiet and busy.
    """
    result, out, report = conform_json(nndl, tmp_path, PORT, "--quick")
    assert result.code == 0, result.out + result.err
    assert "learner/numpy" in result.out
    for reason, count in QUICK_NOT_APPLICABLE.items():
        assert f"{count} check{'s' if count > 1 else ''}: {reason}" in out, reason
    declined = [r["not_applicable"] for r in report["results"] if "learner" in r["pair"] and r["not_applicable"]]
    assert len(declined) == sum(QUICK_NOT_APPLICABLE.values()) and set(declined) == set(QUICK_NOT_APPLICABLE)
    assert report["failed"] == 0
    assert report["checks"] == len([r for r in report["results"] if not r["not_applicable"]]) == 37
    assert "37 checks ran, 0 failed: every backend conforms" in out
    assert sorted({r["case"] for r in ran(report, "learner")}) == [
        "grad sigmoidx1 sigmoid/quadratic none no-dropout large float64",
        "train ch1-sigmoid-30 float64",
        "train ch3-l2-30 float64",
        "train ch3-overfit-1000-l2 float64",
        "train ch3-xent-30 float64",
        "train ch5-depth-4 float64",
    ]
    assert max(r["value"] for r in ran(report, "learner") if r["check"] != "one epoch") < 1e-14


def test_the_learners_port_with_bp2_broken_fails_with_bp2_named(nndl, tmp_path):
    result, out, report = conform_json(
        nndl, tmp_path, BROKEN_PORT, "--explain", "--case", "^grad sigmoidx1 sigmoid/quadratic none no-dropout large"
    )
    assert result.code == 1, result.out + result.err
    assert report["failed"] == 1
    assert "layer 2 (output): fine layer 1: dC/dW 4.6e-02 off (relative 2.3e+00" in out
    assert (
        "-> delta^1 is the first wrong delta (dC/db^1 = delta^1, BP3): BP2 through layer 2's weights, "
        "delta^1 = ((W^2)^T delta^2) * sigma'(z^1)"
    ) in out


def test_a_port_that_cannot_be_imported_fails_naming_its_import_error(nndl, port_module):
    name = port_module("misspelt_port", 'import nmupy  # numpy, mistyped\n\nNAME = "misspelt"\n')
    result = nndl("conform", "--backends", f"numpy,{name}", "--case", "grad sigmoidx1")
    assert_one_line_error(result, name, "ModuleNotFoundError: No module named 'nmupy'")
    assert "conforms" not in result.out


def test_a_port_named_numpy_is_refused_in_one_line(nndl, port_module):
    """A port with every name of the contract, required and optional, whose NAME is the reference's."""
    name = port_module("impostor_port", 'from tests.toy_backend import *  # noqa: F403\n\nNAME = "numpy"\n')
    result = nndl("conform", "--backends", f"numpy,{name}", "--case", "grad sigmoidx1")
    assert_one_line_error(result, f"{name}'s NAME 'numpy' is reserved")
    assert "conforms" not in result.out
