"""Runs inside the bigcode virtualenv (.venv-bigcode), as a script: standard library and
bigcode_eval only, never egcfg_plugin (that venv does not have it).

    .venv-bigcode/bin/python bigcode_runner.py prompts --task humaneval --data DIR
    .venv-bigcode/bin/python bigcode_runner.py postprocess --task mbpp --data DIR --texts IN.json --out OUT.json
    .venv-bigcode/bin/python bigcode_runner.py evaluate --task mbpp --data DIR --generations G.json --limit 2 \\
        --metrics M.json --details D.json

The task's dataset is read from DIR (a folder holding test.jsonl, written by
egcfg_plugin.harness.bigcode from EGCFG_DATA_DIR): the task class's DATASET_PATH/DATASET_NAME are
set here at run time, with the dataset hub offline. bigcode_eval's files are not changed.
`prompts` prints bigcode's Task.get_prompt(doc) for every doc, in dataset order; `postprocess`
applies its Task.postprocess_generation to prompt+continuation texts, as its own generation loop
does before saving; `evaluate` runs bigcode_eval.main unchanged with --load_generations_path
and --allow_code_execution, and also records the per-sample results of its code_eval metric.
"""
import argparse
import json
import os
import sys


def _offline() -> None:
    # Before datasets/transformers are imported: no hub look-ups, no telemetry.
    for var in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
        os.environ.setdefault(var, "1")


def task_class(name: str, data: str):
    """bigcode's task class `name`, pointed at the local folder `data` (test.jsonl)."""
    from bigcode_eval.tasks import TASK_REGISTRY

    cls = TASK_REGISTRY[name]
    cls.DATASET_PATH = os.path.abspath(data)
    cls.DATASET_NAME = None
    return cls


def prompts(args) -> int:
    task = task_class(args.task, args.data)()
    out = [{"task_id": doc["task_id"], "prompt": task.get_prompt(doc)} for doc in task.get_dataset()]
    json.dump(out, sys.stdout)
    return 0


def postprocess(args) -> int:
    task = task_class(args.task, args.data)()
    task.get_dataset()   # its own checks (e.g. MBPP's 500 rows)
    with open(args.texts, encoding="utf-8") as f:
        texts = json.load(f)
    out = [[task.postprocess_generation(t, idx) for t in samples] for idx, samples in enumerate(texts)]
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f)
    return 0


def evaluate(args) -> int:
    import importlib

    task_class(args.task, args.data)
    details = []
    module = importlib.import_module(f"bigcode_eval.tasks.{args.module}")
    original = module.compute_code_eval

    def recording(*a, **kw):
        pass_at_k, results = original(*a, **kw)
        for task_id in sorted(results):
            details.append([{"passed": bool(r["passed"]), "result": str(r["result"])}
                            for _, r in sorted(results[task_id], key=lambda pair: pair[0])])
        return pass_at_k, results

    module.compute_code_eval = recording   # the task module's name for bigcode's own metric
    from bigcode_eval import main as bigcode_main

    sys.argv = ["bigcode_eval", "--tasks", args.task, "--load_generations_path", args.generations,
                "--allow_code_execution", "--n_samples", str(args.n_samples),
                "--metric_output_path", args.metrics]
    if args.limit:
        sys.argv += ["--limit", str(args.limit)]
    bigcode_main.main()
    with open(args.details, "w", encoding="utf-8") as f:
        json.dump(details, f)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bigcode_runner")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("prompts", "postprocess", "evaluate"):
        p = sub.add_parser(name)
        p.add_argument("--task", required=True)
        p.add_argument("--data", required=True)
    sub.choices["postprocess"].add_argument("--texts", required=True)
    sub.choices["postprocess"].add_argument("--out", required=True)
    ev = sub.choices["evaluate"]
    ev.add_argument("--module", required=True, help="the bigcode_eval.tasks module of the task")
    ev.add_argument("--generations", required=True)
    ev.add_argument("--limit", type=int, default=None)
    ev.add_argument("--n_samples", type=int, default=1)
    ev.add_argument("--metrics", required=True)
    ev.add_argument("--details", required=True)
    args = parser.parse_args(argv)
    _offline()
    return {"prompts": prompts, "postprocess": postprocess, "evaluate": evaluate}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
