"""The PyTorch side: schedules on real optimizers, the stop file in a real training process,
torch.distributed, the models, safetensors checkpoints and the benchmark. Skipped without torch."""
import contextlib
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

import support
from support import make_spec, read_events, torch

from discipline import Trial

needs_torch = unittest.skipIf(torch is None, "PyTorch is not importable")


@needs_torch
class OptimizerScheduleTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        env = make_spec(self.tmp.name, steps=3, schedule="step,lr,momentum\n0,0.1,0.95\n1,0.2,0.9\n2,0.3,0.85\n")
        self.trial = Trial(environ=env, exit_on_error=False)
        self.addCleanup(self.trial.close)
        torch.manual_seed(0)
        self.model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))

    def groups(self):
        return [{"params": self.model[0].parameters(), "lr": 1.0}, {"params": self.model[1].parameters(), "lr": 2.0}]

    def step(self, opt):
        opt.zero_grad()
        self.model(torch.randn(5, 4)).pow(2).mean().backward()
        opt.step()

    def test_sgd_lr_and_momentum_of_every_group(self):
        opt = torch.optim.SGD(self.groups(), lr=0.5, momentum=0.5, weight_decay=1e-4)
        self.trial.apply_schedule(opt, 1)  # the schedule's lr is the peak group's; 1:2 kept
        self.assertEqual([(g["lr"], g["momentum"], g["weight_decay"]) for g in opt.param_groups],
                         [(0.1, 0.9, 1e-4), (0.2, 0.9, 1e-4)])
        self.step(opt)

    def test_adamw_and_adam_beta1_keeps_beta2(self):
        for cls in (torch.optim.AdamW, torch.optim.Adam):
            opt = cls(self.groups(), betas=(0.9, 0.98))
            opt.param_groups[1]["betas"] = (0.8, 0.95)
            self.trial.apply_schedule(opt, 2)
            self.assertEqual([(g["lr"], g["betas"]) for g in opt.param_groups], [(0.15, (0.85, 0.98)), (0.3, (0.85, 0.95))])
            self.step(opt)

    def test_the_schedule_overrides_a_scheduler_the_script_keeps(self):
        opt = torch.optim.SGD(self.model.parameters(), lr=0.5, momentum=0.9)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=3)
        for step in range(3):
            self.trial.apply_schedule(opt, step)
            self.assertEqual((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]),
                             ([0.1, 0.2, 0.3][step], [0.95, 0.9, 0.85][step]))
            self.step(opt)
            sched.step()

    def test_a_scheduler_made_after_a_framework_callback_hooks_the_optimizer(self):
        # torch 1.13 has no step hooks: the callbacks wrap `step`, which must stay a bound
        # method, or an LR scheduler made afterwards fails (it reads step.__self__)
        from discipline._frameworks import Driver
        opt = torch.optim.SGD(self.model.parameters(), lr=0.1, momentum=0.9)
        driver = Driver(self.trial, "test")
        driver.attach(opt)
        scheduler = torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.5)
        self.step(opt)
        scheduler.step()
        self.assertEqual(driver.steps, 1)

    def test_a_tensor_loss(self):
        self.trial.report_train(0, torch.tensor(0.5), 8)
        self.assertEqual(read_events(self.tmp.name)[1]["loss"], 0.5)


# A tiny training program under a spec: many steps, each a little slow, until the stop file.
LOOP = textwrap.dedent("""
    import time, torch, discipline
    torch.set_num_threads(1)
    trial = discipline.Trial(honours=())
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for step in range(trial.get("steps", 10)):
        trial.apply_schedule(opt, step)
        opt.zero_grad()
        loss = model(torch.randn(8, 4)).pow(2).mean()
        loss.backward(); opt.step()
        trial.report_train(step, loss.item(), 8)
        time.sleep(0.01)
        if trial.should_stop(step + 1):
            break
    trial.end()
    print("stopped after", step + 1)
""")


