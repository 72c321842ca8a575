"""PyTorch Lightning training as a discipline trial, in one line:

    trainer = L.Trainer(..., callbacks=[discipline.lightning.Trial()])

Under discipline (`DISCIPLINE_SPEC` set) the callback
- sets every optimizer's learning rate and momentum (`betas[0]` for Adam/AdamW) from the
  schedule just before each real optimizer step — counted at the optimizer, so gradient
  accumulation and AMP steps skipped on an overflow count right — over whatever learning-rate
  scheduler `configure_optimizers` returns;
- maps the spec onto Lightning's settings: `steps` -> `max_steps` (epochs unlimited), the
  batch size -> the `batch_size` attribute or hyper-parameter of the LightningModule or
  DataModule (the one Lightning's own batch-size finder sets; the spec's batch is the samples
  of one optimizer step, so it is divided by `accumulate_grad_batches` and the devices),
  `weight_decay` -> the optimizers' groups that decay, `validation_batches` ->
  `limit_val_batches`, `seed` -> `seed_everything` when the callback is made (make it before
  the model: `Trainer(...)` first, then the model), and warns naming what it cannot set;
- reports each step's training loss (what `training_step` returns), runs Lightning's
  validation loop after the steps `validate_at` lists (and at no other step) and reports its
  logged `val_loss` (and `val_acc`/`val_accuracy` when logged);
- in the final run (`trial.final`: train on training + validation data, validate on the
  test split) reports the test loss that `trainer.test(...)` logs as `test_loss`;
- stops through `trainer.should_stop` when discipline asks (the stop file, all steps done, a
  non-finite loss), and writes the `end` event;
- follows a re-planned spec (discipline rewrites a final run's steps from the time an epoch
  really takes, longer or shorter): `max_steps` follows the spec's steps, so the start event
  says `extendable`. The LR schedulers `configure_optimizers` returns are not stepped under
  discipline (the schedule sets the rates before every step, and a `OneCycleLR` sized for the
  first plan would raise when stepped past its total).

Run alone (no `DISCIPLINE_SPEC`) it does nothing at all: the same training, bit for bit.

Works with `lightning` (lightning.pytorch) and with `pytorch_lightning`: `Trial` is a
callback of whichever is installed (lightning.pytorch first); `PyTorchLightningTrial` is
always one of `pytorch_lightning`'s.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Mapping, Optional, Sequence

from . import _frameworks

_lightning: Any = None
_pytorch_lightning: Any = None
try:
    import lightning.pytorch as _lightning
except ImportError:
    pass
try:
    import pytorch_lightning as _pytorch_lightning
except ImportError:
    pass
if _lightning is None and _pytorch_lightning is None:
    raise _frameworks.missing("PyTorch Lightning", "lightning", "lightning")

NAME = "lightning"


def _value(metrics: Mapping[str, Any], names: Sequence[str]) -> Optional[float]:
    for name in names:
        if name in metrics and metrics[name] is not None:
            try:
                return float(metrics[name])
            except (TypeError, ValueError):
                continue
    return None


class _TrialCallback:
    """The callback; see the module's documentation. Arguments:

    `honours`: the optional hyper-parameters the script applies (`"dropout"`,
    `"augmentation"`), as for `discipline.Trial`.
    `args`: an object (an argparse namespace) whose attributes named like spec fields get the
    spec's values (`discipline.Trial.override`): how a script learns `final`, `dropout`, ...
    `val_loss`, `val_accuracy`: the logged names of the validation loss and accuracy;
    `test_loss`, `test_accuracy` the same for `trainer.test`.
    `metrics`: more logged metrics to report, `{"f1": "higher"}`: read as `val_f1` / `test_f1`.
    `environ`: where to read `DISCIPLINE_*` (default os.environ).

    `trial` is the `discipline.Trial` underneath; `active`, `final` and `get(name, default)`
    tell the script what the spec says.
    """

    _pl: Any = None  # the Lightning package the class is a callback of

    def __init__(self, honours: Iterable[str] = (), args: Any = None, val_loss: str = "val_loss",
                 val_accuracy: Sequence[str] = ("val_acc", "val_accuracy"), test_loss: str = "test_loss",
                 test_accuracy: Sequence[str] = ("test_acc", "test_accuracy"),
                 metrics: Optional[Mapping[str, str]] = None,
                 environ: Optional[Mapping[str, str]] = None) -> None:
        super().__init__()
        self.trial = _frameworks.make_trial(honours, args, environ, metrics)
        self._names = dict(val_loss=[val_loss], test_loss=[test_loss],
                           val_accuracy=[val_accuracy] if isinstance(val_accuracy, str) else list(val_accuracy),
                           test_accuracy=[test_accuracy] if isinstance(test_accuracy, str) else list(test_accuracy))
        self._metrics = dict(metrics or {})
        self._driver = _frameworks.Driver(self.trial, NAME)
        self._fitting = False
        if self.active and "seed" in self.trial.spec:
            self._pl.seed_everything(self.trial.spec["seed"], workers=True, verbose=False)

    # What the script may ask ------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.trial.active

    @property
    def final(self) -> bool:
        """Whether this is the final run: train on training + validation data, and validate (and
        `trainer.test`) on the test split."""
        return bool(self.trial.get("final", False))

    def get(self, name: str, default: Any = None) -> Any:
        return self.trial.get(name, default)

    # Setting Lightning up ----------------------------------------------------------------------

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if not self.active or stage != "fit":
            return
        spec, driver = self.trial.spec, self._driver
        driver.set_world_size(trainer.world_size)
        trainer.fit_loop.epoch_loop.max_steps = spec["steps"]
        if self.trial.extendable is None:
            self.trial.extendable = True  # max_steps follows a re-planned spec
        trainer.fit_loop.max_epochs = -1  # the spec's steps decide, not epochs
        trainer.num_sanity_val_steps = 0
        if "validation_batches" in spec:
            trainer.limit_val_batches = spec["validation_batches"] or 1.0
        if "batch_size" in spec:
            self._set_batch_size(trainer, pl_module, spec["batch_size"])
        loop = trainer.fit_loop.epoch_loop
        if hasattr(loop, "_should_check_val_fx"):  # validation at validate_at, no other step
            loop._should_check_val_fx = lambda *args, **kwargs: driver.validating is not None
        else:
            driver.warn_once("val", "this Lightning has no _should_check_val_fx: validation runs "
                             "at its own interval (val_check_interval), reported when it runs")

    def _set_batch_size(self, trainer: Any, pl_module: Any, batch_size: int) -> None:
        per_device = self._driver.per_device(batch_size, trainer.accumulate_grad_batches,
                                             "batch_size")
        parsing = self._pl.utilities.parsing
        if parsing.lightning_hasattr(pl_module, "batch_size"):
            parsing.lightning_setattr(pl_module, "batch_size", per_device)
            self._batch_size = per_device
        else:
            self._batch_size = None
            self._driver.ignore("batch_size", "the spec's batch_size is not applied: give the "
                                "LightningModule or DataModule a `batch_size` attribute (or "
                                "hyper-parameter) that its train_dataloader uses")

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if not self.active:
            return
        self._fitting = True
        for optimizer in trainer.optimizers:
            opt = self._driver.attach(optimizer)
            if "weight_decay" in self.trial.spec:
                _frameworks.set_weight_decay(opt, self.trial.spec["weight_decay"])
        if not trainer.optimizers:
            self._driver.warn_once("no-optimizer", "no optimizer: the schedule cannot be applied")
        for config in getattr(trainer, "lr_scheduler_configs", None) or ():
            # the schedule sets every step's rate; the script's scheduler would only fight it
            # (and a OneCycleLR sized for the first plan raises past its total steps)
            config.scheduler.step = lambda *args, **kwargs: None

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if not self.active:
            return
        loader = trainer.train_dataloader
        dataset = getattr(loader, "dataset", None)
        try:
            if dataset is not None and self.trial.train_samples is None:
                self.trial.train_samples = len(dataset)
        except TypeError:
            pass
        size = getattr(self, "_batch_size", None)
        actual = getattr(loader, "batch_size", None)
        if size is not None and actual is not None and actual != size:
            self._driver.ignore("batch_size", "the spec's batch_size is not applied: the training "
                                "DataLoader has batch_size %d, not %d (build it in train_dataloader "
                                "from the `batch_size` attribute)" % (actual, size))
        if self.final and trainer.val_dataloaders is None:
            self._driver.warn_once("final-val", "the final run validates on the test split: "
                                   "pass it as the validation data")

    # Each step ---------------------------------------------------------------------------------

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if not self.active:
            return
        driver = self._driver
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        if loss is not None and pl_module.automatic_optimization:
            loss = loss.detach() * trainer.accumulate_grad_batches  # Lightning divides it
        elif loss is None:
            loss = trainer.callback_metrics.get("train_loss")
        driver.add(None if loss is None else float(loss), _frameworks.batch_samples(batch))
        before = driver.reported
        done = driver.flush()
        if done == before:
            return  # a micro-batch of a step still accumulating
        stop = self.trial.should_stop(done)  # reads a re-planned spec first
        trainer.fit_loop.epoch_loop.max_steps = self.trial.spec["steps"]
        driver.validating = done if self.trial.should_validate(done) else None
        if stop:
            trainer.should_stop = True

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        driver = self._driver
        if not self.active or trainer.sanity_checking or not self._fitting:
            return
        step = driver.validating if driver.validating is not None else driver.steps
        driver.validating = None
        if step in driver.validated:
            return
        driver.validated.add(step)
        self._report("val", step, trainer.callback_metrics)

    def on_test_end(self, trainer: Any, pl_module: Any) -> None:
        if not self.active or not self.final or self._driver.tested:
            return
        self._report("test", self._driver.reported, trainer.callback_metrics)
        self._driver.tested = True
        if self._driver.ended is False and not self._fitting:
            self._driver.end()

    def _report(self, kind: str, step: int, logged: Mapping[str, Any]) -> None:
        loss = _value(logged, self._names[kind + "_loss"])
        accuracy = _value(logged, self._names[kind + "_accuracy"])
        metrics: Dict[str, Any] = {}
        for name in self._metrics:
            value = _value(logged, ["%s_%s" % (kind, name), "%s/%s" % (kind, name)])
            metrics[name] = value
        self._driver.report(kind, step, loss, accuracy, metrics or None)

    # The end -----------------------------------------------------------------------------------

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        if not self.active:
            return
        self._fitting = False
        self._driver.detach()
        self._driver.end(defer=self.final)  # the final run ends after trainer.test

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        if self.active:
            self._driver.detach()
            self._driver.ended = True  # the program failed: no end event
            self.trial.close()


def _callback(package: Any, name: str) -> Any:
    cls = type(name, (_TrialCallback, package.Callback), {"_pl": package})
    cls.__module__ = __name__
    cls.__doc__ = _TrialCallback.__doc__
    return cls


Trial: Any = _callback(_lightning or _pytorch_lightning, "Trial")
PyTorchLightningTrial: Any = (_callback(_pytorch_lightning, "PyTorchLightningTrial")
                              if _pytorch_lightning is not None else None)

__all__ = ["Trial", "PyTorchLightningTrial"]
