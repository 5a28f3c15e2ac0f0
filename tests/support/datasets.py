"""Format-faithful miniature Kinetics, Something-Something-v2 and ImageNet layouts, with their oddities.

Media are made once per process by ffmpeg and copied, so fixtures stay fast.
"""

from __future__ import annotations

import atexit
import csv
import io
import json
import shutil
import tempfile
from functools import cache
from pathlib import Path

from tests.support.media import make_image, make_video

# (label, youtube_id, time_start, time_end, split)
KINETICS_ROWS = [
    ("abseiling", "-0a1B2c3D4e", 10, 20, "train"),  # id starting with '-'
    ("abseiling", "aaaaaaaaa01", 0, 10, "train"),
    ("abseiling", "aaaaaaaaa02", 5, 15, "train"),
    ("abseiling", "aaaaaaaaa03", 0, 10, "val"),
    ("juggling, balls", "bbbbbbbbb01", 0, 10, "train"),  # comma: quoted in the CSV
    ("juggling, balls", "bbbbbbbbb02", 0, 10, "train"),
    ("juggling, balls", "bbbbbbbbb03", 30, 40, "train"),  # its file is missing
    ("juggling, balls", "bbbbbbbbb04", 0, 10, "val"),
    ("massaging person's head", "ccccccccc01", 0, 10, "train"),  # apostrophe
    ("massaging person's head", "ccccccccc02", 0, 10, "train"),
    ("massaging person's head", "ccccccccc03", 0, 10, "train"),  # its file is 0 bytes
    ("massaging person's head", "ccccccccc04", 0, 10, "val"),
    ("passing American football (in game)", "dupdupdup01", 0, 10, "train"),  # one id ...
    ("air drumming", "dupdupdup01", 0, 10, "train"),  # ... under two labels
    ("passing American football (in game)", "ddddddddd02", 0, 10, "train"),
    ("air drumming", "eeeeeeeee02", 0, 10, "train"),
    ("air drumming", "eeeeeeeee03", 0, 10, "val"),
]
KINETICS_MISSING = "bbbbbbbbb03_000030_000040"
KINETICS_EMPTY = "ccccccccc03_000000_000010"


def cvdf_name(youtube_id: str, start: int, end: int) -> str:
    return f"{youtube_id}_{start:06d}_{end:06d}"


