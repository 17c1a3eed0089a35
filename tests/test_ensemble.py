"""`nndl ensemble`: the plurality vote and its tie rule, members trained one by one or (JAX) as one
computation, members from checkpoints of any backend, and the one-line errors."""

import json
import time

import numpy as np
import pytest

from conformance.backend.registry import load_backend
from conformance.book import ensemble
from conformance.data.streams import epoch_plan, initial_parameters
from conformance.run import resume, session
from conformance.run.checkpoint import load_checkpoint
from conformance.run.training import prepare_data, train, train_together
from conformance.spec.errors import NndlError
from conformance.spec.spec import Spec
from conformance.suite.ensembles import check_ensemble
from conformance.suite.matrix import ENSEMBLE_CASES
from tests.cli_support import DIVERGING_SPEC, assert_one_line_error, forbid_training

pytestmark = pytest.mark.usefixtures("quick_mnist", "no_cache_no_download")

TINY = ("--preset", "ch3-xent-30", "--train-size", "200", "--epochs", "1", "--quiet")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# -- the vote ---------------------------------------------------------------------------------


def test_the_vote_is_the_class_most_members_chose():
    predictions = np.array([[3, 1, 0], [3, 2, 9], [4, 2, 9], [3, 2, 9], [4, 1, 0]])  # 5 members, 3 examples
    assert ensemble.plurality_vote(predictions, 10).tolist() == [3, 2, 9]


def test_a_tie_goes_to_the_lowest_class_among_the_most_voted():
    predictions = np.array(
        [
            [7, 5, 9, 8],
            [3, 5, 2, 8],
            [7, 1, 9, 6],
            [3, 1, 2, 6],
            [0, 0, 4, 5],
        ]
    )
    # example by example, twice each: 7 and 3; 5 and 1 (0, lower, once only); 9 and 2; 8 and 6
    assert ensemble.plurality_vote(predictions, 10).tolist() == [3, 1, 2, 6]


def test_one_member_is_its_own_vote():
    assert ensemble.plurality_vote(np.array([[4, 0, 9]]), 10).tolist() == [4, 0, 9]


def test_member_seeds_count_up_from_the_seed():
    assert ensemble.member_seeds(7, 3) == [7, 8, 9]
    with pytest.raises(NndlError, match="--members 0: an ensemble needs at least 1 member"):
        ensemble.member_seeds(7, 0)


def test_the_outcome_counts_the_votes_errors_and_reports_them():
    outcome = ensemble.Outcome(
        [ensemble.Member("seed 0", 3), ensemble.Member("seed 1", 2)], np.array([1, 2, 3, 0]), np.array([1, 2, 3, 4])
    )
    assert outcome.errors.tolist() == [3]
    assert outcome.correct == 3
    assert ensemble.report(outcome).splitlines() == [
        "member 1, seed 0: test accuracy 75.00% (3 / 4)",
        "member 2, seed 1: test accuracy 50.00% (2 / 4)",
        "plurality vote of 2: test accuracy 75.00% (3 / 4), 1 errors (a tie goes to the lowest class among the most voted)",
    ]


# -- ensembles trained as one (torch and JAX) -------------------------------------------------


@pytest.mark.parametrize(("backend", "largest"), [("torch", 1e-15), ("jax", 0.0)])
def test_dense_members_trained_as_one_equal_each_member_alone(mnist, backend, largest):
    """The conformance check's dense case (dropout, shuffled: each member its own order and masks).
    Measured: JAX's members bitwise, torch's within 1.3e-16."""
    splits = {"training": mnist.training, "validation": mnist.validation, "test": mnist.test}
    [result] = check_ensemble(ENSEMBLE_CASES[0], {backend: load_backend(backend)}, splits, "cpu")
    assert len(result.detail["per_member"]) == 4
    assert max(result.detail["per_member"]) <= largest
    assert result.passed


def small_conv_spec(**training) -> Spec:
    tree = {
        "name": "small conv",
        "network": {
            "input": [1, 28, 28],
            "layers": [
                {"type": "conv", "filters": 3, "kernel": 5, "pool": 2, "activation": "relu"},
                {"type": "dense", "size": 20, "activation": "relu", "dropout": 0.5},
                {"type": "dense", "size": 10, "activation": "softmax"},
            ],
            "cost": "log_likelihood",
            "init": "network3",
        },
        "training": {"epochs": 1, "batch_size": 10, "eta": 0.1, "shuffle": False, **training},
    }
    return Spec.from_dict(tree, "test_ensemble.py")


