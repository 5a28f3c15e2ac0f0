"""ClassSubsetSubsampler: exact N per class, K classes, deterministic, usable rows only, reports."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.errors import ConfigError, UserError
from subsamplers import build_subsamplers, validate_subsampling
from subsamplers.class_subset import ClassSubsetSubsampler
from tests.support.datasets import KINETICS_EMPTY, KINETICS_MISSING, KINETICS_ROWS, make_kinetics


def subset(table: pa.Table, folder: Path, **args: Any) -> pa.Table:
    (sub,), _ = build_subsamplers({"ClassSubsetSubsampler": {"args": args}})
    assert isinstance(sub, ClassSubsetSubsampler)
    return sub.apply(table, folder)


def remote_table(counts: dict[str, int], splits: tuple[str, ...] = ("train",)) -> pa.Table:
    """``counts[label]`` rows per label and split, with http URLs (never checked on disk)."""
    rows = [
        {"url": f"https://example.org/{label}/{split}/{i}.mp4", "key": f"{label}_{split}_{i}", "label": label, "split": split}
        for label, n in counts.items() for split in splits for i in range(n)
    ]
    return pa.Table.from_pylist(rows)


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def per_label(table: pa.Table) -> dict[str, int]:
    out: dict[str, int] = {}
    for label in table["label"].to_pylist():
        out[label] = out.get(label, 0) + 1
    return out


def test_exact_n_per_class_and_first_k_classes_in_sorted_order(tmp_path: Path) -> None:
    table = remote_table({"e": 10, "b": 10, "d": 10, "a": 10, "c": 10})
    out = subset(table, tmp_path, samples_per_class=4, num_classes=3)
    assert per_label(out) == {"a": 4, "b": 4, "c": 4}
    classes = read_json(tmp_path / "classes.json")
    assert classes["classes"] == {"a": 0, "b": 1, "c": 2} and classes["num_classes"] == 3
    assert out["class_index"].to_pylist() == [classes["classes"][label] for label in out["label"].to_pylist()]
    assert len(set(out["key"].to_pylist())) == out.num_rows


def test_shortfall_keep_takes_what_there_is_and_records_it(tmp_path: Path) -> None:
    out = subset(remote_table({"a": 6, "b": 2}), tmp_path, samples_per_class=4)
    assert per_label(out) == {"a": 4, "b": 2}
    report = read_json(tmp_path / "subset_report.json")
    assert report["per_class"]["b"]["status"] == "short"
    assert report["per_class"]["b"]["splits"]["all"] == {"available": 2, "chosen": 2, "shortfall": 2}
    assert report["per_class"]["a"]["splits"]["all"] == {"available": 6, "chosen": 4, "shortfall": 0}


def test_shortfall_drop_class_takes_the_next_class_to_reach_k(tmp_path: Path) -> None:
    out = subset(remote_table({"a": 5, "b": 1, "c": 5, "d": 5}), tmp_path, samples_per_class=3, num_classes=3, shortfall="drop_class")
    assert per_label(out) == {"a": 3, "c": 3, "d": 3}
    report = read_json(tmp_path / "subset_report.json")
    assert report["per_class"]["b"]["status"] == "dropped" and report["per_class"]["b"]["index"] is None
    assert read_json(tmp_path / "classes.json")["classes"] == {"a": 0, "c": 1, "d": 2}


def test_fewer_classes_than_k_is_recorded(tmp_path: Path) -> None:
    subset(remote_table({"a": 2, "b": 2}), tmp_path, samples_per_class=2, num_classes=5)
    report = read_json(tmp_path / "subset_report.json")
    assert (report["classes_wanted"], report["classes_chosen"], report["classes_shortfall"]) == (5, 2, 3)


def test_shortfall_error_is_a_one_line_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError) as info:
        subset(remote_table({"a": 5, "b": 1}), tmp_path, samples_per_class=3, shortfall="error")
    message = str(info.value)
    assert "'b'" in message and "\n" not in message
    with pytest.raises(UserError, match="usable classes"):
        subset(remote_table({"a": 5}), tmp_path, samples_per_class=3, num_classes=2, shortfall="error")


@pytest.mark.parametrize("strategy", ["random", "first"])
def test_same_subset_whatever_the_row_order(tmp_path: Path, strategy: str) -> None:
    table = remote_table({"a": 20, "b": 15, "c": 9}, splits=("train", "val"))
    reference = subset(table, tmp_path / "ref", samples_per_class=5, num_classes=2, seed=7, strategy=strategy, split_col="split")
    rows = table.to_pylist()
    for attempt in range(3):
        random.Random(attempt).shuffle(rows)
        shuffled = pa.Table.from_batches(pa.Table.from_pylist(rows).to_batches(max_chunksize=7))  # several chunks too
        folder = tmp_path / f"shuffled{attempt}"
        out = subset(shuffled, folder, samples_per_class=5, num_classes=2, seed=7, strategy=strategy, split_col="split")
        assert out.to_pylist() == reference.to_pylist()
        for name in ("classes.json", "subset_report.json"):
            assert (folder / name).read_bytes() == (tmp_path / "ref" / name).read_bytes()


def test_seed_changes_the_random_choice_and_first_takes_sorted_keys(tmp_path: Path) -> None:
    table = remote_table({"a": 40})
    keys = {seed: set(subset(table, tmp_path, samples_per_class=5, seed=seed)["key"].to_pylist()) for seed in (0, 1)}
    assert keys[0] != keys[1]
    first = subset(table, tmp_path, samples_per_class=5, strategy="first")["key"].to_pylist()
    assert first == sorted(table["key"].to_pylist())[:5]


def test_missing_and_empty_files_are_excluded_before_sampling_and_never_padded(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    (media / "good.mp4").write_bytes(b"video")
    (media / "empty.mp4").write_bytes(b"")
    rows = [
        {"url": str(media / "good.mp4"), "key": "good", "label": "a"},
        {"url": str(media / "empty.mp4"), "key": "empty", "label": "a"},
        {"url": str(media / "gone.mp4"), "key": "gone", "label": "a"},
        {"url": f"file://{media / 'gone2.mp4'}", "key": "gone2", "label": "a"},
        {"url": "https://example.org/remote.mp4", "key": "remote", "label": "a"},  # not checked
    ]
    out = subset(pa.Table.from_pylist(rows), tmp_path / "out", samples_per_class=4)
    assert sorted(out["key"].to_pylist()) == ["good", "remote"]
    report = read_json(tmp_path / "out" / "subset_report.json")
    assert report["excluded"]["counts"] == {"empty file": 1, "missing file": 2}
    assert {(e["id"], e["reason"]) for e in report["excluded"]["rows"]} == {
        ("empty", "empty file"), ("gone", "missing file"), ("gone2", "missing file")}
    assert report["per_class"]["a"]["splits"]["all"] == {"available": 2, "chosen": 2, "shortfall": 2}


def test_duplicate_rows_are_sampled_once(tmp_path: Path) -> None:
    rows = remote_table({"a": 3}).to_pylist()
    out = subset(pa.Table.from_pylist(rows + rows[:2]), tmp_path, samples_per_class=10)
    assert sorted(out["key"].to_pylist()) == sorted(r["key"] for r in rows)
    assert read_json(tmp_path / "subset_report.json")["excluded"]["counts"] == {"duplicate row": 2}


def test_classes_are_chosen_once_for_every_split_and_samples_stay_in_their_split(tmp_path: Path) -> None:
    rows = remote_table({"a": 6, "b": 6, "c": 6}, splits=("train",)).to_pylist()
    rows += remote_table({"a": 3, "c": 3, "d": 3}, splits=("val",)).to_pylist()  # b absent from val
    table = pa.Table.from_pylist(rows)
    out = subset(table, tmp_path, samples_per_class=4, samples_per_split={"val": 2}, num_classes=2, split_col="split")
    split_of = {r["key"]: r["split"] for r in rows}
    assert all(split_of[r["key"]] == r["split"] for r in out.to_pylist())
    assert sorted((r["split"], r["label"]) for r in out.to_pylist()) == sorted(
        [("train", "a")] * 4 + [("train", "b")] * 4 + [("val", "a")] * 2)
    classes = read_json(tmp_path / "classes.json")
    assert classes["classes"] == {"a": 0, "b": 1}
    assert classes["counts"] == {"a": {"train": 4, "val": 2}, "b": {"train": 4, "val": 0}}
    assert read_json(tmp_path / "subset_report.json")["per_class"]["b"]["splits"]["val"]["shortfall"] == 2


def test_labels_are_kept_verbatim_in_json_and_parquet(tmp_path: Path) -> None:
    """Through a real run: the label column as written by curate's own json, parquet and class files."""
    import csv

    from curation import curate
    from tests.support.datasets import copy_media
    from tests.support.shards import read_webdataset, sample_json

    labels = ["juggling, balls", 'say "cheese"', "massaging person's head (gently)", "Abseiling", "abseiling",
              "café ☕ 踊る"]
    table = tmp_path / "in.csv"
    with table.open("w", newline="", encoding="utf-8") as handle:
        out_csv = csv.writer(handle)
        out_csv.writerow(["url", "label"])
        for i, label in enumerate(labels * 2):
            out_csv.writerow([copy_media("mp4", tmp_path / "media" / f"v{i}.mp4"), label])
    out = tmp_path / "out"
    curate(url_list=str(table), output_folder=str(out), output_format="webdataset", save_additional_columns=["label"],
           config={"subsampling": {"ClassSubsetSubsampler": {"args": {"label_col": "label", "samples_per_class": 1}}}},
           quiet=True)
    in_json = sorted(sample_json(s)["label"] for s in read_webdataset(out))
    in_parquet = sorted(label for f in out.glob("*.parquet") for label in pq.read_table(f)["label"].to_pylist())
    assert in_json == in_parquet == sorted(labels)
    assert list(read_json(out / "classes.json")["classes"]) == sorted(labels)
    assert set(read_json(out / "subset_report.json")["per_class"]) == set(labels)
    raw = (out / "classes.json").read_bytes().decode("utf-8")
    assert "café ☕ 踊る" in raw, "unicode kept as text, not escaped"


