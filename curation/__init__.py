"""curation: tables of video URLs, media folders or existing shards → resumable training datasets."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def curate(**kwargs: Any) -> Any:
    """Python API with the CLI's argument names: ``curate(url_list=..., output_folder=..., config=...)``.

    ``config`` may be a built-in name, a YAML path or a dict.
    """
    from curation.runner import run

    return run(**kwargs)


__all__ = ["curate", "__version__"]
