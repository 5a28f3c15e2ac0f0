"""The tar index alone (no ffmpeg): what webdataset calls a key, and how a damaged archive is reported."""

from __future__ import annotations

from pathlib import Path

from curation.wds_input import index_tar, split_name, unsafe_name
from tests.support.tars import write_tar


def test_split_name_follows_webdataset() -> None:
    assert split_name("abc.seg.mp4") == ("abc", "seg.mp4")
    assert split_name("./dir.v1/abc.mp4") == ("dir.v1/abc", "mp4")
    assert split_name("README") == ("README", "")
    assert unsafe_name("/etc/x.mp4") == "absolute member name"
    assert unsafe_name("C:\\\\x.mp4") == "absolute member name"
    assert unsafe_name("a/../../x.mp4") == "member name with '..'"
    assert unsafe_name("a..b.mp4") is None


def test_clean_tar_has_no_problems_and_long_names_work(tmp_path: Path) -> None:
    long_key = "k" * 150
    tar = write_tar(tmp_path / "t.tar", [(f"{long_key}.mp4", b"x" * 700), (f"{long_key}.json", b"{}")])
    index = index_tar(str(tar))
    assert index.problems == []
    assert [(m.key, m.ext, m.size) for m in index.members] == [(long_key, "mp4", 700), (long_key, "json", 2)]
    with open(tar, "rb") as handle:
        handle.seek(index.members[0].offset)
        assert handle.read(700) == b"x" * 700  # offsets point at the data, not the header


def test_truncated_at_a_member_boundary_and_trailing_garbage(tmp_path: Path) -> None:
    tar = write_tar(tmp_path / "t.tar", [("a.mp4", b"x" * 512), ("b.mp4", b"y" * 512)])
    data = tar.read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[: 512 * 4])  # both members whole, end-of-archive marker gone
    index = index_tar(str(cut))
    assert [m.name for m in index.members] == ["a.mp4", "b.mp4"] and all(m.problem is None for m in index.members)
    assert index.problems and index.problems[0].startswith("truncated tar: no end-of-archive marker")
    junk = tmp_path / "junk.tar"
    junk.write_bytes(data[: 512 * 4] + b"garbage!" * 256)
    assert index_tar(str(junk)).problems[0].startswith("truncated tar")
    half = tmp_path / "half.tar"
    half.write_bytes(data[: 512 * 3 + 100])  # second member's data cut
    index = index_tar(str(half))
    assert index.members[1].problem == "truncated tar: member cut off (100 of 512 bytes present)"
    assert index.problems


def _bytes_read_by_this_process() -> int:
    """Bytes this process got from read() calls so far (Linux's own count, whatever library read them)."""
    line = next(line for line in Path("/proc/self/io").read_text().splitlines() if line.startswith("rchar:"))
    return int(line.split()[1])


def test_planning_a_class_subset_reads_the_metadata_not_the_media(tmp_path: Path) -> None:
    """Choosing N per class over existing shards costs their headers, json and captions: media bytes are seeked over."""
    import json
    import os

    from curation.config import build_config
    from curation.plan import make_plan

    video = os.urandom(1 << 20)  # 1 MiB per sample; the planner must never read it
    for shard in range(2):
        members: list = []
        for i in range(8):
            key = f"{shard:05d}{i:04d}"
            members += [(f"{key}.mp4", video), (f"{key}.json", json.dumps({"label": "ab"[i % 2]}).encode()),
                        (f"{key}.txt", b"a caption")]
        write_tar(tmp_path / "in" / f"{shard:05d}.tar", members)
    tar_bytes = sum(p.stat().st_size for p in (tmp_path / "in").glob("*.tar"))

    def plan(out: str) -> tuple[int, object]:
        config = build_config(None, url_list=f"{tmp_path}/in/{{00000..00001}}.tar", input_format="webdataset",
                              output_folder=str(tmp_path / out),
                              subsampling={"ClassSubsetSubsampler": {"args": {"samples_per_class": 3, "check_files": False}}})
        before = _bytes_read_by_this_process()
        made = make_plan(config)
        return _bytes_read_by_this_process() - before, made

    plan("warm")  # the first plan also reads the Python modules it imports
    read, made = plan("out")
    assert len(made.shard_ids) == 2
    kept = [row for shard in made.shard_ids for row in made.read_shard(shard).to_pylist()]
    assert sorted(row["label"] for row in kept) == ["a"] * 3 + ["b"] * 3
    assert read < tar_bytes / 20, f"planning read {read} of {tar_bytes} tar bytes"
