"""`TrainDoctorCallback` for PyTorch Lightning: `Trainer(callbacks=[TrainDoctorCallback("runs/x")])`.

Lightning runs forward and backward inside `optimizer.step(closure)`; the Monitor measures after
the closure (see Monitor._pre) and takes the step's loss from what the closure returns. The batch
is checked for non-finite values here, because `training_step` need not call the module's forward.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl

from ..monitor import Monitor


class TrainDoctorCallback(pl.Callback):
    def __init__(self, log_dir: str | None = None, **monitor_options: Any):
        self.log_dir, self.options = log_dir, monitor_options
        self.monitor: Monitor | None = None
        self.report = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        optimizer = trainer.optimizers[0]
        self.monitor = Monitor(pl_module, getattr(optimizer, "optimizer", optimizer),
                               log_dir=self.log_dir if trainer.is_global_zero else None, **self.options)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if self.monitor is not None:
            self.monitor.check_batch(batch)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self.monitor is None or pl_module.automatic_optimization:  # automatic: the closure gave the loss
            return
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is not None:
            self.monitor.log_last(loss=loss)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        val = trainer.callback_metrics.get("val_loss")
        if self.monitor is not None and val is not None and not trainer.sanity_checking:
            self.monitor.log_last(val_loss=val)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.monitor is not None:
            self.report = self.monitor.close()
