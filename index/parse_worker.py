"""Parsing untrusted files (PDF, DOCX, HTML, images) in a child process with a
memory cap and a time budget, so that a file built to be slow or to swell costs
one worker, never the server or the ingest run.

OCR (index/ocr.py) runs here too. The worker tells the caller before each page
it OCRs; each such page gets a budget of its own (`ocr_page_timeout_s`), added
to the document's, and the pages done are passed to whoever asked for progress
(`reporting`).

The work limits of `index.parsers` (tags, paragraphs, nesting, characters)
refuse the known shapes of attack cheaply; these limits are the backstop for
the shapes nobody has thought of yet. Children are forked from a forkserver
that has the parsers imported already (about 20 ms a document), never from the
calling process, which may hold threads and gigabytes of index.
"""

from __future__ import annotations

import contextlib
import contextvars
import multiprocessing
import os
import resource
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from .errors import DocumentTooLargeError, IngestError, PolicyQAError

_PRELOAD = ["policyqa.index.parsers", "bs4", "docx", "pypdf", "lxml.etree", "pdfplumber", "pypdfium2", "PIL.Image"]
# Parsers that take `ocr=OcrOptions(...)`.
_OCR_PARSERS = frozenset(("parse_pdf", "parse_image"))


@dataclass(frozen=True)
class ParseLimits:
    timeout_s: float = 30.0  # wall time for one document, start-up included
    memory_mb: int = 1024  # address space a worker may add to what it starts with
    workers: int = 2  # documents parsed at once; more wait their turn
    ocr: bool = True  # read scanned PDF pages and images with OCR; off: they are refused
    ocr_page_timeout_s: float = 30.0  # wall time for one OCR'd page, added to the document's
    # Address space added to `memory_mb` once a worker starts OCR: onnxruntime and
    # OpenCV map about 550 MB of libraries and models, and reading a page peaks
    # about 600 MB above that (measured: 1.4 GB in all over a worker's 0.1 GB).
    ocr_memory_mb: int = 1536


# progress(done, total) of the OCR'd pages of the document being parsed (see `reporting`)
_progress: contextvars.ContextVar[Callable[[int, int], None] | None] = contextvars.ContextVar(
    "parse_progress", default=None
)


_limits = ParseLimits()
_slots = threading.BoundedSemaphore(_limits.workers)
_context: Any = None
_lock = threading.Lock()
_at_fork_registered = False


def configure(limits: ParseLimits) -> None:
    """Set the limits for every later parse (the CLI and the service call this from their settings)."""
    global _limits, _slots
    with _lock:
        _limits = limits
        _slots = threading.BoundedSemaphore(limits.workers)


def limits() -> ParseLimits:
    return _limits


@contextlib.contextmanager
def reporting(progress: Callable[[int, int], None]) -> Iterator[None]:
    """While inside, documents parsed by this thread (or task) report their OCR'd
    pages to progress(done, total): before each page and when all are done."""
    token = _progress.set(progress)
    try:
        yield
    finally:
        _progress.reset(token)


def _forkserver() -> Any:
    global _context, _at_fork_registered
    with _lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(_PRELOAD)  # not __main__ (see _main_hidden)
            _context = context
            if not _at_fork_registered:
                _at_fork_registered = True  # inherited by children, so registered once per line of forks
                os.register_at_fork(after_in_child=_forget_inherited_forkserver)
        return _context


@contextlib.contextmanager
def _main_hidden() -> Iterator[None]:
    """While a worker starts, `__main__` is an empty module: multiprocessing
    would otherwise have the child import the caller's main script or module
    again (the `policyqa` CLI with faiss and numpy, half a second a document;
    or a user's script without a main guard, re-running itself). The worker
    needs nothing from it: its target is `_work`, in this module."""
    with _lock:
        main = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            sys.modules["__main__"] = main


def _forget_inherited_forkserver() -> None:
    """A process forked from one that started the forkserver inherits its
    handle, but is not its parent and cannot use it (`waitpid` fails): give it
    a fresh one, started on first use. The standard library binds the handle's
    methods to module names, so those are rebound too."""
    global _context, _lock, _slots
    from multiprocessing import forkserver

    fresh = forkserver.ForkServer()
    forkserver._forkserver = fresh  # type: ignore[attr-defined]
    for name in ("ensure_running", "get_inherited_fds", "connect_to_new_process", "set_forkserver_preload"):
        setattr(forkserver, name, getattr(fresh, name))
    _context = None
    _lock = threading.Lock()  # another thread may have held them at the fork
    _slots = threading.BoundedSemaphore(_limits.workers)


