"""`curate export vjepa|imagefolder`: hand a curated `files` output to the trainer with no glue code.

V-JEPA / nano-JEPA read ``<absolute path> <int label>`` lines (one space, no header, a file ending
in ``.csv``); torchvision's ImageFolder reads ``root/<split>/<class>/<file>`` with class index =
sorted folder order. Both must agree with ``classes.json``, which the class subset wrote.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curation.errors import UserError

VIDEO_EXTS = ("mp4", "webm", "mkv", "avi", "mov")
IMAGE_EXTS = ("jpg", "jpeg", "png", "webp", "bmp")
NO_SPLIT = "all"


@dataclass(frozen=True)
class ExportSample:
    key: str
    label: str
    split: str
    path: Path  # absolute

    @property
    def is_video(self) -> bool:
        return self.path.suffix.lstrip(".").lower() in VIDEO_EXTS


@dataclass
class Classes:
    """``classes.json``: label → index, plus the column names the labels and splits came from."""

    index: dict[str, int]
    label_col: str = "label"
    split_col: str | None = "split"


def warn(message: str) -> None:
    print(f"curate: warning: {message}", file=sys.stderr)


def load_classes(folder: Path) -> Classes | None:
    path = folder / "classes.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        index = {str(k): int(v) for k, v in data["classes"].items()}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        raise UserError(f"export: {path} is not a classes.json written by ClassSubsetSubsampler") from None
    return Classes(index, data.get("label_col") or "label", data.get("split_col"))


def _members(shard: Path) -> dict[str, list[str]]:
    """key → extensions of the shard folder's files (the key is the name before the first dot)."""
    members: dict[str, list[str]] = defaultdict(list)
    for path in shard.iterdir():
        key, dot, ext = path.name.partition(".")
        if dot:
            members[key].append(ext)
    return members


def _media_ext(exts: list[str]) -> str | None:
    """The sample's media member; a video wins over audio when a sample has both."""
    media = [e for e in exts if e not in ("json", "txt")]
    for wanted in (*VIDEO_EXTS, *IMAGE_EXTS):
        for ext in media:
            if ext.lower() == wanted:
                return ext
    return sorted(media)[0] if media else None


def read_files_output(folder: Path, classes: Classes | None) -> list[ExportSample]:
    """Successful samples of finished shards (those with ``NNNNN_stats.json``) of a `files` output."""
    if not folder.is_dir():
        raise UserError(f"export: output folder not found: {folder}")
    shards = sorted(p for p in folder.iterdir() if p.is_dir() and p.name.isdigit())
    if not shards:
        raise UserError(f"export: no shard folders (NNNNN/) in {folder}; export needs output_format files")
    unfinished = [s.name for s in shards if not (folder / f"{s.name}_stats.json").is_file()]
    if unfinished:
        warn(f"{len(unfinished)} shard(s) not finished, left out: {', '.join(unfinished[:5])}")
    label_col = classes.label_col if classes else "label"
    split_col = classes.split_col if classes else "split"
    samples: list[ExportSample] = []
    for shard in shards:
        if shard.name in unfinished:
            continue
        for key, exts in sorted(_members(shard).items()):
            if "json" not in exts:
                continue
            meta = json.loads((shard / f"{key}.json").read_text(encoding="utf-8"))
            ext = _media_ext(exts)
            if meta.get("status", "success") != "success" or ext is None:
                continue
            media = shard / f"{key}.{ext}"
            label = meta.get(label_col)
            if label is None:
                raise UserError(f"export: sample {key} in {shard.name}/ has no {label_col!r}; save it with save_additional_columns")
            split = meta.get(split_col) if split_col else None
            samples.append(ExportSample(key, str(label), str(split) if split is not None else NO_SPLIT, media.resolve()))
    if not samples:
        raise UserError(f"export: no successful samples in {folder}")
    return samples


