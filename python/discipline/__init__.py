"""discipline: the Python side of discipline's trial protocol (Docs/PROTOCOL.md).

An epoch-loop script, attached (its loop keeps its shape; examples/pytorch/mnist_epochs.py):

    import discipline
    trial = discipline.Trial(args=args)                      # spec values replace args'
    train_set = trial.hold_out(train_set, test=test_set)     # the spec's validation split
    loss_fn = trial.criterion(loss_fn)                       # the training loss per step
    trial.attach(optimizer, model)                           # schedule, events, validation, end

A step loop, by hand (examples/pytorch/fashion_mnist.py):

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
Submodules that need PyTorch: `discipline.models`, `discipline.checkpoint`, `discipline.bench`;
the framework callbacks `discipline.lightning` and `discipline.huggingface` (never imported here).
"""
from .trial import HYPERPARAMETERS, PROTOCOL, SCRIPT_FIELDS, SpecError, Trial, load_schedule, load_spec

__version__ = "0.1.0"
__all__ = ["HYPERPARAMETERS", "PROTOCOL", "SCRIPT_FIELDS", "SpecError", "Trial", "load_schedule", "load_spec"]
