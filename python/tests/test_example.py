"""examples/pytorch/fashion_mnist.py as discipline runs it: a real subprocess on tiny specs,
and the script without its `# discipline` lines. Skipped without torch."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import support
from support import EXAMPLE, check_events, gentle_schedule, make_spec, read_events, torch

EPOCHS = os.path.join(os.path.dirname(EXAMPLE), "mnist_epochs.py")

# Quick runs: one thread (oneDNN's threads wait at barriers for a busy core), 1,000 images.
QUICK = ["--threads", "1", "--limit", "1000"]


def run(args, env, timeout=120):
    return subprocess.run([sys.executable, EXAMPLE] + args, env=env, capture_output=True, text=True, timeout=timeout)


@unittest.skipIf(torch is None, "PyTorch is not importable")
class ExampleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.data = support.fashion_dir()
        if cls.data != support.FASHION:
            cls.addClassCleanup(shutil.rmtree, cls.data)

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dir = self.tmp.name

    def test_a_trial_follows_the_spec(self):
        env = make_spec(self.dir, steps=20, batch_size=32, validate_at=[10, 20], validation_batches=2, dropout=0.25)
        r = run(QUICK + ["--data-dir", self.data, "--batch-size", "500"], env)
        self.assertEqual(r.returncode, 0, r.stderr)
        events = read_events(self.dir)
        kinds = [e["event"] for e in events]
        self.assertEqual(kinds, ["start"] + ["train"] * 10 + ["val"] + ["train"] * 10 + ["val", "end"])
        self.assertEqual(events[0]["honours"], ["dropout"])
        self.assertEqual(events[0]["protocol"], 1)
        train = [e for e in events if e["event"] == "train"]
        self.assertEqual([e["step"] for e in train], list(range(20)))
        self.assertTrue(all(e["samples"] == 32 for e in train))  # the spec's batch size, not --batch-size
        self.assertTrue(all(e["loss"] > 0 for e in train))
        val = [e for e in events if e["event"] == "val"]
        self.assertEqual([e["step"] for e in val], [10, 20])
        self.assertTrue(all(0 <= e["accuracy"] <= 1 for e in val))
        # validation_batches 2 of 32: accuracies are multiples of 1/64
        self.assertTrue(all(abs(e["accuracy"] * 64 - round(e["accuracy"] * 64)) < 1e-9 for e in val))
        self.assertEqual(events[-1]["steps"], 20)
        times = [e["time"] for e in events]
        self.assertEqual(times, sorted(times))
        self.assertNotIn("test", kinds)

    def test_the_final_run_trains_on_everything_reports_test_and_saves_the_model(self):
        env = make_spec(self.dir, steps=5, batch_size=50, kind="final", final=True, save_model="model.pt", dropout=0.25)
        r = run(QUICK + ["--data-dir", self.data], env)
        self.assertEqual(r.returncode, 0, r.stderr)
        events = read_events(self.dir)
        self.assertEqual([e["event"] for e in events], ["start"] + ["train"] * 5 + ["test", "end"])
        self.assertEqual(events[-2]["step"], 5)
        self.assertTrue(0 <= events[-2]["accuracy"] <= 1)
        from discipline.models import build
        model = build("cnn", dropout=0.25)
        model.load_state_dict(torch.load(os.path.join(self.dir, "model.pt")))  # strict: the project's keys

    def test_a_stop_file_present_from_the_start_ends_after_one_step(self):
        env = make_spec(self.dir, steps=20, batch_size=16)
        open(os.path.join(self.dir, "stop"), "w").close()
        r = run(QUICK + ["--data-dir", self.data], env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([e["event"] for e in read_events(self.dir)], ["start", "train", "end"])

    def test_another_protocol_exits_before_training(self):
        env = make_spec(self.dir, steps=20, protocol=2)
        r = run(QUICK + ["--data-dir", self.data], env)
        self.assertEqual(r.returncode, 65)
        self.assertIn("protocol 2", r.stderr)
        self.assertEqual(read_events(self.dir), [])

    def test_at_most_ten_discipline_lines_and_the_script_runs_without_them(self):
        with open(EXAMPLE) as f:
            lines = f.readlines()
        marked = [line for line in lines if line.rstrip().endswith("# discipline")]
        self.assertLessEqual(len(marked), 10)
        self.assertGreaterEqual(len(marked), 8)
        plain = os.path.join(self.dir, "plain.py")
        with open(plain, "w") as f:
            f.writelines(line for line in lines if line not in marked)
        env = support.plain_environment()
        del env["PYTHONPATH"]  # discipline is not needed any more
        r = subprocess.run([sys.executable, plain, "--data-dir", self.data, "--steps", "3", "--batch-size", "16"] + QUICK,
                           env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('"steps": 3', r.stdout)
        self.assertIn("validation loss", r.stdout)  # at the last step
        self.assertEqual(os.listdir(self.dir), ["plain.py"])

    def test_alone_the_example_trains_without_events(self):
        r = run(QUICK + ["--data-dir", self.data, "--steps", "3", "--batch-size", "16", "--final"],
                support.plain_environment())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("test_accuracy", r.stdout)
        self.assertEqual(os.listdir(self.dir), [])


def without_discipline(path):
    """(the file's lines without those marked `# discipline`, the marked ones)."""
    with open(path) as f:
        lines = f.readlines()
    marked = [line for line in lines if line.rstrip().endswith("# discipline")]
    return [line for line in lines if line not in marked], marked


@unittest.skipIf(torch is None, "PyTorch is not importable")
class EpochLoopExampleTest(unittest.TestCase):
    """examples/pytorch/mnist_epochs.py: PyTorch's MNIST example (train() and test() per epoch,
    Adadelta and StepLR), adapted by the helper's attach in at most ten added lines."""

    @classmethod
    def setUpClass(cls):
        cls.data = support.fashion_dir()
        if cls.data != support.FASHION:
            cls.addClassCleanup(shutil.rmtree, cls.data)

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dir = self.tmp.name

    def run_example(self, env, *args):
        return subprocess.run([sys.executable, EPOCHS, "--data-dir", self.data, "--threads", "1", "--limit", "1000"]
                              + list(args), env=env, capture_output=True, text=True, timeout=180, cwd=self.dir)

    def test_at_most_ten_added_lines_and_the_plain_script_runs_without_them(self):
        plain, marked = without_discipline(EPOCHS)
        self.assertLessEqual(len(marked), 10)
        self.assertGreaterEqual(len(marked), 5)
        self.assertFalse(any("trial." in line or "import discipline" in line for line in plain))
        # the plain script beside a plain copy of the IDX reader's module: no discipline at all
        with open(os.path.join(self.dir, "mnist_epochs.py"), "w") as f:
            f.writelines(plain)
        with open(os.path.join(self.dir, "fashion_mnist.py"), "w") as f:
            f.writelines(without_discipline(EXAMPLE)[0])
        env = support.plain_environment()
        del env["PYTHONPATH"]
        r = subprocess.run([sys.executable, "mnist_epochs.py", "--data-dir", self.data, "--threads", "1",
                            "--limit", "500", "--epochs", "2", "--batch-size", "100"],
                           env=env, capture_output=True, text=True, timeout=180, cwd=self.dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.count("Test set: Average loss"), 2)
        self.assertIn("Train Epoch: 2 [0/500]", r.stdout)
        self.assertEqual(sorted(set(os.listdir(self.dir)) - {"__pycache__"}), ["fashion_mnist.py", "mnist_epochs.py"])

    def test_alone_the_example_is_the_plain_script(self):
        r = self.run_example(support.plain_environment(), "--epochs", "1", "--batch-size", "100")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Test set: Average loss", r.stdout)
        self.assertEqual(r.stderr, "")
        self.assertEqual(os.listdir(self.dir), [])

    def test_a_trial_trains_on_the_split_the_helper_holds_out_and_validates_at_the_specs_steps(self):
        env = make_spec(self.dir, steps=20, batch_size=32, schedule=gentle_schedule(20, lr=0.02),
                        validate_at=[10, 20], validation_batches=2)
        r = self.run_example(env)
        self.assertEqual(r.returncode, 0, r.stderr)
        events = read_events(self.dir)
        self.assertEqual(check_events(self, events), 20)
        start = events[0]
        self.assertEqual((start["train_samples"], start["optimizer"], start["decoupled_weight_decay"], start["ignores"]),
                         (900, "SGD", False, []))
        self.assertTrue(all(e["samples"] == 32 for e in events if e["event"] == "train"))
        val = [e for e in events if e["event"] == "val"]
        self.assertEqual([e["step"] for e in val], [10, 20])
        # validation_batches 2 of 32: accuracies are multiples of 1/64
        self.assertTrue(all(abs(e["accuracy"] * 64 - round(e["accuracy"] * 64)) < 1e-9 for e in val))
        self.assertNotIn("test", [e["event"] for e in events])
        self.assertIn("Train Epoch: 1 [0/900]", r.stdout)  # 1,000 images less the 100 held out

    def test_the_final_run_goes_on_past_the_scripts_epochs_reports_test_and_saves_the_model(self):
        env = make_spec(self.dir, steps=45, batch_size=50, schedule=gentle_schedule(45, lr=0.02), kind="final",
                        final=True, save_model="model.pt", validate_at=[20, 45], validation_batches=None)
        r = self.run_example(env, "--epochs", "1")  # 20 steps an epoch: raised to reach 45
        self.assertEqual(r.returncode, 0, r.stderr)
        events = read_events(self.dir)
        self.assertEqual(check_events(self, events), 45)
        self.assertEqual(events[0]["train_samples"], 1000)
        self.assertTrue(events[0]["extendable"])  # attached, its epochs raised: may be lengthened
        self.assertEqual([e["event"] for e in events[-4:]], ["train", "val", "test", "end"])
        self.assertEqual(events[-2]["step"], 45)
        self.assertTrue(0 < events[-2]["accuracy"] <= 1)
        self.assertEqual(r.stdout.count("Test set: Average loss"), 2)  # the script's own, after epochs 1 and 2
        state = torch.load(os.path.join(self.dir, "model.pt"))
        self.assertEqual(list(state), ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                       "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])
        self.assertNotIn("mnist_cnn.pt", os.listdir(self.dir))


@unittest.skipIf(torch is None, "PyTorch is not importable")
class ThreadsTest(unittest.TestCase):
    def test_threads_bound_openblas_too(self):
        # --threads 1 of mnist_epochs.py ran at 193% CPU: OpenBLAS's own pool, which
        # torch.set_num_threads leaves alone, kept a second thread busy.
        script = (
            "import ctypes, sys, torch\n"
            f"sys.path.insert(0, {os.path.dirname(EXAMPLE)!r})\n"
            "from fashion_mnist import set_threads\n"
            "torch.randn(64, 256) @ torch.randn(256, 128)\n"
            "set_threads(1)\n"
            "libs = sorted({l.split()[-1] for l in open('/proc/self/maps') if 'libopenblas' in l})\n"
            "print(torch.get_num_threads(), [ctypes.CDLL(l).openblas_get_num_threads() for l in libs])\n")
        env = dict(os.environ, PYTHONPATH=os.path.join(support.REPO, "python"))
        env.pop("OPENBLAS_NUM_THREADS", None)
        out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                             timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        torch_threads, blas_threads = out.stdout.strip().split(" ", 1)
        self.assertEqual(torch_threads, "1")
        self.assertTrue(all(n == "1" for n in blas_threads.strip("[]").split(", ") if n), out.stdout)


if __name__ == "__main__":
    unittest.main()
