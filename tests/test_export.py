"""`curate export vjepa|imagefolder`: the trainer reads the result with no glue code."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from curation.cli import main as cli_main
from curation.errors import UserError
from curation.export import export_imagefolder, export_vjepa
from tests.support.datasets import (
    SSV2_MISSING,
    SSV2_TRAIN,
    SSV2_VALIDATION,
    copy_media,
    make_imagenet,
    make_kinetics,
    make_ssv2,
)

CLASSES = {"abseiling": 0, "juggling, balls": 1, "massaging person's head": 2}


def write_output(folder: Path, samples: list[tuple], classes: dict[str, int] | None = CLASSES,
                 finished: tuple[str, ...] = ("00000", "00001")) -> Path:
    """A `files` output by hand: (shard, key, label, split, status, ext) per sample."""
    for shard, key, label, split, status, ext in samples:
        meta = {"key": key, "label": label, "split": split, "status": status, "error_message": None}
        (folder / shard).mkdir(parents=True, exist_ok=True)
        (folder / shard / f"{key}.json").write_text(json.dumps(meta), encoding="utf-8")
        if status == "success":
            copy_media("mp4" if ext == "mp4" else "jpg", folder / shard / f"{key}.{ext}")
    for shard in finished:
        (folder / f"{shard}_stats.json").write_text("{}", encoding="utf-8")
    if classes is not None:
        counts = {label: {} for label in classes}
        (folder / "classes.json").write_text(json.dumps({
            "num_classes": len(classes), "label_col": "label", "split_col": "split", "classes": classes, "counts": counts,
        }), encoding="utf-8")
    return folder


SAMPLES = [
    ("00000", "a1", "abseiling", "train", "success", "mp4"),
    ("00000", "j1", "juggling, balls", "train", "success", "mp4"),
    ("00000", "m1", "massaging person's head", "train", "success", "mp4"),
    ("00000", "broken", "abseiling", "train", "failed_to_download", "mp4"),
    ("00001", "a2", "abseiling", "val", "success", "mp4"),
    ("00001", "m2", "massaging person's head", "val", "success", "mp4"),
    ("00002", "unfinished", "abseiling", "train", "success", "mp4"),  # no 00002_stats.json
]


def read_vjepa(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, header=None, delimiter=" ")
    assert list(frame.columns) == [0, 1] and path.read_text().count(" ") == len(frame)
    return frame


def decodes(*paths: str) -> bool:
    """Every file decodes without a single error message (one ffmpeg for all of them)."""
    args = ["ffmpeg", "-v", "error"]
    for path in paths:
        args += ["-i", path]
    for index in range(len(paths)):
        args += ["-map", str(index), "-f", "null", "-"]
    proc = subprocess.run(args, capture_output=True, timeout=120)
    return proc.returncode == 0 and not proc.stderr


def check_vjepa(paths: dict[str, Path], classes: dict[str, int], labels_of: dict[str, str]) -> None:
    """Every line: an absolute path that exists and decodes, and the classes.json index of its label."""
    for csv_path in paths.values():
        frame = read_vjepa(csv_path)
        assert frame[1].dtype.kind == "i" and set(frame[1]) <= set(range(len(classes)))
        for path, label in zip(frame[0], frame[1], strict=True):
            assert os.path.isabs(path) and Path(path).is_file()
            assert classes[labels_of[Path(path).name.split(".", 1)[0]]] == label
        if not decodes(*frame[0]):
            assert [p for p in frame[0] if not decodes(p)] == [], "files that do not decode cleanly"


def test_vjepa_one_csv_per_split_with_classes_json_indices(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = write_output(tmp_path / "out", SAMPLES)
    paths = export_vjepa(out, frames_per_clip=8, frame_step=4)
    assert paths == {"train": out.resolve() / "vjepa_train.csv", "val": out.resolve() / "vjepa_val.csv"}
    check_vjepa(paths, CLASSES, {s[1]: s[2] for s in SAMPLES})
    train = read_vjepa(paths["train"])
    assert [Path(p).stem for p in train[0]] == ["a1", "j1", "m1"]  # failed and unfinished left out
    assert list(train[1]) == [0, 1, 2]
    assert "1 shard(s) not finished" in capsys.readouterr().err


def test_vjepa_warns_when_clips_are_too_short_for_the_sampler(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = write_output(tmp_path / "out", SAMPLES[:1], finished=("00000",))
    export_vjepa(out, frames_per_clip=8, frame_step=4)  # 2 s × 25 fps = 50 frames ≥ 32
    assert "fewer than" not in capsys.readouterr().err
    export_vjepa(out)  # 50 < 16 × 4
    err = capsys.readouterr().err
    assert "1 of 1 clips have fewer than 64 frames" in err and "(50 frames)" in err


def test_vjepa_out_file_per_split_and_split_filter(tmp_path: Path) -> None:
    out = write_output(tmp_path / "out", SAMPLES)
    paths = export_vjepa(out, out=str(tmp_path / "lists" / "k400.csv"), check_frames=False)
    assert paths == {"train": tmp_path / "lists" / "k400_train.csv", "val": tmp_path / "lists" / "k400_val.csv"}
    only = export_vjepa(out, out=str(tmp_path / "train.csv"), split="train", check_frames=False)
    assert only == {"train": tmp_path / "train.csv"} and len(read_vjepa(only["train"])) == 3
    with pytest.raises(UserError, match="must end in .csv"):
        export_vjepa(out, out=str(tmp_path / "list.txt"))
    with pytest.raises(UserError, match="no samples in split 'test'"):
        export_vjepa(out, split="test")


def test_vjepa_refuses_paths_with_spaces_naming_the_file(tmp_path: Path) -> None:
    out = write_output(tmp_path / "my dataset", SAMPLES[:1], finished=("00000",))
    with pytest.raises(UserError) as info:
        export_vjepa(out)
    message = str(info.value)
    assert str(out.resolve() / "00000" / "a1.mp4") in message and "\n" not in message
    assert not list(out.glob("vjepa_*.csv"))


def test_vjepa_label_outside_classes_json_is_an_error(tmp_path: Path) -> None:
    out = write_output(tmp_path / "out", [("00000", "x1", "unknown label", "train", "success", "mp4")], finished=("00000",))
    with pytest.raises(UserError, match="not in classes.json"):
        export_vjepa(out, check_frames=False)


def test_vjepa_without_classes_json_uses_sorted_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = write_output(tmp_path / "out", SAMPLES[:3], classes=None, finished=("00000",))
    frame = read_vjepa(export_vjepa(out, check_frames=False)["train"])
    assert list(frame[1]) == [0, 1, 2] and "no classes.json" in capsys.readouterr().err


def test_imagefolder_same_class_folders_in_every_split(tmp_path: Path) -> None:
    samples = [
        ("00000", "n1_1", "n01440764", "train", "success", "jpg"),
        ("00000", "n2_1", "n01443537", "train", "success", "jpg"),
        ("00000", "n3_1", "n01484850", "train", "success", "jpg"),
        ("00001", "val_1", "n01440764", "val", "success", "jpg"),
    ]
    classes = {"n01440764": 0, "n01443537": 1, "n01484850": 2}
    out = write_output(tmp_path / "out", samples, classes=classes)
    dest = export_imagefolder(out, tmp_path / "folder")
    for split in ("train", "val"):
        assert sorted(p.name for p in (dest / split).iterdir()) == sorted(classes)  # sorted order == indices
    assert (dest / "val" / "n01440764" / "val_1.jpg").is_file()
    assert not any((dest / "val" / "n01484850").iterdir())
    with pytest.raises(UserError, match="not empty"):
        export_imagefolder(out, tmp_path / "folder")
    linked = export_imagefolder(out, tmp_path / "linked", link="symlink")
    assert (linked / "train" / "n01440764" / "n1_1.jpg").is_symlink()


def test_cli_export_commands_and_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = write_output(tmp_path / "out", SAMPLES)
    assert cli_main(["export", "vjepa", str(out), "--frames_per_clip", "8", "--frame_step", "2"]) == 0
    printed = capsys.readouterr().out
    assert "train: " in printed and "(3 clips)" in printed and "num_classes: 3" in printed
    assert (out / "vjepa_train.csv").is_file()
    assert cli_main(["export", "imagefolder", str(out), str(tmp_path / "folder")]) == 0
    assert (tmp_path / "folder" / "val" / "juggling, balls").is_dir()
    capsys.readouterr()
    assert cli_main(["export", "vjepa", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("curate: error: export: output folder not found") and "\n" not in err


# -- from real runs -------------------------------------------------------------------------------


def run_and_export(out: Path, capsys: pytest.CaptureFixture[str], *run_args: str) -> tuple[dict[str, int], dict[str, str], str]:
    """`curate run ... --output_folder OUT` then `curate export vjepa OUT`, both parsed in this process
    (the plan is its own process, the shards run here): (classes.json, key → label, export's stderr)."""
    assert cli_main(["run", *run_args, "--output_folder", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert cli_main(["export", "vjepa", str(out)]) == 0
    classes = json.loads((out / "classes.json").read_text(encoding="utf-8"))["classes"]
    labels_of = {p.stem: json.loads(p.read_text())["label"] for p in out.glob("0*/*.json")}
    return classes, labels_of, capsys.readouterr().err


def test_vjepa_csv_from_a_real_nano_kinetics_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path, videos = make_kinetics(tmp_path / "k400")
    out = tmp_path / "nano"
    classes, labels_of, err = run_and_export(out, capsys, "--url_list", str(csv_path), "--input_format", "kinetics",
                                             "--media_dir", str(videos), "--config", "nano_kinetics")
    assert "fewer than 64 frames" in err  # 2 s at 8 fps = 16 frames
    paths = {split: out / f"vjepa_{split}.csv" for split in ("train", "val")}
    check_vjepa(paths, classes, labels_of)
    assert sorted(set(read_vjepa(paths["train"])[1])) == list(range(len(classes)))
    assert any(Path(p).name.startswith("-0a1B2c3D4e_") for p in read_vjepa(paths["train"])[0])  # id starting with '-'
    twice = {labels_of[Path(p).name.split(".", 1)[0]]: index for p, index in read_vjepa(paths["train"]).itertuples(index=False)
             if Path(p).name.startswith("dupdupdup01_")}  # one id under two labels: two lines, two class indices
    assert twice == {label: classes[label] for label in ("air drumming", "passing American football (in game)")}
    first = read_vjepa(paths["train"])[0][0]
    from tests.support.media import video_stream

    stream = video_stream(first)
    assert min(stream["width"], stream["height"]) <= 224  # the fixture is smaller; never upscaled
    num, den = stream["avg_frame_rate"].split("/")
    assert abs(int(num) / int(den) - 8) < 0.5


def test_vjepa_csv_from_a_real_nano_ssv2_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """SSv2's .webm videos through the shipped nano_ssv2 config, then `curate export vjepa`."""
    labels, videos = make_ssv2(tmp_path / "ssv2")
    out = tmp_path / "nano"
    classes, labels_of, _ = run_and_export(out, capsys, "--url_list", str(labels), "--input_format", "ssv2",
                                           "--media_dir", str(videos), "--config", "nano_ssv2")
    assert sorted(classes) == sorted({e["template"].replace("[", "").replace("]", "") for e in SSV2_TRAIN})
    paths = {"train": out / "vjepa_train.csv", "validation": out / "vjepa_validation.csv"}
    check_vjepa(paths, classes, labels_of)
    listed = {split: sorted(Path(p).name.split(".", 1)[0] for p in read_vjepa(path)[0]) for split, path in paths.items()}
    expected_val = sorted(e["id"] for e in SSV2_VALIDATION if e["id"] != SSV2_MISSING)
    assert listed == {"train": sorted(e["id"] for e in SSV2_TRAIN), "validation": expected_val}
    from tests.support.media import video_stream

    for path in read_vjepa(paths["train"])[0]:
        assert Path(path).suffix == ".mp4"  # webm sources re-encoded to the mp4 V-JEPA reads
        num, den = video_stream(path)["avg_frame_rate"].split("/")
        assert abs(int(num) / int(den) - 8) < 0.5


def test_imagefolder_from_a_real_imagenet_run(tmp_path: Path) -> None:
    root = make_imagenet(tmp_path / "imagenet")
    out = tmp_path / "nano"
    from curation import curate

    curate(url_list=str(root), output_folder=str(out), input_format="imagefolder", config="nano_imagenet",
           processes_count=1, quiet=True)
    dest = export_imagefolder(out, tmp_path / "folder")
    classes = json.loads((out / "classes.json").read_text(encoding="utf-8"))["classes"]
    assert sorted(p.name for p in (dest / "train").iterdir()) == sorted(p.name for p in (dest / "val").iterdir()) == sorted(classes)
    assert [len(list((dest / "train" / c).iterdir())) for c in sorted(classes)] == [4, 4, 4]  # fewer than 25 exist
    assert [len(list((dest / "val" / c).iterdir())) for c in sorted(classes)] == [2, 2, 0]
    assert all(p.suffix == ".jpg" for p in dest.rglob("*") if p.is_file())