def parse_in_worker(parser: str, data: bytes, name: str) -> Any:
    """`index.parsers.<parser>(data, name)`, run in a child process.

    Raises:
        IngestError: whatever the parser raises, passed on as it is; or the
            worker died without an answer.
        DocumentTooLargeError: over the time budget or the memory cap.
    """
    current = _limits
    context = _forkserver()
    with _slots:
        receiver, sender = context.Pipe(duplex=False)
        worker = context.Process(
            target=_work, args=(sender, parser, data, name, current), name=f"parse {name}", daemon=True
        )
        try:
            with _main_hidden():
                worker.start()
        except OSError as exc:  # no process to be had (limits of the machine): one clear line
            receiver.close()
            sender.close()
            raise IngestError(f"{name}: no parsing worker could be started ({exc}): try again later") from exc
        sender.close()  # the child holds the only writing end: EOF means it died
        try:
            kind, value = _answer(receiver, worker, name, current)
        finally:
            if worker.is_alive():
                worker.kill()
            worker.join()
            receiver.close()
    if kind == "ok":
        return value
    if kind == "memory":
        raise DocumentTooLargeError(
            f"{name}: parsing needs more than {current.memory_mb:,} MB of memory"
            + (f" (+{current.ocr_memory_mb:,} MB for OCR)" if value else "")
            + ": refused (split the file, or raise POLICYQA_PARSE_MEMORY_MB"
            + (" or POLICYQA_OCR_MEMORY_MB)" if value else ")")
        )
    raise value


def _answer(receiver: Connection, worker: Any, name: str, current: ParseLimits) -> tuple[str, Any]:
    """The worker's answer, passing on its OCR page reports meanwhile: each page
    it starts adds `ocr_page_timeout_s` to the document's budget and must end
    within that time itself."""
    progress = _progress.get()
    deadline = time.monotonic() + current.timeout_s
    page = 0  # the page being OCR'd, 0 when none is
    page_deadline = float("inf")
    while True:
        wait = min(deadline, page_deadline) - time.monotonic()
        if wait <= 0 or not receiver.poll(wait):
            if page and page_deadline <= deadline:
                raise DocumentTooLargeError(
                    f"{name}: OCR of page {page} took longer than {current.ocr_page_timeout_s:g} s: refused "
                    "(raise POLICYQA_OCR_PAGE_TIMEOUT_S, or turn OCR off with POLICYQA_OCR=off)"
                )
            raise DocumentTooLargeError(
                f"{name}: parsing took longer than {current.timeout_s:g} s: refused "
                "(split the file, or raise POLICYQA_PARSE_TIMEOUT_S)"
            )
        try:
            kind, value = receiver.recv()
        except (EOFError, OSError) as exc:
            worker.join(1)
            raise IngestError(
                f"{name}: the parser stopped without an answer (exit code {worker.exitcode}): check the file"
            ) from exc
        if kind != "page":
            return kind, value
        page, done, total = value
        if page:
            deadline += current.ocr_page_timeout_s
            page_deadline = time.monotonic() + current.ocr_page_timeout_s
        else:
            page_deadline = float("inf")
        if progress is not None:
            progress(done, total)


def _work(sender: Connection, parser: str, data: bytes, name: str, limits: ParseLimits) -> None:
    from . import parsers
    from .ocr import OcrOptions

    _cap_memory(limits.memory_mb, limits.ocr_memory_mb if limits.ocr and parser in _OCR_PARSERS else 0)
    ocr_started = False

    def on_page(page: int, done: int, total: int) -> None:
        nonlocal ocr_started
        if not ocr_started:  # OCR's allowance: only a file that needs OCR gets it
            ocr_started = True
            _allow_ocr_memory()
        sender.send(("page", (page, done, total)))

    options = {"ocr": OcrOptions(limits.ocr, on_page)} if parser in _OCR_PARSERS else {}
    try:
        result: tuple[str, Any] = ("ok", getattr(parsers, parser)(data, name, **options))
    except MemoryError:
        result = ("memory", ocr_started)
    except PolicyQAError as exc:
        result = ("error", exc)
    except Exception as exc:  # a parser bug must still reach the caller as one clear line
        kind = exc.__class__.__name__
        if ocr_started:  # onnxruntime and OpenCV report a refused allocation as errors of their own
            message = f"{name}: OCR failed ({kind}): raise POLICYQA_OCR_MEMORY_MB, or turn OCR off (POLICYQA_OCR=off)"
        else:
            message = f"{name}: could not be parsed ({kind}): check the file"
        result = ("error", IngestError(message))
    try:
        sender.send(result)
    except MemoryError:
        sender.send(("memory", ocr_started))
    finally:
        sender.close()


def _cap_memory(memory_mb: int, ocr_memory_mb: int) -> None:
    """Cap the address space at what the worker holds now plus `memory_mb`: an
    allocation past it raises MemoryError here instead of swelling the machine.
    The hard limit leaves `ocr_memory_mb` more, which `_allow_ocr_memory` grants."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[0])
    except OSError:  # not Linux: the time budget alone applies
        return
    cap = pages * resource.getpagesize() + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap + ocr_memory_mb * 1024 * 1024))


def _allow_ocr_memory() -> None:
    """Raise the worker's memory cap to its hard limit (a process may raise its soft limit that far)."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
