"""Training with the reference: it learns, it is deterministic, and it follows the spec's rules."""

from dataclasses import replace

import numpy as np
import pytest

import reference
from conformance.data.streams import batch_bounds, epoch_plan, initial_parameters
from conformance.run.training import prepare_data, train, train_epoch
from conformance.spec.errors import DivergenceError
from conformance.spec.presets import load_preset
from reference.baseline import bare_epoch, per_example_epoch, per_example_gradients
from reference.network import Network, backprop
from reference.train import sgd_step
from tests.nets import random_batch, tiny_spec


def splits(mnist, train_size=None):
    training = mnist.training if train_size is None else mnist.training.first(train_size)
    return {"training": training, "validation": mnist.validation, "test": mnist.test}


def test_the_chapter_1_net_learns_mnist_in_one_epoch(mnist):
    spec = load_preset("ch1-sigmoid-30").with_changes("training", epochs=1)
    history, _ = train(reference, spec, splits(mnist), seed=0)
    assert history.records[0].test_accuracy > 0.90
    assert history.records[0].validation_accuracy > 0.90


def test_the_same_seed_gives_bitwise_the_same_run(mnist):
    spec = load_preset("ch3-l2-30").with_changes("training", epochs=2)
    runs = [train(reference, spec, splits(mnist, 2000), seed=7) for _ in range(2)]
    (history_a, model_a), (history_b, model_b) = runs
    assert history_a.records[-1].test_correct == history_b.records[-1].test_correct
    for (wa, ba), (wb, bb) in zip(model_a.parameters(), model_b.parameters()):
        np.testing.assert_array_equal(wa, wb)
        np.testing.assert_array_equal(ba, bb)
    other, _ = train(reference, spec, splits(mnist, 2000), seed=8)
    assert [r.training_cost for r in other.records] != [r.training_cost for r in history_a.records]


def test_a_spec_that_skips_the_training_set_evaluates_only_validation_and_test(mnist, monkeypatch, nndl):
    """network3's protocol: the ch6 presets evaluate the validation and test sets after each epoch, not
    the training set; the run is the same, its records say None for the training set."""
    spec = load_preset("ch3-l2-30").with_changes("training", epochs=1)
    skipping = spec.with_changes("training", epochs=1, evaluate_training_set=False)
    evaluated_sizes = []
    evaluate = reference.Model.evaluate
    monkeypatch.setattr(
        reference.Model, "evaluate", lambda self, x, *rest: evaluated_sizes.append(len(x)) or evaluate(self, x, *rest)
    )
    (full, _), (skipped, _) = (train(reference, s, splits(mnist, 500), seed=3) for s in (spec, skipping))
    assert sum(evaluated_sizes) == 2 * 20_000 + 500  # validation and test in both runs, training once
    record = skipped.records[0]
    assert record.training_cost is None and record.training_accuracy is None
    assert (record.validation_correct, record.test_correct) == (
        full.records[0].validation_correct,
        full.records[0].test_correct,
    )
    assert all(load_preset(name).training.evaluate_training_set is False for name in ("ch6-conv2-relu", "ch6-dropout"))
    result = nndl("train", "--preset", "ch6-fc100-sigmoid", "--epochs", "1", "--train-size", "200", "--quiet")
    assert result.code == 0 and "validation" in result.out and "training cost" not in result.out


