"""Dataset layouts → tables: every oddity of real Kinetics, SSv2 and ImageNet copies."""

from __future__ import annotations

import logging
import random
import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from curation.datasets import DATASET_FORMATS, load_dataset_table
from curation.datasets._keys import safe_key, unique_keys
from curation.errors import TableError
from tests.support.datasets import (
    IMAGENET_CLASSES,
    IMAGENET_NOT_IN_VAL,
    KINETICS_EMPTY,
    KINETICS_MISSING,
    KINETICS_ROWS,
    SSV2_LABELS,
    SSV2_MISSING,
    cvdf_name,
    kinetics_csv_text,
    make_imagenet,
    make_kinetics,
    make_ssv2,
)


def _by_key(table: pa.Table) -> dict[str, dict]:
    return {row["key"]: row for row in table.to_pylist()}


def _assert_keys_safe_and_unique(table: pa.Table) -> None:
    keys = table["key"].to_pylist()
    assert len(set(keys)) == len(keys)
    assert all(k and "." not in k and "/" not in k for k in keys)


# -- kinetics -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kinetics(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_kinetics(tmp_path_factory.mktemp("k400"))


def test_kinetics_with_media_dir_maps_rows_to_cvdf_files(kinetics: tuple[Path, Path]) -> None:
    csv_path, videos = kinetics
    table = load_dataset_table("kinetics", str(csv_path), str(videos))
    assert table.num_rows == len(KINETICS_ROWS)
    assert {"url", "key", "label", "split", "youtube_id", "time_start", "time_end", "clips"} <= set(table.column_names)
    _assert_keys_safe_and_unique(table)
    rows = table.to_pylist()
    for row, (label, youtube_id, start, end, split) in zip(rows, KINETICS_ROWS, strict=True):
        assert row["label"] == label  # verbatim: comma, apostrophe, parentheses
        assert (row["youtube_id"], row["time_start"], row["time_end"], row["split"]) == (youtube_id, start, end, split)
        assert row["url"] == str(videos.resolve() / f"{cvdf_name(youtube_id, start, end)}.mp4")
        assert Path(row["url"]).is_absolute()
        assert row["clips"] is None  # CVDF files are already cut to the window
    dash = next(r for r in rows if r["youtube_id"].startswith("-"))
    assert dash["key"] == "-0a1B2c3D4e_000010_000020" and Path(dash["url"]).is_file()


def test_kinetics_one_id_under_two_labels_keeps_unique_keys_and_one_file(kinetics: tuple[Path, Path]) -> None:
    csv_path, videos = kinetics
    rows = [r for r in load_dataset_table("kinetics", str(csv_path), str(videos)).to_pylist() if r["youtube_id"] == "dupdupdup01"]
    assert sorted(r["label"] for r in rows) == ["air drumming", "passing American football (in game)"]
    assert len({r["key"] for r in rows}) == 2
    assert all(r["key"].startswith("dupdupdup01_000000_000010_") for r in rows)
    assert len({r["url"] for r in rows}) == 1


def test_kinetics_keys_do_not_depend_on_row_order(tmp_path: Path) -> None:
    shuffled = list(KINETICS_ROWS)
    random.Random(3).shuffle(shuffled)
    a, _ = make_kinetics(tmp_path / "a", media=False)
    b, _ = make_kinetics(tmp_path / "b", rows=shuffled, media=False)
    ka = {(r["youtube_id"], r["label"]): r["key"] for r in load_dataset_table("kinetics", str(a), None).to_pylist()}
    kb = {(r["youtube_id"], r["label"]): r["key"] for r in load_dataset_table("kinetics", str(b), None).to_pylist()}
    assert ka == kb


@pytest.mark.parametrize("variant", [
    {"header": False},
    {"header": True, "crlf": True, "bom": True},
    {"header": False, "crlf": True, "bom": True},
])
def test_kinetics_csv_variants_read_the_same(tmp_path: Path, kinetics: tuple[Path, Path], variant: dict) -> None:
    csv_path, videos = kinetics
    reference = load_dataset_table("kinetics", str(csv_path), str(videos))
    other = tmp_path / "train.csv"
    other.write_bytes(kinetics_csv_text(KINETICS_ROWS, **variant).encode("utf-8"))
    assert load_dataset_table("kinetics", str(other), str(videos)).equals(reference)


