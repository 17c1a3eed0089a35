"""The book's headline figures, reproduced with the reference (minutes each: `pytest -m slow`)."""

import pytest

import reference
from conformance.presets import load_preset
from conformance.training import train

pytestmark = pytest.mark.slow


def run(mnist, preset):
    splits = {"training": mnist.training, "validation": mnist.validation, "test": mnist.test}
    history, _ = train(reference, load_preset(preset), splits, seed=0)
    return history


def test_chapter_1_net_reaches_95_percent(mnist):
    """The book: 95.42% test accuracy at the best epoch, best of three runs; one run, seed 0."""
    history = run(mnist, "ch1-sigmoid-30")
    assert max(record.test_accuracy for record in history.records) >= 0.95


def test_chapter_3_regularised_net_reaches_97_9_percent_validation(mnist):
    """The book: 98.04% validation accuracy at the best epoch; one run, seed 0."""
    history = run(mnist, "ch3-l2-100")
    assert history.best_validation.validation_accuracy >= 0.979