def test_dictionary_and_integer_label_columns(tmp_path: Path) -> None:
    rows = remote_table({"b": 3, "a": 3}).to_pylist()
    chunks = [pa.Table.from_pylist(rows[:3]), pa.Table.from_pylist(rows[3:])]
    encoded = pa.concat_tables([c.set_column(2, "label", c["label"].dictionary_encode()) for c in chunks])
    assert pa.types.is_dictionary(encoded.schema.field("label").type)
    assert per_label(subset(encoded, tmp_path / "dict", samples_per_class=2)) == {"a": 2, "b": 2}
    numbers = pa.Table.from_pylist([{"url": f"https://x/{i}", "key": f"k{i}", "label": i % 3 * 5} for i in range(9)])
    subset(numbers, tmp_path / "int", samples_per_class=1)
    assert read_json(tmp_path / "int" / "classes.json")["classes"] == {"0": 0, "5": 1, "10": 2}  # numeric order


def test_classes_from_a_list_a_file_and_a_previous_classes_json(tmp_path: Path) -> None:
    table = remote_table({"a": 3, "b": 3, "c": 3, "d d": 3})
    out = subset(table, tmp_path / "list", samples_per_class=2, classes=["d d", "b", "zzz"])
    assert per_label(out) == {"b": 2, "d d": 2}
    report = read_json(tmp_path / "list" / "subset_report.json")
    assert report["per_class"]["zzz"]["status"] == "empty" and report["classes_shortfall"] == 1
    lines = tmp_path / "classes.txt"
    lines.write_text("d d\r\nb\n\n", encoding="utf-8")
    assert per_label(subset(table, tmp_path / "file", samples_per_class=2, classes=str(lines))) == {"b": 2, "d d": 2}
    previous = tmp_path / "list" / "classes.json"
    assert per_label(subset(table, tmp_path / "again", samples_per_class=2, classes=str(previous))) == {"b": 2, "d d": 2}


