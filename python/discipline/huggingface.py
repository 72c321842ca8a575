"""Hugging Face `Trainer` training as a discipline trial, in one line:

    trainer = Trainer(..., callbacks=[discipline.huggingface.Trial()])

Under discipline (`DISCIPLINE_SPEC` set) the callback
- sets the learning rate and momentum (`betas[0]` for AdamW) of every parameter group from
  the schedule just before each real optimizer step — counted at the torch optimizer under
  accelerate's wrapper, so gradient accumulation and AMP steps skipped on an overflow count
  right — over the Trainer's own learning-rate scheduler;
- maps the spec onto `TrainingArguments` when the Trainer is made: `steps` -> `max_steps`,
  the batch size -> `per_device_train_batch_size` (the spec's batch is the samples of one
  optimizer step: divided by `gradient_accumulation_steps` and the devices), `seed` -> `seed`
  (and `set_seed`; the model's initialization follows it with `Trainer(model_init=...)`),
  `weight_decay` -> `weight_decay` (and the decaying groups of an optimizer passed in);
- reports each step's training loss (the model's `loss` output, or the Trainer's logged loss
  when a custom `compute_loss` leaves none), evaluates after the steps `validate_at` lists
  (and at no other step) and reports `eval_loss` (and `eval_accuracy`/`eval_acc` when
  `compute_metrics` gives it);
- in the final run (`callback.final`: train on training + validation data, evaluate on the
  test split) reports the first evaluation after training, `trainer.evaluate(test_set,
  metric_key_prefix="test")` or `trainer.predict(test_set)`, as the test measurement;
- stops through `control.should_training_stop` when discipline asks (the stop file, all
  steps done, a non-finite loss), and writes the `end` event.

Run alone (no `DISCIPLINE_SPEC`) it does nothing at all: the same training, bit for bit.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from . import _frameworks

try:
    import transformers as _transformers
    from transformers import TrainerCallback as _TrainerCallback
except ImportError:
    raise _frameworks.missing("Hugging Face transformers", "transformers accelerate",
                              "huggingface") from None

NAME = "huggingface"


def _output_loss(output: Any) -> Any:
    """The `loss` of a model's output (a ModelOutput or a dict), else None."""
    if isinstance(output, Mapping):
        return output.get("loss")
    return getattr(output, "loss", None)


