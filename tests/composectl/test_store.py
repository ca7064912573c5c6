from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hatch_pylon._errors import ComponentFormatError, StoreError
from hatch_pylon._fs import hash_file, sweep_temps
from hatch_pylon._layout import TEMP_PREFIX, blob_relpath
from hatch_pylon.build.ingest import Ingest
from hatch_pylon.composectl.store import BlobStore, StagedBlob


def source(tmp_path: Path, data: bytes = b"component bytes") -> tuple[Path, str]:
    path = tmp_path / "src.wasm"
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def leftovers(store: Path) -> list[Path]:
    return [p for p in store.rglob("*") if p.name.startswith(TEMP_PREFIX)]


def test_stage_new_then_reuse(tmp_path: Path) -> None:
    src, digest = source(tmp_path)
    store = BlobStore(tmp_path / ".compose")
    first = store.stage_file(src, digest)
    assert first.status == "new"
    assert first.path == tmp_path / ".compose" / "blobs" / digest[:2] / digest[2:]
    assert first.path.read_bytes() == src.read_bytes()
    assert first.path.stat().st_mode & 0o777 == 0o644
    assert store.stage_file(src, digest).status == "reused"
    assert leftovers(tmp_path / ".compose") == []


def test_corrupt_existing_blob_is_replaced(tmp_path: Path) -> None:
    src, digest = source(tmp_path)
    store = BlobStore(tmp_path / "s")
    target = store.path_for(digest)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"tampered")
    staged = store.stage_file(src, digest)
    assert staged.status == "repaired"
    assert hash_file(target) == digest


def test_source_that_does_not_match_its_digest_leaves_nothing(tmp_path: Path) -> None:
    src, _ = source(tmp_path)
    wrong = "ab" * 32
    store = BlobStore(tmp_path / "s")
    with pytest.raises(StoreError, match="nothing was stored"):
        store.stage_file(src, wrong)
    assert not store.path_for(wrong).exists()
    assert leftovers(tmp_path / "s") == []


def test_store_path_that_is_a_file(tmp_path: Path) -> None:
    src, digest = source(tmp_path)
    (tmp_path / "s").write_text("not a folder")
    with pytest.raises(StoreError, match=r"blob store path .*/s exists but is not a directory"):
        BlobStore(tmp_path / "s").stage_file(src, digest)


def test_blob_relpath_layout() -> None:
    assert blob_relpath("ab" + "c" * 62) == "blobs/ab/" + "c" * 62


_MODES = {"Tee": "copy", "Compare": "compare", "Rehash": "rehash", "KernelCopy": "follow"}


def ingest_file(store: BlobStore, path: Path, commit: bool = True):
    from hatch_pylon.wasm.binary import scan

    with Ingest(store) as ingest:
        sink = ingest.sink(str(path))
        mode = _MODES[type(sink.strategy).__name__]
        scanned = scan(path, sink, via=sink.reading)
        ingest.scanned(str(path), scanned.digest)
        staged = ingest.commit(str(path)) if commit else None
        ingest.save_index()
    return mode, staged


def wasm_file(tmp_path: Path, body: bytes = b"") -> Path:
    path = tmp_path / "c.wasm"
    path.write_bytes(b"\0asm\x0d\x00\x01\x00" + (b"\x00" + bytes([len(body)]) + body if body else b""))
    return path


def test_ingest_copies_once_then_compares(tmp_path: Path) -> None:
    path = wasm_file(tmp_path, b"\x04name" + b"x" * 20)
    store = BlobStore(tmp_path / "store")
    mode, staged = ingest_file(store, path)
    assert (mode, staged.status) == ("copy", "new")
    assert hash_file(staged.path) == staged.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    mode, again = ingest_file(store, path)
    assert (mode, again.status) == ("compare", "reused")
    assert leftovers(tmp_path / "store") == []


def test_ingest_repairs_a_corrupt_blob_the_index_points_at(tmp_path: Path) -> None:
    path = wasm_file(tmp_path, b"\x04name" + b"x" * 20)
    store = BlobStore(tmp_path / "store")
    _, staged = ingest_file(store, path)
    staged.path.write_bytes(staged.path.read_bytes()[:-3] + b"bad")
    mode, repaired = ingest_file(store, path)
    assert (mode, repaired.status) == ("compare", "repaired")  # diverged at the bad bytes, then copied
    assert hash_file(repaired.path) == repaired.digest
    assert leftovers(tmp_path / "store") == []


def test_ingest_of_an_unused_file_leaves_nothing(tmp_path: Path) -> None:
    path = wasm_file(tmp_path)
    store = BlobStore(tmp_path / "store")
    ingest_file(store, path, commit=False)
    assert not list((tmp_path / "store").rglob("blobs/*/*"))
    assert leftovers(tmp_path / "store") == []


def test_changed_source_is_copied_not_compared(tmp_path: Path) -> None:
    path = wasm_file(tmp_path, b"\x01a")
    store = BlobStore(tmp_path / "store")
    ingest_file(store, path)
    path.write_bytes(path.read_bytes() + b"\x00\x01b")
    mode, staged = ingest_file(store, path)
    assert (mode, staged.status) == ("copy", "new")


