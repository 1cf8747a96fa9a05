"""The endpoint backend against llama-cpp-python's server on the default GGUF, and the local
llama.cpp backend on the same CPU, on the first N HumanEval tasks.

Per task and path: greedy (gamma=0) tokens/s, and EG-CFG (--config) with its round trips per
generated line (endpoint) and wall time. Both modes of the endpoint (lines, tokens) run the
EG-CFG config, so the summary also says whether they gave the same code. Prints one JSON object
per task and path, then a summary. Loads a model: run under `flock /tmp/egcfg-model.lock`.

    python benchmarks/bench_endpoint.py --tasks 3 --max-new-tokens 96 --threads 2
    python benchmarks/bench_endpoint.py --base-url http://host:8000/v1 --model-name M --tokenizer T --no-local

The server is started here (and stopped) unless --base-url is given; it and the local backend
never run at the same time.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", type=int, default=3)
    ap.add_argument("--config", default="s3t0.7d2k1g1.0")
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--base-url")
    ap.add_argument("--model-name", default="default")
    ap.add_argument("--tokenizer", default="default")
    ap.add_argument("--no-local", action="store_true", help="skip the local llama.cpp backend")
    ap.add_argument("--no-tokens-mode", action="store_true", help="skip EG-CFG in mode=tokens")
    args = ap.parse_args(argv)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from egcfg_plugin.core.config import EGCFGConfig
    from task_adapters.registry import get_adapter

    adapter = get_adapter("humaneval")
    problems = [adapter.problem(r) for r in adapter.load()[: args.tasks]]
    greedy = EGCFGConfig.parse(f"baseline+max_new_tokens={args.max_new_tokens}")
    guided = EGCFGConfig.parse(f"{args.config}+max_new_tokens={args.max_new_tokens}")
    rows = []
    server = None if args.base_url else start_server(args.threads)
    url = args.base_url or server[1]
    try:
        spec = f"endpoint,base_url={url},model_name={args.model_name},tokenizer={args.tokenizer}"
        modes = ["lines"] if args.no_tokens_mode else ["lines", "tokens"]
        rows += run("endpoint", spec, problems, greedy, guided, modes)
    finally:
        if server:
            server[0].terminate()
            server[0].wait(timeout=30)
    if not args.no_local:
        rows += run("llamacpp", f"default,backend=llamacpp,threads={args.threads}", problems, greedy, guided, [None])
    print(json.dumps(summary(rows)))
    return 0


def run(path, spec, problems, greedy, guided, modes):
    from egcfg_plugin.core.decoding import generate
    from egcfg_plugin.core.models import load_model

    rows = []
    for mode in modes:
        model, tok = load_model(spec + (f",mode={mode}" if mode else ""))
        for p in problems:
            row = {"path": path, "mode": mode, "task_id": p.task_id}
            if mode in (None, "lines"):
                g = generate(model, tok, p, greedy)
                row.update(greedy_tokens=len(g.tokens), greedy_s=round(g.counters["wall_s"], 2),
                           greedy_tok_s=round(len(g.tokens) / g.counters["wall_s"], 2))
            r = generate(model, tok, p, guided)
            c = r.counters
            row.update(egcfg_tokens=len(r.tokens), egcfg_s=round(c["wall_s"], 2), code=r.code,
                       egcfg_tok_s=round(len(r.tokens) / c["wall_s"], 2), refreshes=c["refreshes"])
            if path == "endpoint":
                lines = max(1, tok.decode(r.tokens).count("\n"))     # generated lines
                row.update(lines=lines, round_trips=c["round_trips"], requests=c["requests"],
                           sample_round_trips=c["sample_round_trips"],
                           round_trips_per_line=round(c["round_trips"] / lines, 2),
                           tokens_per_line=round(len(r.tokens) / lines, 2))
            print(json.dumps({k: v for k, v in row.items() if k != "code"}), flush=True)
            rows.append(row)
    return rows


def summary(rows):
    out = {"summary": True}
    for path, mode in (("endpoint", "lines"), ("endpoint", "tokens"), ("llamacpp", None)):
        sel = [r for r in rows if r["path"] == path and r["mode"] == mode]
        if not sel:
            continue
        key = path if mode is None else f"{path}_{mode}"
        if "greedy_tokens" in sel[0]:
            out[f"{key}_greedy_tok_s"] = round(sum(r["greedy_tokens"] for r in sel) / sum(r["greedy_s"] for r in sel), 2)
        out[f"{key}_egcfg_tok_s"] = round(sum(r["egcfg_tokens"] for r in sel) / sum(r["egcfg_s"] for r in sel), 2)
        if path == "endpoint":
            lines = sum(r["lines"] for r in sel)
            out[f"{key}_round_trips_per_line"] = round(sum(r["round_trips"] for r in sel) / max(1, lines), 2)
            out[f"{key}_lines"] = lines
    by = {(r["path"], r["mode"], r["task_id"]): r["code"] for r in rows}
    pairs = [(by[k], by.get(("endpoint", "tokens", k[2]))) for k in by if k[:2] == ("endpoint", "lines")]
    if any(b is not None for _, b in pairs):
        out["modes_same_code"] = sum(a == b for a, b in pairs)
        out["modes_compared"] = len(pairs)
    local = [(by[k], by.get(("llamacpp", None, k[2]))) for k in by if k[:2] == ("endpoint", "lines")]
    if any(b is not None for _, b in local):
        out["endpoint_vs_local_same_egcfg_code"] = sum(a == b for a, b in local)
    return out


def start_server(threads: int):
    from egcfg_plugin.core.models import resolve_gguf

    gguf, _ = resolve_gguf("default")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "passive")}
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "4096", "--n_threads", str(threads), "--verbose", "false"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the llama.cpp server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/models", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the llama.cpp server was not ready in 180 s")


if __name__ == "__main__":
    raise SystemExit(main())
