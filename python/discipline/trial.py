"""The program's side of discipline's trial protocol, version 1 (Docs/PROTOCOL.md).

discipline runs a training program once per *spec* (a directory with `spec.json` and
`schedule.csv`), names the files in the environment (`DISCIPLINE_SPEC`, `DISCIPLINE_EVENTS`,
`DISCIPLINE_STOP`, `DISCIPLINE_DIR`) and reads the events the program appends to
`events.jsonl`. `Trial` does the program's part: it reads and checks the spec and the
schedule, sets every parameter group's learning rate and momentum before each step, writes the
events, and tells the loop when to validate and when to stop.

Without `DISCIPLINE_SPEC` a `Trial` is inactive: every method is a cheap no-op that returns
the script's own defaults, so the same script still trains on its own.

`Trial.attach` adapts a script that keeps its own loop (epochs over DataLoaders, gradient
accumulation, AMP's GradScaler, DDP) without restructuring it: the schedule follows the
optimizer steps actually taken, and the helper validates, reports and ends the run from inside
`optimizer.step()` (discipline/attach.py holds its PyTorch side).

Standard library only; PyTorch is imported only by `attach`/`hold_out` and under
torch.distributed (the script has it then).
"""
from __future__ import annotations

import functools
import json
import math
import os
import sys
import time
import weakref
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Mapping, MutableMapping, Optional, Tuple, TypeVar

_Args = TypeVar("_Args")

PROTOCOL = 1
OPTIONAL = ("dropout", "augmentation")  # hyper-parameters a program may or may not honour
EX_DATAERR, EX_NOINPUT = 65, 66          # exit codes: malformed input, missing input (sysexits.h)

# The spec fields a script takes over from the spec (`Trial.override`), in the spec's names.
SCRIPT_FIELDS = ("batch_size", "seed", "weight_decay", "dropout", "augmentation", "steps",
                 "final", "save_model", "validation_batches")
# The hyper-parameters a script may not take; those it does not go to the start event's `ignores`.
HYPERPARAMETERS = ("batch_size", "weight_decay", "seed")
DIRECTIONS = ("higher", "lower")  # of a declared metric: which is better


class SpecError(ValueError):
    """A spec or schedule that cannot be run; the message names the file (and line, if known).

    `exit_code` is 66 when a file is missing or unreadable, 65 when it is malformed or speaks
    another protocol version.
    """

    def __init__(self, message: str, exit_code: int = EX_DATAERR) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


