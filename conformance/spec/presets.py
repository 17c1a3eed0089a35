"""The book's experiments as ready-made specs, one TOML file each under presets/.

Each preset carries the figure the book reports, so a run can be set beside it. Copy one with
`nndl presets --show NAME > my.toml` to start a spec of your own.
"""

from __future__ import annotations

import re
from pathlib import Path

from conformance.spec.errors import SpecError
from conformance.spec.spec import Spec, load_spec

PRESET_DIR = Path(__file__).with_name("presets")


def preset_names() -> list[str]:
    """Every preset, in chapter order (numbers compared as numbers: ch1-sigmoid-30 before ch1-sigmoid-100)."""
    names = [path.stem for path in PRESET_DIR.glob("*.toml")]
    return sorted(names, key=lambda name: [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)])


def load_preset(name: str) -> Spec:
    path = PRESET_DIR / f"{name}.toml"
    if not path.is_file():
        raise SpecError(f"no preset named {name!r}; `nndl presets` lists them: {', '.join(preset_names())}")
    return load_spec(path)
