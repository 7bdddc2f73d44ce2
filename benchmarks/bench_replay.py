"""Replay benchmark: the harness's forward passes against the same forward pass in plain
transformers, over the same batches, timed in the same run.

    .venv/bin/python benchmarks/bench_replay.py                      # CPU-sized defaults
    .venv/bin/python benchmarks/bench_replay.py --device cuda --layers 24 --hidden 2048 \
        --samples 256 --batch-size 16 --min-len 256 --max-len 2048    # on a GPU
    .venv/bin/python benchmarks/bench_replay.py --kind kl             # causal LM log-probs

Builds (once, cached under ./bench-data/) a Qwen2 model from a config with random weights
(``--kind score``: token classification with one label, a value head; ``--kind kl``: a causal LM)
and a batch of random token ids. Three ways to run that batch:

- ``baseline``: plain transformers, the same length-sorted batches padded on the right,
  ``model(input_ids=..., attention_mask=...)`` under ``torch.inference_mode()``, logits moved to
  the CPU, nothing else;
- ``harness``: ``trainlens.replay.forward.run_forward``, the loop ``replay score`` / ``replay kl``
  run (padding, position ids, per-token values, or the generated tokens' log-probs, back as numpy);
- ``end_to_end`` (information): ``score_batch`` / ``kl_batch`` from the JSONL file, model load,
  batch reading, padding self-check and findings included.

The times come from one fresh process that runs the three interleaved, round after round (order
reversed every other round), after one warm-up each, so a box whose load drifts slows them alike;
best and median are printed. Peak memory comes from one more fresh process per run (GPU:
``max_memory_allocated``; CPU: the process's ``VmHWM``, which includes the interpreter, torch and
the model). Prints samples/s, tokens/s and the harness/baseline time ratio. Target: ≤ 1.10.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _vmhwm_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def build(args: argparse.Namespace) -> tuple[Path, Path]:
    """The model folder and the batch file (written once per configuration)."""
    name = (
        f"{args.kind}-l{args.layers}-h{args.hidden}-v{args.vocab}-n{args.samples}"
        f"-{args.min_len}-{args.max_len}-s{args.seed}"
    )
    folder = Path(args.data) / name
    model_dir, batch = folder / "model", folder / "batch.jsonl"
    if (model_dir / "config.json").is_file() and batch.is_file():
        return model_dir, batch
    import torch
    import transformers

    torch.manual_seed(args.seed)
    heads = max(1, args.hidden // 64)
    config = transformers.Qwen2Config(
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        intermediate_size=args.hidden * 4,
        num_hidden_layers=args.layers,
        num_attention_heads=heads,
        num_key_value_heads=max(1, heads // 4),
        max_position_embeddings=max(4096, args.max_len),
        num_labels=1,
        eos_token_id=1,
        pad_token_id=0,
    )
    cls = (
        transformers.Qwen2ForCausalLM
        if args.kind == "kl"
        else transformers.Qwen2ForTokenClassification
    )
    cls(config).save_pretrained(str(model_dir))
    rng = random.Random(args.seed)
    with open(batch, "w") as fh:
        for i in range(args.samples):
            n = rng.randint(args.min_len, args.max_len)
            prompt = rng.randint(1, max(1, n // 4))
            ids = [rng.randrange(2, args.vocab) for _ in range(n)]
            row = {"id": str(i), "prompt_ids": ids[:prompt], "response_ids": ids[prompt:]}
            fh.write(json.dumps(row) + "\n")
    return model_dir, batch


def _sequences(batch: Path) -> list[list[int]]:
    rows = [json.loads(line) for line in batch.read_text().splitlines() if line.strip()]
    return [r["prompt_ids"] + r["response_ids"] for r in rows]


def _runners(args: argparse.Namespace) -> tuple[dict[str, Any], Any, Any]:
    """The three ways to run the batch, as zero-argument functions, plus ``sync`` and ``lm``."""
    import torch

    from trainlens.replay.forward import pad_batch, run_forward
    from trainlens.replay.model import Head, load_model, pick_device, pick_dtype

    model_dir, batch = Path(args.model_dir), Path(args.batch)
    device = pick_device(args.device)
    dtype = pick_dtype(args.dtype, device)
    seqs = _sequences(batch)
    head = Head.causal_lm if args.kind == "kl" else Head.value
    lm = load_model(model_dir, head, device=device, dtype=dtype)
    order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
    groups = [order[i : i + args.batch_size] for i in range(0, len(order), args.batch_size)]

    def harness() -> None:
        run_forward(lm, seqs, batch_size=args.batch_size)

    def baseline() -> None:
        with torch.inference_mode():
            for g in groups:
                ids, mask, _ = pad_batch([seqs[i] for i in g], "right", device)
                lm.model(input_ids=ids, attention_mask=mask).logits.float().cpu()

    def end_to_end() -> None:
        from trainlens.engine.spec import load_rules

        rules = load_rules().of_kind("replay")
        if args.kind == "kl":
            from trainlens.replay.kl import KLOptions, kl_batch

            opts = KLOptions(device=args.device, dtype=args.dtype, batch_size=args.batch_size)
            kl_batch(model_dir, model_dir, batch, opts, rules=rules)
        else:
            from trainlens.replay.score import ScoreOptions, score_batch

            score_opts = ScoreOptions(
                device=args.device, dtype=args.dtype, batch_size=args.batch_size
            )
            score_batch(model_dir, batch, score_opts, rules=rules)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    runs = {"baseline": baseline, "harness": harness, "end_to_end": end_to_end}
    info = {
        "samples": len(seqs),
        "tokens": sum(len(s) for s in seqs),
        "device": device.type,
        "dtype": str(dtype).replace("torch.", ""),
        "threads": torch.get_num_threads(),
    }
    return runs, sync, info


def child(args: argparse.Namespace, role: str) -> dict[str, Any]:
    """``timing``: harness and baseline (and end to end) interleaved, round after round, so a
    box whose load drifts slows both alike; ``memory-<run>``: one run, its peak memory."""
    import torch

    runs, sync, info = _runners(args)
    if role.startswith("memory-"):
        name = role.split("-", 1)[1]
        cuda = info["device"] == "cuda"
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        runs[name]()
        sync()
        peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else None
        return {"peak_gpu_mb": peak, "peak_rss_mb": _vmhwm_mb()}
    names = ["baseline", "harness"] + ([] if args.skip_end_to_end else ["end_to_end"])
    for name in names:  # warm-up (kernels, allocator, file cache)
        runs[name]()
    sync()
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_no in range(args.repeat):
        for name in names if round_no % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            runs[name]()
            sync()
            times[name].append(time.perf_counter() - start)
    return {**info, "times": times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kind", choices=["score", "kl"], default="score")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--min-len", type=int, default=64)
    parser.add_argument("--max-len", type=int, default=256)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=str(ROOT / "bench-data"))
    parser.add_argument("--skip-end-to-end", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", help=argparse.SUPPRESS)
    parser.add_argument("--batch", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(child(args, args.child)))
        return
    model_dir, batch = build(args)

    def run_child(role: str) -> dict[str, Any] | None:
        cmd = [sys.executable, __file__, *sys.argv[1:], "--child", role]
        cmd += ["--model-dir", str(model_dir), "--batch", str(batch)]
        out = subprocess.run(
            cmd, capture_output=True, text=True, env=os.environ.copy(), check=False
        )
        line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
        if out.returncode or line is None:
            print(f"{role}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
            return None
        return dict(json.loads(line[7:]))

    timing = run_child("timing")
    if timing is None:
        sys.exit("the timing run failed")
    print(
        f"{args.kind}: Qwen2 {args.layers} layers x {args.hidden} hidden, vocab {args.vocab}; "
        f"{timing['samples']} samples ({timing['tokens']:,} tokens, lengths {args.min_len}-"
        f"{args.max_len}), batch {args.batch_size}; {timing['device']} {timing['dtype']}, "
        f"{timing['threads']} threads; {args.repeat} interleaved rounds"
    )
    print(
        f"{'run':11} {'best s':>7} {'median s':>8} {'samples/s':>9} {'tokens/s':>9} "
        f"{'peak GPU MB':>11} {'peak RSS MB':>11} {'best ratio':>10} {'median ratio':>12}"
    )
    base = timing["times"]["baseline"]
    for name, values in timing["times"].items():
        mem = run_child(f"memory-{name}") or {}
        best, med = min(values), statistics.median(values)
        ratio = "baseline" if name == "baseline" else f"{best / min(base):.3f}x"
        mratio = "baseline" if name == "baseline" else f"{med / statistics.median(base):.3f}x"
        gpu = mem.get("peak_gpu_mb")
        rss = mem.get("peak_rss_mb")
        print(
            f"{name:11} {best:7.3f} {med:8.3f} {timing['samples'] / best:9.1f} "
            f"{timing['tokens'] / best:9.0f} {'-' if gpu is None else f'{gpu:.0f}':>11} "
            f"{'-' if rss is None else f'{rss:.0f}':>11} {ratio:>10} {mratio:>12}"
        )


if __name__ == "__main__":
    main()
