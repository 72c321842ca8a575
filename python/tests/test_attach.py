"""Trial.attach on real PyTorch: the schedule follows the optimizer steps actually taken
(parameter groups keep their ratios, GradScaler's skipped steps and accumulation micro-batches
do not advance it), the start event names the optimizer, a regression program with no
accuracy runs a trial and a final spec end to end, a loop that ends early or fails, and two
gloo ranks stay identical through a re-plan. Skipped without torch."""
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
import warnings

import support
from support import check_events, gentle_schedule, make_spec, read_events, torch

from discipline import Trial

needs_torch = unittest.skipIf(torch is None, "PyTorch is not importable")


def rows(directory):
    """The schedule's (lr, momentum) rows."""
    with open(os.path.join(directory, "schedule.csv")) as f:
        return [(float(r.split(",")[1]), float(r.split(",")[2])) for r in f.read().split()[1:]]


class EmulatedGradScaler:
    """What torch.cuda.amp.GradScaler does, on the CPU (PyTorch 1.13's is CUDA-only): scale the
    loss, unscale the gradients, and call optimizer.step() only when they are all finite."""

    def __init__(self, scale=2.0 ** 8):
        self.factor = scale

    def scale(self, loss):
        return loss * self.factor

    def step(self, optimizer):
        grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        for g in grads:
            g.div_(self.factor)
        if all(bool(torch.isfinite(g).all()) for g in grads):
            return optimizer.step()
        return None  # skipped

    def update(self):
        pass


def grad_scaler():
    """A real CPU GradScaler where PyTorch has one (torch.amp.GradScaler("cpu"), 2.3+), else the
    emulation."""
    real = getattr(getattr(torch, "amp", None), "GradScaler", None)
    if real is not None:
        try:
            return real("cpu", init_scale=2.0 ** 8)
        except (TypeError, RuntimeError):
            pass
    return EmulatedGradScaler()


