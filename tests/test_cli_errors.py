"""User errors: exit code 2 and exactly one line naming the problem, before any work starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli


def _one_line_error(result, *fragments: str) -> None:
    assert result.code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def table(tmp_path: Path, media: Path) -> Path:
    path = tmp_path / "in.csv"
    path.write_text(f"url,caption\n{media / 'v0.mp4'},hello\n")
    return path


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return path


def test_unknown_config_key(tmp_path: Path, table: Path) -> None:
    cfg = _config(tmp_path, "reading:\n  timeot: 5\n")
    result = run_cli("run", "--url_list", str(table), "--output_folder", str(tmp_path / "o"), "--config", str(cfg))
    _one_line_error(result, "reading.timeot", "unknown key")
    assert not (tmp_path / "o" / "_plan").exists()


def test_wrong_type(tmp_path: Path, table: Path) -> None:
    cfg = _config(tmp_path, "storage:\n  number_sample_per_shard: many\n")
    result = run_cli("run", "--url_list", str(table), "--output_folder", str(tmp_path / "o"), "--config", str(cfg))
    _one_line_error(result, "storage.number_sample_per_shard", "integer", "'many'")


def test_unknown_subsampler_and_bad_argument(tmp_path: Path, table: Path) -> None:
    cfg = _config(tmp_path, "subsampling:\n  BlurSubsampler:\n    args: {}\n")
    result = run_cli("run", "--url_list", str(table), "--output_folder", str(tmp_path / "o"), "--config", str(cfg))
    _one_line_error(result, "subsampling.BlurSubsampler", "unknown subsampler")


def test_bad_enum_value_from_cli(tmp_path: Path, table: Path) -> None:
    result = run_cli("run", "--url_list", str(table), "--output_folder", str(tmp_path / "o"), "--output_format", "zip")
    _one_line_error(result, "output_format", "webdataset")


def test_missing_required_url_list(tmp_path: Path) -> None:
    _one_line_error(run_cli("run", "--output_folder", str(tmp_path / "o")), "--url_list is required")


def test_unknown_cli_flag(tmp_path: Path, table: Path) -> None:
    _one_line_error(run_cli("run", "--url_list", str(table), "--bogus", "1"), "unrecognized arguments: --bogus")


def test_unknown_builtin_config(tmp_path: Path, table: Path) -> None:
    result = run_cli("run", "--url_list", str(table), "--output_folder", str(tmp_path / "o"), "--config", "nosuch")
    _one_line_error(result, "'nosuch' is neither a YAML file nor a built-in config")


def test_missing_url_column(tmp_path: Path, table: Path) -> None:
    result = run_cli("run", "--url_list", str(table), "--output_folder", str(tmp_path / "o"), "--url_col", "link")
    _one_line_error(result, "column 'link' not found in in.csv", "columns: url, caption")


def test_empty_table(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    _one_line_error(run_cli("run", "--url_list", str(empty), "--output_folder", str(tmp_path / "o")), "empty.csv is empty")
    header_only = tmp_path / "header.csv"
    header_only.write_text("url\n")
    _one_line_error(run_cli("run", "--url_list", str(header_only), "--output_folder", str(tmp_path / "o2")), "has no rows")


def test_undecodable_table(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 this is not parquet at all")
    _one_line_error(run_cli("run", "--url_list", str(bad), "--output_folder", str(tmp_path / "o")), "cannot read bad.parquet as parquet")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"url,caption\n/a.mp4,caf\xe9\n")
    _one_line_error(run_cli("run", "--url_list", str(latin), "--output_folder", str(tmp_path / "o3")), "latin.csv", "not valid UTF-8")


def test_missing_input_file(tmp_path: Path) -> None:
    result = run_cli("run", "--url_list", str(tmp_path / "nope.csv"), "--output_folder", str(tmp_path / "o"))
    _one_line_error(result, "no such file or directory")