def members_together_and_alone(backend_name, spec, training_split, seeds, etas):
    backend = load_backend(backend_name)
    data = prepare_data(backend.asarray, training_split.images, training_split.labels, 10, spec.training.dtype)
    members = [initial_parameters(spec.network, seed) for seed in seeds]
    plans = [epoch_plan(spec, len(training_split), 1, seed) for seed in seeds]
    together = backend.Ensemble(spec, members)
    together.train_epoch(data, plans, etas)
    alone = []
    for params, plan, eta in zip(members, plans, etas):
        model = backend.Model(spec, params)
        model.train_epoch(data, plan, eta)
        alone.append(model.parameters())
    return members, together.parameters(), alone


def largest_difference(params_a, params_b):
    return max(
        float(np.max(np.abs(a - b))) for pair_a, pair_b in zip(params_a, params_b) for a, b in zip(pair_a, pair_b)
    )


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_conv_members_sharing_an_order_trained_as_one_equal_each_alone_within_rounding(mnist, backend):
    spec = small_conv_spec()
    _, together, alone = members_together_and_alone(backend, spec, mnist.training.first(100), [0, 1], [0.1, 0.1])
    differences = [largest_difference(a, b) for a, b in zip(together, alone)]
    assert max(differences) < 1e-14  # measured: a few ulps (a vmapped convolution is a grouped one)
    assert largest_difference(together[0], together[1]) > 0.1  # two members, not one twice


def test_jax_splits_the_members_into_groups_of_two_or_more_one_per_core():
    """Groups run side by side, one per CPU device; jax_impl makes one device per core."""
    import jax

    from jax_impl.train import _member_groups

    cpu = jax.devices("cpu")
    groups = {k: [indices for _, indices in _member_groups(k, cpu[0])] for k in (1, 2, 3, 4, 5)}
    assert [[i for group in groups[k] for i in group] for k in groups] == [list(range(k)) for k in groups]
    assert all(len(group) >= 2 for k in (2, 3, 4, 5) for group in groups[k])
    assert len(groups[5]) == min(2, len(cpu))  # 2 cores: members 1-3 on one, 4-5 on the other
    assert [place for place, _ in _member_groups(5, cpu[0])] == cpu[: len(groups[5])]


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_a_member_with_eta_0_stays_as_it_was(mnist, backend):
    """How train_together keeps a member that stopped early."""
    spec = small_conv_spec()
    members, together, alone = members_together_and_alone(backend, spec, mnist.training.first(50), [3, 4], [0.1, 0.0])
    assert largest_difference(together[1], members[1]) == 0.0
    assert largest_difference(together[0], alone[0]) < 1e-14


def test_bench_times_members_trained_as_one_against_one_member(nndl_bench):
    code, out, err = nndl_bench(
        "--preset", "ch3-xent-30", "--train-size", "300", "--repeat", "1", "--no-per-example",
        "--backends", "numpy,jax", "--members", "2",
    )  # fmt: skip
    assert code == 0, err
    row = next(line.split() for line in out.splitlines() if line.startswith("  jax ensemble of 2 "))
    assert float(row[4]) > 0
    ratio = next(line for line in out.splitlines() if line.startswith("jax ensemble of 2 / jax backend: "))
    assert ratio.endswith("x (target: at most 1.2x (3x for 5 members))")
    compared = next(line for line in out.splitlines() if "reference vs jax ensemble of 2" in line)
    after_one_step = float(compared.split("largest |difference| ")[1].split()[0])
    assert after_one_step < 1e-15  # member 1 follows the bench's plans from the bench's parameters


def test_bench_refuses_no_members(nndl_bench):
    code, _, err = nndl_bench("--preset", "ch3-xent-30", "--members", "0")
    assert code == 2 and err.strip() == "nndl: error: --members 0: an ensemble needs at least 1 member"


# -- the command ------------------------------------------------------------------------------


def member_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(("member 1,", "member 2,", "plurality vote"))]


@pytest.fixture(scope="module")
def numpy_members(tmp_path_factory, mnist_path, quick_mnist):
    """Two tiny members trained one by one by the reference, saved, with the vote's JSON and plot."""
    from conformance import cli

    folder = tmp_path_factory.mktemp("ensemble")
    args = ["ensemble", *TINY, "--members", "2", "--seed", "5", "--backend", "numpy", "--data", str(mnist_path)]
    args += ["--save-members", str(folder / "members"), "--json", str(folder / "vote.json")]
    args += ["--plot", str(folder / "errors.png")]
    assert cli.main(args) == 0
    return folder