def test_reports_are_written_atomically(tmp_path: Path) -> None:
    subset(remote_table({"a": 2}), tmp_path, samples_per_class=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["classes.json", "subset_report.json"]


def test_bad_arguments_and_columns_fail_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="num_classes or classes"):
        validate_subsampling({"ClassSubsetSubsampler": {"args": {"samples_per_class": 2, "num_classes": 2, "classes": ["a"]}}})
    with pytest.raises(ConfigError, match="samples_per_class"):
        validate_subsampling({"ClassSubsetSubsampler": {"args": {"samples_per_class": 0}}})
    with pytest.raises(ConfigError, match="unknown argument"):
        validate_subsampling({"ClassSubsetSubsampler": {"args": {"samples_per_class": 1, "sampels": 2}}})
    with pytest.raises(UserError, match="label_col 'category'"):
        subset(remote_table({"a": 2}), tmp_path, samples_per_class=1, label_col="category")


def test_kinetics_fixture_subset_reports_missing_and_empty_clips(tmp_path: Path) -> None:
    from curation.datasets import load_dataset_table

    csv_path, videos = make_kinetics(tmp_path / "k")
    table = load_dataset_table("kinetics", str(csv_path), str(videos))
    out = subset(table, tmp_path / "out", samples_per_class=2, split_col="split", samples_per_split={"val": 1})
    report = read_json(tmp_path / "out" / "subset_report.json")
    excluded = {e["id"]: e["reason"] for e in report["excluded"]["rows"]}
    assert excluded == {KINETICS_MISSING: "missing file", KINETICS_EMPTY: "empty file"}
    assert KINETICS_MISSING not in out["key"].to_pylist() and KINETICS_EMPTY not in out["key"].to_pylist()
    assert per_label(out) == {"abseiling": 3, "air drumming": 3, "juggling, balls": 3,
                              "massaging person's head": 3, "passing American football (in game)": 2}
    assert report["per_class"]["passing American football (in game)"]["splits"]["val"]["shortfall"] == 1