def class_index(samples: list[ExportSample], classes: Classes | None, folder: Path) -> dict[str, int]:
    """classes.json's mapping, checked against the samples; sorted labels when there is none."""
    if classes is None:
        warn(f"no classes.json in {folder}; class indices follow sorted label order")
        return {label: i for i, label in enumerate(sorted({s.label for s in samples}))}
    for sample in samples:
        if sample.label not in classes.index:
            raise UserError(f"export: sample {sample.key} has label {sample.label!r}, which is not in classes.json")
    return classes.index


def by_split(samples: Iterable[ExportSample], split: str | None) -> dict[str, list[ExportSample]]:
    groups: dict[str, list[ExportSample]] = defaultdict(list)
    for sample in samples:
        groups[sample.split].append(sample)
    if split is not None:
        if split not in groups:
            raise UserError(f"export: no samples in split {split!r} (have: {', '.join(sorted(groups))})")
        return {split: groups[split]}
    return dict(sorted(groups.items()))


def _write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# -- V-JEPA --------------------------------------------------------------------------------------


def frame_count(path: Path) -> int | None:
    """Frames in a video: the container's count, else duration × fps (no decoding)."""
    from curation.probe import ProbeError, probe

    try:
        info = probe(path)
    except ProbeError:
        return None
    video = next((s for s in info.raw.get("streams", []) if s.get("codec_type") == "video"), {})
    if str(video.get("nb_frames", "")).isdigit():
        return int(video["nb_frames"])
    if info.duration and info.fps:
        return int(round(info.duration * info.fps))
    return None


def _warn_short_clips(samples: list[ExportSample], needed: int, frames_per_clip: int, frame_step: int) -> None:
    videos = [s for s in samples if s.is_video]
    with ThreadPoolExecutor(max_workers=8) as pool:
        counts = list(pool.map(lambda s: frame_count(s.path), videos))
    short = [(s, n) for s, n in zip(videos, counts, strict=True) if n is not None and n < needed]
    if short:
        sample, n = short[0]
        warn(
            f"{len(short)} of {len(videos)} clips have fewer than {needed} frames "
            f"(frames_per_clip {frames_per_clip} × frame_step {frame_step}), e.g. {sample.path} ({n} frames); "
            "V-JEPA cannot sample them: raise the fps or lower frame_step"
        )


def vjepa_paths(folder: Path, out: str | None, splits: list[str]) -> dict[str, Path]:
    """One CSV per split: ``vjepa_<split>.csv`` in the output folder, or ``--out`` (suffixed per split)."""
    if out is None:
        return {s: folder / f"vjepa_{s}.csv" for s in splits}
    target = Path(out).expanduser()
    if target.suffix != ".csv":
        raise UserError(f"export vjepa: --out must end in .csv (V-JEPA reads only .csv lists): {out}")
    if len(splits) == 1:
        return {splits[0]: target}
    return {s: target.with_name(f"{target.stem}_{s}.csv") for s in splits}


def export_vjepa(
    folder: Path | str, out: str | None = None, frames_per_clip: int = 16, frame_step: int = 4,
    split: str | None = None, check_frames: bool = True,
) -> dict[str, Path]:
    """Write the V-JEPA list(s); return split → CSV path. Refuses paths V-JEPA would misread."""
    folder = Path(folder).expanduser().resolve()
    classes = load_classes(folder)
    samples = read_files_output(folder, classes)
    index = class_index(samples, classes, folder)
    for sample in samples:
        if any(ch.isspace() for ch in str(sample.path)):
            raise UserError(f"export vjepa: path contains whitespace, which V-JEPA's space-separated CSV cannot hold: {sample.path}")
    groups = by_split(samples, split)
    paths = vjepa_paths(folder, out, list(groups))
    if check_frames:
        _warn_short_clips([s for group in groups.values() for s in group], frames_per_clip * frame_step, frames_per_clip, frame_step)
    for name, group in groups.items():
        lines = [f"{s.path} {index[s.label]}\n" for s in sorted(group, key=lambda s: str(s.path))]
        _write_text_atomic(paths[name], "".join(lines))
    return paths


# -- ImageFolder ---------------------------------------------------------------------------------


