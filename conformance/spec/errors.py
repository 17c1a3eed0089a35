"""The errors nndl raises on bad input. Each one carries a message meant for the user."""


class NndlError(Exception):
    """Base class: the CLI prints the message of any NndlError on one line and exits 2."""


class SpecError(NndlError):
    """A spec file or preset that does not describe a valid network and training."""


class DataError(NndlError):
    """MNIST could not be found, fetched, verified or read."""


class BackendNotInstalledError(NndlError):
    """A backend whose framework is not installed; the message says what to pip install."""


class BackendContractError(NndlError):
    """A backend that breaks the contract (conformance/backend/contract.py): a name it lacks, or output of the wrong layout."""


class CheckpointError(NndlError):
    """A checkpoint that cannot be read, or does not fit the network it is loaded into."""


class DivergenceError(NndlError):
    """Training produced NaN or inf; names the epoch and the step where it was seen."""

    def __init__(self, epoch: int, step: int, eta: float, what: str = "parameters"):
        self.epoch, self.step, self.eta, self.what = epoch, step, eta, what
        super().__init__(
            f"training diverged: NaN or inf in the {what} at epoch {epoch}, step {step} "
            f"(eta = {eta:g}); try a smaller eta, for example --eta {eta / 10:g}"
        )


class OutputExistsError(NndlError):
    """An output file (checkpoint, JSON, plot) would overwrite one the user already has."""
