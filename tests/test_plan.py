"""Shard ids are global and stable; keys are safe and unique; a changed plan is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curation import curate
from curation.config import build_config
from curation.errors import PlanMismatchError
from curation.keys import safe_key
from curation.plan import load_plan, make_plan


def _csv(path: Path, media: Path, n: int) -> Path:
    path.write_text("url\n" + "".join(f"{media / f'v{i % 6}.mp4'}\n" for i in range(n)))
    return path


def test_two_files_get_consecutive_ids_and_appending_keeps_them(media: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    _csv(inputs / "a.csv", media, 7)
    _csv(inputs / "b.csv", media, 5)
    out = tmp_path / "out"
    config = build_config(None, url_list=str(inputs), output_folder=str(out), **{"storage.number_sample_per_shard": 4})
    out.mkdir()
    plan = make_plan(config)
    assert plan.shard_ids == [0, 1, 2, 3]
    assert [e[3] for e in plan.manifest["shards"]] == [4, 3, 4, 1]
    keys_before = {sid: plan.read_shard(sid).column("__key__").to_pylist() for sid in plan.shard_ids}
    all_keys = [k for keys in keys_before.values() for k in keys]
    assert len(all_keys) == len(set(all_keys)) == 12
    _csv(inputs / "c.csv", media, 2)
    replanned = make_plan(config)
    assert replanned.shard_ids == [0, 1, 2, 3, 4]
    assert {sid: replanned.read_shard(sid).column("__key__").to_pylist() for sid in range(4)} == keys_before
    assert replanned.read_shard(4).column("__key__").to_pylist() == ["000040", "000041"]


def test_resumed_run_refuses_changed_config_or_input(media: Path, tmp_path: Path) -> None:
    table = _csv(tmp_path / "in.csv", media, 3)
    out = tmp_path / "out"
    curate(url_list=str(table), output_folder=str(out), output_format="dummy", quiet=True)
    with pytest.raises(PlanMismatchError, match="number_sample_per_shard changed"):
        curate(url_list=str(table), output_folder=str(out), output_format="dummy", number_sample_per_shard=2, quiet=True)
    _csv(table, media, 4)
    with pytest.raises(PlanMismatchError, match="changed since this output folder was planned"):
        curate(url_list=str(table), output_folder=str(out), output_format="dummy", quiet=True)
    # overwrite starts clean with the new input
    summary = curate(url_list=str(table), output_folder=str(out), output_format="dummy", incremental_mode="overwrite", quiet=True)
    assert summary.totals["count"] == 4


def test_keys_from_a_column_are_webdataset_safe_and_unique(media: Path, tmp_path: Path) -> None:
    table = tmp_path / "in.csv"
    table.write_text(f"url,id\n{media / 'v0.mp4'},a.b/c\n{media / 'v1.mp4'},a_b_c\n{media / 'v2.mp4'},../../etc\n")
    out = tmp_path / "out"
    out.mkdir()
    plan = make_plan(build_config(None, url_list=str(table), output_folder=str(out), key_col="id"))
    keys = plan.read_shard(0).column("__key__").to_pylist()
    assert keys == ["a_b_c", "a_b_c_1", "etc"]
    assert safe_key("x" * 500) != safe_key("x" * 501) and len(safe_key("x" * 500)) <= 120


def test_plan_files_live_inside_the_output_folder(media: Path, tmp_path: Path) -> None:
    table = _csv(tmp_path / "in.csv", media, 3)
    out = tmp_path / "out"
    curate(url_list=str(table), output_folder=str(out), output_format="dummy", quiet=True)
    manifest = json.loads((out / "_plan" / "manifest.json").read_text())
    assert (out / manifest["sources"][0]["ipc"]).is_file()
    assert load_plan(out).total_rows == 3
