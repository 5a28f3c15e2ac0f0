"""`curate run|stats|report|inspect|export`. Heavy modules are imported only by the command that needs them.

``curate run`` takes video2dataset 1.3.0's arguments with the same names (``--flag value`` or
``--flag=value``; lists and dicts in Python/YAML literal form, e.g. ``'[label]'``), so its command
lines run unchanged. User errors print one line and exit 2; ``--verbose`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

EXIT_USER_ERROR = 2
EXIT_FAILED = 1


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a bad command line is one line on stderr and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USER_ERROR, f"curate: error: {message} (see '{self.prog} --help')\n")


def literal(text: str) -> Any:
    """Parse a CLI value the way python-fire (video2dataset's CLI) would: lists, dicts, bools, numbers."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def text_or_none(text: str) -> str | None:
    return None if text in ("None", "null", "") else text


# name, parser, help
RUN_FLAGS: list[tuple[str, Callable[[str], Any], str]] = [
    ("url_list", str, "input table, folder of tables or media, dataset annotation file, or shard pattern"),
    ("output_folder", str, "where shards, stats and the plan go: a folder, or an fsspec URL (s3://bucket/out)"),
    ("output_format", str, "webdataset | parquet | files | dummy"),
    ("input_format", str, "csv | tsv | tsv.gz | json | jsonl | parquet | txt | files | webdataset | kinetics | ssv2 | imagefolder"),
    ("encode_formats", literal, "modality → extension, e.g. '{\"video\": \"mp4\", \"audio\": \"m4a\"}'"),
    ("stage", str, "video2dataset's stage: download | subset"),
    ("url_col", str, "column with the URL or path"),
    ("caption_col", text_or_none, "column written as <key>.txt"),
    ("clip_col", text_or_none, "column with clip spans [[start, end], ...]"),
    ("key_col", text_or_none, "column to take sample keys from (made webdataset-safe)"),
    ("save_additional_columns", literal, "columns copied into <key>.json, e.g. '[label]'"),
    ("enable_wandb", literal, "log the run to Weights & Biases"),
    ("wandb_project", str, "wandb project name"),
    ("incremental_mode", str, "incremental (skip finished shards) | overwrite"),
    ("max_shard_retry", int, "retries of a failed shard"),
    ("tmp_dir", text_or_none, "temp folder (default: <output_folder>/_tmp)"),
    ("staging_folder", text_or_none, "for a remote output_folder: local folder shards are made in (default: ~/.cache/curation/staging/...)"),
    ("config", str, "built-in config name or YAML path"),
    ("media_dir", text_or_none, "folder of media for dataset layouts (kinetics, ssv2)"),
    ("seed", int, "seed for sampling"),
    ("metadata_only", literal, "write only <key>.json (+ .npy) per source sample, no media"),
    ("filters", literal, "keep conditions on each json, e.g. 'motion.mean >= 0.5' or '[\"a > 1\", \"b == 2\"]'"),
    ("processes_count", int, "shortcut for distribution.processes_count"),
    ("thread_count", int, "shortcut for distribution.thread_count"),
    ("number_sample_per_shard", int, "shortcut for storage.number_sample_per_shard"),
    ("distributor", str, "shortcut for distribution.distributor"),
]


def add_run_parser(subparsers: Any) -> None:
    run = subparsers.add_parser("run", help="curate a table of URLs/paths or existing shards into shards",
                                description="Curate a table of URLs/paths or existing shards into shards.")
    run.add_argument("positional", nargs="*", metavar="URL_LIST [OUTPUT_FOLDER]", help=argparse.SUPPRESS)
    for name, parse, help_text in RUN_FLAGS:
        run.add_argument(f"--{name}", type=parse, default=None, help=help_text,
                         **({"nargs": "?", "const": True} if name == "enable_wandb" else {}))
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override any config key, e.g. --set reading.timeout=30 (repeatable)")
    run.add_argument("--retry_failed", action="store_true", default=None,
                     help="re-attempt only the samples recorded as failed in finished shards")
    run.add_argument("--quiet", action="store_true", help="plain log lines instead of a live progress bar")
    run.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from curation.errors import UserError
    from curation.runner import ShardsFailedError, run

    overrides: dict[str, Any] = {}
    positional = list(args.positional)
    for name in ("url_list", "output_folder"):
        if getattr(args, name) is None and positional:
            setattr(args, name, positional.pop(0))
    if positional:
        raise UserError(f"unexpected argument {positional[0]!r}")
    for name, _, _ in RUN_FLAGS:
        value = getattr(args, name)
        if name != "config" and value is not None:
            overrides[name] = value
    if args.retry_failed:
        overrides["retry_failed"] = True
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--set {item!r}: expected KEY=VALUE")
        overrides[key.strip()] = literal(value)
    if overrides.get("url_list") is None:
        raise UserError("--url_list is required")
    try:
        summary = run(config=args.config or "default", quiet=True if args.quiet else None, **overrides)
    except ShardsFailedError as exc:
        print(f"curate: {exc}", file=sys.stderr)
        return EXIT_FAILED
    totals = summary.totals
    print(
        f"done: {summary.shards_done}/{summary.shards_total} shards, {totals['count']} samples, "
        f"{totals['successes']} ok, {totals['failed_to_download']} failed to download, "
        f"{totals['failed_to_subsample']} failed to subsample, {totals['outputs_written']} written → {summary.output_folder}"
    )
    if totals.get("filtered"):
        drops = ", ".join(f"{text}: {count}" for text, count in totals.get("filter_drops") or [])
        print(f"filtered: {totals['filtered']} outputs dropped by filters (failed {drops})")
    for message, count in totals.get("input_problems") or []:  # reprocessed shards that were damaged or odd
        print(f"curate: warning: input shards: {message} ({count}×; see input_problems in the _stats.json files)", file=sys.stderr)
    return 0


def _optional_register(module: str, subparsers: Any) -> None:
    import importlib

    try:
        importlib.import_module(module).register(subparsers)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise


def build_parser() -> argparse.ArgumentParser:
    from curation import __version__

    parser = OneLineParser(prog="curate", description="Curate video/image URL lists and shards into training datasets.")
    parser.add_argument("--version", action="version", version=f"curate {__version__}")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks for errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    add_run_parser(subparsers)
    for module in ("curation.report_cli", "curation.export"):
        _optional_register(module, subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USER_ERROR
    from curation.errors import UserError

    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        if args.verbose:
            raise
        print(f"curate: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("curate: interrupted; run the same command again to resume", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        # children are already ended and the lock released; skip interpreter shutdown, which can
        # wait on multiprocessing helper threads of a pool whose workers were killed
        os._exit(130)


if __name__ == "__main__":
    sys.exit(main())
