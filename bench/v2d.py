"""video2dataset 1.3.0 in its own venv, patched so its download stage can resize and change fps.

As published, 1.3.0 cannot run ResolutionSubsampler/FrameSubsampler in the download stage (see
/work/shared/docs/benchmarking.md). The three fixes below are exact text replacements in
``video2dataset/workers/download_worker.py``: idempotent (an applied patch is recognised and
skipped) and loud (a pattern that is neither present nor already patched raises), so a different
video2dataset version can never be benchmarked half-patched.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

PACKAGES = ("video2dataset==1.3.0", "pyarrow==25.0.1")  # pyarrow 26 refuses video2dataset's numpy<2
INSTALL_TIMEOUT = 3600.0
WORKER = Path("video2dataset") / "workers" / "download_worker.py"

# (why, original text, patched text)
PATCHES: tuple[tuple[str, str, str], ...] = (
    (
        "(1) the subsamplers define encode_format (a str), not encode_formats (issues #263, #311)",
        """        if self.subsamplers["audio"]:
            writer_encode_formats["audio"] = self.subsamplers["audio"][0].encode_formats["audio"]
        if self.subsamplers["video"]:
            writer_encode_formats["video"] = self.subsamplers["video"][0].encode_formats["video"]
""",
        """        if self.subsamplers["audio"]:
            writer_encode_formats["audio"] = self.subsamplers["audio"][0].encode_format
        if self.subsamplers["video"]:
            writer_encode_formats["video"] = self.subsamplers["video"][0].encode_format
""",
    ),
    (
        "(2) FrameSubsampler pops and re-inserts 'video': iterate over a copy of the keys; "
        "(3) stop the chain at the first error instead of feeding the next subsampler nothing",
        """                    for modality in subsampled_streams:
                        for modality_subsampler in self.subsamplers[modality]:
                            subsampled_streams, metas, error_message = modality_subsampler(subsampled_streams, metas)
""",
        """                    for modality in list(subsampled_streams):
                        if error_message is not None:
                            break
                        for modality_subsampler in self.subsamplers[modality]:
                            if error_message is not None:
                                break
                            subsampled_streams, metas, error_message = modality_subsampler(subsampled_streams, metas)
""",
    ),
)


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def site_packages(venv: Path) -> Path:
    """The venv's site-packages (its Python version is whatever created it)."""
    found = sorted((venv / "lib").glob("python3*/site-packages"))
    if not found:
        raise RuntimeError(f"no site-packages under {venv / 'lib'}")
    return found[-1]


def _installed(venv: Path) -> bool:
    if not venv_python(venv).exists():
        return False
    done = subprocess.run(
        [str(venv_python(venv)), "-c", "import importlib.metadata as m; print(m.version('video2dataset'))"],
        capture_output=True, text=True, timeout=120,
    )
    return done.returncode == 0 and done.stdout.strip() == "1.3.0"


def install(venv: Path) -> None:
    """Create the venv and install video2dataset 1.3.0 (about 6 GB with torch and CUDA wheels)."""
    if not venv_python(venv).exists():
        subprocess.run(["python3", "-m", "venv", str(venv)], check=True, timeout=600)
    print(f"video2dataset: installing {' '.join(PACKAGES)} into {venv} (large, one-off)", flush=True)
    subprocess.run([str(venv_python(venv)), "-m", "pip", "install", "-q", *PACKAGES],
                   check=True, timeout=INSTALL_TIMEOUT)


def apply_patches(path: Path) -> list[str]:
    """Patch ``path`` in place; return the descriptions of patches applied now (empty if all were)."""
    text = path.read_text()
    applied = []
    for why, original, patched in PATCHES:
        if patched in text:
            continue
        if text.count(original) != 1:
            raise RuntimeError(f"video2dataset patch {why}: pattern not found exactly once in {path}")
        text = text.replace(original, patched)
        applied.append(why)
    if applied:
        path.write_text(text)
    return applied


def ensure_v2d(venv: Path) -> Path:
    """Install if missing, patch, and return the ``video2dataset`` CLI of the venv."""
    if not _installed(venv):
        install(venv)
    for why in apply_patches(site_packages(venv) / WORKER):
        print(f"video2dataset: patched {why}", flush=True)
    cli = venv / "bin" / "video2dataset"
    if not cli.exists():
        raise RuntimeError(f"{cli} missing after install")
    return cli


def default_config(venv: Path) -> dict[str, Any]:
    """video2dataset's shipped default.yaml, without the yt-dlp metadata pass (our URLs are files)."""
    config = yaml.safe_load((site_packages(venv) / "video2dataset" / "configs" / "default.yaml").read_text())
    config["reading"]["yt_args"]["yt_metadata_args"] = None
    return config


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / ".v2d-venv"
    print(ensure_v2d(target))
