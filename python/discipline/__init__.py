"""discipline: the Python side of discipline's trial protocol (Docs/PROTOCOL.md).

    import discipline
    trial = discipline.Trial(honours=("dropout",), args=args)   # spec values replace args'
    for step in range(args.steps):
        trial.apply_schedule(optimizer, step)                    # lr and momentum of the step
        ...                                                      # forward, backward, step
        trial.report_train(step, loss, len(y))
        if trial.should_validate(step + 1): trial.report_val(step + 1, val_loss, val_acc)
        if trial.should_stop(step + 1): break
    trial.end()

Outside discipline (no DISCIPLINE_SPEC) every call is a no-op returning the script's defaults.
Submodules that need PyTorch: `discipline.models`, `discipline.checkpoint`, `discipline.bench`.
"""
from .trial import PROTOCOL, SCRIPT_FIELDS, SpecError, Trial, load_schedule, load_spec

__version__ = "0.1.0"
__all__ = ["PROTOCOL", "SCRIPT_FIELDS", "SpecError", "Trial", "load_schedule", "load_spec"]