def test_the_members_are_the_runs_of_their_seeds(numpy_members, mnist):
    vote = json.loads((numpy_members / "vote.json").read_text())
    spec = Spec.from_dict(vote["spec"], "the vote's JSON")
    splits = {"training": mnist.training.first(200), "validation": mnist.validation, "test": mnist.test}
    for seed, member in zip((5, 6), vote["members"]):
        history, model = train(load_backend("numpy"), spec, splits, seed)
        assert member == {
            "origin": f"seed {seed}",
            "test_correct": history.records[-1].test_correct,
            "test_accuracy": history.records[-1].test_accuracy,
        }
        saved = load_checkpoint(numpy_members / "members" / f"member-{seed - 4}" / "last.npz")
        assert saved.metadata["seed"] == seed and saved.metadata["epochs_trained"] == 1
        assert largest_difference(saved.params, model.parameters()) == 0.0


def test_the_vote_json_and_plot(numpy_members):
    vote = json.loads((numpy_members / "vote.json").read_text())
    assert vote["tie_rule"] == "the lowest class among the most voted"
    assert vote["vote"]["errors"] == 10_000 - vote["vote"]["test_correct"] == len(vote["vote"]["error_indices"])
    assert (numpy_members / "errors.png").read_bytes().startswith(PNG_MAGIC)


@pytest.mark.parametrize(("backend", "options"), [("torch", ()), ("jax", ()), ("jax", ("--one-by-one",))])
def test_torch_and_jax_train_the_members_as_one_and_get_the_references_counts(nndl, numpy_members, backend, options):
    numpy_vote = json.loads((numpy_members / "vote.json").read_text())
    result = nndl("ensemble", *TINY, "--members", "2", "--seed", "5", "--backend", backend, *options)
    assert result.code == 0, result.err
    header = "2 members (seeds 5 to 6)" + ("" if options else ", trained as one")
    assert f"{header}\n" in result.out
    correct = [member["test_correct"] for member in numpy_vote["members"]]
    lines = member_lines(result.out)
    assert lines[0].endswith(f"({correct[0]} / 10000)") and lines[1].endswith(f"({correct[1]} / 10000)")
    assert f"({numpy_vote['vote']['test_correct']} / 10000), {numpy_vote['vote']['errors']} errors" in lines[2]


def test_members_already_saved_are_loaded_not_trained(nndl, numpy_members, monkeypatch):
    monkeypatch.setattr(session, "train", lambda *args, **kwargs: pytest.fail("a saved member was trained again"))
    folder = numpy_members / "members"
    result = nndl("ensemble", *TINY, "--members", "2", "--seed", "5", "--backend", "numpy", "--save-members", folder)
    assert result.code == 0, result.err
    assert f"member 2 (seed 6): trained already, in {folder / 'member-2'}" in result.err
    assert_one_line_error(
        nndl("ensemble", *TINY, "--members", "2", "--seed", "6", "--save-members", folder),
        f"{folder / 'member-1'} holds a member of another run",
    )


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_a_killed_ensemble_goes_on_from_each_members_last_epoch(nndl, tmp_path, monkeypatch, backend):
    two_epochs = (*TINY, "--epochs", "2", "--members", "2", "--seed", "5", "--backend", backend)
    assert nndl("ensemble", *two_epochs, "--json", tmp_path / "alone.json").code == 0
    folder = tmp_path / "members"
    save = resume.RunRecorder.save

    def killed_after_member_2s_first_epoch(recorder, history, model):
        save(recorder, history, model)
        if recorder.folder.name == "member-2" and history.records[-1].epoch == 1:
            raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(resume.RunRecorder, "save", killed_after_member_2s_first_epoch)
        assert nndl("ensemble", *two_epochs, "--save-members", folder).code == 130
    result = nndl("ensemble", *two_epochs, "--save-members", folder, "--json", tmp_path / "resumed.json")
    assert result.code == 0, result.err
    assert "member 2 (seed 6): going on after epoch 1" in result.err
    if backend == "jax":  # both members were saved after epoch 1: they go on as they trained, as one
        assert "member 1 (seed 5): going on after epoch 1" in result.err
        assert "members 1, 2 go on as one computation" in result.err
    alone, resumed = (json.loads((tmp_path / f"{name}.json").read_text()) for name in ("alone", "resumed"))
    assert resumed["members"] == alone["members"] and resumed["vote"] == alone["vote"]


def test_from_checkpoints_of_two_backends_votes_alike_in_every_backend(nndl, tmp_path):
    saved = []
    for seed, backend in ((1, "numpy"), (2, "torch"), (3, "jax")):
        path = tmp_path / f"{backend}.npz"
        assert nndl("train", *TINY, "--seed", seed, "--backend", backend, "--save", path).code == 0
        saved.append(path)
    votes = {}
    for backend in ("numpy", "torch", "jax"):
        result = nndl("ensemble", "--from", *saved, "--backend", backend, "--json", tmp_path / f"{backend}.json")
        assert result.code == 0, result.err
        votes[backend] = json.loads((tmp_path / f"{backend}.json").read_text())
        assert member_lines(result.out)[0].startswith(f"member 1, {saved[0]}: test accuracy")
    assert votes["torch"]["vote"] == votes["numpy"]["vote"] == votes["jax"]["vote"]


