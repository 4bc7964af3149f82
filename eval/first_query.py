"""What the first English question of a process costs over a Chinese one.

An English question needs what a Chinese one does not: the bridge's reversed
CC-CEDICT (a SQLite file in the user's cache folder, built once per machine)
and the pinyin of the index version's terms. This command measures that extra
in fresh processes, as a user running `policyqa search` meets it:

    python -m policyqa.eval.first_query [--index data/eval/seed-usem3] [--runs 5]

Each run is a new Python process that opens the index, loads the model with
one Chinese question, then times a new Chinese question, the process's first
English one and a second English one: `--runs` processes for search and as
many for `/ask`'s answerer.
The parent builds the glossary cache first, so the figures are those of every
process after the first on a machine. Prints a table and the median extra; with
`--json`, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

WARMUP = "重庆经开区的绿色产业目标"
CHINESE = "哪个园区提出数字经济增加值占GDP比重达35%？"
ENGLISH = "Which park targets a 35% digital-economy share?"
ENGLISH_AGAIN = "How many air suspension sets can Chongqing Konghui Auto produce per year?"


def _child(index: Path, task: str) -> dict[str, float]:
    """One fresh process: warm up with a Chinese question, then time `task`
    (search or ask) on a new Chinese question, the first English one and a
    second English one."""
    from policyqa.index.answer import ExtractiveAnswerer
    from policyqa.index.engine import Engine

    engine = Engine.open(index)
    answerer = ExtractiveAnswerer(engine)
    answerer.answer(WARMUP)  # loads the model, jieba, the answerer's models and the index's files
    out: dict[str, float] = {}
    for name, question in (("chinese", CHINESE), ("first_english", ENGLISH), ("second_english", ENGLISH_AGAIN)):
        t = time.perf_counter()
        engine.search(question, k=5) if task == "search" else answerer.answer(question)
        out[f"{name}_{task}_ms"] = (time.perf_counter() - t) * 1000
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=Path("data/eval/seed-usem3"), help="a built index folder")
    parser.add_argument("--runs", type=int, default=5, help="fresh processes to time (median reported)")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    parser.add_argument("--child", choices=("search", "ask"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not (args.index / "CURRENT").exists() and not (args.index / "milvus.db").exists():
        print(
            f"error: no index at {args.index}: build one with `policyqa eval` (seed) or `policyqa ingest`",
            file=sys.stderr,
        )
        return 2
    if args.child:
        print(json.dumps(_child(args.index, args.child)))
        return 0
    if args.runs < 1:
        print("error: --runs must be at least 1", file=sys.stderr)
        return 2
    from policyqa.index.glossary import GlossDictionary

    GlossDictionary().load()  # the once-per-machine cache, so each run measures a later process
    median: dict[str, float] = {}
    for task in ("search", "ask"):
        rows = []
        for i in range(args.runs):
            print(f"{task}: process {i + 1}/{args.runs} …", file=sys.stderr, flush=True)
            command = [sys.executable, "-m", "policyqa.eval.first_query", "--index", str(args.index), "--child", task]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(f"error: {task} process {i + 1} failed: {done.stderr.strip()[-500:]}", file=sys.stderr)
                return 1
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        median |= {k: round(statistics.median(r[k] for r in rows), 1) for k in rows[0]}
        median[f"extra_first_english_{task}_ms"] = round(
            statistics.median(r[f"first_english_{task}_ms"] - r[f"chinese_{task}_ms"] for r in rows), 1
        )
    if args.json:
        print(json.dumps({"index": str(args.index), "runs": args.runs, "median": median}))
        return 0
    print(f"index {args.index}, {args.runs} fresh processes, medians:")
    print("| measure | ms |\n|---|---:|")
    for k, v in median.items():
        print(f"| {k.removesuffix('_ms').replace('_', ' ')} | {v} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