@pytest.mark.parametrize("dropout", [0.0, 0.4])
@pytest.mark.parametrize("cost", ["quadratic", "cross_entropy", "log_likelihood"])
def test_the_books_per_example_algorithm_gives_the_same_gradients(cost, dropout):
    spec = tiny_spec(hidden=("sigmoid", "tanh"), cost=cost, dropout=dropout)
    params = initial_parameters(spec.network, seed=0)
    x, y, masks = random_batch(spec, m=9, seed=0)
    for (w, b), (slow_w, slow_b) in zip(
        backprop(Network(spec.network), params, x, y, masks), per_example_gradients(spec.network, params, x, y, masks)
    ):
        np.testing.assert_allclose(w, slow_w, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(b, slow_b, rtol=1e-12, atol=1e-15)


def test_a_last_shorter_batch_divides_by_its_own_size():
    """25 examples in batches of 10: the third step averages over 5, as the per-example algorithm does."""
    spec = tiny_spec(regularizer="l2", lmbda=1.0, dropout=0.2)
    rng = np.random.default_rng(0)
    images, labels = rng.random((25, 6)), rng.integers(0, 4, 25)
    data = prepare_data(reference.asarray, images, labels, 4, "float64")
    plan = epoch_plan(spec, 25, epoch=1, seed=0)
    model = reference.Model(spec, initial_parameters(spec.network, seed=0))
    model.train_epoch(data, plan, eta=0.5)
    slow = [(w.copy(), b.copy()) for w, b in initial_parameters(spec.network, seed=0)]
    per_example_epoch(spec, slow, data.x, data.y, plan, eta=0.5)
    for (w, b), (slow_w, slow_b) in zip(model.parameters(), slow):
        np.testing.assert_allclose(w, slow_w, rtol=1e-12)
        np.testing.assert_allclose(b, slow_b, rtol=1e-12)


@pytest.mark.parametrize("preset", ["ch1-sigmoid-30", "ch3-l2-30"])
def test_the_bare_loop_does_bitwise_the_same_arithmetic_as_the_reference(mnist, preset):
    spec = load_preset(preset)
    data = prepare_data(reference.asarray, mnist.training.images[:3000], mnist.training.labels[:3000], 10, "float64")
    plan = epoch_plan(spec, 3000, epoch=1, seed=0)
    model = reference.Model(spec, initial_parameters(spec.network, seed=0))
    model.train_epoch(data, plan, spec.training.eta)
    bare = reference.Model(spec, initial_parameters(spec.network, seed=0)).params
    bare_epoch(bare, data.x, data.y, plan.order, 10, spec.training.eta, spec.network.cost, spec.training.lmbda)
    for (w, b), (bare_w, bare_b) in zip(model.params, bare):
        np.testing.assert_array_equal(w, bare_w)
        np.testing.assert_array_equal(b, bare_b)


def test_divergence_names_the_first_step_with_nan_or_inf():
    spec = tiny_spec(hidden=("linear", "linear"), cost="log_likelihood", eta=100.0, init="large", sizes=[6, 20, 20, 4])
    rng = np.random.default_rng(0)
    data = prepare_data(reference.asarray, rng.random((200, 6)) * 50, rng.integers(0, 4, 200), 4, "float64")
    plan = epoch_plan(spec, 200, epoch=1, seed=0)
    with pytest.raises(DivergenceError) as raised:
        model = reference.Model(spec, initial_parameters(spec.network, seed=0))
        train_epoch(model, data, plan, 100.0, spec.training.batch_size)
    assert (raised.value.epoch, raised.value.step) == (1, first_non_finite_step(spec, data, plan))
    assert "smaller eta" in str(raised.value)


def first_non_finite_step(spec, data, plan):
    """Step by hand until a parameter is NaN or inf."""
    params = [(w.copy(), b.copy()) for w, b in initial_parameters(spec.network, seed=0)]
    no_masks = [None] * len(params)
    for step, (start, stop) in enumerate(batch_bounds(len(plan.order), spec.training.batch_size), start=1):
        batch = plan.order[start:stop]
        with np.errstate(all="ignore"):
            grads = backprop(Network(spec.network), params, data.x[batch], data.y[batch], no_masks)
            sgd_step(spec.training, params, grads, spec.training.eta, len(plan.order))
        if not all(np.isfinite(array).all() for layer in params for array in layer):
            return step
    raise AssertionError("the run did not diverge")


def test_float32_training_stays_float32_and_near_float64(mnist):
    runs = {}
    for dtype in ("float32", "float64"):
        spec = load_preset("ch3-xent-30").with_changes("training", epochs=1, dtype=dtype)
        runs[dtype] = train(reference, spec, splits(mnist, 1000), seed=0)
    (history32, model32), (history64, model64) = runs["float32"], runs["float64"]
    assert all(w.dtype == np.float32 and b.dtype == np.float32 for w, b in model32.params)
    for (w32, b32), (w64, b64) in zip(model32.params, model64.params):
        np.testing.assert_allclose(w32, w64, atol=1e-3)
        np.testing.assert_allclose(b32, b64, atol=1e-3)
    assert abs(history32.records[0].test_correct - history64.records[0].test_correct) <= 10


class ScriptedBackend:
    """A backend whose validation accuracy follows a script: to test the schedule alone."""

    def __init__(self, validation_correct):
        self.script = iter(validation_correct)
        self.etas = []
        backend = self

        class Model:
            def __init__(self, spec, params, device):
                self.spec = spec

            def train_epoch(self, data, plan, eta, on_step=None):
                backend.etas.append(eta)

            def evaluate(self, x, labels, y):
                return (next(backend.script) if x[0, 0] == SPLIT_CODES["validation"] else 1), 5.0

            def penalty(self, n):
                return 0.0

            def parameters(self):
                return []

        self.Model = Model

    @staticmethod
    def asarray(array, device):
        return array


def scripted_run(validation_correct, done=(), on_epoch=None, **training):
    """A run whose epochs after those `done` see the scripted validation counts."""
    epochs = len(done) + len(validation_correct)
    spec = load_preset("ch1-sigmoid-30").with_changes("training", epochs=epochs, **training)
    backend = ScriptedBackend(validation_correct)
    splits = {name: _CodedSplit(name) for name in SPLIT_CODES}
    history, _ = train(backend, spec, splits, seed=0, done=done, on_epoch=on_epoch)
    return history, backend.etas


SPLIT_CODES = {"training": 1.0, "validation": 2.0, "test": 3.0}


class _CodedSplit:
    """Ten one-pixel examples whose pixel says which split they are, which the scripted backend reads."""

    def __init__(self, name):
        self.images, self.labels = np.full((10, 1), SPLIT_CODES[name]), np.zeros(10, dtype=int)

    def __len__(self):
        return 10


def test_early_stopping_after_n_epochs_without_a_new_best():
    history, _ = scripted_run([5, 6, 6, 7, 7, 7, 9, 9], early_stopping_patience=2)
    assert [r.epoch for r in history.records] == [1, 2, 3, 4, 5, 6]
    assert "early stopping" in history.stop_reason
    assert history.best_validation.epoch == 4


def test_the_schedule_halves_eta_and_stops_at_one_128th():
    history, etas = scripted_run([5] * 40, halve_eta_patience=3)
    eta0 = 3.0
    assert etas[:7] == [eta0, eta0, eta0, eta0, eta0 / 2, eta0 / 2, eta0 / 2]
    assert etas[-1] == eta0 / 64  # the last epoch trained; eta_0 / 128 is never used
    assert "128" in history.stop_reason
    assert len(history.records) == 1 + 3 * 7


def test_a_new_best_resets_the_schedules_count():
    _, etas = scripted_run([5, 5, 6, 6, 7, 7, 7, 7], halve_eta_patience=3)
    assert etas == [3.0] * 8


def untimed(records):
    return [replace(record, seconds=0.0, evaluation_seconds=0.0) for record in records]


@pytest.mark.parametrize(
    "script, schedule",
    [
        ([5, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 8, 8], {"halve_eta_patience": 2}),
        ([5, 6, 6, 7, 7, 7, 9], {"early_stopping_patience": 2}),
    ],
)
def test_a_run_taken_up_after_any_epoch_goes_on_as_the_run_left_alone(script, schedule):
    saved = []

    def save(history, model):
        saved.append(list(history.records))

    whole, whole_etas = scripted_run(script, on_epoch=save, **schedule)
    assert [len(records) for records in saved] == list(range(1, len(whole.records) + 1))  # after every epoch
    for done in saved:
        taken_up, etas = scripted_run(script[len(done) :], done=done, **schedule)
        assert untimed(taken_up.records) == untimed(whole.records)
        assert etas == whole_etas[len(done) :]
        assert taken_up.stop_reason == whole.stop_reason
