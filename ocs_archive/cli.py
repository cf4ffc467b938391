"""The ``ocs-archive`` command: describe, store and find frames from a shell.

Each subcommand works file by file: a file that fails prints ``PATH: message`` on
standard error and the others still run; the exit status is 0 only when every file
succeeded.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import (
    BrokenExecutor,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
)
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ocs_archive import __version__
from ocs_archive.exceptions import FileSpecificationException, OcsArchiveError

# The settings module, imported by main() so that a malformed setting is reported in
# one line rather than as a traceback at import.
settings: Any = None

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143

# Setting names whose values are credentials: shown as set or not, never in full.
SECRET_MARKERS = ("TOKEN", "SECRET", "PASSWORD")
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def main(argv: list[str] | None = None) -> int:
    """Run the command with ``argv`` (default: the process arguments)."""
    parser = build_parser()
    arguments = parser.parse_args(argv)
    _configure_logging(arguments.verbose)
    try:
        _load_settings()
        return arguments.run(arguments)
    except UsageError as exc:
        arguments.parser.error(str(exc))
    except KeyboardInterrupt as exc:
        sys.stderr.write("ocs-archive: interrupted\n")
        return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED
    except BrokenPipeError:
        # Output piped into `head` and the like: not an error of ours.
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return EXIT_OK
    except (OcsArchiveError, OSError) as exc:
        # Whole-command failures (a malformed setting, a store that cannot be set up
        # or reached, a stored path that is refused): one line, not a traceback.
        subject = getattr(arguments, "store_path", None) or "ocs-archive"
        sys.stderr.write(f"{printable(subject)}: {exc}\n")
        return EXIT_FAILURES


def _load_settings() -> None:
    """Import the settings, whose malformed values raise a ValueError naming them."""
    global settings
    from ocs_archive.settings import settings


def _configure_logging(verbose: bool) -> None:
    # The library's loggers only: astropy prints its own messages through a handler
    # of its own, and a handler on the root logger would print them twice.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    library_logger = logging.getLogger("ocs_archive")
    library_logger.addHandler(handler)
    library_logger.setLevel(logging.DEBUG if verbose else logging.WARNING)


def printable(text: object) -> str:
    """``text`` on one line: control characters and undecodable bytes escaped."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(
        char
        if char.isprintable()
        else char.encode("unicode_escape", "backslashreplace").decode("ascii")
        for char in text
    )


