"""discipline.lightning.Trial on the real PyTorch Lightning (CPU, a tiny model).

Skipped where Lightning does not import (the README's test command with /usr/bin/python3:
Debian's torch 1.13 cannot run it): scripts/setup-frameworks.sh makes .venv-lightning (a CPU
torch 2.x, lightning 2.6.6), and
`.venv-lightning/bin/python -m unittest discover -s python/tests -p 'test_lightning.py'` runs them.
"""
import json
import os
import tempfile
import unittest
import warnings

import framework_support
import support
from framework_support import StepRecorder, check_guarantees, schedule_rows
from support import make_spec, read_events


def write_atomically(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)

try:
    import torch
    import torch.nn.functional as F
    import lightning.pytorch as pl
except ImportError:
    pl = None

needs_lightning = unittest.skipIf(pl is None, "lightning is not importable here "
                                  "(scripts/setup-frameworks.sh makes .venv-lightning)")


class ImportTest(framework_support.ImportTest):
    module, framework, install = "discipline.lightning", "lightning", "lightning"


if pl is not None:
    import discipline.lightning

    def data(n, seed):
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(n, 8, generator=g)
        y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
        return torch.utils.data.TensorDataset(x, y)

    class Net(pl.LightningModule):
        """8 features into 3 classes; SGD with momentum under OneCycleLR (stepped every
        step), a `batch_size` attribute its train_dataloader uses."""

        def __init__(self, batch_size=4):
            super().__init__()
            self.batch_size = batch_size
            self.hidden = torch.nn.Linear(8, 16)
            self.out = torch.nn.Linear(16, 3)
            self.micro_losses = []

        def forward(self, x):
            return self.out(torch.relu(self.hidden(x)))

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = F.cross_entropy(self(x), y)
            self.micro_losses.append(float(loss))
            self.log("train_loss", loss)
            return loss

        def _measure(self, batch, kind):
            x, y = batch
            logits = self(x)
            self.log("%s_loss" % kind, F.cross_entropy(logits, y))
            self.log("%s_acc" % kind, (logits.argmax(1) == y).float().mean())

        def validation_step(self, batch, batch_idx):
            self._measure(batch, "val")

        def test_step(self, batch, batch_idx):
            self._measure(batch, "test")

        total_steps = 100  # the OneCycleLR's

        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=self.total_steps)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

        def train_dataloader(self):
            return torch.utils.data.DataLoader(data(64, 0), batch_size=self.batch_size, shuffle=True)

        def val_dataloader(self):
            return torch.utils.data.DataLoader(data(24, 1), batch_size=8)

        def test_dataloader(self):
            return torch.utils.data.DataLoader(data(16, 2), batch_size=8)

    class Recorder(pl.Callback):
        """After the discipline callback: records each real step's rates; `stop_at` creates
        the stop file once that many steps are done."""

        def __init__(self, stop_file=None, stop_at=None):
            self.recorder, self.stop_file, self.stop_at = None, stop_file, stop_at

        def on_fit_start(self, trainer, pl_module):
            self.recorder = StepRecorder(trainer.optimizers[0])

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if self.stop_at is not None and len(self.recorder.seen) == self.stop_at:
                open(self.stop_file, "w").close()


