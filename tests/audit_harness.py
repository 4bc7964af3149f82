"""Run the `policyqa` command line with a Python audit hook that records every
file system write the process makes (opens for writing, renames, deletes,
folders made or removed) as JSON lines on an inherited file descriptor.

    python tests/audit_harness.py FD -- serve --index-dir DIR --port PORT

Native code that writes without Python's `open` (FAISS's write_index) is not
seen; in policyqa it only writes inside the index's staging folder.
"""

from __future__ import annotations

import json
import os
import sys

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
EVENTS = {
    "os.rename": (0, 1),
    "os.replace": (0, 1),
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.mkdir": (0,),
    "os.link": (0, 1),
    "os.symlink": (0, 1),
    "os.truncate": (0,),
    "os.chmod": (0,),
    "os.utime": (0,),
    "shutil.rmtree": (0,),
    "tempfile.mkstemp": (0,),
    "tempfile.mkdtemp": (0,),
}


def main() -> None:
    fd = int(sys.argv[1])
    args = sys.argv[sys.argv.index("--") + 1 :]

    def record(event: str, paths: list[object], detail: str = "") -> None:
        names = [os.fsdecode(p) if isinstance(p, str | bytes) else repr(p) for p in paths]
        line = json.dumps({"event": event, "paths": [os.path.abspath(n) for n in names], "detail": detail})
        os.write(fd, line.encode() + b"\n")

    def hook(event: str, arguments: tuple[object, ...]) -> None:
        if event == "open":
            path, mode, flags = arguments
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or bool((flags or 0) & WRITE_FLAGS)
            if writing and isinstance(path, str | bytes):
                o_tmpfile = getattr(os, "O_TMPFILE", 0)
                anonymous = bool(o_tmpfile and (flags or 0) & o_tmpfile == o_tmpfile)
                record("open", [path], "anonymous" if anonymous else str(mode or flags))
        elif event in EVENTS:
            # Relative to a folder descriptor (shutil.rmtree walks that way): the
            # enclosing shutil.rmtree event already names the folder.
            if event in ("os.remove", "os.rmdir", "os.mkdir") and arguments[-1] is not None:
                return
            record(event, [arguments[i] for i in EVENTS[event] if isinstance(arguments[i], str | bytes)])

    sys.addaudithook(hook)
    from policyqa.service.cli import main as cli_main

    sys.argv = ["policyqa", *args]
    cli_main()


if __name__ == "__main__":
    main()