@needs_torch
class InProcessTest(unittest.TestCase):
    """Attached loops run in this process until the helper ends the run (SystemExit(0))."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dir = self.tmp.name
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        self.addCleanup(torch.set_num_threads, threads)
        torch.manual_seed(0)
        self.model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
        self.x, self.y = torch.randn(64, 4), torch.randn(64, 2)

    def trial(self, steps, **fields):
        env = make_spec(self.dir, steps=steps, schedule=gentle_schedule(steps, lr=0.05), **fields)
        trial = Trial(environ=env, exit_on_error=False)
        self.addCleanup(trial.close)
        return trial

    def run_until_the_end(self, body, limit=100):
        """Calls body(i) until the attached trial ends the run; returns the iterations begun."""
        with self.assertRaises(SystemExit) as caught:
            for i in range(limit):
                body(i)
        self.assertEqual(caught.exception.code, 0)
        return i + 1

    def test_two_parameter_groups_keep_their_1_to_10_ratio(self):
        trial = self.trial(6)
        opt = torch.optim.SGD([{"params": self.model[0].parameters(), "lr": 0.01},
                               {"params": self.model[2].parameters()}], lr=0.1, momentum=0.5)
        loss_fn = trial.criterion(torch.nn.functional.mse_loss)
        trial.attach(opt, self.model)
        scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)  # the script's own, overridden
        seen = []

        def body(i):
            opt.zero_grad()
            loss_fn(self.model(self.x), self.y).backward()
            opt.step()
            seen.append([g["lr"] for g in opt.param_groups])
            scheduler.step()

        with warnings.catch_warnings():
            warnings.simplefilter("error")  # StepLR sees the wrapped step as counted: no order warning
            self.assertEqual(self.run_until_the_end(body), 6)
        schedule = rows(self.dir)
        self.assertEqual(len(seen), 5)  # the 6th step ended the run from inside optimizer.step()
        for k, (small, large) in enumerate(seen):
            self.assertAlmostEqual(large, schedule[k][0], places=12)
            self.assertAlmostEqual(small, schedule[k][0] / 10, places=12)
        self.assertEqual([g["momentum"] for g in opt.param_groups], [schedule[5][1]] * 2)
        self.assertEqual(check_events(self, read_events(self.dir)), 6)

    def test_apply_schedule_keeps_the_ratio_of_an_optimizer_a_scheduler_already_moved(self):
        trial = self.trial(3)
        opt = torch.optim.AdamW([{"params": self.model[0].parameters(), "lr": 1e-4},
                                 {"params": self.model[2].parameters(), "lr": 1e-3}])
        scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        opt.step(); scheduler.step()  # the groups' lr halved; their initial_lr is what counts
        trial.apply_schedule(opt, 1)
        lr = rows(self.dir)[1][0]
        self.assertAlmostEqual(opt.param_groups[0]["lr"], lr / 10, places=12)
        self.assertEqual(opt.param_groups[1]["lr"], lr)

    def test_a_step_that_grad_scaler_skips_does_not_advance_the_schedule(self):
        trial = self.trial(5)
        opt = torch.optim.SGD(self.model.parameters(), lr=0.1, momentum=0.9)
        loss_fn = trial.criterion(torch.nn.functional.mse_loss)
        trial.attach(opt, self.model)
        scaler = grad_scaler()
        seen, unchanged = [], []

        def body(i):
            opt.zero_grad()
            scaler.scale(loss_fn(self.model(self.x), self.y)).backward()
            if i == 2:  # an overflow: GradScaler finds an inf and skips optimizer.step()
                self.model[0].weight.grad[0, 0] = float("inf")
            before = self.model[0].weight.detach().clone()
            scaler.step(opt)
            scaler.update()
            seen.append(opt.param_groups[0]["lr"])
            unchanged.append(torch.equal(before, self.model[0].weight))

        self.assertEqual(self.run_until_the_end(body), 6)  # 5 steps taken in 6 iterations
        schedule = [lr for lr, _ in rows(self.dir)]
        self.assertEqual(seen, [schedule[0], schedule[1], schedule[1], schedule[2], schedule[3]])
        self.assertEqual(unchanged, [False, False, True, False, False])
        events = read_events(self.dir)
        self.assertEqual(check_events(self, events), 5)
        self.assertEqual([e["samples"] for e in events if e["event"] == "train"], [64, 64, 128, 64, 64])

    def test_accumulation_over_4_micro_batches_advances_once_per_optimizer_step(self):
        trial = self.trial(3)
        opt = torch.optim.SGD(self.model.parameters(), lr=0.1, momentum=0.9)
        criterion = trial.criterion(torch.nn.MSELoss())  # a module criterion comes back hooked
        self.assertIsInstance(criterion, torch.nn.MSELoss)
        trial.attach(opt, self.model)
        losses, seen = [], []

        def body(i):
            for micro in range(4):
                b = slice(16 * micro, 16 * micro + 16)
                loss = criterion(self.model(self.x[b]), self.y[b])
                (loss / 4).backward()
                losses.append(loss.item())
                seen.append(opt.param_groups[0]["lr"])
            opt.step()
            opt.zero_grad()

        self.assertEqual(self.run_until_the_end(body), 3)
        schedule = [lr for lr, _ in rows(self.dir)]
        # the rows in force during each step's micro-batches: the previous step's (0.1 before the first)
        self.assertEqual(seen, [0.1] * 4 + [schedule[0]] * 4 + [schedule[1]] * 4)
        self.assertEqual(opt.param_groups[0]["lr"], schedule[2])
        train = [e for e in read_events(self.dir) if e["event"] == "train"]
        self.assertEqual([e["samples"] for e in train], [64, 64, 64])
        for k, e in enumerate(train):
            self.assertAlmostEqual(e["loss"], sum(losses[4 * k:4 * k + 4]) / 4, places=5)

    def test_the_start_event_names_the_optimizer_and_its_weight_decay(self):
        for cls, decoupled in ((torch.optim.AdamW, True), (torch.optim.Adam, False), (torch.optim.SGD, False)):
            with tempfile.TemporaryDirectory() as d:
                env = make_spec(d, steps=2)
                trial = Trial(environ=env, exit_on_error=False)
                trial.attach(cls(self.model.parameters(), lr=1e-3, weight_decay=0.01))
                trial.end()
                start = read_events(d)[0]
                self.assertEqual((start["optimizer"], start["decoupled_weight_decay"]), (cls.__name__, decoupled))
                self.assertNotIn("world_size", start)  # 1

    def test_a_step_without_a_recorded_loss_is_a_clear_error(self):
        trial = self.trial(4)
        opt = torch.optim.SGD(self.model.parameters(), lr=0.1, momentum=0.9)
        trial.attach(opt, self.model)
        for i in range(2):
            opt.zero_grad()
            torch.nn.functional.mse_loss(self.model(self.x), self.y).backward()
            if i == 0:
                opt.step()
                trial.record_loss(0.5)  # after the step: completes it
            else:
                with self.assertRaisesRegex(RuntimeError, "without a training loss"):
                    opt.step(); opt.step()
        train = [e for e in read_events(self.dir) if e["event"] == "train"]
        self.assertEqual([(e["step"], e["loss"], e["samples"]) for e in train], [(0, 0.5, 64)])
        trial.end()

    def test_a_final_spec_the_helper_cannot_measure_is_refused_at_attach(self):
        trial = self.trial(4, final=True, kind="final")
        opt = torch.optim.SGD(self.model.parameters(), lr=0.1, momentum=0.9)
        with self.assertRaisesRegex(ValueError, "the test set.*hold_out"):
            trial.attach(opt, self.model, loss=torch.nn.functional.mse_loss)
        with self.assertRaisesRegex(ValueError, "a loss function"):
            trial.attach(opt, self.model, test=[(self.x[0], self.y[0])])

    def test_hold_out_is_deterministic_and_the_final_run_trains_on_everything(self):
        data = torch.utils.data.TensorDataset(torch.arange(100))
        trial = self.trial(4)
        train = trial.hold_out(data, test="TEST")
        self.assertEqual((len(train), trial.train_samples), (90, 90))
        again = Trial(environ=support.environment(self.dir), exit_on_error=False).hold_out(data)
        self.assertEqual(train.indices, again.indices)
        validation = trial._datasets["validation"]
        self.assertEqual(sorted(train.indices + validation.indices), list(range(100)))
        final = self.trial(4, final=True)
        self.assertIs(final.hold_out(data, test="TEST"), data)
        self.assertEqual(final._datasets, {"validation": "TEST", "test": "TEST"})
        self.assertIs(Trial(environ={}).hold_out(data, test="TEST"), data)


# A regression program (no accuracy; a mean absolute error, lower is better) in the shape of an
# epoch loop over a DataLoader: hold_out, criterion and attach are its whole adaptation.
REGRESSION = textwrap.dedent("""
    import argparse, torch, torch.nn as nn, torch.nn.functional as F, discipline
    from torch.utils.data import DataLoader, TensorDataset
    p = argparse.ArgumentParser()
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--passes", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fail-at", type=int, default=-1)
    p.add_argument("--raise-passes", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(1)
    trial = discipline.Trial(args=args, metrics={"mae": "lower"},
                             names={"epochs": "passes"} if args.raise_passes else None)
    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(400, 3, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.1 * torch.randn(400, 1, generator=g)
    train_set, test_set = TensorDataset(x[:300], y[:300]), TensorDataset(x[300:], y[300:])
    train_set = trial.hold_out(train_set, test=test_set)

    def evaluate(model, loader):
        se = ae = n = 0
        for xb, yb in loader:
            out = model(xb)
            se += F.mse_loss(out, yb, reduction="sum").item()
            ae += (out - yb).abs().sum().item()
            n += len(yb)
        return {"loss": se / n, "mae": ae / n}

    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    criterion = trial.criterion(nn.MSELoss())
    trial.attach(opt, model, evaluate=evaluate)
    steps = 0
    for epoch in range(args.passes):
        for xb, yb in DataLoader(train_set, batch_size=args.batch_size, shuffle=True):
            opt.zero_grad()
            criterion(model(xb), yb).backward()
            opt.step()
            steps += 1
            if steps == args.fail_at:
                raise RuntimeError("the script failed")
        print("pass", epoch, "mae", evaluate(model, DataLoader(test_set, batch_size=100)).get("mae"))
    print("the loop ended after", steps)
""")


@needs_torch
class RegressionProgramTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dir = self.tmp.name

    def run_program(self, env, *args):
        r = subprocess.run([sys.executable, "-c", REGRESSION] + list(args), env=env, capture_output=True,
                           text=True, timeout=120)
        return r, read_events(self.dir)

    def test_a_trial_reports_the_declared_metric_without_accuracy(self):
        env = make_spec(self.dir, steps=30, batch_size=20, schedule=gentle_schedule(30, lr=0.05),
                        validate_at=[10, 20, 30], validation_batches=1)
        r, events = self.run_program(env, "--raise-passes")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("the loop ended", r.stdout)  # the helper ended it at step 30
        self.assertEqual(check_events(self, events, metrics=["mae"]), 30)
        self.assertEqual(events[0]["metrics"], {"mae": "lower"})
        self.assertEqual(events[0]["train_samples"], 270)  # 300 less a tenth held out
        self.assertEqual(events[0]["ignores"], ["weight_decay"])  # no --weight-decay
        self.assertIn("does not take the spec's weight_decay", r.stderr)
        val = [e for e in events if e["event"] == "val"]
        self.assertEqual([e["step"] for e in val], [10, 20, 30])
        self.assertTrue(all("accuracy" not in e and e["metrics"]["mae"] > 0 for e in val))
        self.assertLess(val[-1]["loss"], val[0]["loss"])
        samples = [e["samples"] for e in events if e["event"] == "train"]
        self.assertEqual(samples[:15], [20] * 13 + [10, 20])  # 270 = 13 x 20 + 10: an epoch's last batch

    def test_the_final_run_reports_test_and_saves_the_model(self):
        env = make_spec(self.dir, steps=25, batch_size=25, schedule=gentle_schedule(25, lr=0.05), kind="final",
                        final=True, save_model="out/model.pt", validate_at=[25])
        r, events = self.run_program(env, "--raise-passes")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(check_events(self, events, metrics=["mae"]), 25)
        self.assertEqual([e["event"] for e in events[-3:]], ["val", "test", "end"])
        test = events[-2]
        self.assertEqual(test["step"], 25)
        self.assertNotIn("accuracy", test)
        self.assertGreater(test["metrics"]["mae"], 0)
        self.assertEqual(events[0]["train_samples"], 300)  # all of the training set
        state = torch.load(os.path.join(self.dir, "out", "model.pt"))
        self.assertEqual(sorted(state), ["bias", "weight"])

    def test_a_loop_that_ends_before_the_spec_is_ended_at_exit(self):
        env = make_spec(self.dir, steps=100, batch_size=30, schedule=gentle_schedule(100, lr=0.05), kind="final",
                        final=True, validate_at=[5])
        r, events = self.run_program(env)  # --passes 2 is not raised: 2 x 10 steps
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("the loop ended after 20", r.stdout)
        self.assertIn("ended after 20 of the spec's 100 steps", r.stderr)
        self.assertEqual(check_events(self, events, metrics=["mae"]), 20)
        self.assertEqual([e["event"] for e in events[-2:]], ["test", "end"])

    def test_a_script_that_fails_writes_no_end(self):
        env = make_spec(self.dir, steps=100, batch_size=30, schedule=gentle_schedule(100, lr=0.05))
        r, events = self.run_program(env, "--fail-at", "5")
        self.assertEqual(r.returncode, 1)
        self.assertIn("the script failed", r.stderr)
        self.assertEqual([e["event"] for e in events], ["start"] + ["train"] * 5)


# Two gloo ranks of an attached epoch loop; the test re-plans the run while it goes. Each
# rank trains on its own data (DDP averages the gradients), records the lr of every step and
# saves its weights however the run ends.
DDP = textwrap.dedent("""
    import os, sys, time, torch, torch.distributed as dist, torch.nn.functional as F, discipline
    rank, init, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    torch.set_num_threads(1)
    os.environ.update(RANK=str(rank), WORLD_SIZE="2")

    class Args:
        batch_size, epochs = 64, 1

    args = Args()
    trial = discipline.Trial(args=args)  # batch_size: the spec's global 64 over 2 ranks
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = trial.criterion(F.mse_loss)
    trial.attach(opt, model)
    g = torch.Generator().manual_seed(rank)
    applied = []
    try:
        for epoch in range(args.epochs):
            for batch in range(100):
                x = torch.randn(args.batch_size, 4, generator=g)
                opt.zero_grad()
                loss_fn(model(x), x[:, :2] * 2).backward()
                opt.step()
                applied.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]))
                time.sleep(0.01)
    finally:
        torch.save({"state": model.module.state_dict(), "applied": applied, "batch": args.batch_size,
                    "epochs": args.epochs}, out)