def class_folder(label: str) -> str:
    """A folder name for a label: verbatim except what a path cannot hold."""
    name = label.replace("/", "_").replace("\0", "_")
    return f"_{name}" if name in ("", ".", "..") else name


def _place(source: Path, target: Path, link: str) -> None:
    if link == "symlink":
        target.symlink_to(source)
    elif link == "hardlink":
        os.link(source, target)
    else:
        shutil.copyfile(source, target)


def export_imagefolder(folder: Path | str, dest: Path | str, link: str = "copy", split: str | None = None) -> Path:
    """Lay samples out as ``DEST/<split>/<class>/<key>.<ext>``, every class folder in every split."""
    folder = Path(folder).expanduser().resolve()
    dest = Path(dest).expanduser().resolve()
    classes = load_classes(folder)
    samples = read_files_output(folder, classes)
    index = class_index(samples, classes, folder)
    folders = {label: class_folder(label) for label in index}
    if len(set(folders.values())) != len(folders):
        raise UserError("export imagefolder: two labels map to the same folder name once '/' is replaced")
    if sorted(folders, key=lambda label: index[label]) != sorted(folders, key=lambda label: folders[label]):
        warn("sorted class folder order differs from classes.json indices; ImageFolder will number classes differently")
    groups = by_split(samples, split)
    for name in groups:
        split_dir = dest / name
        if split_dir.exists() and any(split_dir.iterdir()):
            raise UserError(f"export imagefolder: {split_dir} exists and is not empty; choose an empty DEST")
    for name, group in groups.items():
        for class_name in folders.values():
            (dest / name / class_name).mkdir(parents=True, exist_ok=True)
        for sample in group:
            _place(sample.path, dest / name / folders[sample.label] / sample.path.name, link)
    return dest


# -- CLI -----------------------------------------------------------------------------------------


def _run_vjepa(args: argparse.Namespace) -> int:
    paths = export_vjepa(args.output_folder, args.out, args.frames_per_clip, args.frame_step, args.split)
    for split, path in paths.items():
        with path.open(encoding="utf-8") as handle:
            print(f"{split}: {path} ({sum(1 for _ in handle)} clips)")
    classes = load_classes(Path(args.output_folder).expanduser())
    if classes is not None:
        print(f"num_classes: {len(classes.index)} (set the same in the V-JEPA config)")
    return 0


def _run_imagefolder(args: argparse.Namespace) -> int:
    print(export_imagefolder(args.output_folder, args.dest, args.link, args.split))
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def register(subparsers: Any) -> None:
    """Add ``export vjepa`` and ``export imagefolder`` to the ``curate`` command line."""
    parser = subparsers.add_parser("export", help="write trainer inputs (V-JEPA CSV, ImageFolder) from a files output")
    targets = parser.add_subparsers(dest="export_target", metavar="TARGET", required=True)
    vjepa = targets.add_parser("vjepa", help="V-JEPA / nano-JEPA video lists: '<absolute path> <label>' per line")
    vjepa.add_argument("output_folder", help="a curate output written with output_format files")
    vjepa.add_argument("--out", default=None, help="FILE.csv (one split), else FILE_<split>.csv per split")
    vjepa.add_argument("--frames_per_clip", type=_positive, default=16, help="V-JEPA frames_per_clip (short-clip warning)")
    vjepa.add_argument("--frame_step", type=_positive, default=4, help="V-JEPA frame_step (short-clip warning)")
    vjepa.add_argument("--split", default=None, help="export only this split")
    vjepa.set_defaults(func=_run_vjepa)
    image = targets.add_parser("imagefolder", help="torchvision ImageFolder layout: DEST/<split>/<class>/")
    image.add_argument("output_folder", help="a curate output written with output_format files")
    image.add_argument("dest", help="root of the ImageFolder tree: DEST/<split>/<class>/")
    image.add_argument("--link", choices=("copy", "symlink", "hardlink"), default="copy")
    image.add_argument("--split", default=None, help="export only this split")
    image.set_defaults(func=_run_imagefolder)
