"""The helper's overhead on a real training step: runs examples/pytorch/fashion_mnist.py alone
and under a spec (same seed, steps, batch size, threads, data), alternately, and prints the
median (and fastest) time per training step of each and their ratio (target: <= 1.03). Then times the
helper's per-step calls alone (apply_schedule, report_train, should_validate, should_stop).

    /usr/bin/python3 python/bench_overhead.py [--steps 60] [--batch-size 128] [--threads 1] [--repeats 5]

The example's own `ms_per_step` (training loop time without evaluation, divided by steps)
is what is compared. Run on an idle machine: other load moves both numbers by more than 3%.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "examples", "pytorch", "fashion_mnist.py")
sys.path.insert(0, HERE)


def write_spec(directory, steps, batch_size, seed):
    """A trial spec the example runs like its plain defaults: weight decay 5e-4, no dropout,
    no validation; a linear learning-rate ramp (the values do not change the step's cost)."""
    spec = {"protocol": 1, "kind": "trial", "key": "overhead", "batch_size": batch_size, "seed": seed,
            "weight_decay": 5e-4, "dropout": 0.0, "augmentation": "none", "steps": steps,
            "schedule": "schedule.csv", "validate_at": [], "validation_batches": None, "final": False,
            "save_model": None, "max_seconds": None}
    with open(os.path.join(directory, "spec.json"), "w") as f:
        json.dump(spec, f)
    with open(os.path.join(directory, "schedule.csv"), "w") as f:
        f.write("step,lr,momentum\n")
        for i in range(steps):
            f.write("%d,%r,%r\n" % (i, 0.1 * (i + 1) / steps, 0.95 - 0.1 * i / steps))


def run_example(args, directory=None):
    """ms_per_step of one run of the example; under the spec in `directory` if given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISCIPLINE_")}
    env["PYTHONPATH"] = HERE
    if directory:
        for name in ("events.jsonl", "stop"):
            if os.path.exists(os.path.join(directory, name)):
                os.remove(os.path.join(directory, name))
        env.update(DISCIPLINE_SPEC=os.path.join(directory, "spec.json"), DISCIPLINE_DIR=directory,
                   DISCIPLINE_EVENTS=os.path.join(directory, "events.jsonl"),
                   DISCIPLINE_STOP=os.path.join(directory, "stop"))
    r = subprocess.run([sys.executable, EXAMPLE] + args, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("the example failed:\n" + r.stderr)
    for line in r.stdout.splitlines():
        if line.startswith("{") and "ms_per_step" in line:
            return json.loads(line)["ms_per_step"]
    raise SystemExit("no ms_per_step in the example's output:\n" + r.stdout)


def helper_cost(steps=20000):
    """Microseconds per step of the helper's calls on the example's optimizer, alone."""
    import torch
    import discipline
    from discipline.models import build
    with tempfile.TemporaryDirectory() as d:
        write_spec(d, steps, 128, 0)
        trial = discipline.Trial(honours=("dropout",), environ={"DISCIPLINE_SPEC": os.path.join(d, "spec.json")})
        opt = torch.optim.SGD(build("cnn").parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
        t = time.perf_counter()
        for step in range(steps):
            trial.apply_schedule(opt, step)
            trial.report_train(step, 0.5, 128)
            trial.should_validate(step + 1)
            if trial.should_stop(step + 1):
                break
        cost = (time.perf_counter() - t) / steps * 1e6
        trial.end()
    return cost


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--limit", type=int, default=12000, help="images the example loads (more than --steps batches)")
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist")
    a = p.parse_args()
    args = ["--steps", str(a.steps), "--batch-size", str(a.batch_size), "--threads", str(a.threads),
            "--seed", str(a.seed), "--limit", str(a.limit), "--data-dir", a.data_dir]
    plain, helper = [], []
    with tempfile.TemporaryDirectory() as d:
        write_spec(d, a.steps, a.batch_size, a.seed)
        for i in range(a.repeats):  # alternate which goes first, so drifts in load hit both alike
            order = [(plain, None), (helper, d)] if i % 2 == 0 else [(helper, d), (plain, None)]
            for results, directory in order:
                results.append(run_example(args, directory))
            print("repeat %d: alone %.2f ms/step, with the helper %.2f ms/step" % (i + 1, plain[-1], helper[-1]), flush=True)
    p_med, h_med = statistics.median(plain), statistics.median(helper)
    print("alone:           median %.2f ms/step  %s" % (p_med, plain))
    print("with the helper: median %.2f ms/step  %s" % (h_med, helper))
    print("ratio: %.4f of the medians, %.4f of the fastest runs (target <= 1.03)"
          % (h_med / p_med, min(helper) / min(plain)))
    cost = helper_cost()
    print("the helper's calls alone: %.1f us per step = %.3f%% of a %.1f ms step" % (cost, cost / (10 * p_med), p_med))


if __name__ == "__main__":
    main()