# field -> (check of a present value, what the value must be). `None` passes where allowed.
_CHECKS = {
    "kind": (lambda v: isinstance(v, str), "a string"),
    "key": (lambda v: isinstance(v, str), "a string"),
    "batch_size": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "seed": (_is_int, "an integer"),
    "weight_decay": (lambda v: _is_number(v) and v >= 0, "a number >= 0"),
    "dropout": (lambda v: _is_number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "augmentation": (lambda v: isinstance(v, str), "a string (none, flip or crop-flip)"),
    "steps": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
    "schedule": (lambda v: isinstance(v, str) and v != "", "a file name"),
    "validate_at": (lambda v: isinstance(v, list) and all(_is_int(s) and s >= 1 for s in v),
                    "a list of step counts >= 1"),
    "validation_batches": (lambda v: v is None or (_is_int(v) and v > 0), "a positive integer or null"),
    "final": (lambda v: isinstance(v, bool), "true or false"),
    "save_model": (lambda v: v is None or isinstance(v, str), "a path or null"),
    "max_seconds": (lambda v: v is None or (_is_number(v) and v > 0), "a positive number or null"),
}
_REQUIRED = ("protocol", "steps", "schedule")
# Every field a spec of protocol 1 may have (Docs/PROTOCOL.md; the Swift side's TrialSpec).
_KNOWN = frozenset(_CHECKS) | {"protocol", "stop_rule", "engine", "hyperparameters"}


def _line_of(text: str, key: str) -> Optional[int]:
    """The 1-based line of `text` where `"key"` first appears, or None."""
    needle = '"%s"' % key
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    return None


def _where(path: str, line: Optional[int]) -> str:
    return "%s line %d" % (path, line) if line else path


def load_spec(path: str) -> Dict[str, Any]:
    """Reads and checks `spec.json`; returns it as a dict.

    Raises SpecError naming the file (and line) when it is missing (exit code 66), is not a
    JSON object, lacks `protocol`, `steps` or `schedule`, has a field of the wrong type, or
    speaks a protocol other than 1. Unknown fields are ignored, with a warning on standard
    error naming each (a newer discipline's, or a misspelt one in a spec written by hand).
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise SpecError("cannot read the spec %s: %s" % (path, e.strerror or e), EX_NOINPUT)
    try:
        spec = json.loads(text)
    except ValueError as e:
        raise SpecError("%s: not valid JSON (%s)" % (_where(path, getattr(e, "lineno", None)),
                                                     getattr(e, "msg", e)))
    if not isinstance(spec, dict):
        raise SpecError("%s: the spec is not a JSON object" % path)
    if "protocol" not in spec:
        raise SpecError("%s: the spec has no \"protocol\"" % path)
    version = spec["protocol"]  # checked first: another version may have other fields
    if version != PROTOCOL or not _is_int(version):
        raise SpecError("%s: the spec speaks protocol %s; this program speaks protocol %d only "
                        "(update the discipline package)"
                        % (_where(path, _line_of(text, "protocol")), json.dumps(version), PROTOCOL))
    for key in _REQUIRED:
        if key not in spec:
            raise SpecError("%s: the spec has no \"%s\"" % (path, key))
    for key, (check, what) in _CHECKS.items():
        if key in spec and not check(spec[key]):
            raise SpecError("%s: \"%s\" must be %s, not %s"
                            % (_where(path, _line_of(text, key)), key, what, json.dumps(spec[key])))
    for key in sorted(set(spec) - _KNOWN):
        print("discipline: warning: %s: unknown field %s is ignored (a newer discipline's, or a "
              "misspelt one?)" % (_where(path, _line_of(text, key)), json.dumps(key)),
              file=sys.stderr, flush=True)
    return spec


def load_schedule(path: str, steps: int) -> Tuple[List[float], List[float]]:
    """Reads `schedule.csv` as discipline writes it and reads it back (Docs/PROTOCOL.md): the
    header `step,lr,momentum`, then one row per step with `step` counting from 0. Returns
    (learning rates, momenta).

    Raises SpecError naming the file and line for a missing file (exit code 66), another
    header, a row with other than three fields, a step out of order, a value that is not a
    finite number (or a negative learning rate), or a row count other than `steps`.

    The line rules are the Swift side's (TrialSpec.read): a line ends with "\\n" or "\\r\\n" (a
    file saved on Windows reads the same; a lone "\\r" is not a line end), spaces and tabs
    around a line or a field are not significant, and blank lines are skipped.
    """
    try:
        with open(path, encoding="utf-8", newline="") as f:
            text = f.read()
    except OSError as e:
        raise SpecError("cannot read the schedule %s: %s" % (path, e.strerror or e), EX_NOINPUT)
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    rows = [(n, line) for n, line in enumerate(lines, 1) if line.strip(" \t")]
    if not rows:
        raise SpecError("%s: empty, expected the header step,lr,momentum" % path)
    header_line, header = rows[0]
    if [c.strip(" \t") for c in header.split(",")] != ["step", "lr", "momentum"]:
        raise SpecError("%s: the header must be step,lr,momentum, not %r"
                        % (_where(path, header_line), header))
    lrs: List[float] = []
    momenta: List[float] = []
    for n, line in rows[1:]:
        fields = [c.strip(" \t") for c in line.split(",")]
        if len(fields) != 3:
            raise SpecError("%s: %d fields, expected step,lr,momentum" % (_where(path, n), len(fields)))
        try:
            step = int(fields[0])
        except ValueError:
            raise SpecError("%s: step %r is not an integer" % (_where(path, n), fields[0]))
        if step != len(lrs):
            raise SpecError("%s: step %d, expected %d (one row per step, from 0)" % (_where(path, n), step, len(lrs)))
        values = []
        for name, text in (("lr", fields[1]), ("momentum", fields[2])):
            try:
                v: Optional[float] = float(text)
            except ValueError:
                v = None
            if v is None or not math.isfinite(v) or (name == "lr" and v < 0):
                raise SpecError("%s: %s %r is not a finite number%s"
                                % (_where(path, n), name, text, " >= 0" if name == "lr" else ""))
            values.append(v)
        lrs.append(values[0])
        momenta.append(values[1])
    if len(lrs) != steps:
        raise SpecError("%s: %d rows, but the spec's steps is %d" % (path, len(lrs), steps))
    return lrs, momenta


def _distributed() -> Any:
    """torch.distributed when the script has initialized a process group, else None (cheap:
    never imports torch)."""
    d = sys.modules.get("torch.distributed")
    if d is None or not d.is_available() or not d.is_initialized():
        return None
    return d


def _has(args: Any, name: str) -> bool:
    return name in args if isinstance(args, MutableMapping) else hasattr(args, name)


def _read(args: Any, name: str) -> Any:
    return args[name] if isinstance(args, MutableMapping) else getattr(args, name)


def _write(args: Any, name: str, value: Any) -> None:
    if isinstance(args, MutableMapping):
        args[name] = value
    else:
        setattr(args, name, value)


def _inner_optimizer(optimizer: Any) -> Any:
    """The torch optimizer inside a wrapper that keeps it as `.optimizer` (accelerate's
    AcceleratedOptimizer, Lightning's LightningOptimizer as `._optimizer`), else `optimizer`."""
    for name in ("optimizer", "_optimizer"):
        inner = getattr(optimizer, name, None)
        if inner is not None and inner is not optimizer and hasattr(inner, "param_groups"):
            return inner
    return optimizer


def _finite_or_none(value: Any) -> Optional[float]:
    if value is None:
        return None
    v = float(value)
    return v if math.isfinite(v) else None


class Trial:
    """One run of a spec, or nothing when the script runs on its own.

    `honours`: the optional hyper-parameters (`"dropout"`, `"augmentation"`) the script applies;
    reported in the `start` event, and only those are taken over by `override`.
    `args`: an argparse namespace (or any object, or a dict) whose attributes named like spec
    fields (`batch_size`, `seed`, `weight_decay`, `dropout`, `augmentation`, `steps`, `final`,
    `save_model`, `validation_batches`) get the spec's values; see `override`.
    `environ`: where to read `DISCIPLINE_*` (default `os.environ`).
    `exit_on_error`: on a bad spec or schedule print the message to standard error and exit
    with its code (65 malformed or another protocol, 66 missing); False raises SpecError.
    `metrics`: the named metrics the script reports besides `accuracy`, each with its direction
    (`{"mae": "lower", "f1": "higher"}`); declared in the `start` event (also settable as
    `trial.metrics` before the clock starts).
    `names`: spec field -> the attribute of `args` that holds it (`{"batch_size": "bs"}`), for
    `override`.

    Events are written by rank 0 only when torch.distributed is initialized (before that, by
    the process whose `RANK` is 0 or unset). The clock starts, and `start` is written, at the
    first call of `start`, `attach`, `apply_schedule` or a `report_*`/`end` method, so data
    loading before the loop does not count as training time.
    """

    def __init__(self, honours: Iterable[str] = (), args: Any = None,
                 environ: Optional[Mapping[str, str]] = None, exit_on_error: bool = True,
                 metrics: Optional[Mapping[str, str]] = None,
                 names: Optional[Mapping[str, str]] = None) -> None:
        env = os.environ if environ is None else environ
        self.honours = tuple(honours)
        unknown = [h for h in self.honours if h not in OPTIONAL]
        if unknown:
            raise ValueError("honours %r: only %s are optional" % (unknown, ", ".join(OPTIONAL)))
        self.metrics = dict(metrics or {})
        spec_path = env.get("DISCIPLINE_SPEC") or None
        self.active = spec_path is not None
        self.spec: Dict[str, Any] = {}
        self.dir: Optional[str] = None
        self.events_path: Optional[str] = None
        self.stop_path: Optional[str] = None
        self.schedule_path: Optional[str] = None
        self._lrs: List[float] = []
        self._momenta: List[float] = []
        self._validate_at: FrozenSet[int] = frozenset()
        self._rank_env = env.get("RANK", "0")
        world = env.get("WORLD_SIZE", "")
        self._world_env = int(world) if world.isdigit() and int(world) > 0 else 1
        self._writer: Optional[bool] = None  # once known (under torch.distributed: rank 0)
        self._file: Any = None
        self._t0: Optional[float] = None
        self._steps_done = 0     # 1 + the last step reported
        self._nonfinite = False  # a train loss was NaN or infinite
        self._ended = False
        self._flag: Any = None   # the tensor broadcast for the stop decision
        self.train_samples: Optional[int] = None  # the training split's size, for `start`
        self.optimizer_name: Optional[str] = None  # the optimizer's class, for `start`
        self.decoupled_weight_decay: Optional[bool] = None
        self._ignores: Optional[List[str]] = None  # spec hyper-parameters override could not set
        self._taken_fields: set = set()            # fields the script read with get()
        self._epochs_raised = False                # override raised the script's epoch count
        # Whether the run follows a spec rewritten longer (start event `extendable`): None
        # decides at start (attached, with its epochs raised); a script may set it.
        self.extendable: Optional[bool] = None
        self._ratios: Any = weakref.WeakKeyDictionary()  # optimizer -> (peak lr, [group ratio])
        self._ratios_by_id: Dict[int, Tuple[float, List[float]]] = {}
        self._warned: set = set()
        self._run: Any = None    # the attachment (discipline.attach), once attached
        self._datasets: Dict[str, Any] = {}      # hold_out's validation and test splits
        self._loss_fn: Optional[Callable] = None  # the first function given to criterion()
        pid = env.get("DISCIPLINE_PID", "")
        self._parent_pid = int(pid) if pid.isdigit() else None  # discipline, while it lives
        self._parent_checked = 0.0
        self._schedule_checked = 0.0
        self._schedule_mtime: Optional[int] = None  # schedule.csv's, to see it rewritten
        for name, direction in self.metrics.items():
            if direction not in DIRECTIONS:
                raise ValueError("metric %r: direction %r, expected \"higher\" or \"lower\"" % (name, direction))
        if not self.active:
            return
        try:
            self.spec = load_spec(spec_path)
            self.dir = env.get("DISCIPLINE_DIR") or os.path.dirname(os.path.abspath(spec_path))
            self.events_path = env.get("DISCIPLINE_EVENTS") or os.path.join(self.dir, "events.jsonl")
            self.stop_path = env.get("DISCIPLINE_STOP") or os.path.join(self.dir, "stop")
            self.schedule_path = os.path.join(self.dir, self.spec["schedule"])
            self._lrs, self._momenta = load_schedule(self.schedule_path, self.spec["steps"])
            self._spec_path = spec_path
            self._schedule_mtime = os.stat(self.schedule_path).st_mtime_ns
        except SpecError as e:
            if not exit_on_error:
                raise
            print("discipline: %s" % e, file=sys.stderr, flush=True)
            raise SystemExit(e.exit_code)
        self._validate_at = frozenset(self.spec.get("validate_at") or ())
        if args is not None:
            self.override(args, names=names)

    # The spec's values -----------------------------------------------------------------------

    def get(self, name: str, default: Any = None) -> Any:
        """The spec's `name`, or `default` when inactive or the spec lacks it. A present
        `null` is returned as None (`validation_batches: null` means all of the split).
        `save_model` comes back as a path joined to the spec's directory. `batch_size` is the
        spec's, the global batch across ranks (see `batch_size_per_rank`). A hyper-parameter
        beyond the spec's own fields (one a phase added to discipline's recipe tunes, under the
        spec's `hyperparameters`) is read by its name too. A hyper-parameter read here counts
        as taken (it leaves the start event's `ignores`)."""
        extras = self.extra_hyperparameters()
        if name not in self.spec and name not in extras:
            return default
        self._taken_fields.add(name)
        if self._ignores is not None and name in self._ignores:
            self._ignores.remove(name)
        value = self.spec[name] if name in self.spec else extras[name]
        if name == "save_model" and value is not None:
            value = os.path.join(self.dir, value)
        return value

    def extra_hyperparameters(self) -> Dict[str, Any]:
        """The spec's `hyperparameters`: values beyond its own fields that discipline's recipe
        tunes (a phase added to it), by name; empty when inactive or when there are none."""
        extras = self.spec.get("hyperparameters") if self.active else None
        return dict(extras) if isinstance(extras, dict) else {}

    def world_size(self) -> int:
        """Processes training together: torch.distributed's world size once initialized, else
        the environment's `WORLD_SIZE` (torchrun sets it), else 1."""
        d = _distributed()
        return d.get_world_size() if d is not None else self._world_env

    def batch_size_per_rank(self, default: Optional[int] = None) -> Optional[int]:
        """The spec's `batch_size` (the samples of one optimizer step across all ranks) divided
        by the world size: what each rank's DataLoader takes. `default` when inactive or absent."""
        if "batch_size" not in self.spec:
            return default
        return max(1, self.spec["batch_size"] // self.world_size())

    def override(self, args: _Args, names: Optional[Mapping[str, str]] = None) -> _Args:
        """Sets each attribute of `args` named like a field of SCRIPT_FIELDS (or as `names`
        maps it: `{"batch_size": "bs"}`) to the spec's value where the spec has it
        (`dropout`/`augmentation` only if honoured); others keep the script's defaults.
        `batch_size` is set per rank (the spec's global batch // world size, a warning when it
        does not divide). An `epochs` attribute (or `names["epochs"]`) is raised to at least the
        spec's `steps`, so an epoch loop never ends before the spec does (an attached trial ends
        the run when the steps are done). Every hyper-parameter (batch_size, weight_decay, seed)
        the spec has and `args` lacks is named on standard error and in the start event's
        `ignores`. `args` may be a dict. Returns `args`. Inactive: returns `args` untouched."""
        names = dict(names or {})
        if not self.active:
            return args
        extras = self.extra_hyperparameters()
        unknown = [k for k in names if k not in SCRIPT_FIELDS and k != "epochs" and k not in extras]
        if unknown:
            raise ValueError("names %r: not spec fields (%s, epochs, or the spec's hyperparameters)"
                             % (unknown, ", ".join(SCRIPT_FIELDS)))
        ignored: List[str] = []
        for name in SCRIPT_FIELDS:
            if name in OPTIONAL and name not in self.honours:
                continue
            if name not in self.spec:
                continue
            attribute = names.get(name, name)
            if _has(args, attribute):
                value = self.get(name)
                if name == "batch_size":
                    value = self.batch_size_per_rank()
                    world = self.world_size()
                    if world > 1 and self.spec["batch_size"] % world:
                        self._warn("the spec's batch_size %d does not divide by the world size %d: "
                                   "each rank takes %d" % (self.spec["batch_size"], world, value))
                _write(args, attribute, value)
            elif name in HYPERPARAMETERS or name in OPTIONAL:
                how = ("names maps %s to %r, which it does not have" % (name, attribute) if name in names
                       else "pass names={%r: ATTRIBUTE} if it calls it something else" % name)
                if name in HYPERPARAMETERS and name not in self._taken_fields:
                    ignored.append(name)
                    self._warn("the script does not take the spec's %s (%s): %s; discipline skips "
                               "studying it" % (name, json.dumps(self.spec[name]), how))
                elif name in OPTIONAL:
                    self._warn("the script honours %s but does not take it (%s)" % (name, how))
        # hyper-parameters beyond the spec's own fields: set where the script has them
        for name, value in extras.items():
            attribute = names.get(name, name)
            if _has(args, attribute):
                _write(args, attribute, value)
                self._taken_fields.add(name)
            elif name not in self._taken_fields:
                ignored.append(name)
                self._warn("the script does not take the spec's %s (%s): pass names={%r: ATTRIBUTE} "
                           "if it calls it something else; discipline skips studying it"
                           % (name, json.dumps(value), name))
        epochs = names.get("epochs", "epochs")
        if _has(args, epochs):
            self._epochs_raised = True
            value = _read(args, epochs)
            # an epoch has a step at least: ten times the spec's steps leave room for a final
            # run that discipline lengthens (the attached run ends when the steps are done)
            if _is_int(value) and value < 10 * self.spec["steps"]:
                _write(args, epochs, 10 * self.spec["steps"])
        # those set now left the list through get(); those named by ignore() stay
        self._ignores = [n for n in (self._ignores or []) if n not in ignored] + ignored
        return args

    def ignore(self, name: str) -> None:
        """Lists the hyper-parameter `name` (batch_size, weight_decay, seed, momentum) in the start
        event's `ignores`: the program does not apply it (for a framework callback that knows
        so; `override` does it for the attributes it cannot set). Says nothing: the caller
        says why."""
        if name not in HYPERPARAMETERS + ("momentum",) and name not in self.extra_hyperparameters():
            raise ValueError("ignore(%r): only %s or the spec's hyperparameters can be ignored"
                             % (name, ", ".join(HYPERPARAMETERS + ("momentum",))))
        if self._ignores is None:
            self._ignores = []
        if name not in self._ignores:
            self._ignores.append(name)

    # The schedule ----------------------------------------------------------------------------

    def optimizer_info(self, optimizer: Any) -> None:
        """Names `optimizer` in the start event: its class (`optimizer`) and whether its weight
        decay is decoupled (`decoupled_weight_decay`: AdamW, or a group with
        `decoupled_weight_decay=True`). Done by `attach` and the first `apply_schedule`."""
        inner = _inner_optimizer(optimizer)
        name = inner.__name__ if isinstance(inner, type) else type(inner).__name__
        groups = getattr(inner, "param_groups", None) or []
        self.optimizer_name = name
        self.decoupled_weight_decay = ("AdamW" in name or name in ("Lion", "SGDW")
                                       or any(bool(g.get("decoupled_weight_decay")) for g in groups))
        if groups and not any("momentum" in g or "betas" in g for g in groups):
            self._warn("%s has neither momentum nor betas: only the schedule's learning rate is "
                       "applied, not its momentum (discipline does not study momentum)" % name)
            self.ignore("momentum")  # the recipe skips its momentum phase

    def _group_ratios(self, optimizer: Any) -> List[float]:
        """Each parameter group's initial learning rate over the peak (largest) group's, as first
        seen (`initial_lr` where a scheduler recorded it, else `lr`); a group added later keeps
        its own rate's ratio to that peak."""
        groups = optimizer.param_groups
        try:
            entry = self._ratios.get(optimizer)
        except TypeError:  # not weakly referenceable
            entry = self._ratios_by_id.get(id(optimizer))
        if entry is not None and len(entry[1]) == len(groups):
            return entry[1]
        initial = [float(g.get("initial_lr", g.get("lr", 0.0))) for g in groups]
        if entry is None:
            peak, ratios = max(initial, default=0.0), []
        else:
            peak, ratios = entry[0], list(entry[1][:len(groups)])
        ratios += [x / peak if peak > 0 else 1.0 for x in initial[len(ratios):]]
        try:
            self._ratios[optimizer] = (peak, ratios)
        except TypeError:
            self._ratios_by_id[id(optimizer)] = (peak, ratios)
        return ratios

    def apply_schedule(self, optimizer: Any, step: int) -> Optional[Tuple[float, float]]:
        """Before step `step` (0-based): sets the learning rates of the parameter groups of
        `optimizer` from the schedule's, each group keeping its initial ratio to the peak
        group's (the schedule's rate is the peak group's: a backbone at lr/10 stays at a tenth),
        and its momentum: `momentum` where the group has it (SGD, RMSprop), else `betas[0]`
        (Adam, AdamW, NAdam; `betas[1]` kept). Returns (lr, momentum); None when inactive.
        Raises IndexError past the schedule.
        `step` counts optimizer steps actually taken: with gradient accumulation or a GradScaler
        (which skips steps with inf/NaN gradients) call it where `optimizer.step()` runs, or use
        `attach`, which does. A learning-rate scheduler the script keeps is overridden, as long
        as it steps after `optimizer.step()`, before this call."""
        if not self.active:
            return None
        if self.optimizer_name is None:
            self.optimizer_info(optimizer)
        if self._t0 is None:
            self.start()
        d = _distributed()
        if d is None or d.get_world_size() == 1:  # under DDP rank 0 decides, in should_stop
            self._reload_if_replanned()
        if not 0 <= step < len(self._lrs):
            raise IndexError("step %d is outside %s's %d rows" % (step, self.schedule_path, len(self._lrs)))
        lr = self._lrs[step]
        momentum = self._momenta[step]
        optimizer = _inner_optimizer(optimizer)
        for group, ratio in zip(optimizer.param_groups, self._group_ratios(optimizer)):
            group["lr"] = lr * ratio if ratio != 1.0 else lr
            if "momentum" in group:
                group["momentum"] = momentum
            elif "betas" in group:
                group["betas"] = (momentum,) + tuple(group["betas"][1:])
        return lr, momentum

    # When to validate and stop ---------------------------------------------------------------

    def should_validate(self, steps_done: int, default: bool = False) -> bool:
        """Whether to measure the validation loss after `steps_done` steps (1-based: after the
        140th step is 140): true when `validate_at` lists it. Inactive: `default`."""
        if not self.active:
            return default
        return steps_done in self._validate_at

    def should_stop(self, steps_done: Optional[int] = None) -> bool:
        """Whether to end the loop after `steps_done` steps (default: 1 + the last step
        reported): the stop file exists, all of the spec's `steps` are done, or a reported train
        loss was not finite. Under torch.distributed rank 0 decides and broadcasts its decision,
        and with it a schedule that discipline re-planned (all ranks apply it from the next
        step on, so their rows stay identical): every rank must call this at the same steps.
        Inactive: False."""
        if not self.active:
            return False
        if steps_done is None:
            steps_done = self._steps_done
        d = _distributed()
        together = d is not None and d.get_world_size() > 1
        replanned = False
        if self._is_writer():  # alone, too: a loop that stops by this sees a lengthened spec
            replanned = self._reload_if_replanned()
        stop = self._nonfinite or steps_done >= self.spec["steps"]
        if not stop and self._is_writer():
            stop = os.path.exists(self.stop_path) or self._discipline_gone()
        if together:
            stop, replanned = self._broadcast(d, stop, replanned)
            if replanned:
                self._broadcast_schedule(d)
        return stop

    def _reload_if_replanned(self) -> bool:
        """discipline may shorten a running final run by rewriting spec.json, then
        schedule.csv (Docs/PROTOCOL.md): once a second, a changed schedule.csv is read again,
        with the spec's new `steps` and `validate_at`. Returns whether it changed."""
        now = time.monotonic()
        if now - self._schedule_checked < 1.0:
            return False
        self._schedule_checked = now
        try:
            mtime = os.stat(str(self.schedule_path)).st_mtime_ns
        except OSError:
            return False
        if mtime == self._schedule_mtime:
            return False
        spec = load_spec(self._spec_path)
        lrs, momenta = load_schedule(str(self.schedule_path), spec["steps"])
        self._replan(spec, lrs, momenta)
        self._schedule_mtime = mtime
        return True

    def _replan(self, spec: Dict[str, Any], lrs: List[float], momenta: List[float]) -> None:
        self.spec, self._lrs, self._momenta = spec, lrs, momenta
        self._validate_at = frozenset(spec.get("validate_at") or ())

    def _discipline_gone(self) -> bool:
        """Whether the discipline that started this run has died (killed with SIGKILL, its
        trials to be resumed): checked at most once a second, so an orphaned run stops soon
        instead of training on for nobody."""
        if self._parent_pid is None:
            return False
        now = time.monotonic()
        if now - self._parent_checked < 1.0:
            return False
        self._parent_checked = now
        try:
            os.kill(self._parent_pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False

    def _broadcast(self, d: Any, stop: bool, replanned: bool) -> Tuple[bool, bool]:
        """Rank 0's (stop, replanned) to every rank, in one collective."""
        import torch  # the script has it: torch.distributed is initialized
        if self._flag is None:
            device = "cpu"
            if d.get_backend() == "nccl":
                device = torch.device("cuda", torch.cuda.current_device())
            self._flag = torch.zeros(2, dtype=torch.int32, device=device)
        self._flag[0] = 1 if stop else 0
        self._flag[1] = 1 if replanned else 0
        d.broadcast(self._flag, src=0)
        values = self._flag.tolist()
        return bool(values[0]), bool(values[1])

    def _broadcast_schedule(self, d: Any) -> None:
        """Rank 0's re-read spec and schedule to every rank (after a replanned flag)."""
        payload = [(self.spec, self._lrs, self._momenta) if self._is_writer() else None]
        d.broadcast_object_list(payload, src=0)
        if not self._is_writer():
            self._replan(*payload[0])

    # Attaching to a script's own loop ----------------------------------------------------------

    def hold_out(self, dataset: Any, test: Any = None, fraction: float = 0.1, seed: int = 0) -> Any:
        """The training split of `dataset` (a map-style Dataset) to train on, as the spec asks:
        for a trial, `dataset` minus a validation split of `fraction` of it (a fixed shuffle by
        `seed`, the same in every trial and on every rank, whatever the spec's seed), which the
        attached trial validates on; for the final run, all of `dataset`, and validation (at
        `validate_at`) and the `test` event measure `test`. Sets `train_samples`. Inactive:
        returns `dataset` (the script's own split: nothing is held out)."""
        if not self.active:
            return dataset
        from .attach import split
        train, validation = split(dataset, fraction, seed)
        if self.spec.get("final"):
            train, validation = dataset, test
        self._datasets = {"validation": validation, "test": test}
        self.train_samples = len(train)
        return train

    def criterion(self, loss_fn: Callable) -> Callable:
        """`loss_fn` (a function such as `F.cross_entropy`, or an `nn.Module` criterion) made to
        record each training batch's loss for the attached trial's `train` events: a call whose
        result needs gradients is recorded (so evaluation under `torch.no_grad()` is not); its
        samples are the model's last training input's first dimension (else the target's). A
        function comes back wrapped (`F.nll_loss = trial.criterion(F.nll_loss)`), a module comes
        back itself with a forward hook. Called before `attach`, the unwrapped function is also
        what the helper validates with. Inactive: `loss_fn` itself."""
        if not self.active:
            return loss_fn
        if getattr(loss_fn, "_discipline_trial", None) is self:
            return loss_fn
        if self._loss_fn is None:
            self._loss_fn = loss_fn

        def record(result: Any, args: Tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
            if self._run is not None and getattr(result, "requires_grad", False) and getattr(result, "ndim", 0) == 0:
                target = args[1] if len(args) > 1 else kwargs.get("target")
                shape = getattr(target, "shape", None)
                self._run.record(result, None, int(shape[0]) if shape else None)

        if hasattr(loss_fn, "register_forward_hook") and hasattr(loss_fn, "forward"):
            loss_fn.register_forward_hook(lambda module, args, result: record(result, args, {}))
            return loss_fn

        @functools.wraps(loss_fn)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            result = loss_fn(*args, **kwargs)
            record(result, args, kwargs)
            return result

        wrapped._discipline_trial = self  # type: ignore[attr-defined]
        wrapped._discipline_original = loss_fn  # type: ignore[attr-defined]
        return wrapped

    def record_loss(self, loss: Any, samples: Optional[int] = None) -> None:
        """An attached trial's per-batch call, for a script whose loss no `criterion` wraps: the
        batch's mean training loss (a number or a tensor) and its samples (default: counted by
        the model's forward calls, else the spec's batch size per rank). Several calls before one
        `optimizer.step()` (gradient accumulation) are averaged into that step's `train` event.
        Called after `optimizer.step()`, it completes that step. Inactive: nothing."""
        if self.active and self._run is not None:
            self._run.record(loss, samples, None)

    def attach(self, optimizer: Any, model: Any = None, loss: Optional[Callable] = None,
               evaluate: Optional[Callable] = None, validation: Any = None, test: Any = None,
               eval_batch_size: Optional[int] = None) -> Any:
        """Attaches the trial to the script's own loop through `optimizer.step()` (the instance's
        `step` is wrapped; GradScaler, LR schedulers and DDP keep working). Before each step
        taken, the schedule's row of the steps taken so far is applied (`apply_schedule`): a
        step that GradScaler skips and accumulation micro-batches do not advance it. After it,
        the step's `train` event is written with the losses recorded since the last step (by
        `criterion` or `record_loss`); at `validate_at` the helper measures `model` on the
        validation split (`hold_out`'s, or `validation`) with `loss` (default: the function
        given to `criterion`) and, for class scores, accuracy, or with `evaluate(model, loader)`
        (returning a loss, (loss, accuracy) or a dict with "loss" and optionally "accuracy" and
        declared metrics) over at most the spec's `validation_batches` batches; and when the
        run is over (all steps done, the stop file, a non-finite loss) it ends it: the final
        run's `test` event on `test` (`hold_out`'s), the model's state_dict saved where
        `save_model` asks, `end`, and exit 0 (SystemExit, from inside `optimizer.step()`).
        A loop that ends first still gets those at the interpreter's exit. Under DDP rank 0
        validates (on the unwrapped model) and writes; samples are reported across ranks.
        A spec whose validation or test the helper cannot measure is refused here (ValueError).
        Returns `optimizer`. Inactive: returns `optimizer` untouched."""
        if not self.active:
            return optimizer
        if self._run is not None:
            raise ValueError("this trial is attached already (to one optimizer)")
        from .attach import Attachment
        if test is None:
            test = self._datasets.get("test")
        if validation is None:
            validation = test if self.spec.get("final") else self._datasets.get("validation")
        if loss is None:
            loss = self._loss_fn
        self._run = Attachment(self, optimizer, model, loss, evaluate, validation, test, eval_batch_size)
        self.optimizer_info(optimizer)
        self.start()
        return optimizer

    # Events ----------------------------------------------------------------------------------

    def start(self, train_samples: Optional[int] = None) -> None:
        """Starts the clock and writes the `start` event (protocol, honours, and the size of
        the training split when given or set as `train_samples`: discipline reads epoch
        lengths from it; the optimizer once known; the world size when above 1; `ignores`
        after `override`; declared `metrics`). Called by the first apply_schedule, attach or
        report; calling it again does nothing."""
        if not self.active or self._t0 is not None:
            return
        self._t0 = time.monotonic()
        event: Dict[str, Any] = {"event": "start", "protocol": PROTOCOL, "honours": list(self.honours)}
        samples = train_samples if train_samples is not None else self.train_samples
        if samples is not None:
            event["train_samples"] = int(samples)
        if self.optimizer_name is not None:
            event["optimizer"] = self.optimizer_name
            event["decoupled_weight_decay"] = bool(self.decoupled_weight_decay)
        world = self.world_size()
        if world > 1:
            event["world_size"] = world
        if self._ignores is not None:
            event["ignores"] = list(self._ignores)
        if self.extendable is None:
            # attached, with an epoch count override raised: the run ends when the spec's
            # steps are done, however many a re-plan makes them (discipline may lengthen it)
            self.extendable = self._run is not None and self._epochs_raised
        if self.extendable:
            event["extendable"] = True
        if self.metrics:
            for name, direction in self.metrics.items():
                if direction not in DIRECTIONS:
                    raise ValueError("metric %r: direction %r, expected \"higher\" or \"lower\"" % (name, direction))
            event["metrics"] = dict(self.metrics)
        self._emit(event)

    def report_train(self, step: int, loss: Any, samples: int) -> None:
        """After step `step` (0-based): its batch's mean loss (a number or a 0-d tensor; NaN and
        infinities are written as JSON NaN/Infinity and make `should_stop` true) and the
        samples in the batch (under torch.distributed only rank 0's call is written: pass
        the samples of the whole step across ranks, as the spec's batch size is meant)."""
        if not self.active:
            return
        loss = float(loss)
        if not math.isfinite(loss):
            self._nonfinite = True
        self._steps_done = max(self._steps_done, int(step) + 1)
        self._emit({"event": "train", "step": int(step), "loss": loss, "samples": int(samples)})

    def report_val(self, step: int, loss: Any, accuracy: Any = None,
                   metrics: Optional[Mapping[str, Any]] = None) -> None:
        """The validation loss after `step` steps done; `accuracy` (0-1) if the task has one;
        `metrics`, values of the declared metrics (a non-finite value is written as null; an
        undeclared name is left out, with a warning)."""
        if self.active:
            self._emit(self._measurement("val", step, loss, accuracy, metrics))

    def report_test(self, step: int, loss: Any, accuracy: Any = None,
                    metrics: Optional[Mapping[str, Any]] = None) -> None:
        """The test loss (and accuracy, metrics, as `report_val`) after the final run's `step`
        steps."""
        if self.active:
            self._emit(self._measurement("test", step, loss, accuracy, metrics))

    def _measurement(self, kind: str, step: int, loss: Any, accuracy: Any,
                     metrics: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
        event: Dict[str, Any] = {"event": kind, "step": int(step), "loss": float(loss)}
        if accuracy is not None:
            event["accuracy"] = float(accuracy)
        if metrics:
            values = {}
            for name, value in metrics.items():
                if name in self.metrics:
                    values[str(name)] = _finite_or_none(value)
                else:
                    self._warn("metric %r is not declared (Trial(metrics={%r: \"lower\" or \"higher\"})): "
                               "left out of the events" % (name, name))
            if values:
                event["metrics"] = values
        return event

    def end(self, steps: Optional[int] = None) -> None:
        """Writes the `end` event with `steps` taken (default: 1 + the last step reported) and
        closes the events file. Only the first call writes."""
        if not self.active or self._ended:
            return
        self._emit({"event": "end", "steps": self._steps_done if steps is None else int(steps)})
        self._ended = True
        self.close()

    def close(self) -> None:
        """Closes the events file without writing `end` (a later event reopens it)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "Trial":
        return self

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        """`with Trial(...) as trial:` writes `end` when the block ends without an exception
        (an exception only closes the file: the program failed)."""
        if kind is None:
            self.end()
        self.close()

    def _warn(self, message: str) -> None:
        """`message` on standard error, once, from the process that writes events."""
        if message in self._warned or not self.active:
            return
        self._warned.add(message)
        if self._is_writer():
            print("discipline: %s" % message, file=sys.stderr, flush=True)

    def _is_writer(self) -> bool:
        """Whether this process writes events: rank 0 of torch.distributed, else RANK 0 or unset."""
        if self._writer is None:
            d = _distributed()
            if d is None:
                return self._rank_env == "0"
            self._writer = d.get_rank() == 0
        return self._writer

    def _emit(self, event: Dict[str, Any]) -> None:
        """Appends `event` plus `time` as one JSON line; line-buffered, so each event reaches
        the file with one write as it happens."""
        if self._t0 is None:
            self.start()
        if not self._is_writer():
            return
        event["time"] = round(time.monotonic() - self._t0, 6)
        if self._file is None:
            self._file = open(self.events_path, "a", buffering=1, encoding="utf-8")
        self._file.write(json.dumps(event) + "\n")