# -- errors -----------------------------------------------------------------------------------


@pytest.fixture
def two_members(nndl, tmp_path):
    paths = [tmp_path / "a.npz", tmp_path / "b.npz"]
    for seed, path in enumerate(paths):
        assert nndl("train", *TINY, "--seed", seed, "--save", path).code == 0
    return paths


def test_from_a_checkpoint_that_is_not_there(nndl, two_members, tmp_path):
    assert_one_line_error(
        nndl("ensemble", "--from", two_members[0], tmp_path / "nope.npz"), "no checkpoint at", "nope.npz"
    )


def test_from_checkpoints_of_two_networks(nndl, two_members, tmp_path):
    other = tmp_path / "other.npz"
    assert (
        nndl(
            "train", "--preset", "ch3-xent-100", "--train-size", "100", "--epochs", "1", "--quiet", "--save", other
        ).code
        == 0
    )
    assert_one_line_error(
        nndl("ensemble", "--from", *two_members, other),
        f"{other} holds a network of sizes [784, 100, 10], not the ensemble's [784, 30, 10]",
    )


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--members", "0", *TINY), ("--members 0: an ensemble needs at least 1 member",)),
        (("--members", "-2", *TINY), ("--members -2",)),
        (("--quiet",), ("name the members: --preset NAME or --spec FILE", "--from")),
    ],
)
def test_bad_options_are_refused_before_training(nndl, monkeypatch, args, fragments):
    forbid_training(monkeypatch)
    assert_one_line_error(nndl("ensemble", *args), *fragments)


def test_members_and_from_must_agree(nndl, two_members):
    assert_one_line_error(nndl("ensemble", "--from", *two_members, "--members", "3"), "--members 3 but --from names 2")
    assert_one_line_error(nndl("ensemble", "--from", *two_members, "--save-members", "x"), "--save-members")


@pytest.mark.parametrize("option", ["--plot", "--json"])
def test_an_existing_output_is_refused_before_training(nndl, monkeypatch, tmp_path, option):
    existing = tmp_path / "there"
    existing.write_text("the user's")
    forbid_training(monkeypatch)
    assert_one_line_error(nndl("ensemble", *TINY, option, existing), str(existing), "already exists", "--overwrite")
    assert existing.read_text() == "the user's"


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_a_diverging_member_is_named_with_its_step(nndl, tmp_path, backend):
    spec_file = tmp_path / "diverges.toml"
    spec_file.write_text(DIVERGING_SPEC)
    plot = tmp_path / "errors.png"
    result = nndl(
        "ensemble", "--spec", spec_file, "--train-size", "100", "--members", "2", "--backend", backend, "--plot", plot,
        "--quiet",
    )  # fmt: skip
    assert_one_line_error(
        result, "diverged: NaN or inf in the parameters of member 1 (seed 0) at epoch 1, step", "--eta 1e+199"
    )
    assert not plot.exists()


class QuietReporter:
    def epoch_started(self, epoch, n_steps): ...
    def step(self): ...
    def epoch_finished(self, record, last_epoch): ...
    def note(self, message): ...


def test_a_members_epoch_time_waits_for_an_ensemble_that_returns_early(mnist, monkeypatch):
    """JAX dispatches an epoch and returns before it is done; a record must time the work, not the call."""
    backend = load_backend("torch")
    still_running, epoch_seconds = 0.3, []

    class ReturnsEarly(backend.Ensemble):
        def train_epoch(self, data, plans, etas):
            called = time.perf_counter()
            super().train_epoch(data, plans, etas)
            self.done_at = time.perf_counter() + still_running  # as if the work went on after the call
            epoch_seconds.append(self.done_at - called)

        def parameters(self):
            time.sleep(max(0.0, getattr(self, "done_at", 0.0) - time.perf_counter()))
            return super().parameters()

    monkeypatch.setattr(backend, "Ensemble", ReturnsEarly)
    splits = {
        "training": mnist.training.first(20),
        "validation": mnist.validation.first(20),
        "test": mnist.test.first(20),
    }
    together = train_together(backend, small_conv_spec(), splits, [0, 1], [QuietReporter(), QuietReporter()])
    assert all(history.records[0].seconds >= epoch_seconds[0] for history, _ in together)
