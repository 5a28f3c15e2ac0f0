"""Hostile and broken input tars: each problem costs one sample (or is recorded for its shard),
the rest of the shard is processed, and nothing is ever written outside the output folder.

One run reprocesses every case at once (each input tar is its own shard), so the snapshot of the
whole temp tree before and after covers all of them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from curation import curate
from tests.support.shards import read_webdataset, sample_json
from tests.support.tars import symlink, tree, write_tar


def _sample(key: str, video: bytes, caption: str | None = None) -> list[tuple[str, bytes]]:
    members = [(f"{key}.json", json.dumps({"key": key, "label": "x", "status": "success"}).encode()), (f"{key}.mp4", video)]
    return members + ([(f"{key}.txt", caption.encode())] if caption is not None else [])


@pytest.fixture(scope="module")
def run(media: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("hostile")
    inp = root / "in"
    video = (media / "v0.mp4").read_bytes()
    other = (media / "v1.mp4").read_bytes()
    escape = f"{root}/abs/evil"
    # truncated: cut in the middle of the second sample's video
    cut = write_tar(inp / "truncated.tar", _sample("good", video, "kept") + _sample("cutoff", other))
    data = cut.read_bytes()
    cut.write_bytes(data[: data.index(other[:512]) + len(other) // 2])
    write_tar(inp / "unsafe.tar", [
        *_sample("good", video),
        (f"{escape}.mp4", video), (f"{escape}.json", b"{}"),
        ("../escape.mp4", video), ("../../escape.json", b"{}"),
        symlink("link.mp4", "/etc/passwd"), ("link.json", b"{}"),
    ])
    write_tar(inp / "split.tar", [("a.mp4", video), ("b.mp4", other), ("a.json", b'{"label": "a"}'), ("a.txt", b"caption a"),
                                  ("b.json", b'{"label": "b"}')])
    write_tar(inp / "duplicate.tar", [*_sample("dup", video), *_sample("dup", other), *_sample("good", other)])
    write_tar(inp / "notvideo.tar", [*_sample("text", b"<html>this is not a video</html>" * 50), *_sample("good", video)])
    write_tar(inp / "nojson.tar", [("bare.mp4", video), ("bare.txt", b"caption only"), *_sample("good", other)])
    (inp / "garbage.tar").write_bytes(b"this is not a tar archive at all\n" * 64)
    out = root / "out"
    before = tree(root, skip=out)
    summary = curate(url_list=f"{inp}/*.tar", input_format="webdataset", output_folder=str(out), output_format="webdataset",
                     processes_count=2, quiet=True)
    return {"root": root, "out": out, "before": before, "after": tree(root, skip=out), "summary": summary, "escape": escape}


def _shard(run: dict[str, Any], name: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """(key → json, stats) of one output shard; also checks it is a valid webdataset tar."""
    folder = run["out"]
    samples = {}
    import webdataset as wds

    for sample in wds.WebDataset([str(folder / f"{name}.tar")], shardshuffle=False, empty_check=False):
        assert sample["__key__"] not in samples, "a key written twice"
        samples[sample["__key__"]] = dict(sample_json(sample), _members=sorted(k for k in sample if not k.startswith("__")))
    return samples, json.loads((folder / f"{name}_stats.json").read_text())


def test_nothing_written_outside_the_output_folder(run: dict[str, Any]) -> None:
    assert run["after"] == run["before"]
    assert not Path(f"{run['escape']}.mp4").exists()
    for candidate in (Path.cwd().parent / "escape.mp4", Path.cwd().parent.parent / "escape.json"):
        assert not candidate.exists()
    names = {p.name for p in run["out"].rglob("*")}
    assert not names & {"evil.mp4", "escape.mp4", "escape.json", "passwd"}


def test_truncated_tar_keeps_what_came_before(run: dict[str, Any]) -> None:
    samples, stats = _shard(run, "truncated")
    assert samples["good"]["status"] == "success" and samples["good"]["_members"] == ["json", "mp4", "txt"]
    assert samples["cutoff"]["status"] == "failed_to_subsample"
    assert samples["cutoff"]["error_message"].startswith("truncated tar: member cut off")
    assert any(p.startswith("truncated tar") for p in stats["input_problems"])
    assert stats["successes"] == 1 and stats["failed_to_subsample"] == 1


def test_absolute_dotdot_and_link_members_are_refused(run: dict[str, Any]) -> None:
    samples, stats = _shard(run, "unsafe")
    assert samples["good"]["status"] == "success"
    bad = {key: meta for key, meta in samples.items() if key != "good"}
    assert len(bad) == 4  # abs, ../escape, ../../escape, link: each recorded under a safe key
    assert all(meta["status"] == "failed_to_subsample" and meta["_members"] == ["json"] for meta in bad.values())
    errors = sorted(meta["error_message"] for meta in bad.values())
    assert sum(e.startswith("absolute member name") for e in errors) == 1
    assert sum(e.startswith("member name with '..'") for e in errors) == 2
    assert sum(e.startswith("link or special member") for e in errors) == 1
    assert all("/" not in key and ".." not in key for key in samples)
    assert {meta["source"]["key"] for meta in bad.values()} == {run["escape"], "../escape", "../../escape", "link"}
    assert stats["failed_to_subsample"] == 4


def test_split_sample_is_joined_with_a_warning(run: dict[str, Any]) -> None:
    samples, stats = _shard(run, "split")
    assert list(samples) == ["a", "b"]
    assert samples["a"]["status"] == samples["b"]["status"] == "success"
    assert samples["a"]["label"] == "a" and samples["a"]["_members"] == ["json", "mp4", "txt"]
    assert all("members not contiguous" in meta["input_warnings"][0] for meta in samples.values())
    assert stats["input_problems"] == {"members not contiguous in the input tar (sample split apart; joined)": 2}


def test_duplicate_key_fails_that_sample_only(run: dict[str, Any]) -> None:
    samples, stats = _shard(run, "duplicate")
    assert list(samples) == ["dup", "good"]
    assert samples["dup"]["status"] == "failed_to_subsample"
    assert samples["dup"]["error_message"].startswith("duplicate key: member 'dup.json' appears more than once")
    assert samples["good"]["status"] == "success"
    assert stats["successes"] == 1 and stats["count"] == 2


def test_member_that_is_not_a_video(run: dict[str, Any]) -> None:
    samples, stats = _shard(run, "notvideo")
    assert samples["text"]["status"] == "failed_to_subsample" and samples["text"]["_members"] == ["json"]
    assert samples["text"]["error_message"]
    assert samples["good"]["status"] == "success"


def test_missing_json_is_processed_with_a_warning(run: dict[str, Any]) -> None:
    samples, stats = _shard(run, "nojson")
    assert samples["bare"]["status"] == "success" and samples["bare"]["_members"] == ["json", "mp4", "txt"]
    assert samples["bare"]["input_warnings"] == ["no json member in the input sample"]
    assert samples["bare"]["source"]["key"] == "bare"
    assert stats["input_problems"] == {"no json member in the input sample": 1} and stats["successes"] == 2


def test_not_a_tar_is_an_empty_shard_with_its_problem_recorded(run: dict[str, Any]) -> None:
    samples, stats = _shard(run, "garbage")
    assert samples == {} and stats["count"] == 0
    assert [p for p in stats["input_problems"] if p.startswith("not a readable tar")]
    assert run["summary"].shards_done == run["summary"].shards_total == 7
    assert sorted(p.name for p in run["out"].glob("*.tar")) == sorted(p.name for p in (run["root"] / "in").glob("*.tar"))
    assert not [p for p in os.listdir(run["out"]) if ".tmp-" in p]


def test_run_summary_lists_input_problems(run: dict[str, Any]) -> None:
    problems = dict(run["summary"].totals["input_problems"])
    assert problems["no json member in the input sample"] == 4  # "bare", and 3 unsafe samples whose json was refused
    assert any(p.startswith("not a readable tar") for p in problems)
    assert any(p.startswith("truncated tar") for p in problems)


def test_every_output_reads_back_with_webdataset(run: dict[str, Any]) -> None:
    keys = [s["__key__"] for s in read_webdataset(run["out"])]
    assert len(keys) == run["summary"].totals["count"] == 15
