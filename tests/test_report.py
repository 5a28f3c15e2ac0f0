"""`curate report`: a self-contained report.html with every plot, which Chromium renders."""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

import pytest

from curation.report import TITLES, build_report
from tests.support.runs import cli_in_process, copy_run, finished_run

CHROMIUM = Path("/usr/bin/chromium")
IMG = re.compile(r'<img alt="([^"]+)" title="[^"]+" src="data:image/png;base64,([^"]+)">')


@pytest.fixture(scope="module")
def run_folder(media: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return finished_run(media, tmp_path_factory)


@pytest.fixture(scope="module")
def report_html(run_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    from curation.cli import main

    assert main(["report", str(run_folder), "--out", str(out)]) == 0
    return out


def embedded_images(html: str) -> dict[str, bytes]:
    return {title: base64.b64decode(data) for title, data in IMG.findall(html)}


def test_report_embeds_every_plot_with_its_title(report_html: Path) -> None:
    html = report_html.read_text()
    images = embedded_images(html)
    assert set(images) == set(TITLES.values())  # status, throughput, duration, resolution, fps, classes
    for title, png in images.items():
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000, title
        assert f"<h2>{title}</h2>" in html
    assert "http://" not in html and "https://" not in html  # self-contained: nothing fetched
    # where the in/out numbers came from: FFProbeSubsampler's video_metadata, and probed outputs
    assert "in: video_metadata of 4 samples; out: ffprobe of 4 sampled outputs" in html
    assert "file not found" in html and "not a media file" in html  # the error table
    assert re.search(r"<td class=n>1</td><td>failed_to_download</td><td>file not found", html)


def test_report_renders_in_headless_chromium(report_html: Path, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.fail("chromium is required at /usr/bin/chromium")
    from PIL import Image

    shot = tmp_path / "shot.png"
    subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1200,3000",
         report_html.resolve().as_uri()],
        capture_output=True, timeout=90, check=False,
    )
    assert shot.is_file()
    image = Image.open(shot).convert("RGB")
    colors = image.getcolors(maxcolors=1 << 20) or []
    assert len(colors) > 200  # text alone is a few grey levels; plots add many colours
    pixels = {rgb for _, rgb in colors}
    # the status plot's bars (success green, download red) are drawn, so images really decoded
    assert any(abs(r - 44) < 6 and abs(g - 160) < 6 and abs(b - 44) < 6 for r, g, b in pixels)
    assert any(abs(r - 214) < 6 and abs(g - 39) < 6 and abs(b - 40) < 6 for r, g, b in pixels)


def test_report_mid_run_and_without_media_metadata(media: Path, tmp_path_factory: pytest.TempPathFactory,
                                                   tmp_path: Path) -> None:
    """A pass-through run (no FFProbe) with a shard still pending: the report still builds."""
    folder = copy_run(finished_run(media, tmp_path_factory, "files"), tmp_path / "partial")
    (folder / "00002_stats.json").unlink()
    path = build_report(folder, probe_samples=0)
    html = path.read_text()
    assert path == folder / "report.html"
    images = embedded_images(html)
    assert {TITLES["status"], TITLES["throughput"], TITLES["classes"]} <= set(images)
    assert TITLES["duration"] not in images and "no durations known" in html
    assert re.search(r"shards done / total</th><td class=n>2 / 3<", html)
    assert re.search(r"shards pending \(running\)</th><td class=n>1 \(0\)<", html)


def test_report_probes_local_sources_when_no_video_metadata(media: Path, tmp_path_factory: pytest.TempPathFactory,
                                                            tmp_path: Path) -> None:
    folder = finished_run(media, tmp_path_factory, "parquet")
    html = build_report(folder, out=tmp_path / "r.html", probe_samples=3).read_text()
    assert "in: ffprobe of 3 local source files; out: ffprobe of 3 sampled outputs" in html
    assert TITLES["fps"] in embedded_images(html)


def test_report_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli_in_process(capsys, "report", str(tmp_path / "missing"))
    assert code == 2 and err.startswith("curate: error:") and err.count("\n") == 1


def test_histograms_plot_the_real_numbers_in_and_out(run_folder: Path) -> None:
    """In: the sources as FFProbe saw them (96x64, 10 fps); out: probed outputs after FrameSubsampler (5 fps)."""
    from curation.report_data import collect_report_data
    from curation.run_state import collect

    data = collect_report_data(collect(run_folder), probe_samples=10)
    assert len(data.profiles_in) == len(data.profiles_out) == 4
    assert {(p.width, p.height, p.fps) for p in data.profiles_in} == {(96, 64, 10.0)}
    assert {p.fps for p in data.profiles_out} == {5.0}
    assert sorted(p.duration for p in data.profiles_in) == pytest.approx([1.0, 1.2, 1.4, 1.6], abs=0.05)
    assert sorted(p.duration for p in data.profiles_out) == pytest.approx([1.0, 1.2, 1.4, 1.6], abs=0.25)
    assert data.labels == {"a": 2, "b": 1, "c": 1}  # successful samples only (v0..v3)
    assert {(e.kind, e.count) for e in data.errors} == {("failed_to_download", 1), ("failed_to_subsample", 1)}