@cache
def _base_media(kind: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="curation-fixture-"))
    atexit.register(shutil.rmtree, folder, True)
    if kind == "mp4":
        return make_video(folder / "base.mp4", duration=2.0, size="96x72", fps=25, audio=False)
    if kind == "webm":
        return make_video(folder / "base.webm", duration=1.0, size="96x72", fps=12, audio=False,
                          codec_args=["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "100k"])
    return make_image(folder / "base.jpg", size="80x60")


def copy_media(kind: str, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_base_media(kind), dest)
    return dest


def kinetics_csv_text(rows: list[tuple], header: bool = True, crlf: bool = False, bom: bool = False,
                      quote_all: bool = False) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n" if crlf else "\n",
                        quoting=csv.QUOTE_NONNUMERIC if quote_all else csv.QUOTE_MINIMAL)
    if header:
        writer.writerow(["label", "youtube_id", "time_start", "time_end", "split"])
    writer.writerows(rows)
    return ("\ufeff" if bom else "") + buffer.getvalue()


def make_kinetics(root: Path, header: bool = True, crlf: bool = False, bom: bool = False,
                  rows: list[tuple] | None = None, media: bool = True) -> tuple[Path, Path]:
    """``root/train.csv`` and ``root/videos/<id>_<start>_<end>.mp4`` (one missing, one empty)."""
    rows = KINETICS_ROWS if rows is None else rows
    root.mkdir(parents=True, exist_ok=True)
    csv_path = root / "train.csv"
    csv_path.write_bytes(kinetics_csv_text(rows, header, crlf, bom).encode("utf-8"))
    videos = root / "videos"
    videos.mkdir(exist_ok=True)
    if media:
        for _, youtube_id, start, end, _ in rows:
            name = cvdf_name(youtube_id, start, end)
            if name == KINETICS_MISSING:
                continue
            target = videos / f"{name}.mp4"
            if name == KINETICS_EMPTY:
                target.write_bytes(b"")
            elif not target.exists():
                copy_media("mp4", target)
    return csv_path, videos


SSV2_LABELS = {
    "Putting something on a surface": "0",
    "Pushing something so that it falls off the table": "1",
    "Putting something, something and something on the table": "2",
    "Moving something and something away from each other": "3",
}
SSV2_TRAIN = [
    {"id": "1001", "label": "putting a pen on a surface", "template": "Putting [something] on a surface", "placeholders": ["a pen"]},
    {"id": "1002", "label": "putting a cup on a surface", "template": "Putting [something] on a surface", "placeholders": ["a cup"]},
    {"id": "1003", "label": "pushing a box so that it falls off the table",
     "template": "Pushing [something] so that it falls off the table", "placeholders": ["a box"]},
    {"id": "1004", "label": "putting pen, cup and box on the table",
     "template": "Putting [something], [something] and [something] on the table", "placeholders": ["pen", "cup", "box"]},
    {"id": "1005", "label": "putting a, b and c on the table",
     "template": "Putting [something], [something] and [something] on the table", "placeholders": ["a", "b", "c"]},
    {"id": "1006", "label": "moving a and b away from each other",
     "template": "Moving [something] and [something] away from each other", "placeholders": ["a", "b"]},
]
SSV2_VALIDATION = [
    {"id": "2001", "label": "putting a key on a surface", "template": "Putting [something] on a surface", "placeholders": ["a key"]},
    {"id": "2002", "label": "pushing a can so that it falls off the table",
     "template": "Pushing [something] so that it falls off the table", "placeholders": ["a can"]},  # its file is missing
]
SSV2_MISSING = "2002"


def make_ssv2(root: Path) -> tuple[Path, Path]:
    """``root/labels/{labels,train,validation}.json`` + ``test-answers.csv``; ``root/videos/<id>.webm``."""
    labels = root / "labels"
    labels.mkdir(parents=True, exist_ok=True)
    (labels / "labels.json").write_text(json.dumps(SSV2_LABELS, indent=1), encoding="utf-8")
    (labels / "train.json").write_text(json.dumps(SSV2_TRAIN), encoding="utf-8")
    (labels / "validation.json").write_text(json.dumps(SSV2_VALIDATION), encoding="utf-8")
    (labels / "test-answers.csv").write_text("3001;Putting something on a surface\n", encoding="utf-8")
    videos = root / "videos"
    for entry in [*SSV2_TRAIN, *SSV2_VALIDATION, {"id": "3001"}]:
        if entry["id"] != SSV2_MISSING:
            copy_media("webm", videos / f"{entry['id']}.webm")
    return labels, videos


IMAGENET_CLASSES = {"n01440764": "tench, Tinca tinca", "n01443537": "goldfish, Carassius auratus",
                    "n01484850": "great white shark, white shark, man-eater"}
IMAGENET_NOT_IN_VAL = "n01484850"


def make_imagenet(root: Path, per_class: int = 4) -> Path:
    """ImageNet layout: train/<wnid>/<wnid>_<n>.JPEG (some .jpeg), flat val + LOC_val_solution.csv."""
    for wnid in IMAGENET_CLASSES:
        for n in range(per_class):
            ext = "jpeg" if n % 2 else "JPEG"  # mixed case, as copies of ImageNet have
            copy_media("jpg", root / "train" / wnid / f"{wnid}_{n + 1}.{ext}")
    (root / "train" / "n01440764" / "notes.txt").write_text("not an image\n", encoding="utf-8")
    lines = ["ImageId,PredictionString"]
    val_index = 0
    for wnid in IMAGENET_CLASSES:
        if wnid == IMAGENET_NOT_IN_VAL:
            continue
        for _ in range(2):
            val_index += 1
            image_id = f"ILSVRC2012_val_{val_index:08d}"
            copy_media("jpg", root / "val" / f"{image_id}.JPEG")
            lines.append(f"{image_id},{wnid} 10 20 30 40 {wnid} 5 6 7 8")
    (root / "val" / "Thumbs.db").write_bytes(b"\x00\x01")
    (root / "LOC_val_solution.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "LOC_synset_mapping.txt").write_text(
        "".join(f"{w} {names}\n" for w, names in IMAGENET_CLASSES.items()), encoding="utf-8")
    return root
