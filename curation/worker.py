"""process_shard(shard_id): the per-sample loop of one shard, the same for every engine.

Downloads run in ``thread_count`` threads; transcodes (ffmpeg children) are limited per process;
at most ``2 × thread_count`` samples are in flight, each held as temp files on disk, so memory does
not grow with video size or shard size. Samples are written in input order, so the output does not
depend on timing. The stats file is written last: it is the shard's only "done" marker.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from curation.config import Config
from curation.filters import Filters
from curation.fsutil import process_token, read_json
from curation.metadata_only import metadata_transform
from curation.plan import DATASET_FORMATS, KEY_COLUMN, load_plan
from curation.previous import PreviousShard
from curation.probe import ProbeError, ProbeInfo, probe_media
from curation.remote_output import ensure_plan, fetch_shard, publish_shard
from curation.sections import clips_in_download, download_section, record_section
from curation.sources import FetchError, fetch
from curation.stats import FAILED_TO_DOWNLOAD, FAILED_TO_SUBSAMPLE, SUCCESS, ShardStats, stats_path
from curation.wds_sample import WdsSampleError, WdsShard
from curation.writers import SampleRecord, make_writer
from subsamplers import build_subsamplers
from subsamplers.base import SampleInput, SubsamplerError
from subsamplers.ffmpeg_plan import transform

log = logging.getLogger("curation.worker")
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class SampleResult:
    status: str
    error: str | None = None
    records: list[SampleRecord] = field(default_factory=list)
    bytes_in: int = 0
    seconds_in: float = 0.0
    seconds_out: float = 0.0
    work_dir: Path | None = None
    reused: bool = False  # kept from the previous output of this shard (--retry_failed)


def bounded_ordered_map(pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T], window: int) -> Iterator[R]:
    """Like ``pool.map`` but with at most ``window`` items submitted and not yet consumed."""
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(pool.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


class ShardInterrupted(Exception):
    """The run is stopping (Ctrl-C, SIGTERM): this shard ends unfinished, with nothing final written."""


@dataclass
class WorkerState:
    """What the shards running as threads of one process share.

    ``transcode_slots``: one pool of ffmpeg slots for all of them, so when one shard ends the others
    transcode more samples at once, and the last shard of a run does not leave cores idle while it
    works through its samples one by one. ``stopping``: set before the run's ffmpeg children are
    killed, so a sample that failed only because its ffmpeg was killed is never recorded as failed
    in a shard that then looks finished.
    """

    transcode_slots: threading.Semaphore
    stopping: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def for_shards(cls, shards_at_once: int, config: Config) -> WorkerState:
        return cls(threading.Semaphore(shards_at_once * config.distribution.ffmpeg_concurrency))


class ShardProcessor:
    """Everything one shard needs, built once per shard attempt."""

    def __init__(self, config: Config, shard_id: int, attempt: int = 1, previous: PreviousShard | None = None,
                 state: WorkerState | None = None) -> None:
        self.config = config
        self.previous = previous
        self.folder = Path(config.output_folder)
        self.plan = load_plan(self.folder)
        self.shard_id = shard_id
        self.name = self.plan.shard_name(shard_id)
        self.attempt = attempt
        _, self.chain = build_subsamplers(config.subsampling)
        base_tmp = Path(config.tmp_dir) if config.tmp_dir else self.folder / "_tmp"
        # unique per host, Slurm task, process and thread: srun tasks on two nodes may share a pid
        self.tmp_root = base_tmp / f"{self.name}-{process_token()}-{threading.get_ident()}"
        self.state = state or WorkerState.for_shards(1, config)
        self.saved_columns = self._saved_columns()
        self.filters = Filters(config.filters)  # keep conditions on each output's json
        self.wds = _webdataset_input(config, self.plan.manifest, shard_id)  # reprocessing existing shards

    def _saved_columns(self) -> list[str]:
        if self.config.save_additional_columns is not None:
            return list(self.config.save_additional_columns)
        if self.config.input_format in DATASET_FORMATS:
            schema_names = self.plan.read_shard(self.shard_id).column_names
            core = {self.config.url_col, self.config.caption_col, self.config.clip_col, KEY_COLUMN, "key"}
            return [n for n in schema_names if n not in core]
        return []

    def base_meta(self, row: dict[str, Any]) -> dict[str, Any]:
        if self.wds is not None:
            return self.wds.base_meta(row)
        meta: dict[str, Any] = {"url": row.get(self.config.url_col)}
        if self.config.caption_col:
            meta["caption"] = row.get(self.config.caption_col)
        for column in self.saved_columns:
            meta[column] = row.get(column)
        return meta

    def run(self) -> dict[str, Any]:
        rows = self.plan.read_shard(self.shard_id).to_pylist()
        writer = make_writer(self.config.output_format, self.folder, self.name, self.config.encode_formats)
        stats = ShardStats(shard=self.name, attempt=self.attempt)
        if self.wds is not None:
            stats.input_problems.update(self.wds.input_problems(rows))
        threads = self.config.distribution.thread_count
        try:
            with ThreadPoolExecutor(threads, thread_name_prefix=f"shard{self.name}") as pool:
                for row, result in bounded_ordered_map(pool, self._process_row, rows, window=2 * threads):
                    try:
                        self._stop_if_asked()
                        self._write(writer, row, result, stats)
                    finally:
                        if result.work_dir is not None:
                            shutil.rmtree(result.work_dir, ignore_errors=True)
            self._stop_if_asked()
            writer.close()
        except BaseException:
            writer.abort()
            raise
        finally:
            shutil.rmtree(self.tmp_root, ignore_errors=True)
            if self.previous is not None:
                self.previous.close()
        stats.bytes_written = writer.bytes_written
        stats.finish()
        if self.config.publish_to:  # a remote output folder: upload, its stats last, before the local marker
            publish_shard(self.config.publish_to, writer.finals, stats.to_json_bytes(), self.name)
        stats.write(self.folder)
        return stats.to_dict()

    def _stop_if_asked(self) -> None:
        if self.state.stopping.is_set():
            raise ShardInterrupted(f"shard {self.name}: the run is stopping")

    def _process_row(self, row: dict[str, Any]) -> tuple[dict[str, Any], SampleResult]:
        key = row[KEY_COLUMN]
        if self.previous is not None and self.previous.succeeded(key):
            work_dir = self.tmp_root / key
            work_dir.mkdir(parents=True, exist_ok=True)
            return row, SampleResult(SUCCESS, records=self.previous.reuse(key, work_dir), work_dir=work_dir, reused=True)
        return row, self.process_sample(row)

    def process_sample(self, row: dict[str, Any]) -> SampleResult:
        key = row[KEY_COLUMN]
        work_dir = self.tmp_root / key
        work_dir.mkdir(parents=True, exist_ok=True)
        url = row.get(self.config.url_col)
        # dataset layouts carry their windows in `clips` (Kinetics without --media_dir); yt-dlp fetches just that one
        clip_col = self.config.clip_col or ("clips" if self.config.input_format in DATASET_FORMATS else None)
        clips = row.get(clip_col) if clip_col else None
        self._stop_if_asked()
        try:
            if self.wds is not None:
                fetched = self.wds.fetch(row, work_dir)
            else:
                if not isinstance(url, str) or not url.strip():
                    raise FetchError("empty url")
                fetched = fetch(url.strip(), work_dir, self.config.reading, section=download_section(clips, self.config.reading))
        except FetchError as exc:
            return SampleResult(FAILED_TO_DOWNLOAD, str(exc), work_dir=work_dir)
        except WdsSampleError as exc:
            return SampleResult(FAILED_TO_SUBSAMPLE, str(exc), work_dir=work_dir)
        result = SampleResult(SUCCESS, bytes_in=fetched.size, work_dir=work_dir)
        try:
            with self.state.transcode_slots:  # one ffmpeg-family child per slot: a probe per thread would double memory
                self._stop_if_asked()
                info = probe_media(fetched.path, timeout=self.config.reading.step_timeout("ffprobe"))
            check_limits(info, self.config)
            result.seconds_in = info.duration or 0.0
            sample = SampleInput(key=key, path=fetched.path, probe=info, metadata=self.base_meta(row),
                                 clips=clips_in_download(clips, fetched, info.duration), tmp_dir=work_dir)
            with self.state.transcode_slots:
                self._stop_if_asked()
                outputs = (transform if self.config.writes_media else metadata_transform)(sample, self.chain, self.config)
            if self.wds is not None and self.config.writes_media:
                outputs = self.wds.complete(outputs, row, fetched)
        except (ProbeError, SubsamplerError) as exc:
            return SampleResult(FAILED_TO_SUBSAMPLE, str(exc), bytes_in=fetched.size, work_dir=work_dir)
        except ShardInterrupted:
            raise
        except Exception as exc:  # a bug or an unexpected input costs this sample, not the shard
            log.exception("sample %s failed", key)
            return SampleResult(FAILED_TO_SUBSAMPLE, f"internal error: {type(exc).__name__}: {exc}", bytes_in=fetched.size, work_dir=work_dir)
        for output in record_section(outputs, fetched):
            result.records.append(SampleRecord(key=output.key, meta=output.metadata, media=output.media))
            result.seconds_out += _output_seconds(output.metadata, info.duration)
        return result

    def _write(self, writer: Any, row: dict[str, Any], result: SampleResult, stats: ShardStats) -> None:
        key = row[KEY_COLUMN]
        caption = row.get(self.config.caption_col) if self.config.caption_col else None
        if self.wds is not None:
            caption = self.wds.caption(row)
        caption = None if caption is None or not self.config.writes_media else str(caption)
        base = self.base_meta(row)
        stats.record(result.status, None if result.status == SUCCESS else result.error)
        stats.bytes_downloaded += result.bytes_in
        stats.video_seconds_in += result.seconds_in
        if result.status != SUCCESS:
            writer.write(SampleRecord(key=key, meta=dict(base, status=result.status, error_message=result.error), caption=caption))
            return
        stats.video_seconds_out += result.seconds_out
        if result.reused:
            for record in result.records:
                writer.write(record)
                stats.outputs_written += 1
            return
        for record in result.records:
            meta = dict(base, status=SUCCESS, error_message=None)
            meta.update(record.meta)
            dropped = self.filters.reason(dict(meta, key=record.key)) if self.filters else None  # the json as written
            if dropped is not None:
                stats.filtered += 1
                stats.filter_drops[dropped] += 1
                continue
            writer.write(SampleRecord(key=record.key, meta=meta, media=record.media, caption=caption))
            stats.outputs_written += 1


def check_limits(info: ProbeInfo, config: Config) -> None:
    """Refuse decompression bombs and endless streams before any decode starts."""
    reading = config.reading
    if info.width and info.height and info.width * info.height > reading.max_pixels:
        raise SubsamplerError(f"declared size {info.width}x{info.height} exceeds reading.max_pixels ({reading.max_pixels})")
    if info.duration and info.duration > reading.max_duration:
        raise SubsamplerError(f"duration {info.duration:.0f}s exceeds reading.max_duration ({reading.max_duration:g}s)")


def _webdataset_input(config: Config, manifest: dict[str, Any], shard_id: int) -> WdsShard | None:
    """Rows planned from an input tar need the tar-reading helpers (curation/wds_sample.py)."""
    return WdsShard(config, manifest, shard_id) if config.input_format == "webdataset" else None


def _output_seconds(meta: dict[str, Any], source_seconds: float | None) -> float:
    clips = meta.get("clips")
    if isinstance(clips, list) and len(clips) == 1 and isinstance(clips[0], (list, tuple)):
        return float(clips[0][1]) - float(clips[0][0])
    return float(source_seconds or 0.0)


def process_shard(shard_id: int, config: Config, attempt: int = 1, state: WorkerState | None = None) -> dict[str, Any]:
    """Process one shard end to end (idempotent: a finished shard is left alone)."""
    folder = Path(config.output_folder)
    if config.publish_to:  # a worker on another machine takes the plan from the remote output folder
        ensure_plan(folder, config.publish_to)
    processor = ShardProcessor(config, shard_id, attempt, state=state)
    done = stats_path(folder, processor.name)
    if done.exists():
        previous_stats = read_json(done)
        if not (config.retry_failed and has_failures(previous_stats)):
            return previous_stats
        if config.publish_to:  # its good samples are kept from the published files
            fetch_shard(config.publish_to, folder, processor.name)
        processor.previous = PreviousShard(folder, processor.name, config.output_format, config.encode_formats)
    return processor.run()


def has_failures(stats: dict[str, Any]) -> bool:
    return stats.get("successes", 0) < stats.get("count", 0)