def large_component(tmp_path: Path, size: int = 6 << 20, cut: int | None = None) -> Path:
    """A real component header and one custom section of ``size`` random bytes (cut short if asked)."""
    payload = b"\x04name" + os.urandom(size)
    length = len(payload).to_bytes(4, "little")  # as a padded 5-byte LEB128
    leb = bytes(
        [
            (length[0] & 0x7F) | 0x80,
            ((len(payload) >> 7) & 0x7F) | 0x80,
            ((len(payload) >> 14) & 0x7F) | 0x80,
            ((len(payload) >> 21) & 0x7F) | 0x80,
            (len(payload) >> 28) & 0x7F,
        ]
    )
    data = b"\0asm\x0d\x00\x01\x00" + b"\x00" + leb + payload
    path = tmp_path / "big.wasm"
    path.write_bytes(data if cut is None else data[:cut])
    return path


def copy_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name in ("hatch-pylon-copy", "hatch-pylon-rehash")]


def test_a_large_file_is_hashed_from_the_copy_being_made(tmp_path: Path) -> None:
    path = large_component(tmp_path)
    store = BlobStore(tmp_path / "store")
    mode, staged = ingest_file(store, path)
    assert (mode, staged.status) == ("follow", "new")
    assert staged.path.read_bytes() == path.read_bytes()
    assert staged.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert leftovers(tmp_path / "store") == [] and copy_threads() == []


def test_a_large_file_is_checked_by_re_hashing_its_blob_alongside(tmp_path: Path) -> None:
    path = large_component(tmp_path)
    store = BlobStore(tmp_path / "store")
    _, staged = ingest_file(store, path)
    assert ingest_file(store, path) == ("rehash", StagedBlob(staged.digest, staged.path, "reused"))
    with open(staged.path, "r+b") as blob:  # damaged in place: same size, same inode
        blob.seek(-1, os.SEEK_END)
        blob.write(b"!")
    mode, repaired = ingest_file(store, path)
    assert (mode, repaired.status) == ("rehash", "repaired")
    assert hash_file(repaired.path) == repaired.digest
    assert leftovers(tmp_path / "store") == [] and copy_threads() == []


def test_a_large_file_that_does_not_parse_leaves_nothing(tmp_path: Path) -> None:
    path = large_component(tmp_path, cut=3 << 20)  # the section runs past the end of the file
    store = BlobStore(tmp_path / "store")
    with pytest.raises(ComponentFormatError, match="past the end of the file"):
        ingest_file(store, path)
    assert leftovers(tmp_path / "store") == [] and copy_threads() == []


def test_without_kernel_copies_the_copy_is_made_by_hand(tmp_path: Path, monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", refuse)
    path = large_component(tmp_path)
    mode, staged = ingest_file(BlobStore(tmp_path / "store"), path)
    assert (mode, staged.status) == ("follow", "new")
    assert staged.path.read_bytes() == path.read_bytes()


def test_a_failing_copy_is_a_store_error_and_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "copy_file_range", disk_full)
    path = large_component(tmp_path)
    with pytest.raises(StoreError, match=r"cannot write a copy of a component in .*blobs \(No space left on device\)"):
        ingest_file(BlobStore(tmp_path / "store"), path)
    assert leftovers(tmp_path / "store") == [] and copy_threads() == []


@pytest.mark.skipif(
    shutil.which("unshare") is None or not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="needs unshare(1) and root to make a PID namespace",
)
def test_a_live_writer_in_another_pid_namespace_is_not_swept(tmp_path: Path) -> None:
    """Abandonment is judged by the writer's lock, which PID namespaces do not hide (a PID would mislead)."""
    code = (
        "import sys, time; from pathlib import Path; from hatch_pylon._fs import TempFile; "
        "t = TempFile(Path(sys.argv[1])); t.file.write(b'partial'); t.file.flush(); "
        "print(t.path, flush=True); time.sleep(120)"
    )
    writer = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--kill-child", sys.executable, "-c", code, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        temp = Path(writer.stdout.readline().strip())
        assert temp.name.startswith(TEMP_PREFIX)
        assert sweep_temps(tmp_path) == [] and temp.exists()  # alive, though its PID means nothing here
    finally:
        writer.kill()
        writer.wait()
    # The writer inside the namespace dies right after unshare (its parent-death signal): its lock goes with it.
    deadline = time.monotonic() + 30
    removed: list[Path] = []
    while not removed and time.monotonic() < deadline:
        removed = sweep_temps(tmp_path)
        time.sleep(0.01)
    assert removed == [temp] and not temp.exists()


LOCKLESS_WRITER = """
import fcntl, sys, time
from pathlib import Path
del fcntl.flock  # a platform without flock, as the portable mode has it
from hatch_pylon._fs import TempFile, make_private_folder
temp = TempFile(Path(sys.argv[1]))
temp.file.write(b"partial")
temp.file.flush()
folder = make_private_folder("hatch-pylon-test-", Path(sys.argv[1]) / "tmp")
print(temp.path, folder, flush=True)
time.sleep(120)
"""


def test_a_lockless_writer_is_judged_by_age_not_by_a_free_lock(tmp_path: Path) -> None:
    """A writer that could not lock its file (no flock, a file system without locks) names it so; a sweeper
    that can lock must not take the free lock for a dead writer, or it removes a live build's files."""
    from hatch_pylon._fs import can_lock, sweep_private_folders

    if not can_lock():
        pytest.skip("this sweeper has no locks either: only age judges, which the test cannot wait for")
    (tmp_path / "tmp").mkdir()
    writer = subprocess.Popen([sys.executable, "-c", LOCKLESS_WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None
        temp, folder = map(Path, writer.stdout.readline().split())
        assert temp.name.startswith(TEMP_PREFIX)
        assert sweep_temps(tmp_path) == [] and temp.exists()
        assert sweep_private_folders(tmp_path / "tmp") == [] and folder.is_dir()
    finally:
        writer.kill()
        writer.wait()
