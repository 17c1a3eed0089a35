"""Writing files safely: atomically, and never over a file the user has unless asked to."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from conformance.spec.errors import OutputExistsError


def refuse_to_overwrite(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; choose another name or pass --overwrite")


def write_atomically(path: Path, write: Callable[[BinaryIO], object], overwrite: bool = False) -> None:
    """Write through `write(file)` into a temporary file beside `path`, then rename it into place.

    Readers see the old file or the complete new one, never a part of it: the data is forced
    to disk before the rename, and the temporary file is in the same folder because a rename
    is atomic only within one file system. An error half-way leaves `path` untouched.
    """
    refuse_to_overwrite(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp's 0600 would hide the file from other users
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _umask() -> int:
    """The process's umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