@needs_torch
class StopFileTest(unittest.TestCase):
    def test_the_program_ends_with_an_end_event_and_exit_0_when_the_stop_file_appears(self):
        with tempfile.TemporaryDirectory() as d:
            env = make_spec(d, steps=5000)
            proc = subprocess.Popen([sys.executable, "-c", LOOP], env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            try:
                deadline = time.monotonic() + 60
                while len(read_events(d)) < 6 and proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.02)
                open(os.path.join(d, "stop"), "w").close()
                out, err = proc.communicate(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
            self.assertEqual(proc.returncode, 0, err)
            events = read_events(d)
            train = [e for e in events if e["event"] == "train"]
            self.assertEqual(events[0]["event"], "start")
            self.assertEqual(events[-1], {"event": "end", "steps": len(train), "time": events[-1]["time"]})
            self.assertGreaterEqual(len(train), 5)
            self.assertLess(len(train), 5000)
            self.assertEqual([e["step"] for e in train], list(range(len(train))))
            self.assertIn("stopped after %d" % len(train), out)


# Two processes of a gloo group on the CPU: rank 0 creates the stop file after step 3; both
# ranks must stop after the same step, and only rank 0 writes events.
DDP = textwrap.dedent("""
    import os, sys, torch, torch.distributed as dist, discipline
    rank, init = int(sys.argv[1]), sys.argv[2]
    torch.set_num_threads(1)
    os.environ["RANK"] = str(rank)
    trial = discipline.Trial()
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for step in range(100):
        trial.apply_schedule(opt, step)
        opt.zero_grad(); loss = model(torch.randn(8, 4)).pow(2).mean(); loss.backward(); opt.step()
        trial.report_train(step, loss.item(), 16)
        if rank == 0 and step == 3:
            open(os.environ["DISCIPLINE_STOP"], "w").close()
        if trial.should_stop(step + 1):
            break
    trial.end()
    print("rank", rank, "lr", opt.param_groups[0]["lr"], "stopped after", step + 1)
    dist.destroy_process_group()
""")


@needs_torch
class DistributedTest(unittest.TestCase):
    def test_rank_0_writes_and_every_rank_stops_at_the_same_step(self):
        if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
            self.skipTest("torch.distributed with gloo is not available")
        with tempfile.TemporaryDirectory() as d:
            env = make_spec(d, steps=100)
            init = "file://" + os.path.join(d, "rendezvous")
            procs = [subprocess.Popen([sys.executable, "-c", DDP, str(rank), init], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True) for rank in (0, 1)]
            outputs = []
            try:
                for p in procs:
                    outputs.append(p.communicate(timeout=120))
            finally:
                for p in procs:
                    if p.poll() is None:
                        p.kill()
            for p, (out, err) in zip(procs, outputs):
                self.assertEqual(p.returncode, 0, err)
            self.assertIn("rank 0 lr 0.04 stopped after 4", outputs[0][0])
            self.assertIn("rank 1 lr 0.04 stopped after 4", outputs[1][0])
            events = read_events(d)
            self.assertEqual([e["event"] for e in events], ["start"] + ["train"] * 4 + ["end"])
            self.assertEqual(events[-1]["steps"], 4)


@needs_torch
class ModelsTest(unittest.TestCase):
    def test_parameter_counts_and_keys(self):
        from discipline.models import build
        self.assertEqual(sum(p.numel() for p in build("cnn").parameters()), 50282)
        keys = list(build("cnn").state_dict())
        self.assertEqual(keys[0], "0.weight")
        self.assertEqual(keys[-2:], ["9.weight", "9.bias"])
        self.assertEqual(list(build("mlp").state_dict()), ["1.weight", "1.bias", "3.weight", "3.bias", "5.weight", "5.bias"])
        for name in ("mlp", "cnn", "resnet8"):  # dropout adds no state
            self.assertEqual(list(build(name, 3 if name == "resnet8" else 1).state_dict()),
                             list(build(name, 3 if name == "resnet8" else 1, dropout=0.5).state_dict()), name)
        r = build("resnet20", 3, 10, 32)
        self.assertEqual(sum(p.numel() for p in r.parameters()), 272474)
        self.assertIn("layer2.0.shortcut.0.weight", r.state_dict())
        self.assertEqual(tuple(r(torch.randn(2, 3, 32, 32)).shape), (2, 10))
        for bad in ("resnet9", "vgg", "resnet"):
            with self.assertRaises(ValueError):
                build(bad)

    def test_dropout_acts_in_training_only(self):
        from discipline.models import build
        torch.manual_seed(0)
        m, x = build("cnn", dropout=0.5), torch.randn(4, 1, 28, 28)
        m.eval()
        self.assertTrue(torch.equal(m(x), m(x)))
        m.train()
        self.assertFalse(torch.equal(m(x), m(x)))


def safetensors_bytes(tensors, metadata):
    """A safetensors file written by hand (F32 only): independent of discipline.checkpoint.save."""
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        values = t.detach().reshape(-1).tolist()
        raw = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


@needs_torch
class CheckpointTest(unittest.TestCase):
    def setUp(self):
        from discipline.models import build
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        torch.manual_seed(1)
        self.model = build("cnn")
        with torch.no_grad():  # trained-looking BatchNorm statistics
            for m in self.model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-1, 1); m.running_var.uniform_(0.5, 2)
        self.model.eval()
        self.state = {k: v.float() for k, v in self.model.state_dict().items() if not k.endswith("num_batches_tracked")}
        self.meta = {"model": "cnn", "input_mean": "0.2860", "input_std": "0.3530"}

    def write(self, tensors, metadata, name="model.safetensors"):
        path = os.path.join(self.tmp.name, name)
        with open(path, "wb") as f:
            f.write(safetensors_bytes(tensors, metadata))
        return path

    def test_a_project_checkpoint_loads_into_the_model_and_gives_the_same_outputs(self):
        from discipline import checkpoint
        path = self.write(self.state, self.meta)
        tensors, meta = checkpoint.load(path)
        self.assertEqual(meta, self.meta)
        self.assertEqual(set(tensors), set(self.state))
        model, meta = checkpoint.load_model(path)
        self.assertFalse(model.training)
        x = torch.randn(3, 1, 28, 28)
        with torch.no_grad():
            self.assertTrue(torch.equal(model(x), self.model(x)))

    def test_mismatches_name_the_file_and_tensor(self):
        from discipline import checkpoint
        state = dict(self.state)
        del state["9.bias"]
        state["extra"] = torch.zeros(2)
        with self.assertRaisesRegex(checkpoint.CheckpointError, r"model.safetensors.*missing \['9.bias'\].*unexpected \['extra'\]"):
            checkpoint.load_model(self.write(state, self.meta))
        state = dict(self.state, **{"9.weight": torch.zeros(10, 5)})
        with self.assertRaisesRegex(checkpoint.CheckpointError, r"'9.weight' has shape \[10, 5\]"):
            checkpoint.load_model(self.write(state, self.meta))
        with self.assertRaisesRegex(checkpoint.CheckpointError, "no 'model'"):
            checkpoint.load_model(self.write(self.state, {}))
        self.assertIsNotNone(checkpoint.load_model(self.write(self.state, {}), name="cnn")[0])
        path = self.write(self.state, self.meta)
        with open(path, "rb") as f:
            data = f.read()
        for i, broken in enumerate((data[:5], data[:-4], struct.pack("<Q", 10 ** 9) + data[8:])):
            with open(path, "wb") as f:
                f.write(broken)
            with self.assertRaisesRegex(checkpoint.CheckpointError, "model.safetensors", msg=i):
                checkpoint.load(path)

    def test_save_round_trips_dtypes_and_metadata(self):
        from discipline import checkpoint
        path = os.path.join(self.tmp.name, "saved.safetensors")
        tensors = {"w": torch.randn(2, 3), "n": torch.tensor(7), "b": torch.tensor([1.5], dtype=torch.float64),
                   "h": torch.randn(4).half(), "e": torch.zeros(0, 3)}
        checkpoint.save(path, tensors, {"model": "x", "n": 3})
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
        self.assertEqual(n % 8, 0)
        loaded, meta = checkpoint.load(path)
        self.assertEqual(meta, {"model": "x", "n": "3"})
        for k, t in tensors.items():
            self.assertEqual(loaded[k].dtype, t.dtype, k)
            self.assertTrue(torch.equal(loaded[k], t), k)

    def test_evaluate_on_idx_files(self):
        from discipline import checkpoint
        path = self.write(self.state, self.meta)
        images, labels = os.path.join(self.tmp.name, "i.gz"), os.path.join(self.tmp.name, "l")
        support.write_idx(images, (bytes(range(256)) * 37)[:12 * 784], [12, 28, 28])
        support.write_idx(labels, [i % 10 for i in range(12)], [12])
        result = checkpoint.evaluate(path, images, labels)
        x = ((checkpoint.read_idx(images).float() / 255 - 0.2860) / 0.3530).unsqueeze(1)
        y = torch.tensor([i % 10 for i in range(12)])
        with torch.no_grad():
            out = self.model(x)
        self.assertAlmostEqual(result["loss"], torch.nn.functional.cross_entropy(out, y).item(), places=5)
        self.assertAlmostEqual(result["accuracy"], (out.argmax(1) == y).float().mean().item())
        self.assertEqual(result["model"], "cnn")


@needs_torch
class BenchTest(unittest.TestCase):
    def test_one_json_line_per_model_and_batch(self):
        from discipline import bench
        out = io.StringIO()
        threads = torch.get_num_threads()
        try:
            with contextlib.redirect_stdout(out):
                bench.main(["--threads", "1", "--models", "mlp", "--batches", "512"])
        finally:
            torch.set_num_threads(threads)
        row = json.loads(out.getvalue())
        self.assertEqual(set(row), {"engine", "threads", "model", "batch", "samples_per_s", "params"})
        self.assertEqual((row["model"], row["batch"], row["threads"], row["params"]), ("mlp", 512, 1, 535818))
        self.assertTrue(row["engine"].startswith("pytorch "))
        self.assertGreater(row["samples_per_s"], 0)


if __name__ == "__main__":
    unittest.main()