def test_ssv2_fixture_subset_excludes_the_missing_video(tmp_path: Path) -> None:
    from curation.datasets import load_dataset_table
    from tests.support.datasets import SSV2_MISSING, make_ssv2

    labels, videos = make_ssv2(tmp_path / "ssv2")
    table = load_dataset_table("ssv2", str(labels), str(videos))
    out = subset(table, tmp_path / "out", samples_per_class=2, split_col="split")
    assert SSV2_MISSING not in out["key"].to_pylist()
    report = read_json(tmp_path / "out" / "subset_report.json")
    assert [(e["id"], e["reason"]) for e in report["excluded"]["rows"]] == [(SSV2_MISSING, "missing file")]
    label = "Putting something, something and something on the table"
    assert report["per_class"][label]["splits"]["train"] == {"available": 2, "chosen": 2, "shortfall": 0}


def test_imagenet_fixture_class_missing_from_val_is_kept_with_its_shortfall(tmp_path: Path) -> None:
    from curation.datasets import load_dataset_table
    from tests.support.datasets import IMAGENET_NOT_IN_VAL, make_imagenet

    table = load_dataset_table("imagefolder", str(make_imagenet(tmp_path / "in")), None)
    out = subset(table, tmp_path / "keep", samples_per_class=2, num_classes=3, split_col="split")
    classes = read_json(tmp_path / "keep" / "classes.json")
    assert classes["num_classes"] == 3 and classes["counts"][IMAGENET_NOT_IN_VAL] == {"train": 2, "val": 0}
    assert out.num_rows == 3 * 2 + 2 * 2
    subset(table, tmp_path / "drop", samples_per_class=2, num_classes=3, split_col="split", shortfall="drop_class")
    assert IMAGENET_NOT_IN_VAL not in read_json(tmp_path / "drop" / "classes.json")["classes"]


# -- end to end: the same subset whatever the engine, process count or row order -----------------


