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


class BackendImportError(NndlError):
    """A backend named on the command line (or registered by an installed package) whose module cannot be imported."""


class PortError(NndlError):
    """A backend's method raised, or handed back what the contract does not allow: the check fails, the run goes on.

    The message is one line: the backend, its method, what went wrong, and (once a check catches it)
    the configuration.
    """

    def __init__(self, backend: str, method: str, problem: str):
        self.backend, self.method, self.problem = backend, method, problem
        super().__init__(f"the {backend} backend's {method} {problem}")


def one_line(error: BaseException) -> str:
    """An exception as one line of a message: "ModuleNotFoundError: No module named 'nmupy'"."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
