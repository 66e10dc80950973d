"""`__main__.py` of the validation job's bundle, a zip that SageMaker Processing runs as
`python3 <bundle>.zip --plan ... --data ... --output ...` (see processing_job.py).

The bundle holds the `functions` package (imported from the zip), the pipeline config and, under
wheels/, pydantic and its dependencies built for the framework image's interpreter: the image has
numpy, pandas and pyarrow but not pydantic, which types the config and the findings. The wheels
are unpacked only when the interpreter lacks pydantic 2, so an interpreter that has it (the local
runtime's) uses its own.
"""

from __future__ import annotations

import io
import sys
import tempfile
import zipfile
from pathlib import Path

CONFIG_FILE_NAME = "pipeline_config.json"
WHEELS_FOLDER = "wheels/"


def has_pydantic_2() -> bool:
    try:
        import pydantic
    except ImportError:
        return False
    return str(pydantic.VERSION).startswith("2.")


def unpack_wheels(bundle: Path, site_dir: Path) -> list[str]:
    """Unpack the bundle's wheels into `site_dir` and put it first on sys.path; returns their names."""
    unpacked = []
    with zipfile.ZipFile(bundle) as archive:
        for name in sorted(archive.namelist()):
            if name.startswith(WHEELS_FOLDER) and name.endswith(".whl"):
                with zipfile.ZipFile(io.BytesIO(archive.read(name))) as wheel:
                    wheel.extractall(site_dir)
                unpacked.append(name.removeprefix(WHEELS_FOLDER))
    sys.path.insert(0, str(site_dir))
    return unpacked


def run(bundle: Path, argv: list[str]) -> int:
    if not has_pydantic_2():
        unpack_wheels(bundle, Path(tempfile.mkdtemp(prefix="validation-job-site-")))
    from functions.validate_data.processing_job import main

    with zipfile.ZipFile(bundle) as archive:
        config_json = archive.read(CONFIG_FILE_NAME)
    return main(argv, config_json)


if __name__ == "__main__":
    raise SystemExit(run(Path(sys.argv[0]), sys.argv[1:]))