def test_kinetics_quoted_every_field_reads_the_same(tmp_path: Path, kinetics: tuple[Path, Path]) -> None:
    csv_path, videos = kinetics
    other = tmp_path / "train.csv"
    other.write_text(kinetics_csv_text(KINETICS_ROWS, quote_all=True), encoding="utf-8")
    assert '"juggling, balls"' in other.read_text()
    reference = load_dataset_table("kinetics", str(csv_path), str(videos))
    assert load_dataset_table("kinetics", str(other), str(videos))["label"].equals(reference["label"])


def test_kinetics_k400_is_cc_column(tmp_path: Path) -> None:
    path = tmp_path / "k400.csv"
    path.write_text("label,youtube_id,time_start,time_end,split,is_cc\nabseiling,-abc,0,10,train,0\n", encoding="utf-8")
    row = load_dataset_table("kinetics", str(path), None).to_pylist()[0]
    assert row["is_cc"] == 0 and row["youtube_id"] == "-abc"


def test_kinetics_without_media_dir_is_youtube_with_the_window_as_clip(kinetics: tuple[Path, Path]) -> None:
    csv_path, _ = kinetics
    rows = load_dataset_table("kinetics", str(csv_path), None).to_pylist()
    dash = next(r for r in rows if r["youtube_id"] == "-0a1B2c3D4e")
    assert dash["url"] == "https://www.youtube.com/watch?v=-0a1B2c3D4e"
    assert dash["clips"] == [[10.0, 20.0]]


def test_kinetics_missing_and_empty_files_are_kept_for_the_subset_to_report(kinetics: tuple[Path, Path]) -> None:
    csv_path, videos = kinetics
    urls = _by_key(load_dataset_table("kinetics", str(csv_path), str(videos)))
    assert not Path(urls[KINETICS_MISSING]["url"]).exists()
    assert Path(urls[KINETICS_EMPTY]["url"]).stat().st_size == 0


def test_kinetics_media_under_split_folders(tmp_path: Path) -> None:
    csv_path, videos = make_kinetics(tmp_path, rows=KINETICS_ROWS[:4], media=False)
    for _, youtube_id, start, end, split in KINETICS_ROWS[:4]:
        (videos / split).mkdir(exist_ok=True)
        (videos / split / f"{cvdf_name(youtube_id, start, end)}.mp4").write_bytes(b"x")
    rows = load_dataset_table("kinetics", str(csv_path), str(videos)).to_pylist()
    assert all(Path(r["url"]).is_file() and Path(r["url"]).parent.name == r["split"] for r in rows)


def test_kinetics_folder_of_csvs_including_an_unlabelled_test_list(tmp_path: Path) -> None:
    folder = tmp_path / "annotations"
    folder.mkdir()
    (folder / "train.csv").write_text(kinetics_csv_text(KINETICS_ROWS[:3], header=False), encoding="utf-8")
    (folder / "test.csv").write_text("youtube_id,time_start,time_end,split\n-xyz,0,10,test\n", encoding="utf-8")
    (folder / "README.md").write_text("not a table", encoding="utf-8")
    rows = load_dataset_table("kinetics", str(folder), None).to_pylist()
    assert [(r["split"], r["label"]) for r in rows] == [("test", None)] + [("train", "abseiling")] * 3


def test_kinetics_split_filter(kinetics: tuple[Path, Path]) -> None:
    csv_path, videos = kinetics
    table = load_dataset_table("kinetics", str(csv_path), str(videos), split="val")
    assert set(table["split"].to_pylist()) == {"val"}
    assert table.num_rows == sum(1 for r in KINETICS_ROWS if r[4] == "val")


@pytest.mark.parametrize(("text", "needle"), [
    ("label,youtube_id,time_start,time_end,split\nabseiling,abc,zero,10,train\n", "time_start"),
    ("label,youtube_id,time_start,time_end,split\nabseiling,abc,10,5,train\n", "time_end"),
    ("label,youtube_id,time_start,time_end,split\nabseiling,,0,10,train\n", "youtube_id"),
    ("label,youtube_id,time_start,time_end,split\nabseiling,abc,0,10,train,1,extra\n", "fields"),
    ("label,video,start,end\nabseiling,abc,0,10\n", "youtube_id"),
    ("abseiling,abc\n", "fields"),
    ("", "empty"),
])
def test_kinetics_bad_csv_is_one_line_table_error(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TableError) as info:
        load_dataset_table("kinetics", str(path), None)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_kinetics_missing_annotation_and_media_dir(tmp_path: Path, kinetics: tuple[Path, Path]) -> None:
    with pytest.raises(TableError, match="not found"):
        load_dataset_table("kinetics", str(tmp_path / "nope.csv"), None)
    with pytest.raises(TableError, match="media_dir"):
        load_dataset_table("kinetics", str(kinetics[0]), str(tmp_path / "nope"))


