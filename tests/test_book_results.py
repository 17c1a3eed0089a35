"""The book's headline figures, reproduced in every installed backend, and the whole conformance
matrix (minutes each: `pytest -m slow`)."""

import pytest

from conformance.backend.registry import backend_names, load_backend
from conformance.run.training import train
from conformance.spec.errors import NndlError
from conformance.spec.presets import load_preset
from conformance.suite import engine

pytestmark = pytest.mark.slow


def backend_or_skip(name):
    try:
        return load_backend(name)
    except NndlError as error:
        pytest.skip(str(error))


def run(mnist, backend, preset):
    splits = {"training": mnist.training, "validation": mnist.validation, "test": mnist.test}
    history, _ = train(backend_or_skip(backend), load_preset(preset), splits, seed=0)
    return history


@pytest.mark.parametrize("backend", backend_names())
def test_chapter_1_net_reaches_95_percent(mnist, backend):
    """The book: 95.42% test accuracy at the best epoch, best of three runs; one run, seed 0."""
    history = run(mnist, backend, "ch1-sigmoid-30")
    assert max(record.test_accuracy for record in history.records) >= 0.95


def test_chapter_3_regularised_net_reaches_97_9_percent_validation(mnist):
    """The book: 98.04% validation accuracy at the best epoch; one run, seed 0 (the reference)."""
    history = run(mnist, "numpy", "ch3-l2-100")
    assert history.best_validation.validation_accuracy >= 0.979


def test_every_configuration_of_the_full_matrix_conforms(mnist):
    """`nndl conform --full`: 1,198 checks with numpy and torch, about 2 minutes."""
    outcome = engine.run_conformance("full", backend_names(), mnist, log=lambda message: None)
    assert not [f"{r.case} / {r.check} / {r.pair}: {r.value:.3g}" for r in outcome.failures]
    assert len(outcome.results) > 1000 or outcome.skipped