class UsageError(Exception):
    """The command line asks for something that cannot be done."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ocs-archive",
        description="Describe telescope frames as archive records and store them.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log debugging detail"
    )
    parser.set_defaults(parser=parser)
    # Also accepted after the subcommand; SUPPRESS keeps a -v given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log debugging detail",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add_command = functools.partial(_add_command, commands, common)

    describe = add_command(
        "describe", help="print the archive record of each frame as JSON"
    )
    _add_input_arguments(describe)
    describe.add_argument(
        "--jsonl", action="store_true", help="one JSON object per line"
    )
    describe.add_argument(
        "--geojson",
        action="store_true",
        help="print an RFC 7946 FeatureCollection of the footprints instead",
    )
    describe.set_defaults(run=run_describe)

    store = add_command("store", help="store each frame in a file store")
    _add_input_arguments(store)
    _add_store_arguments(store)
    store.add_argument(
        "--workers",
        type=_positive_int,
        default=1,
        help="frames stored at once, each in a process of its own (default 1)",
    )
    store.add_argument("--jsonl", action="store_true", help="one JSON object per line")
    store.set_defaults(run=run_store)

    show_settings = add_command("settings", help="print the effective configuration")
    show_settings.set_defaults(run=run_settings)

    fetch = add_command("fetch", help="write a stored frame to a file")
    fetch.add_argument("store_path")
    fetch.add_argument("--version-id", default=None)
    fetch.add_argument("-o", "--output", help="file to write (default: stdout)")
    _add_store_arguments(fetch)
    fetch.set_defaults(run=run_fetch)

    url = add_command("url", help="print a download URL for a version")
    url.add_argument("store_path")
    url.add_argument("--version-id", required=True)
    url.add_argument(
        "--expires",
        type=_positive_int,
        default=3600,
        help="seconds the URL stays valid (default 3600)",
    )
    _add_store_arguments(url)
    url.set_defaults(run=run_url)

    delete = add_command("delete", help="delete one version of a frame")
    delete.add_argument("store_path")
    delete.add_argument("--version-id", required=True)
    _add_store_arguments(delete)
    delete.set_defaults(run=run_delete)

    footprints = add_command(
        "footprints", help="draw the frames' footprints on a sky plot (PNG)"
    )
    _add_input_arguments(footprints)
    footprints.add_argument("-o", "--output", required=True, help="PNG to write")
    footprints.set_defaults(run=run_footprints)
    return parser


def _add_command(commands, common, name: str, **options) -> argparse.ArgumentParser:
    command = commands.add_parser(name, parents=[common], **options)
    command.set_defaults(parser=command)
    return command


def _add_input_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    parser.add_argument(
        "--metadata",
        help="JSON metadata for every file, inline or @file; without it, a file "
        "that is not FITS uses NAME.json beside it when there is one",
    )
    parser.add_argument(
        "--type",
        dest="class_path",
        help="dotted path of the DataFile class to read every file with",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="no progress or summary"
    )


def _add_store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--filestore",
        choices=("dummy", "local", "s3"),
        help="store type (default: FILESTORE_TYPE)",
    )
    parser.add_argument(
        "--root", help="local store root (default: FILESYSTEM_STORAGE_ROOT_DIR)"
    )
    parser.add_argument("--bucket", help="S3 bucket (default: BUCKET)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


# Inputs


def iter_input_files(paths: Iterable[str]) -> Iterator[tuple[Path, bool]]:
    """Each file named, and each file under each folder named, in a stable order.

    Yields (path, named): files found by walking a folder are not named, and are
    skipped by the caller when their type is not supported.
    """
    for name in paths:
        path = Path(name)
        if path.is_dir():
            for folder, subfolders, files in os.walk(path):
                subfolders.sort()
                for file_name in sorted(files):
                    yield Path(folder) / file_name, False
        else:
            yield path, True


def is_supported(path: Path) -> bool:
    from ocs_archive.input.file import File
    from ocs_archive.input.filefactory import EXTENSION_TO_FILE_CLASS

    _, extension = File.get_basename_and_extension(str(path))
    known = {**EXTENSION_TO_FILE_CLASS, **settings.FILETYPE_MAPPING_OVERRIDES}
    return extension in known


def load_metadata(option: str | None) -> dict[str, Any] | None:
    """The ``--metadata`` option's JSON object, from the text or from ``@file``."""
    if option is None:
        return None
    source = "--metadata"
    text = option
    if option.startswith("@"):
        source = option[1:]
        try:
            text = Path(source).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read metadata file {source}: {exc}") from exc
    try:
        metadata = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source} is not valid JSON: {exc}") from exc
    if not isinstance(metadata, dict):
        raise UsageError(
            f"{source} must hold a JSON object, not {type(metadata).__name__}"
        )
    return metadata


def sidecar_metadata(path: Path) -> dict[str, Any] | None:
    """Metadata from ``NAME.json`` beside a file ``NAME.pdf``, when it exists."""
    from ocs_archive.input.file import File

    basename, _ = File.get_basename_and_extension(str(path))
    sidecar = path.with_name(f"{basename}.json")
    if sidecar == path or not sidecar.is_file():
        return None
    try:
        metadata = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise FileSpecificationException(
            f"metadata file {sidecar} is not readable JSON: {exc}"
        ) from exc
    if not isinstance(metadata, dict):
        raise FileSpecificationException(
            f"metadata file {sidecar} must hold a JSON object"
        )
    return metadata


@dataclass
class Job:
    """The files a command works on, and how to read them."""

    paths: list[Path]
    metadata: dict[str, Any] | None
    class_path: str | None
    skipped: int = 0
    # Files named on the command line, as opposed to found in a folder.
    named: set[Path] = field(default_factory=set)

    @classmethod
    def from_arguments(cls, arguments: argparse.Namespace) -> Job:
        metadata = load_metadata(arguments.metadata)
        paths, skipped, named_paths = [], 0, set()
        for path, named in iter_input_files(arguments.paths):
            if named:
                named_paths.add(path)
            if named or arguments.class_path or is_supported(path):
                paths.append(path)
            else:
                skipped += 1
        return cls(paths, metadata, arguments.class_path, skipped, named_paths)

    def metadata_for(self, path: Path, datafile_class: type) -> dict[str, Any] | None:
        """The metadata to read ``path`` with.

        ``--metadata`` goes to every file named on the command line, and to the
        files found in a folder that have no headers of their own (PDFs,
        thumbnails): given to a folder's FITS frames it would override their
        headers and move them all to one store path. Without ``--metadata``, a file
        with no headers of its own takes ``NAME.json`` beside it.
        """
        from ocs_archive.input.fitsfile import FitsFile

        has_headers = issubclass(datafile_class, FitsFile)
        if self.metadata is not None and (path in self.named or not has_headers):
            return self.metadata
        if has_headers:
            return None
        return sidecar_metadata(path)

    @contextlib.contextmanager
    def open(self, path: Path):
        """Yield the data file of ``path``, read as the options say."""
        from ocs_archive.input.file import File
        from ocs_archive.record import datafile_class_for

        with open(path, "rb") as fileobj:
            open_file = File(fileobj, str(path))
            datafile_class = datafile_class_for(open_file, self.class_path)
            yield datafile_class(open_file, self.metadata_for(path, datafile_class))


