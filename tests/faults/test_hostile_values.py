"""Hostile values in tables: refused schemes, path tricks in keys, option-like values, broken spans.

Each case asserts its recorded status and that nothing was written outside the output folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from curation import curate
from tests.conftest import run_cli
from tests.faults.conftest import snapshot
from tests.support.shards import read_webdataset


def test_refused_schemes_and_local_file_policy(media: Path, tmp_path: Path) -> None:
    cases = {
        "file_url": "file:///etc/passwd",
        "ftp": "ftp://127.0.0.1/video.mp4",
        "data": "data:video/mp4;base64,AAAA",
        "javascript": "javascript:alert(1)",
        "plain_path": str(media / "v0.mp4"),
    }
    table = tmp_path / "in.csv"
    table.write_text("url,case\n" + "".join(f'"{url}",{name}\n' for name, url in cases.items()))
    before = snapshot(tmp_path)
    out = tmp_path / "out"
    curate(url_list=str(table), output_folder=str(out), output_format="files", save_additional_columns=["case"], quiet=True)
    rows = {json.loads(p.read_text())["case"]: json.loads(p.read_text()) for p in out.glob("0*/*.json")}
    assert rows["file_url"]["status"] == "failed_to_download"
    assert "allow_local_files" in rows["file_url"]["error_message"]
    for name in ("ftp", "data", "javascript"):
        assert rows[name]["status"] == "failed_to_download"
        assert "refused URL scheme" in rows[name]["error_message"], name
    assert rows["plain_path"]["status"] == "success"
    assert not list(out.rglob("*passwd*"))
    assert {p for p in snapshot(tmp_path) - before if not p.startswith("out")} == set()
    # the user may allow file:// explicitly; untrusted tables can forbid plain paths too
    strict = tmp_path / "strict"
    curate(url_list=str(table), output_folder=str(strict), output_format="dummy", save_additional_columns=["case"],
           config={"reading": {"allow_local_files": False}}, quiet=True)
    stats = json.loads((strict / "00000_stats.json").read_text())
    assert stats["successes"] == 0 and stats["failed_to_download"] == 5


def test_keys_and_values_cannot_escape_the_output_folder(media: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copyfile(media / "v1.mp4", work / "-i.mp4")  # a file whose name looks like an option
    ids = ["../../escaped", "/tmp/absolute", "nul\x00byte", "x" * 1000, "-rf", "..", "a/../../b"]
    table = work / "in.jsonl"
    rows = [{"url": str(media / "v0.mp4"), "id": value, "caption": "-y"} for value in ids]
    rows.append({"url": "-i.mp4", "id": "dash_url", "caption": "--help"})
    table.write_text("".join(json.dumps(r) + "\n" for r in rows))
    before = snapshot(tmp_path)
    result = run_cli("run", "--url_list", "in.jsonl", "--output_folder", "out", "--output_format", "files",
                     "--key_col", "id", "--caption_col", "caption", "--config", "downsample", cwd=work)
    assert result.code == 0, result.stderr
    out = work / "out"
    new_outside = {p for p in snapshot(tmp_path) - before if not p.startswith("work/out")}
    assert new_outside == set(), new_outside
    metas = [json.loads(p.read_text()) for p in sorted(out.glob("0*/*.json"))]
    assert len(metas) == len(rows)
    assert all(m["status"] == "success" for m in metas), [m.get("error_message") for m in metas]
    for meta in metas:
        assert "/" not in meta["key"] and "." not in meta["key"] and "\x00" not in meta["key"]
        assert len(meta["key"]) <= 120
    assert len({m["key"] for m in metas}) == len(rows)
    captions = {m["key"]: (out / "00000" / f"{m['key']}.txt").read_text() for m in metas}
    assert set(captions.values()) == {"-y", "--help"}


def test_broken_clip_spans_cost_only_their_row(media: Path, tmp_path: Path) -> None:
    spans = {
        "good": [[0.0, 0.5]],
        "end_before_start": [[1.0, 0.2]],
        "negative": [[-2.0, -1.0]],
        "not_numeric": [["abc", "def"]],
        "mixed": [[0.0, 0.4], [0.9, 0.1]],
    }
    table = tmp_path / "in.json"
    table.write_text(json.dumps([{"url": str(media / "v2.mp4"), "case": k, "clips": v} for k, v in spans.items()]))
    out = tmp_path / "out"
    curate(url_list=str(table), output_folder=str(out), output_format="webdataset", clip_col="clips",
           save_additional_columns=["case"],
           config={"subsampling": {"ClippingSubsampler": {"args": {"min_length": 0.1, "precision": "exact"}}}}, quiet=True)
    by_case: dict[str, list[dict]] = {}
    for sample in read_webdataset(out):
        meta = json.loads(sample["json"])
        by_case.setdefault(meta["case"], []).append(meta)
    assert sorted(by_case) == sorted(spans)
    assert [m["status"] for m in by_case["good"]] == ["success"]
    assert [m["status"] for m in by_case["mixed"]] == ["success"]
    for case in ("end_before_start", "negative", "not_numeric"):
        assert [m["status"] for m in by_case[case]] == ["failed_to_subsample"], case
        assert by_case[case][0]["error_message"], case
