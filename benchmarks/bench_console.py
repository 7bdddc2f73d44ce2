"""Console-log benchmark: trainlens's streaming readers on big, realistic console captures.

    .venv/bin/python benchmarks/bench_console.py [--mib 1024] [--keep]

Generates (once, cached under ./bench-data/) two console logs of about ``--mib`` MiB each:
- an HF/TRL log: a tqdm bar redrawn with ``\\r`` every step, warnings and sampled generations
  between logs, a metric dict (30 keys) every 10 steps, eval dicts, a final summary;
- a verl log: Ray-prefixed ANSI lines, worker chatter, a ``step:N - k:v ...`` line (60 keys) per
  step, values printed by ``pprint.pformat`` (``np.float64(...)``).
Each reader (and the failure scan over the same file) runs in its own subprocess, so its peak RSS
is its own. The baseline, in the same run, is the I/O floor: Python iterating the file's lines and
doing nothing else. It also reads a file a quarter of the size, to show the peak RSS does not
grow with the file (it grows with the metrics kept, a few bytes per point, not with the text).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "bench-data"
HF_KEYS = [
    "loss", "grad_norm", "learning_rate", "num_tokens", "completions/mean_length",
    "completions/min_length", "completions/max_length", "completions/clipped_ratio",
    "rewards/accuracy/mean", "rewards/accuracy/std", "rewards/format/mean", "rewards/format/std",
    "reward", "reward_std", "frac_reward_zero_std", "kl", "entropy", "clip_ratio/low_mean",
    "clip_ratio/low_min", "clip_ratio/high_mean", "clip_ratio/high_max", "clip_ratio/region_mean",
    "sampling/sampling_logp_difference/mean", "sampling/sampling_logp_difference/max",
    "sampling/importance_sampling_ratio/min", "sampling/importance_sampling_ratio/mean",
    "sampling/importance_sampling_ratio/max", "step_time", "completions/mean_terminated_length",
    "epoch",
]  # fmt: skip
WARNING = (
    "/env/lib/python3.11/site-packages/transformers/generation/utils.py:1642: UserWarning: "
    "You have modified the pretrained model configuration to control generation.\n"
)
SAMPLE = "Sample output: <think>Let me compute 48 / 2 = 24 and then 24 + 48 = 72.</think> 72\n"


def _hf_block(rng: random.Random, step: int, total: int) -> str:
    bar = "".join(
        f"\r{100 * s // total:3d}%|{'█' * (10 * s // total):<10}| {s}/{total} "
        f"[{s // 60:02d}:{s % 60:02d}<12:00:00,  {rng.uniform(1, 4):.2f}s/it]"
        for s in range(step - 9, step + 1)
    )
    values = {k: round(rng.gauss(0.5, 0.2), 6) for k in HF_KEYS}
    text = bar + "\r" + " " * 48 + "\r" + str(values) + "\n"
    text += (WARNING + SAMPLE) * 8
    if step % 500 == 0:
        text += str({"eval_loss": rng.random(), "eval_runtime": 3.2, "epoch": 0.1}) + "\n"
    return text


def _verl_block(rng: random.Random, step: int) -> str:
    prefix = "\x1b[36m(TaskRunner pid=14640)\x1b[0m "
    chatter = (
        "\x1b[36m(WorkerDict pid=99, ip=10.0.0.1)\x1b[0m INFO 12-03 vllm: generated 512 seqs\n"
    )
    fields = " - ".join(f"k{i}/metric_{i}:np.float64({rng.gauss(0, 1)!r})" for i in range(60))
    return chatter * 20 + prefix + f"step:{step} - {fields}\n"


def generate(kind: str, mib: int) -> Path:
    DATA.mkdir(exist_ok=True)
    path = DATA / f"console_{kind}_{mib}mib.log"
    if path.exists():
        return path
    rng = random.Random(0)
    limit = mib << 20
    written = 0
    total = 10**7
    with open(path, "w", encoding="utf-8") as fh:
        step = 0
        while written < limit:
            step += 10 if kind == "hf" else 1
            block = _hf_block(rng, step, total) if kind == "hf" else _verl_block(rng, step)
            fh.write(block)
            written += len(block.encode())
        if kind == "hf":
            fh.write(str({"train_runtime": 100.0, "train_loss": 0.5, "epoch": 1.0}) + "\n")
    return path


RUNNERS = {
    "lines (I/O floor)": "n=0\nwith open(p,'rb') as fh:\n    for _ in fh: n+=1\npoints=n",
    "hf_console": "from trainlens.readers.hf_console import read_hf_console\n"
    "points=len(read_hf_console(p).frame)",
    "verl_console": "from trainlens.readers.verl_console import read_verl_console\n"
    "points=len(read_verl_console(p).frame)",
    "failure scan": "from trainlens.logscan import scan_logs\n"
    "scans,_=scan_logs([p])\npoints=sum(h.count for s in scans for h in s.hits.values())",
    # the whole analysis of the log: read, failure scan, rules; the scan in a worker process
    # while the reader parses (trainlens.scan_ahead), and one after the other as the baseline
    "analyze": "from trainlens.analysis import analyze\n"
    "points=sum(len(r.table) for r in analyze(p).runs)",
    "analyze, serial": "from trainlens.scan_ahead import ScanAhead\n"
    "ScanAhead.__init__.__kwdefaults__['min_bytes']=1<<62\n"
    "from trainlens.analysis import analyze\n"
    "points=sum(len(r.table) for r in analyze(p).runs)",
}


def timed(runner: str, path: Path) -> dict[str, float]:
    code = (
        "import json,resource,sys,time\nfrom pathlib import Path\n"
        f"sys.path.insert(0, {str(ROOT)!r})\np=Path({str(path)!r})\nt=time.perf_counter()\n"
        + RUNNERS[runner]
        + "\nprint(json.dumps({'s': time.perf_counter()-t, 'points': points, "
        "'rss': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="size of each generated log")
    parser.add_argument("--keep", action="store_true", help="keep the generated logs")
    args = parser.parse_args()
    print(f"console logs of {args.mib} MiB and {args.mib // 4} MiB (generated once, cached)")
    for kind, reader in (("hf", "hf_console"), ("verl", "verl_console")):
        big, small = generate(kind, args.mib), generate(kind, max(1, args.mib // 4))
        floor = timed("lines (I/O floor)", big)
        print(f"\n{kind} log, {big.stat().st_size / 2**20:.0f} MiB:")
        print(f"  {'lines (I/O floor)':<18} {floor['s']:7.2f} s   peak RSS {floor['rss']:6.0f} MB")
        for runner in (reader, "failure scan"):
            r = timed(runner, big)
            q = timed(runner, small)
            rate = big.stat().st_size / 2**20 / r["s"]
            print(
                f"  {runner:<18} {r['s']:7.2f} s   {rate:6.0f} MiB/s   "
                f"{r['s'] / floor['s']:4.1f}× the I/O floor   peak RSS {r['rss']:6.0f} MB "
                f"(a quarter of the file: {q['rss']:.0f} MB)   points {r['points']:,}"
            )
        serial = timed("analyze, serial", big)
        both = timed("analyze", big)
        print(
            f"  {'analyze':<18} {both['s']:7.2f} s   (read, failure scan and rules; the scan in "
            f"a worker while the reader parses)   serial {serial['s']:.2f} s: "
            f"{serial['s'] / both['s']:.2f}× faster   peak RSS {both['rss']:6.0f} MB"
        )
        if not args.keep:
            big.unlink()
            small.unlink()


if __name__ == "__main__":
    main()
