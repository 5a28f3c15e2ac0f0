"""`make demo`: curate a few locally generated videos served on 127.0.0.1, then show what was made.

No internet: the sample videos are made by ffmpeg's test sources, and one bad URL shows how a
failed sample is recorded without stopping the run.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SOURCES = ["testsrc2", "mandelbrot", "testsrc", "smptebars", "rgbtestsrc", "testsrc2"]
LABELS = ["pattern", "fractal", "pattern", "bars", "pattern", "pattern"]


def make_sample_videos(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, source in enumerate(SOURCES):
        path = folder / f"sample_{index}.mp4"
        if not path.exists():
            duration = 3 + index % 3
            subprocess.run(
                ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                 "-f", "lavfi", "-t", str(duration), "-i", f"{source}=s=640x360:r=30",
                 "-f", "lavfi", "-i", f"sine=f={220 * (index + 1)}:d={duration}",
                 "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
                 "-movflags", "+faststart", str(path)],
                check=True, timeout=120,
            )
        paths.append(path)
    return paths


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def describe_output(output: Path) -> str:
    """What a user would check first: shards, keys, members, and the real dimensions of a clip."""
    import webdataset as wds

    from curation.probe import probe

    lines = []
    tars = sorted(output.glob("*.tar"))
    for sample in wds.WebDataset([str(t) for t in tars], shardshuffle=False, empty_check=False):
        members = sorted(k for k in sample if not k.startswith("__"))
        meta = json.loads(sample["json"])
        line = f"  {sample['__url__'].rsplit('/', 1)[-1]} {sample['__key__']}: {', '.join(members)} [{meta['status']}]"
        if "mp4" in sample:
            clip = output / "_tmp_demo.mp4"
            clip.write_bytes(sample["mp4"])
            info = probe(clip)
            clip.unlink()
            line += f" {info.width}x{info.height} {info.fps:g} fps {info.duration:.1f}s"
        else:
            line += f" {meta['error_message']}"
        lines.append(line)
    return "samples written:\n" + "\n".join(lines)


def main() -> int:
    from curation import curate
    from curation.stats import read_all_stats, summarize

    root = Path.cwd()
    media = make_sample_videos(root / ".demo" / "media")
    handler = functools.partial(_QuietHandler, directory=str(media[0].parent))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    table = root / ".demo" / "videos.csv"
    rows = [f"{base}/{p.name},sample video {i} ({SOURCES[i]}),{LABELS[i]}" for i, p in enumerate(media)]
    rows.append(f"{base}/missing.mp4,a URL that answers 404,none")
    table.write_text("url,caption,label\n" + "\n".join(rows) + "\n")
    output = root / "demo-output"
    print(f"curating {len(rows)} URLs served on {base} → {output}")
    try:
        curate(url_list=str(table), output_folder=str(output), output_format="webdataset", caption_col="caption",
               save_additional_columns=["label"], config="demo", incremental_mode="overwrite")
    finally:
        server.shutdown()
    totals = summarize(read_all_stats(output))
    print(json.dumps({k: v for k, v in totals.items() if k != "top_errors"}, indent=2))
    print("errors:", totals["top_errors"])
    print(describe_output(output))
    return 0 if totals["successes"] == len(media) else 1


if __name__ == "__main__":
    sys.exit(main())