# -- ssv2 -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ssv2(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_ssv2(tmp_path_factory.mktemp("ssv2"))


def test_ssv2_templates_resolve_to_labels_and_ids_stay_strings(ssv2: tuple[Path, Path]) -> None:
    labels, videos = ssv2
    table = load_dataset_table("ssv2", str(labels), str(videos))
    assert table.schema.field("id").type == pa.string()
    _assert_keys_safe_and_unique(table)
    rows = _by_key(table)
    four = rows["1004"]
    assert four["template"] == "Putting [something], [something] and [something] on the table"
    assert four["label"] == "Putting something, something and something on the table"
    assert four["label_index"] == int(SSV2_LABELS[four["label"]])
    assert four["placeholders"] == ["pen", "cup", "box"]
    assert four["caption"] == "putting pen, cup and box on the table"
    assert four["url"] == str(videos.resolve() / "1004.webm")
    assert {r["split"] for r in rows.values()} == {"train", "validation", "test"}
    assert rows["3001"]["label"] == "Putting something on a surface"
    assert not Path(rows[SSV2_MISSING]["url"]).exists()


def test_ssv2_split_filter_and_single_file_source(ssv2: tuple[Path, Path]) -> None:
    labels, videos = ssv2
    table = load_dataset_table("ssv2", str(labels / "validation.json"), str(videos), split="validation")
    assert set(table["split"].to_pylist()) == {"validation"} and table.num_rows == 2


def test_ssv2_errors(tmp_path: Path, ssv2: tuple[Path, Path]) -> None:
    labels, videos = ssv2
    with pytest.raises(TableError, match="media_dir"):
        load_dataset_table("ssv2", str(labels), None)
    bad = tmp_path / "labels"
    shutil.copytree(labels, bad)
    (bad / "train.json").write_text('[{"id": "9", "template": "Juggling [something]"}]', encoding="utf-8")
    with pytest.raises(TableError, match="not in labels.json"):
        load_dataset_table("ssv2", str(bad), str(videos))
    with pytest.raises(TableError, match="split 'nope'"):
        load_dataset_table("ssv2", str(labels), str(videos), split="nope")


# -- imagefolder ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def imagenet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_imagenet(tmp_path_factory.mktemp("imagenet"))


def test_imagenet_train_layout_and_flat_val(imagenet: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        table = load_dataset_table("imagefolder", str(imagenet), None)
    _assert_keys_safe_and_unique(table)
    rows = table.to_pylist()
    train = [r for r in rows if r["split"] == "train"]
    val = [r for r in rows if r["split"] == "val"]
    assert {r["label"] for r in train} == set(IMAGENET_CLASSES)
    assert {r["label"] for r in val} == set(IMAGENET_CLASSES) - {IMAGENET_NOT_IN_VAL}
    assert {Path(r["url"]).suffix for r in train} == {".JPEG", ".jpeg"}
    assert all(Path(r["url"]).is_file() and Path(r["url"]).is_absolute() for r in rows)
    assert all(r["class_name"] == IMAGENET_CLASSES[r["label"]] for r in rows)
    first_val = next(r for r in val if r["file"] == "ILSVRC2012_val_00000001.JPEG")
    assert first_val["label"] == "n01440764" and first_val["key"] == "ILSVRC2012_val_00000001"
    assert not any(r["file"] in ("notes.txt", "Thumbs.db") for r in rows)
    assert "skipped 2 file(s)" in caplog.text and "notes.txt" in caplog.text


def test_imagefolder_split_filter_and_colliding_names(tmp_path: Path, imagenet: Path) -> None:
    assert set(load_dataset_table("imagefolder", str(imagenet), None, split="train")["split"].to_pylist()) == {"train"}
    root = tmp_path / "mini"
    for label in ("cat", "dog"):
        shutil.copytree(imagenet / "train" / "n01443537", root / "train" / label)
    table = load_dataset_table("imagefolder", str(root), None)
    _assert_keys_safe_and_unique(table)
    assert table.num_rows == 8


def test_imagefolder_flat_val_without_solution_is_an_error(tmp_path: Path, imagenet: Path) -> None:
    root = tmp_path / "in"
    shutil.copytree(imagenet / "val", root / "val")
    with pytest.raises(TableError, match="LOC_val_solution.csv"):
        load_dataset_table("imagefolder", str(root), None)


# -- dispatch and keys ----------------------------------------------------------------------------


def test_dispatch_knows_the_three_layouts(tmp_path: Path) -> None:
    assert {"kinetics", "ssv2", "imagefolder"} == DATASET_FORMATS
    with pytest.raises(TableError, match="unknown dataset format"):
        load_dataset_table("ucf101", str(tmp_path), None)


def test_keys_are_safe_and_unique_whatever_the_order() -> None:
    assert safe_key("a.b/c d'é") == "a_b_c_d__"
    bases = ["x", "x", "y", "x"]
    identities = [("l1",), ("l2",), ("l1",), ("l1",)]
    keys, duplicates = unique_keys(bases, identities)
    assert duplicates == [3] and len(set(keys[:3])) == 3
    reversed_keys, _ = unique_keys(bases[:3][::-1], identities[:3][::-1])
    assert reversed_keys[::-1] == keys[:3]


# -- shipped configs ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "input_format", "fps"), [
    ("nano_kinetics", "kinetics", 8), ("nano_ssv2", "ssv2", 8), ("nano_imagenet", "imagefolder", None)])