# Running over many files


@dataclass
class Progress:
    """Counts of a run, and a progress line on a terminal."""

    total: int
    enabled: bool
    stream: IO[str] = field(default_factory=lambda: sys.stderr)
    done: int = 0
    failed: int = 0
    bytes_done: int = 0
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def advance(self, size: int, ok: bool) -> None:
        with self._lock:
            self.done += 1
            self.bytes_done += size
            self.failed += 0 if ok else 1
            if self.enabled:
                self.stream.write(f"\r{self.line()}\x1b[K")
                self.stream.flush()

    def line(self) -> str:
        seconds = max(time.monotonic() - self.started, 1e-9)
        rate = self.bytes_done / seconds / 1e6
        return (
            f"{self.done}/{self.total} frames, {_megabytes(self.bytes_done)}, "
            f"{rate:.1f} MB/s, {self.failed} failed"
        )

    def finish(self, summary: bool) -> None:
        if self.enabled:
            self.stream.write("\n")
        if summary:
            seconds = time.monotonic() - self.started
            self.stream.write(
                f"{self.done - self.failed} frames ok, {self.failed} failed, "
                f"{_megabytes(self.bytes_done)} in {seconds:.2f} s\n"
            )
        self.stream.flush()


def _megabytes(count: int) -> str:
    return f"{count / 1e6:.1f} MB"