class Trial(_TrainerCallback):
    """The callback; see the module's documentation. Arguments:

    `honours`: the optional hyper-parameters the script applies (`"dropout"`,
    `"augmentation"`), as for `discipline.Trial`.
    `args`: an object (an argparse namespace) whose attributes named like spec fields get the
    spec's values (`discipline.Trial.override`): how a script learns `final`, `dropout`, ...
    (the TrainingArguments are set by the callback itself).
    `accuracy`: the metric names (without the `eval_`/`test_` prefix) read as the accuracy.
    `metrics`: more metrics of `compute_metrics` to report, `{"f1": "higher"}`.
    `environ`: where to read `DISCIPLINE_*` (default os.environ).

    `trial` is the `discipline.Trial` underneath; `active`, `final` and `get(name, default)`
    tell the script what the spec says.
    """

    def __init__(self, honours: Iterable[str] = (), args: Any = None,
                 accuracy: Sequence[str] = ("accuracy", "acc"),
                 metrics: Optional[Mapping[str, str]] = None,
                 environ: Optional[Mapping[str, str]] = None) -> None:
        self.trial = _frameworks.make_trial(honours, args, environ, metrics)
        self._accuracy = [accuracy] if isinstance(accuracy, str) else list(accuracy)
        self._metrics = dict(metrics or {})
        self._driver = _frameworks.Driver(self.trial, NAME)
        self._configured = False
        self._training = False
        self._hook: Any = None
        self._nominal = 0          # samples of a micro-batch by the arguments
        self._from_logs = False    # the step's loss comes from on_log (no `loss` output)

    @property
    def active(self) -> bool:
        return self.trial.active

    @property
    def final(self) -> bool:
        """Whether this is the final run: train on training + validation data, and evaluate
        on the test split."""
        return bool(self.trial.get("final", False))

    def get(self, name: str, default: Any = None) -> Any:
        return self.trial.get(name, default)

    # Setting the Trainer up ----------------------------------------------------------------

    def on_init_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not self.active:
            return
        self._configured = True
        spec, driver = self.trial.spec, self._driver
        driver.set_world_size(args.world_size)
        args.max_steps = spec["steps"]
        if "batch_size" in spec:
            args.per_device_train_batch_size = driver.per_device(
                spec["batch_size"], args.gradient_accumulation_steps, "per_device_train_batch_size")
        if "seed" in spec:
            args.seed = spec["seed"]
            _transformers.set_seed(spec["seed"])
        if "weight_decay" in spec:
            args.weight_decay = spec["weight_decay"]
        args.logging_nan_inf_filter = False  # a non-finite loss must reach discipline

    def on_train_begin(self, args: Any, state: Any, control: Any, optimizer: Any = None,
                       model: Any = None, train_dataloader: Any = None, **kwargs: Any) -> None:
        if not self.active:
            return
        if not self._configured:
            self._driver.warn_once("config", "the callback was added after the Trainer was made: "
                                   "the spec's steps, batch size, seed and weight decay are not "
                                   "applied (pass it as Trainer(callbacks=[...]))")
            for name in ("batch_size", "weight_decay", "seed"):
                self._driver.ignore(name, "%s not applied" % name)
        self._training = True
        self._nominal = args.per_device_train_batch_size
        dataset = getattr(train_dataloader, "dataset", None)
        try:
            if dataset is not None and self.trial.train_samples is None:
                self.trial.train_samples = len(dataset)
        except TypeError:
            pass
        if optimizer is None:
            self._driver.warn_once("no-optimizer", "no optimizer: the schedule cannot be applied")
        else:
            opt = self._driver.attach(optimizer)
            if "weight_decay" in self.trial.spec:
                _frameworks.set_weight_decay(opt, self.trial.spec["weight_decay"])
        if model is not None:
            self._hook = model.register_forward_hook(self._forward)

    def _forward(self, module: Any, inputs: Any, output: Any) -> None:
        """A training forward pass: its loss (the Trainer's compute_loss returns it) and its
        samples."""
        if not module.training or self._from_logs:
            return
        import torch
        if not torch.is_grad_enabled():
            return
        loss = _output_loss(output)
        if loss is None:
            return
        logits = output.get("logits") if isinstance(output, Mapping) else getattr(output, "logits", None)
        samples = _frameworks.batch_samples(logits) if logits is not None else None
        self._driver.add(float(loss.detach().float().mean()), samples or self._nominal)

    # Each step ---------------------------------------------------------------------------------

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not self.active:
            return
        driver = self._driver
        if driver.steps > driver.reported:
            if driver.losses and not self._from_logs:
                driver.flush()
            else:  # no loss output: the Trainer's own, logged after this hook
                if not self._from_logs:
                    driver.warn_once("from-logs", "the model's output has no `loss`: reporting the "
                                     "Trainer's logged loss (logged every step, 4 decimals)")
                self._from_logs = True
                driver.losses, driver.samples = [], 0
                control.should_log = True
        done = driver.steps
        validate = self.trial.should_validate(done) and done not in driver.validated
        control.should_evaluate = validate
        driver.validating = done if validate else None
        if self.trial.should_stop(done):
            control.should_training_stop = True

    def on_log(self, args: Any, state: Any, control: Any, logs: Optional[Dict[str, Any]] = None,
               **kwargs: Any) -> None:
        driver = self._driver
        if not self.active or not self._from_logs or not logs or "loss" not in logs:
            return
        if driver.steps > driver.reported:
            driver.add(logs["loss"], self._nominal * args.gradient_accumulation_steps)
            driver.flush()

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.active:
            control.should_evaluate = False  # only at validate_at

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Optional[Dict[str, Any]] = None,
                    **kwargs: Any) -> None:
        if self.active and metrics:
            self._measured(metrics)

    def on_predict(self, args: Any, state: Any, control: Any, metrics: Optional[Dict[str, Any]] = None,
                   **kwargs: Any) -> None:
        if self.active and metrics:
            self._measured(metrics)

    def _measured(self, metrics: Mapping[str, Any]) -> None:
        driver = self._driver
        prefix = next((k[:-len("_loss")] for k in metrics if k.endswith("_loss")), None)
        if prefix is None:
            return
        if self._training and driver.validating is not None:
            step = driver.validating
            driver.validating = None
            driver.validated.add(step)
            self._report("val", step, prefix, metrics)
        elif not self._training and self.final and not driver.tested and not driver.ended:
            self._report("test", driver.reported, prefix, metrics)
            driver.tested = True
            driver.end()

    def _report(self, kind: str, step: int, prefix: str, metrics: Mapping[str, Any]) -> None:
        def value(name: str) -> Any:
            v = metrics.get("%s_%s" % (prefix, name))
            return None if v is None else float(v)
        accuracy = next((value(n) for n in self._accuracy if value(n) is not None), None)
        extra = {name: value(name) for name in self._metrics}
        self._driver.report(kind, step, value("loss"), accuracy, extra or None)

    # The end -----------------------------------------------------------------------------------

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not self.active:
            return
        self._training = False
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        self._driver.detach()
        self._driver.end(defer=self.final)  # the final run ends after its test measurement


__all__ = ["Trial"]