@needs_lightning
class LightningTest(unittest.TestCase):
    def setUp(self):
        torch.set_num_threads(1)
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.addCleanup(self.tmp.cleanup)
        warnings.filterwarnings("ignore")
        import logging
        for name in ("lightning.pytorch", "lightning.fabric", "pytorch_lightning", "lightning_fabric"):
            logging.getLogger(name).setLevel(logging.ERROR)

    def train(self, environ, callbacks=True, recorder=None, test=False, seed=1, **options):
        """The Trainer first (the callback seeds), then the model; accumulation 2, 5 steps,
        validation every 2 batches unless discipline says."""
        pl.seed_everything(seed, verbose=False)
        recorder = recorder or Recorder()
        extra = [discipline.lightning.Trial(environ=environ)] if callbacks else []
        settings = dict(max_steps=5, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accumulate_grad_batches=2,
                        val_check_interval=2, num_sanity_val_steps=1, deterministic=True,
                        default_root_dir=self.dir)
        settings.update(options)
        trainer = pl.Trainer(callbacks=extra + [recorder], **settings)
        model = Net()
        trainer.fit(model)
        if test:
            trainer.test(model, verbose=False)
        return trainer, model, recorder

    def test_follows_the_schedule_per_real_optimizer_step_with_accumulation_2(self):
        env = make_spec(self.dir, steps=6, batch_size=16, weight_decay=0.01)
        trainer, model, recorder = self.train(env)
        self.assertEqual(model.batch_size, 8)  # 16 = 8 x accumulation 2
        rows = schedule_rows(6)
        self.assertEqual(len(recorder.recorder.seen), 6)  # max_steps=5 became the spec's 6
        for seen, (lr, momentum) in zip(recorder.recorder.seen, rows):
            self.assertEqual(seen, [(lr, momentum)])
        self.assertEqual(trainer.optimizers[0].param_groups[0]["weight_decay"], 0.01)
        events = read_events(self.dir)
        check_guarantees(self, events, steps=6)
        self.assertEqual(events[0].get("optimizer", "SGD"), "SGD")
        train = [e for e in events if e["event"] == "train"]
        self.assertEqual([e["samples"] for e in train], [16] * 6)
        self.assertEqual(len(model.micro_losses), 12)
        for i, e in enumerate(train):  # the mean of the step's two micro-batches
            self.assertAlmostEqual(e["loss"], (model.micro_losses[2 * i] + model.micro_losses[2 * i + 1]) / 2, places=6)
        self.assertEqual([e for e in events if e["event"] == "val"], [])  # validate_at is empty

    def test_stops_when_the_stop_file_appears(self):
        env = make_spec(self.dir, steps=20, batch_size=8)
        trainer, model, recorder = self.train(env, recorder=Recorder(env["DISCIPLINE_STOP"], stop_at=3))
        # the stop file appeared after 3 steps, after discipline's check: seen after the 4th
        self.assertEqual(len(recorder.recorder.seen), 4)
        check_guarantees(self, read_events(self.dir), steps=4)

    def test_validates_at_validate_at_only(self):
        env = make_spec(self.dir, steps=6, batch_size=8, validate_at=[2, 5], validation_batches=2)
        trainer, model, _ = self.train(env)  # val_check_interval=2 would validate every 2 batches
        events = read_events(self.dir)
        check_guarantees(self, events, steps=6)
        vals = [e for e in events if e["event"] == "val"]
        self.assertEqual([e["step"] for e in vals], [2, 5])
        names = [(e["event"], e["step"]) for e in events[1:-1]]
        self.assertEqual(names.index(("val", 2)), names.index(("train", 1)) + 1)
        self.assertEqual(names.index(("val", 5)), names.index(("train", 4)) + 1)
        for e in vals:
            self.assertTrue(0 < e["loss"] < 5 and 0 <= e["accuracy"] <= 1)
        self.assertEqual(trainer.limit_val_batches, 2)

    def test_final_run_reports_the_test_split_then_ends(self):
        env = make_spec(self.dir, steps=4, batch_size=8, validate_at=[4], final=True)
        self.train(env, test=True)
        events = read_events(self.dir)
        check_guarantees(self, events, steps=4)
        self.assertEqual([(e["event"], e["step"]) for e in events[-3:-1]], [("val", 4), ("test", 4)])
        self.assertIn("accuracy", events[-2])

    def test_a_replanned_longer_spec_is_followed_past_the_first_plans_steps(self):
        """discipline lengthens a final run by rewriting spec.json, then schedule.csv: the
        callback says `extendable`, max_steps follows, the new rows apply from the next step,
        and the script's OneCycleLR, sized for the first plan, is not stepped past its end."""
        env = make_spec(self.dir, steps=6, batch_size=8, final=True)
        longer = "step,lr,momentum\n" + "".join("%d,0.02,0.9\n" % i for i in range(10))

        class Replanner(pl.Callback):
            def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
                # before the discipline callback sees the third step (it runs after this one)
                if trainer.global_step == 3 and not getattr(self, "done", False):
                    self.done = True
                    spec = json.load(open(env["DISCIPLINE_SPEC"]))
                    spec["steps"] = 10
                    write_atomically(env["DISCIPLINE_SPEC"], json.dumps(spec))
                    write_atomically(os.path.join(self.dir, "schedule.csv"), longer)
                    trial = next(c for c in trainer.callbacks if isinstance(c, discipline.lightning.Trial))
                    trial.trial._schedule_checked = 0.0  # as if a second had passed

        replanner = Replanner()
        replanner.dir = self.dir
        pl.seed_everything(1, verbose=False)
        recorder = Recorder()
        trainer = pl.Trainer(callbacks=[replanner, discipline.lightning.Trial(environ=env), recorder],
                             max_steps=6, accelerator="cpu", devices=1, logger=False,
                             enable_checkpointing=False, enable_progress_bar=False,
                             enable_model_summary=False, default_root_dir=self.dir)
        model = Net()
        model.total_steps = 6  # sized for the first plan, as estimated_stepping_batches would be
        trainer.fit(model)
        trainer.test(model, verbose=False)
        seen = recorder.recorder.seen
        self.assertEqual(len(seen), 10)
        self.assertEqual(seen[:3], [[row] for row in schedule_rows(6)[:3]])
        self.assertEqual(seen[3:], [[(0.02, 0.9)]] * 7)
        events = read_events(self.dir)
        self.assertTrue(events[0]["extendable"])
        check_guarantees(self, events, steps=10)
        self.assertEqual(events[-2]["event"], "test")

    def test_without_discipline_it_does_nothing_bit_for_bit(self):
        plain = {k: v for k, v in os.environ.items() if not k.startswith("DISCIPLINE_")}
        _, a, ra = self.train(plain, callbacks=True, max_steps=7)
        _, b, rb = self.train(plain, callbacks=False, max_steps=7)
        for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
            self.assertTrue(torch.equal(x, y), name)
        self.assertEqual(a.micro_losses, b.micro_losses)
        self.assertEqual(ra.recorder.seen, rb.recorder.seen)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "events.jsonl")))

    def test_the_pytorch_lightning_name_works_too(self):
        try:
            import pytorch_lightning
        except ImportError:
            self.skipTest("pytorch_lightning is not installed")
        env = make_spec(self.dir, steps=3, batch_size=8)

        class Small(pytorch_lightning.LightningModule):
            def __init__(self):
                super().__init__()
                self.batch_size = 2
                self.layer = torch.nn.Linear(8, 3)

            def training_step(self, batch, batch_idx):
                return F.cross_entropy(self.layer(batch[0]), batch[1])

            def configure_optimizers(self):
                return torch.optim.Adam(self.parameters(), lr=0.01)

            def train_dataloader(self):
                return torch.utils.data.DataLoader(data(32, 0), batch_size=self.batch_size)

        trainer = pytorch_lightning.Trainer(
            callbacks=[discipline.lightning.PyTorchLightningTrial(environ=env)], max_epochs=1, accelerator="cpu",
            logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
        trainer.fit(Small())
        events = read_events(self.dir)
        check_guarantees(self, events, steps=3)
        self.assertEqual([e["samples"] for e in events if e["event"] == "train"], [8] * 3)


if __name__ == "__main__":
    unittest.main()