def subset_only_config(folder: Path) -> Path:
    """nano_kinetics's plan-shaping part (its class subset) with no transcoding, small shards."""
    import yaml

    config = yaml.safe_load((Path(__file__).resolve().parent.parent / "configs" / "nano_kinetics.yaml").read_text())
    config["subsampling"] = {"ClassSubsetSubsampler": config["subsampling"]["ClassSubsetSubsampler"]}
    # one per class and split: the seeded choice among several usable rows is what must not vary
    config["subsampling"]["ClassSubsetSubsampler"]["args"]["samples_per_class"] = 1
    config["storage"] = {"number_sample_per_shard": 4}
    path = folder / "subset_only.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def written(out: Path) -> set[tuple[str, str, str, str, int]]:
    """(shard, key, label, split, class_index) of every successful sample written."""
    metas = [(p.parent.name, json.loads(p.read_text(encoding="utf-8"))) for p in out.glob("0*/*.json")]
    return {(shard, m["key"], m["label"], m["split"], m["class_index"]) for shard, m in metas if m["status"] == "success"}


def shuffled_kinetics(tmp_path: Path) -> tuple[Path, Path, Path]:
    csv_path, videos = make_kinetics(tmp_path / "k400")
    rows = list(KINETICS_ROWS)
    random.Random(11).shuffle(rows)
    shuffled, _ = make_kinetics(tmp_path / "k400-shuffled", rows=rows, header=False, media=False)
    return csv_path, shuffled, videos


def test_same_subset_with_one_and_two_processes_and_shuffled_rows(tmp_path: Path) -> None:
    from curation import curate
    from curation.cli import main as cli_main

    csv_path, shuffled, videos = shuffled_kinetics(tmp_path)
    config = subset_only_config(tmp_path)
    one = tmp_path / "one"
    # the command line, parsed in this process (the plan is its own process; the one shard at a time runs here)
    assert cli_main(["run", "--url_list", str(csv_path), "--input_format", "kinetics", "--media_dir", str(videos),
                     "--output_folder", str(one), "--config", str(config), "--processes_count", "1", "--quiet"]) == 0
    two = tmp_path / "two"
    curate(url_list=str(shuffled), output_folder=str(two), input_format="kinetics", media_dir=str(videos),
           config=str(config), processes_count=2, quiet=True,
           **{"distribution.shards_per_process": 1})  # two worker processes
    assert written(one) == written(two)
    chosen = sorted((split, label) for _, _, label, split, _ in written(one))
    assert chosen == sorted({(r[4], r[0]) for r in KINETICS_ROWS})  # N = 1 of every class in every split it has
    assert (one / "classes.json").read_bytes() == (two / "classes.json").read_bytes()
    report_one = read_json(one / "subset_report.json")
    assert report_one == read_json(two / "subset_report.json")
    assert report_one["excluded"]["counts"] == {"empty file": 1, "missing file": 1}
    labels = {label for f in one.glob("*.parquet") for label in pq.read_table(f)["label"].to_pylist()}
    assert {"juggling, balls", "massaging person's head", "passing American football (in game)"} <= labels


@pytest.mark.spark
def test_same_subset_through_spark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)  # executors need this venv's pyarrow
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    fast_jvm = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
    spark_args = {"master": "local[2]", "spark.ui.enabled": "false", "spark.driver.host": "127.0.0.1",
                  "spark.driver.extraJavaOptions": fast_jvm, "spark.python.worker.reuse": "true"}
    import yaml

    from curation import curate
    from curation.datasets import load_dataset_table

    csv_path, shuffled, videos = shuffled_kinetics(tmp_path)
    config = subset_only_config(tmp_path)
    curate(url_list=str(shuffled), output_folder=str(tmp_path / "spark"), input_format="kinetics", media_dir=str(videos),
           config=str(config), distributor="pyspark", quiet=True,
           **{"distribution.distributor_args": spark_args})
    # expected: the subset of the unshuffled table computed in this process, 4 rows per shard in its order
    args = yaml.safe_load(config.read_text())["subsampling"]["ClassSubsetSubsampler"]["args"]
    table = subset(load_dataset_table("kinetics", str(csv_path), str(videos)), tmp_path / "local", **args)
    expected = {(f"{i // 4:05d}", r["key"], r["label"], r["split"], r["class_index"]) for i, r in enumerate(table.to_pylist())}
    assert written(tmp_path / "spark") == expected
    assert (tmp_path / "local" / "classes.json").read_bytes() == (tmp_path / "spark" / "classes.json").read_bytes()
