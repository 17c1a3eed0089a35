"""An ensemble trained as one computation (a backend's optional `Ensemble`): each member against the
same member trained alone by the backend's Model."""

from __future__ import annotations

from conformance.backend.contract import check_layout
from conformance.data.streams import epoch_plan, initial_parameters
from conformance.suite import tolerances
from conformance.suite.case_data import CaseData
from conformance.suite.matrix import EnsembleCase
from conformance.suite.results import Result, device_for, relative_difference


def check_ensemble(case: EnsembleCase, backends: dict, splits: dict, device: str, seed: int = 0) -> list[Result]:
    """Each member of an ensemble trained as one computation (a backend's `Ensemble`, members from seeds
    seed, seed + 1, ...) against the same member trained alone by the backend's Model, after one epoch.

    The two run the same arithmetic in another arrangement (batched over the members, say), so they
    are held to the first-steps bound: bitwise, or within rounding. A backend without an Ensemble (optional
    in the contract) has an n/a row, with the reason.
    """
    spec = case.spec()
    data = CaseData(spec, {"training": splits["training"].first(spec.data.train_size)}, device)
    seeds = [seed + i for i in range(case.members)]
    members = [initial_parameters(spec.network, member_seed) for member_seed in seeds]
    plans = [epoch_plan(spec, len(data.training), 1, member_seed) for member_seed in seeds]
    etas = [spec.training.eta] * case.members
    dtype = spec.training.dtype
    results = []
    for name, backend in backends.items():
        if not hasattr(backend, "Ensemble"):
            results.append(_without_ensemble(case, name, dtype))
            continue
        training = data.dataset(backend)
        ensemble = backend.Ensemble(spec, members, device_for(name, device))
        ensemble.train_epoch(training, plans, etas)
        per_member = []
        for params, plan, together in zip(members, plans, ensemble.parameters()):
            check_layout(together, spec.network.parameter_shapes, backend.NAME, "Ensemble.parameters")
            alone = backend.Model(spec, params, device_for(name, device))
            alone.train_epoch(training, plan, spec.training.eta)
            per_member.append(relative_difference(together, alone.parameters()))
        detail = {"per_member": per_member, "bitwise": max(per_member) == 0.0}
        pair = f"{name} ensemble vs alone"
        results.append(
            Result(case.name, "members, one epoch", pair, dtype, max(per_member), tolerances.STEPS[dtype], detail)
        )
    return results


def _without_ensemble(case: EnsembleCase, name: str, dtype: str) -> Result:
    why = f"{name} has no Ensemble (optional in the contract): it trains an ensemble's members one by one"
    return Result(
        case.name,
        "members, one epoch",
        f"{name} ensemble vs alone",
        dtype,
        float("nan"),
        float("nan"),
        not_applicable=why,
    )