""")


def write_atomically(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


@needs_torch
class DistributedReplanTest(unittest.TestCase):
    def test_two_gloo_ranks_apply_a_replanned_schedule_at_the_same_step_and_end_identical(self):
        if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
            self.skipTest("torch.distributed with gloo is not available")
        with tempfile.TemporaryDirectory() as d:
            env = make_spec(d, steps=400, batch_size=64, schedule=gentle_schedule(400, lr=0.01), validate_at=[])
            init = "file://" + os.path.join(d, "rendezvous")
            outs = [os.path.join(d, "rank%d.pt" % rank) for rank in (0, 1)]
            procs = [subprocess.Popen([sys.executable, "-c", DDP, str(rank), init, outs[rank]], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for rank in (0, 1)]
            try:
                deadline = time.monotonic() + 90
                while len(read_events(d)) < 21 and time.monotonic() < deadline and all(p.poll() is None for p in procs):
                    time.sleep(0.02)
                # discipline's re-plan: spec.json, then schedule.csv, each replaced whole
                with open(os.path.join(d, "spec.json")) as f:
                    spec = json.load(f)
                spec["steps"] = 250
                write_atomically(os.path.join(d, "spec.json"), json.dumps(spec))
                replanned = "step,lr,momentum\n" + "".join("%d,0.03,0.8\n" % i for i in range(250))
                write_atomically(os.path.join(d, "schedule.csv"), replanned)
                outputs = [p.communicate(timeout=120) for p in procs]
            finally:
                for p in procs:
                    if p.poll() is None:
                        p.kill()
            for p, (out, err) in zip(procs, outputs):
                self.assertEqual(p.returncode, 0, err)
            events = read_events(d)
            self.assertEqual(check_events(self, events), 250)
            self.assertEqual(events[0]["world_size"], 2)
            self.assertTrue(all(e["samples"] == 64 for e in events if e["event"] == "train"))  # global
            runs = [torch.load(path) for path in outs]
            self.assertEqual([r["batch"] for r in runs], [32, 32])  # per rank
            self.assertEqual([r["epochs"] for r in runs], [4000, 4000])  # raised to 10 × the spec's steps
            self.assertEqual(runs[0]["applied"], runs[1]["applied"])  # the same row at every step
            switched = [i for i, (lr, m) in enumerate(runs[0]["applied"]) if (lr, m) == (0.03, 0.8)]
            self.assertTrue(switched and 20 <= switched[0] < 249, switched[:1])
            self.assertEqual(switched, list(range(switched[0], 249)))
            for name in runs[0]["state"]:
                self.assertTrue(torch.equal(runs[0]["state"][name], runs[1]["state"][name]), name)


if __name__ == "__main__":
    unittest.main()