def test_nano_configs_are_10_classes_by_25_at_224px(name: str, input_format: str, fps: int | None) -> None:
    from curation.config import build_config

    config = build_config(name)
    assert (config.input_format, config.output_format) == (input_format, "files")
    subset = config.subsampling["ClassSubsetSubsampler"]["args"]
    assert (subset["num_classes"], subset["samples_per_class"], subset["split_col"]) == (10, 25, "split")
    assert config.subsampling["ResolutionSubsampler"]["args"]["video_size"] == 224
    assert config.subsampling.get("FrameSubsampler", {"args": {"frame_rate": None}})["args"]["frame_rate"] == fps


# -- the split column through the whole pipeline ---------------------------------------------------


def test_split_from_file_names_reaches_plan_json_parquet_classes_and_export(tmp_path: Path) -> None:
    """Kinetics CSVs without a split column (split = file name) keep it in every output."""
    import json

    import pyarrow.parquet as pq

    from curation.config import build_config
    from curation.export import export_vjepa
    from curation.plan import make_plan
    from curation.worker import process_shard
    from tests.support.datasets import copy_media

    annotations, videos = tmp_path / "annotations", tmp_path / "videos"
    annotations.mkdir()
    for name, split in (("train", "train"), ("validate", "val")):
        rows = [r for r in KINETICS_ROWS if r[4] == split and cvdf_name(*r[1:4]) not in (KINETICS_MISSING, KINETICS_EMPTY)]
        lines = [f'"{label}",{youtube_id},{start},{end}' for label, youtube_id, start, end, _ in rows]  # 4 columns
        (annotations / f"{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        for _, youtube_id, start, end, _ in rows:
            copy_media("mp4", videos / f"{cvdf_name(youtube_id, start, end)}.mp4")
    subset = {"ClassSubsetSubsampler": {"args": {"samples_per_class": 2, "num_classes": 3, "split_col": "split"}}}
    out = tmp_path / "out"
    config = build_config({"subsampling": subset, "storage": {"number_sample_per_shard": 4}}, url_list=str(annotations),
                          input_format="kinetics", media_dir=str(videos), output_folder=str(out))
    plan = make_plan(config)  # in this process: the engine is not what is tested here
    planned = [row for shard in plan.shard_ids for row in plan.read_shard(shard).to_pylist()]
    assert {r["split"] for r in planned} == {"train", "validate"}
    for shard in plan.shard_ids:
        process_shard(shard, config)
    metas = [json.loads(p.read_text(encoding="utf-8")) for p in out.glob("0*/*.json")]
    assert sorted((m["split"], m["label"]) for m in metas) == sorted((r["split"], r["label"]) for r in planned)
    parquet = {r["key"]: r["split"] for f in out.glob("*.parquet") for r in pq.read_table(f).to_pylist()}
    assert parquet == {m["key"]: m["split"] for m in metas}
    counts = json.loads((out / "classes.json").read_text(encoding="utf-8"))["counts"]
    assert counts == {"abseiling": {"train": 2, "validate": 1}, "air drumming": {"train": 2, "validate": 1},
                      "juggling, balls": {"train": 2, "validate": 1}}
    paths = export_vjepa(out, check_frames=False)
    assert sorted(paths) == ["train", "validate"]
    assert [len(p.read_text().splitlines()) for _, p in sorted(paths.items())] == [6, 3]
