"""Configs: built-in names, YAML paths, dicts, CLI overrides; video2dataset command lines unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curation.config import build_config
from curation.errors import ConfigError
from tests.conftest import run_cli
from tests.support.shards import read_webdataset


def test_defaults_match_video2dataset() -> None:
    config = build_config()
    assert config.output_format == "files" and config.input_format is None
    assert config.encode_formats == {"video": "mp4"}
    assert config.storage.number_sample_per_shard == 1000 and config.storage.oom_shard_count == 5
    assert config.reading.timeout == 60 and config.reading.yt_args["download_size"] == 360
    assert config.incremental_mode == "incremental" and config.max_shard_retry == 1


def test_yaml_path_dict_and_overrides_merge_over_defaults(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("storage:\n  number_sample_per_shard: 7\nreading:\n  timeout: 9\n")
    config = build_config(str(path), **{"reading.timeout": 3})
    assert config.storage.number_sample_per_shard == 7 and config.storage.oom_shard_count == 5
    assert config.reading.timeout == 3
    assert build_config({"distribution": {"thread_count": 2}}).distribution.thread_count == 2


def test_bad_values_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^config error: distribution\.thread_count: Input should be greater than 0"):
        build_config({"distribution": {"thread_count": 0}})
    with pytest.raises(ConfigError, match=r"encode_formats: .*unknown modality 'smell'"):
        build_config(None, encode_formats={"smell": "x"})


def test_video2dataset_command_line_runs_unchanged(media: Path, tmp_path: Path) -> None:
    """Flags as video2dataset users type them (python-fire style values, --flag=value)."""
    table = tmp_path / "videos.csv"
    table.write_text(f"url,caption,label\n{media / 'v0.mp4'},a cat,cat\n{media / 'v1.mp4'},a dog,dog\n")
    v2d_config = tmp_path / "v2d.yaml"
    v2d_config.write_text(
        "subsampling: {}\nreading:\n  yt_args:\n    download_size: 360\n    download_audio_rate: 44100\n"
        "    yt_metadata_args: null\n  timeout: 60\n  sampler: null\nstorage:\n  number_sample_per_shard: 1000\n"
        "  oom_shard_count: 5\n  captions_are_subtitles: False\ndistribution:\n  processes_count: 1\n"
        "  thread_count: 4\n  subjob_size: 1000\n  distributor: \"multiprocessing\"\n"
    )
    result = run_cli(
        "run", f"--url_list={table}", f"--output_folder={tmp_path / 'out'}", "--output_format=webdataset",
        "--input_format=csv", "--url_col=url", "--caption_col=caption", "--save_additional_columns=[label]",
        "--enable_wandb=False", "--encode_formats={'video': 'mp4'}", "--incremental_mode=incremental",
        "--max_shard_retry=1", f"--tmp_dir={tmp_path / 'tmp'}", f"--config={v2d_config}",
    )
    assert result.code == 0, result.stderr
    samples = read_webdataset(tmp_path / "out")
    assert [json.loads(s["json"])["label"] for s in samples] == ["cat", "dog"]
    assert "2 ok" in result.stdout


def test_builtin_config_by_name_and_python_module_entry(media: Path, tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text(f"url\n{media / 'v0.mp4'}\n")
    result = run_cli("run", "--url_list", str(table), "--output_folder", str(tmp_path / "o"), "--config", "default",
                     "--output_format", "dummy", "--set", "reading.timeout=30")
    assert result.code == 0, result.stderr
    assert json.loads((tmp_path / "o" / "00000_stats.json").read_text())["successes"] == 1


def test_a_configs_folder_in_the_working_directory_does_not_hide_the_shipped_configs(media: Path, tmp_path: Path) -> None:
    """`python -m curation` puts the working directory first on the import path; ML projects often
    have a `configs/` folder there. The shipped `default` (and the user's own YAML beside it) still load."""
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "mine.yaml").write_text("storage:\n  number_sample_per_shard: 1\n")
    table = tmp_path / "t.csv"
    table.write_text(f"url\n{media / 'v0.mp4'}\n{media / 'v1.mp4'}\n")
    env = {"PYTHONPATH": ""}  # as a user's shell: curate found through its install, not through this checkout
    result = run_cli("run", "--url_list", str(table), "--output_folder", "out", "--config", "configs/mine.yaml",
                     "--output_format", "dummy", cwd=tmp_path, env=env)
    assert result.code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").glob("*_stats.json")) == ["00000_stats.json", "00001_stats.json"]
    named = run_cli("run", "--url_list", str(table), "--output_folder", "out2", "--config", "downsample",
                    "--output_format", "dummy", cwd=tmp_path, env=env)
    assert named.code == 0, named.stderr
