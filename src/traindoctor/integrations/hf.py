"""`TrainDoctorCallback` for the Hugging Face Trainer: `Trainer(..., callbacks=[TrainDoctorCallback("runs/x")])`.

The Trainer tells callbacks the loss only every `logging_steps`, averaged and with NaN/Inf filtered
out (`logging_nan_inf_filter`); a Transformers model returns its own loss, so each training
forward's `loss` is logged for its step (on the device, no sync). The averaged loss of `on_log` is
used only for models that return none. That forward hook is removed at the end of training, when
the monitor was closed otherwise, and before a new training starts (after one that crashed).
"""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

from ..monitor import Monitor


class TrainDoctorCallback(TrainerCallback):
    def __init__(self, log_dir: str | None = None, **monitor_options: Any):
        self.log_dir, self.options = log_dir, monitor_options
        self.monitor: Monitor | None = None
        self.report = None
        self._model_loss = False
        self._hook: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, optimizer: Any = None, **kw: Any) -> None:
        self._unhook()
        if self.monitor is not None and not self.monitor.closed:  # a training that crashed: its report, its log
            self.report = self.monitor.close()
        # accelerate wraps the optimizer; the step hooks belong on the torch optimizer inside
        self.monitor = Monitor(model, getattr(optimizer, "optimizer", optimizer),
                               log_dir=self.log_dir if state.is_world_process_zero else None, **self.options)
        self._hook = model.register_forward_hook(self._forward_loss)

    def _unhook(self) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def _forward_loss(self, module: Any, inputs: Any, output: Any) -> None:
        if self.monitor is None or self.monitor.closed:
            self._unhook()
            return
        loss = output.get("loss") if isinstance(output, dict) else getattr(output, "loss", None)
        if module.training and loss is not None:
            self._model_loss = True
            self.monitor.log(loss=loss)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kw: Any) -> None:
        if self.monitor is None or not logs:
            return
        scalars = {"loss": logs["loss"]} if "loss" in logs and not self._model_loss else {}
        if "eval_loss" in logs:
            scalars["val_loss"] = logs["eval_loss"]
        if scalars:
            self.monitor.log_last(**scalars)

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self._unhook()
        if self.monitor is not None:
            self.report = self.monitor.close()