def run_files(
    job: Job,
    work: Callable[[Path], dict[str, Any]],
    emit: Callable[[dict[str, Any]], None],
    quiet: bool,
    workers: int = 1,
    summary: bool = False,
    processes: bool = False,
) -> int:
    """Apply ``work`` to every file; ``emit`` each result in input order.

    With ``workers`` above 1, that many files are worked on at once: in threads, or,
    with ``processes``, in as many forked processes (reading headers and building
    records holds Python's global lock, so only processes use more than one core
    for it). A process inherits ``work`` when it is forked; nothing is pickled but
    paths and results.

    Ctrl-C or SIGTERM stops the batch: files not begun are left alone, files begun
    are finished and reported, so that every frame stored is in the output. A second
    one abandons the files begun (each store cleans up after itself).
    """
    several = len(job.paths) > 1
    progress = Progress(len(job.paths), several and not quiet and sys.stderr.isatty())
    batch = _Batch(work, workers, processes)
    signals = _StopSignals()
    settled = 0
    try:
        with signals:
            for path, outcome in zip(job.paths, batch.run(job.paths), strict=True):
                _settle(path, outcome, emit, progress)
                settled += 1
                signals.raise_if_requested()
    except (KeyboardInterrupt, BrokenExecutor) as exc:
        if isinstance(exc, BrokenExecutor) and signals.requested is None:
            batch.stop(abandon=True)
            batch.settle_finished(job.paths, settled, emit, progress)
            progress.finish(summary and not quiet)
            raise OcsArchiveError(
                "a worker process stopped without an answer (killed, or out of "
                "memory), so the batch was stopped; the files being worked on at "
                "that moment may have been stored without being reported, the "
                "others were left alone"
            ) from exc
        # Ctrl-C or SIGTERM. Workers told to stop with the command (a signal to
        # its whole process group) abandon their files, which breaks the pool.
        abandoned = signals.abandoned or isinstance(exc, BrokenExecutor)
        try:
            with signals:
                batch.stop(abandon=abandoned)
        except KeyboardInterrupt:  # a second one: stop() has ended the files begun
            abandoned = True
        batch.settle_finished(job.paths, settled, emit, progress)
        progress.finish(summary and not quiet)
        sys.stderr.write(
            f"stopped: {progress.done} of {len(job.paths)} files done; "
            + (
                "the files being worked on were abandoned, the others left alone\n"
                if abandoned or batch.broken()
                else "the others were left alone\n"
            )
        )
        if isinstance(exc, BrokenExecutor):
            raise (signals.requested or KeyboardInterrupt)() from None
        raise
    finally:
        batch.stop(abandon=False)
    progress.finish(summary and not quiet)
    if job.skipped and not quiet:
        sys.stderr.write(f"skipped {job.skipped} files of unsupported types\n")
    return EXIT_OK if progress.failed == 0 else EXIT_FAILURES


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is."""


class _StopSignals:
    """Ctrl-C and SIGTERM during a batch (handled in the main thread only).

    The first asks the batch to stop: no file is begun after it, and the file being
    stored is finished and reported before :meth:`raise_if_requested` raises. A
    second one is raised at once, abandoning the files begun.
    """

    def __init__(self) -> None:
        self.requested: type[KeyboardInterrupt] | None = None
        self.abandoned = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopSignals:
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, signal.SIGTERM):
                self._previous[number] = signal.signal(number, self._received)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for number, previous in self._previous.items():
            signal.signal(number, previous)
        self._previous.clear()

    def _received(self, signum: int, frame: Any) -> None:
        exception = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
        if self.requested is None:
            self.requested = exception
            _batch_stopping.set()
            return
        self.abandoned = True
        raise exception()

    def raise_if_requested(self) -> None:
        if self.requested is not None:
            raise self.requested()


# An outcome: ("ok", result), ("failed", message) or ("skipped", None).
Outcome = tuple[str, Any]


def _settle(
    path: Path,
    outcome: Outcome,
    emit: Callable[[dict[str, Any]], None],
    progress: Progress,
) -> None:
    status, value = outcome
    if status == "ok":
        progress.advance(_size_of(path), ok=True)
        emit(value)
    elif status == "failed":
        _report_failure(path, value, progress)


class _Batch:
    """The files of a run, worked on by a pool of threads or forked processes."""

    def __init__(
        self, work: Callable[[Path], dict[str, Any]], workers: int, processes: bool
    ):
        global _batch_work, _batch_stopping
        use_processes = (
            workers > 1
            and processes
            and "fork" in multiprocessing.get_all_start_methods()
        )
        context = multiprocessing.get_context("fork") if use_processes else None
        # Set before the processes are forked, so that they inherit both.
        _batch_work = work
        _batch_stopping = context.Event() if context else threading.Event()
        self.futures: list[Future] = []
        self.stopped = False
        self.pool: Executor | None = None
        if context is not None:
            _import_what_workers_use()
            # A forked process flushes what it inherited of the output buffers.
            sys.stdout.flush()
            sys.stderr.flush()
            self.pool = ProcessPoolExecutor(
                workers, mp_context=context, initializer=_start_worker_process
            )
        elif workers > 1:
            self.pool = ThreadPoolExecutor(max_workers=workers)

    def run(self, paths: list[Path]) -> Iterator[Outcome]:
        """Each file's outcome, in order; one at a time in this thread without a
        pool, so that a second Ctrl-C interrupts the store itself."""
        if self.pool is None:
            for path in paths:
                yield _attempt(path)
            return
        for path in paths:
            self.futures.append(self.pool.submit(_attempt, path))
        for future in self.futures:
            yield future.result()

    def broken(self) -> bool:
        """Whether a file begun got no answer (its worker process was stopped)."""
        return any(
            future.done()
            and not future.cancelled()
            and isinstance(future.exception(), BrokenExecutor)
            for future in self.futures
        )

    def stop(self, abandon: bool) -> None:
        """Start no more files and wait for those begun, or end them if ``abandon``.

        A second Ctrl-C while waiting ends them too, and is raised.
        """
        global _batch_work
        if self.stopped:
            return
        self.stopped = True
        _batch_stopping.set()
        try:
            if self.pool is None:
                return
            if abandon:
                self._terminate_workers()
            try:
                self.pool.shutdown(wait=True, cancel_futures=True)
            except KeyboardInterrupt:
                self._terminate_workers()
                self.pool.shutdown(wait=False, cancel_futures=True)
                raise
        finally:
            _batch_work = None

    def settle_finished(
        self,
        paths: list[Path],
        settled: int,
        emit: Callable[[dict[str, Any]], None],
        progress: Progress,
    ) -> None:
        """Report the files after the first ``settled`` that have an outcome."""
        for path, future in zip(paths[settled:], self.futures[settled:], strict=False):
            if future.done() and not future.cancelled() and not future.exception():
                _settle(path, future.result(), emit, progress)

    def _terminate_workers(self) -> None:
        # Each worker process turns SIGTERM into SystemExit, so that a store it is
        # in the middle of removes its temporary file or aborts its upload.
        processes = getattr(self.pool, "_processes", None) or {}
        for process in list(processes.values()):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                process.terminate()


def _import_what_workers_use() -> None:
    """Import the libraries a worker needs before it is forked, not in each worker."""
    import astropy.io.fits  # noqa: F401
    import astropy.wcs  # noqa: F401
    import shapely  # noqa: F401

    if "ocs_archive.storage.s3store" in sys.modules:
        import boto3  # noqa: F401


# The work of the batch being run, and whether it is stopping. Worker processes
# inherit both when they are forked.
_batch_work: Callable[[Path], dict[str, Any]] | None = None
_batch_stopping: Any = threading.Event()


def _attempt(path: Path) -> Outcome:
    """What became of ``path``; a file is not begun once the batch is stopping."""
    global _working
    if _batch_stopping.is_set() or _batch_work is None:
        return ("skipped", None)
    _working = True
    try:
        return ("ok", _batch_work(path))
    except _WorkerTerminated:
        # The store has cleaned up while this unwound; the process pool would
        # take the exception for the file's answer and carry on.
        os._exit(128 + signal.SIGTERM)
    except (OcsArchiveError, OSError) as exc:
        return ("failed", str(exc) or type(exc).__name__)
    except Exception as exc:  # noqa: BLE001 - one bad frame must not stop a batch
        return ("failed", f"unexpected {type(exc).__name__}: {exc}")
    finally:
        _working = False


# Whether this worker process is in the middle of a file.
_working = False


def _start_worker_process() -> None:
    # Ctrl-C is the parent's to handle: it lets the frames in progress finish.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Stopped by the parent, a worker unwinds, so that its store cleans up.
    signal.signal(signal.SIGTERM, _exit_on_terminate)
    # A connection inherited from the parent must not be shared with it.
    s3store = sys.modules.get("ocs_archive.storage.s3store")
    if s3store is not None:
        s3store.S3Store.get_s3_client.cache_clear()


class _WorkerTerminated(BaseException):
    """A worker process was told to stop, in the middle of a file or between two."""


def _exit_on_terminate(signum: int, frame: Any) -> None:
    if not _working:
        os._exit(128 + signum)  # between files: nothing to clean up
    raise _WorkerTerminated()


def _size_of(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _report_failure(path: Path, message: str, progress: Progress) -> None:
    with progress._lock:
        if progress.enabled:
            progress.stream.write("\r\x1b[K")
        sys.stderr.write(f"{printable(path)}: {printable(message)}\n")
    progress.advance(0, ok=False)


class JsonOutput:
    """Writes results as a pretty JSON array, or as JSON lines."""

    def __init__(self, lines: bool, stream: IO[str] | None = None):
        self.lines = lines
        self.stream = stream or sys.stdout
        self.items: list[dict[str, Any]] = []

    def emit(self, item: dict[str, Any]) -> None:
        if self.lines:
            self.stream.write(json.dumps(item, allow_nan=False) + "\n")
            self.stream.flush()
        else:
            self.items.append(item)

    def close(self) -> None:
        if not self.lines:
            self.stream.write(json.dumps(self.items, indent=2, allow_nan=False) + "\n")
            self.stream.flush()


# Subcommands


def run_describe(arguments: argparse.Namespace) -> int:
    from ocs_archive.record import build_record

    job = Job.from_arguments(arguments)

    def describe(path: Path) -> dict[str, Any]:
        with job.open(path) as data_file:
            record = build_record(data_file)
            record["store_path"] = data_file.get_filestore_path()
            record["content_type"] = data_file.get_filestore_content_type()
            record["md5"] = data_file.open_file.get_md5()
            record["size_bytes"] = len(data_file.open_file)
            record["file"] = str(path)
            return record

    if arguments.geojson:
        records: list[dict[str, Any]] = []
        status = run_files(job, describe, records.append, arguments.quiet)
        from ocs_archive.footprint import feature_collection

        json.dump(feature_collection(records), sys.stdout, indent=2, allow_nan=False)
        sys.stdout.write("\n")
        return status

    output = JsonOutput(arguments.jsonl)
    try:
        return run_files(job, describe, output.emit, arguments.quiet)
    finally:
        output.close()


def run_store(arguments: argparse.Namespace) -> int:
    from ocs_archive.record import build_record

    job = Job.from_arguments(arguments)
    store = make_store(arguments)

    def store_one(path: Path) -> dict[str, Any]:
        with job.open(path) as data_file:
            store_path = data_file.get_filestore_path()
            record = build_record(data_file)
            record.pop("headers")
            version = store.store_file(data_file)
            return {
                "file": str(path),
                "store_path": store_path,
                "version": version,
                "record": record,
            }

    output = JsonOutput(arguments.jsonl)
    try:
        return run_files(
            job,
            store_one,
            output.emit,
            arguments.quiet,
            workers=arguments.workers,
            summary=True,
            processes=True,
        )
    finally:
        # Also when interrupted: every frame stored is in the output.
        output.close()


def run_settings(arguments: argparse.Namespace) -> int:
    for name in sorted(vars(settings)):
        if not name.isupper() or name.startswith("_"):
            continue
        value = getattr(settings, name)
        if any(marker in name for marker in SECRET_MARKERS):
            value = _masked(value)
        print(f"{name} = {value!r}")
    for name in CREDENTIAL_VARIABLES:
        print(f"{name} (environment) = {_masked(os.getenv(name))!r}")
    return EXIT_OK


def _masked(value: object) -> str | None:
    return None if value in (None, "") else "****"


def run_fetch(arguments: argparse.Namespace) -> int:
    store = make_store(arguments)
    with store.get_fileobj(arguments.store_path, arguments.version_id) as stored:
        if stored is None:
            version = arguments.version_id
            what = f"version {version!r} is not" if version else "nothing is"
            sys.stderr.write(f"{arguments.store_path}: {what} stored there\n")
            return EXIT_FAILURES
        if arguments.output:
            _write_atomically(stored, Path(arguments.output))
        else:
            _copy(stored, sys.stdout.buffer)
            sys.stdout.buffer.flush()
    return EXIT_OK


def run_url(arguments: argparse.Namespace) -> int:
    store = make_store(arguments)
    print(store.get_url(arguments.store_path, arguments.version_id, arguments.expires))
    return EXIT_OK


def run_delete(arguments: argparse.Namespace) -> int:
    store = make_store(arguments)
    store.delete_file(arguments.store_path, arguments.version_id)
    return EXIT_OK


def run_footprints(arguments: argparse.Namespace) -> int:
    from ocs_archive.record import build_record

    try:
        from ocs_archive.skyplot import plot_footprints
    except ImportError as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_FAILURES

    job = Job.from_arguments(arguments)
    records: list[dict[str, Any]] = []

    def describe(path: Path) -> dict[str, Any]:
        with job.open(path) as data_file:
            return build_record(data_file)

    status = run_files(job, describe, records.append, arguments.quiet)
    try:
        drawn = plot_footprints(records, arguments.output)
    except ImportError as exc:
        sys.stderr.write(f"{exc}\n")
        return EXIT_FAILURES
    if not arguments.quiet:
        sys.stderr.write(f"drew {drawn} footprints in {arguments.output}\n")
    return status


# Stores


def make_store(arguments: argparse.Namespace):
    """The file store the options ask for, defaulting to the settings."""
    from ocs_archive.storage.filestorefactory import FileStoreFactory

    store_class = FileStoreFactory.get_file_store_class(arguments.filestore)
    store_type = arguments.filestore or settings.FILESTORE_TYPE
    if store_type == "local":
        return store_class(arguments.root)
    if store_type == "s3":
        return store_class(arguments.bucket)
    return store_class()


def _copy(source: IO[bytes], destination: IO[bytes]) -> None:
    from ocs_archive.hashing import copy_and_hash

    copy_and_hash(source, destination.write)


def _write_atomically(source: IO[bytes], target: Path) -> None:
    directory = target.resolve().parent
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot write {target}: no folder {directory}")
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.")
    try:
        with os.fdopen(descriptor, "wb") as destination:
            _copy(source, destination)
        # mkstemp makes a private file; the output gets the usual mode instead.
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
