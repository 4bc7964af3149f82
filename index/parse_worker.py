"""Parsing untrusted files (PDF, DOCX, HTML) in a child process with a memory
cap and a time budget, so that a file built to be slow or to swell costs one
worker, never the server or the ingest run.

The work limits of `index.parsers` (tags, paragraphs, nesting, characters)
refuse the known shapes of attack cheaply; these limits are the backstop for
the shapes nobody has thought of yet. Children are forked from a forkserver
that has the parsers imported already (about 20 ms a document), never from the
calling process, which may hold threads and gigabytes of index.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import resource
import sys
import threading
import types
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from .errors import DocumentTooLargeError, IngestError, PolicyQAError

_PRELOAD = ["policyqa.index.parsers", "bs4", "docx", "pypdf", "lxml.etree"]


@dataclass(frozen=True)
class ParseLimits:
    timeout_s: float = 30.0  # wall time for one document, start-up included
    memory_mb: int = 1024  # address space a worker may add to what it starts with
    workers: int = 2  # documents parsed at once; more wait their turn


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
            target=_work, args=(sender, parser, data, name, current.memory_mb), name=f"parse {name}", daemon=True
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
            if not receiver.poll(current.timeout_s):
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
        finally:
            if worker.is_alive():
                worker.kill()
            worker.join()
            receiver.close()
    if kind == "ok":
        return value
    if kind == "memory":
        raise DocumentTooLargeError(
            f"{name}: parsing needs more than {current.memory_mb:,} MB of memory: refused "
            "(split the file, or raise POLICYQA_PARSE_MEMORY_MB)"
        )
    raise value


def _work(sender: Connection, parser: str, data: bytes, name: str, memory_mb: int) -> None:
    from . import parsers

    _cap_memory(memory_mb)
    try:
        result: tuple[str, Any] = ("ok", getattr(parsers, parser)(data, name))
    except MemoryError:
        result = ("memory", None)
    except PolicyQAError as exc:
        result = ("error", exc)
    except Exception as exc:  # a parser bug must still reach the caller as one clear line
        result = ("error", IngestError(f"{name}: could not be parsed ({exc.__class__.__name__}): check the file"))
    try:
        sender.send(result)
    except MemoryError:
        sender.send(("memory", None))
    finally:
        sender.close()


def _cap_memory(memory_mb: int) -> None:
    """Cap the address space at what the worker holds now plus `memory_mb`: an
    allocation past it raises MemoryError here instead of swelling the machine."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[0])
    except OSError:  # not Linux: the time budget alone applies
        return
    cap = pages * resource.getpagesize() + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
