"""The LoRA training loop: phases -> epochs -> accumulation groups -> batches.

Every random draw is a function of its position (seed, phase, epoch, batch, process), and
the state saved at each epoch end (optionally every N steps) records that position, so a
run killed at any point and started again ends with the same weights as one that was not.
Each epoch ends with a validation loss at fixed noise, sample images, a LoRA checkpoint
and the resumable state; the run ends with the exports and a per-image loss scan.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from charfolio.core.atomic import write_text_atomic
from charfolio.core.progress import Progress, format_duration
from charfolio.lora import history
from charfolio.lora import training_state as checkpoints
from charfolio.lora.export import save_diffusers_lora, save_kohya_lora
from charfolio.lora.factory import build_lr_scheduler, phase_learning_rates, start_phase
from charfolio.lora.layout import OutputPaths
from charfolio.lora.model import sdxl_time_ids
from charfolio.lora.objective import derived_seed, draw_noise, per_sample_loss
from charfolio.lora.presets import Phase
from charfolio.lora.resume import named_lora, restore_state, save_state
from charfolio.lora.run_record import format_loss, run_summary, run_training_config
from charfolio.lora.session import Plan, TrainingJob, open_session
from charfolio.lora.validation_loss import (
    CachedExample,
    fixed_noise_losses,
    render_samples,
    sample_prompts,
    write_loss_scan,
)


class NonFiniteLossError(RuntimeError):
    """The loss (or the gradients or weights) became NaN or inf; the last good state is kept."""


@dataclass
class PhaseRuntime:
    index: int
    phase: Phase
    plan: Plan
    scheduler: torch.optim.lr_scheduler.LRScheduler


class LoraTrainer:
    def __init__(self, job: TrainingJob, log: Callable[[str], None] = print) -> None:
        self.job = job
        self.preset = job.preset
        self.log = log
        self.paths = OutputPaths(job.out_dir, job.state_dir or job.out_dir / "state")
        self.global_step = 0
        self.global_epoch = 0
        self.first_step_at: float | None = None
        self.training_seconds = 0.0
        self.steps_this_run = 0
        self.worst: list[dict[str, Any]] = []

    def run(self) -> dict[str, Any]:
        self.started = time.perf_counter()
        self.s = open_session(self.job, self.log)
        self.is_main = self.s.accelerator.is_main_process
        self.paths.root.mkdir(parents=True, exist_ok=True)
        state = self._load_state()
        if state is None and self.is_main:
            self.paths.clear()
        position = state.position if state else checkpoints.Position(0, 0, 0, 0, 0)
        self.global_step, self.global_epoch = position.global_step, position.global_epoch
        self._open_logs(state is not None, position)
        if self.is_main:
            write_text_atomic(self.paths.config, json.dumps(self._config(), indent=2) + "\n")
        if state is None:
            self._baseline()
        else:
            self.log(
                f"resuming {self.preset.name} from {checkpoints.state_folder(self.paths.state)} "
                f"(step {position.global_step}, epoch {position.global_epoch})"
            )
            checkpoints.restore_rng(state.rng)  # last: opening the session drew from them
        if self._train(state, position):
            return self._summary(complete=False, resumed=state is not None)
        return self._finish(resumed=state is not None)

    # --- state -----------------------------------------------------------------------------

    def _load_state(self) -> checkpoints.SavedState | None:
        return restore_state(self.s, self.paths.state, self.log)

    def _save_state(self, position: checkpoints.Position, runtime: PhaseRuntime | None) -> None:
        lora = named_lora(self.s)
        bad = [name for name, p in lora.items() if not p.isfinite().all()]
        if bad:  # never replace the last good state with broken weights
            raise NonFiniteLossError(
                f"LoRA weights became NaN/inf by step {self.global_step} ({len(bad)} tensors, e.g. "
                f"{bad[0]}); the last good state {checkpoints.state_folder(self.paths.state)} is "
                f"kept. Try a lower learning_rate or mixed_precision: no (fp32)"
            )
        if self.is_main:
            save_state(self.s, self.paths.state, position, lora, runtime and runtime.scheduler)
        self.s.accelerator.wait_for_everyone()

    # --- phases ----------------------------------------------------------------------------

    def _train(self, state: checkpoints.SavedState | None, position: checkpoints.Position) -> bool:
        """All phases from `position`; True when stopped early by a stop_after_* request."""
        phases = self.preset.phases
        remaining = self.s.total_steps - position.global_step
        self.progress = Progress(max(remaining, 1), f"lora {self.preset.name}", self.log)
        for index in range(position.phase, len(phases)):
            runtime = self._start_phase(index)
            resuming = state is not None and index == position.phase
            if resuming and state.optimizer is not None and state.scheduler is not None:
                self.s.optimizer.load_state_dict(state.optimizer)
                runtime.scheduler.load_state_dict(state.scheduler)
            for epoch in range(position.epoch if resuming else 0, runtime.phase.epochs):
                skip = position.batch if resuming and epoch == position.epoch else 0
                if not self._run_epoch(runtime, epoch, skip) or self._stop_requested():
                    return True
        return False

    def _start_phase(self, index: int) -> PhaseRuntime:
        """Phase `index` continues from the current weights with fresh moments and its own LR."""
        phase, plan, optimizer = self.preset.phases[index], self.s.plans[index], self.s.optimizer
        start_phase(
            optimizer, phase_learning_rates(self.preset, phase, len(optimizer.param_groups))
        )
        scheduler = build_lr_scheduler(optimizer, self.preset, phase, self.s.steps(plan))
        return PhaseRuntime(index, phase, plan, scheduler)

    def _stop_requested(self) -> bool:
        job = self.job
        by_epoch = job.stop_after_epoch is not None and self.global_epoch >= job.stop_after_epoch
        by_step = job.stop_after_step is not None and self.global_step >= job.stop_after_step
        return by_epoch or by_step

    # --- steps -----------------------------------------------------------------------------

    def _micro_batch_loss(
        self, runtime: PhaseRuntime, epoch: int, round_index: int
    ) -> tuple[torch.Tensor, list[CachedExample]]:
        s = self.s
        items = [s.train_items[i] for i in runtime.plan[epoch][round_index]]
        latents = torch.stack([i.latent for i in items])
        process = s.accelerator.process_index
        seed = derived_seed(self.preset.seed, runtime.index, epoch, round_index, process)
        timesteps_total = s.model.noise_scheduler.config.num_train_timesteps
        noise, timesteps = draw_noise(
            latents.shape, timesteps_total, seed, self.preset.noise_offset
        )
        examples = [i.example for i in items]
        time_ids = sdxl_time_ids(examples, s.device) if s.model.architecture == "sdxl" else None
        with s.accelerator.autocast():
            prompts = s.embed([e.row.caption for e in examples], training=True)
            loss = per_sample_loss(
                s.model, s.unet, latents.to(s.device), noise.to(s.device), timesteps.to(s.device),
                prompts, time_ids, self.preset.min_snr_gamma,
            ).mean()  # fmt: skip
        return loss, items

    def _check_finite(
        self, what: str, value: torch.Tensor, items: Sequence[CachedExample], runtime: PhaseRuntime
    ) -> None:
        """Stop with what to try when `value` (the loss, the gradient norm) is NaN or inf."""
        finite = torch.isfinite(value.detach()).float()
        if self.s.accelerator.num_processes > 1:
            finite = self.s.accelerator.reduce(finite, reduction="min")
        if bool(finite):
            return
        saved = [
            p for p in (checkpoints.state_folder(self.paths.state),
                        self.paths.checkpoint(self.global_epoch))
            if p is not None and p.exists()
        ]  # fmt: skip
        kept = f"kept {' and '.join(map(str, saved))}" if saved else "nothing was saved yet"
        lr = self.s.optimizer.param_groups[0]["lr"]
        raise NonFiniteLossError(
            f"{what} is {value.item()} at step {self.global_step + 1} (epoch "
            f"{self.global_epoch + 1}, phase {runtime.phase.name!r}) on "
            f"{', '.join(i.key for i in items)}; training stopped and {kept}. Try a lower "
            f"learning_rate (now {lr:g}), mixed_precision: no (fp32) or bf16 instead of fp16, "
            f"max_grad_norm: 1.0, or check these images (a changed preset trains from scratch)"
        )

    def _optimizer_step(self, runtime: PhaseRuntime, epoch: int, group: range) -> float:
        """One accumulation group: backward per batch, then one optimizer step."""
        s, started = self.s, time.perf_counter()
        losses, seen = [], []
        for round_index in group:
            with contextlib.ExitStack() as stack:
                if round_index != group[-1]:  # DDP: all-reduce once per group, not per batch
                    for module in s.trained_modules:
                        stack.enter_context(s.accelerator.no_sync(module))
                loss, items = self._micro_batch_loss(runtime, epoch, round_index)
                self._check_finite("loss", loss, items, runtime)
                s.accelerator.backward(loss / len(group))
            losses.append(loss.detach())
            seen += items
        # max_norm inf only measures the norm. Under fp16 the grad scaler owns inf gradients
        # (it skips that step and lowers its scale), so they only stop an fp32/bf16 run.
        params = s.unet_params + s.text_encoder_params
        norm = s.accelerator.clip_grad_norm_(params, self.preset.max_grad_norm or math.inf)
        if s.accelerator.scaler is None and norm is not None:
            self._check_finite("the gradient norm", torch.as_tensor(norm), seen, runtime)
        s.optimizer.step()
        if not s.accelerator.optimizer_step_was_skipped:  # fp16 overflow: no LR step either
            runtime.scheduler.step()
        s.optimizer.zero_grad(set_to_none=True)
        mean = torch.stack(losses).mean()
        if s.accelerator.num_processes > 1:
            mean = s.accelerator.reduce(mean, reduction="mean")
        self.global_step += 1
        self.steps_this_run += 1
        self.training_seconds += time.perf_counter() - started
        if self.first_step_at is None:
            self.first_step_at = time.perf_counter() - self.started
        return float(mean)

    # --- epochs ----------------------------------------------------------------------------

    def _run_epoch(self, runtime: PhaseRuntime, epoch: int, skip: int) -> bool:
        """Train one epoch from batch `skip`; False when a stop was requested mid-epoch."""
        rounds = len(runtime.plan[epoch])
        accumulation = self.preset.gradient_accumulation_steps
        epoch_started = time.perf_counter()
        for start in range(skip, rounds, accumulation):
            group = range(start, min(start + accumulation, rounds))
            lr = runtime.scheduler.get_last_lr()[0]
            loss = self._optimizer_step(runtime, epoch, group)
            if self.is_main:
                self.loss_log.append(
                    {"step": self.global_step, "epoch": self.global_epoch + 1,
                     "phase": runtime.phase.name, "loss": f"{loss:.6g}", "lr": f"{lr:.6g}"}
                )  # fmt: skip
            self.progress.advance()
            every = self.preset.save_every_steps
            mid_epoch = group.stop < rounds
            if mid_epoch and every and self.global_step % every == 0:
                self._save_state(self._position(runtime, epoch, group.stop), runtime)
            stop_step = self.job.stop_after_step
            if stop_step is not None and self.global_step >= stop_step:
                if mid_epoch:
                    return False
                break
        self._end_epoch(runtime, epoch, time.perf_counter() - epoch_started)
        return True

    def _position(self, runtime: PhaseRuntime, epoch: int, batch: int) -> checkpoints.Position:
        return checkpoints.Position(
            runtime.index, epoch, batch, self.global_step, self.global_epoch
        )

    def _end_epoch(self, runtime: PhaseRuntime, epoch: int, seconds: float) -> None:
        self.global_epoch += 1
        val_loss = self._validation_loss()
        train_loss = None
        if self.is_main:
            losses = [float(r["loss"]) for r in self.loss_log.rows()
                      if int(r["epoch"]) == self.global_epoch]  # fmt: skip
            train_loss = sum(losses) / len(losses) if losses else None
            self._render_samples(self.global_epoch)
            save_diffusers_lora(
                self.paths.checkpoint(self.global_epoch), self.s.model.architecture,
                self.s.lora_modules(), self.preset.save_dtype,
            )  # fmt: skip
            self.epoch_log.append(
                {"epoch": self.global_epoch, "phase": runtime.phase.name, "step": self.global_step,
                 "train_loss": format_loss(train_loss), "val_loss": format_loss(val_loss),
                 "seconds": f"{seconds:.1f}"}
            )  # fmt: skip
            self._plot()
        if epoch + 1 == runtime.phase.epochs:  # the next phase starts with a fresh optimizer
            next_phase = checkpoints.Position(
                runtime.index + 1, 0, 0, self.global_step, self.global_epoch
            )
            self._save_state(next_phase, None)
        else:
            self._save_state(self._position(runtime, epoch + 1, 0), runtime)
        self.log(
            f"epoch {self.global_epoch}/{self.preset.total_epochs} ({runtime.phase.name}): "
            f"train loss {format_loss(train_loss)}, val loss {format_loss(val_loss)}, {format_duration(seconds)}"
        )

    def _validation_loss(self) -> float | None:
        s = self.s
        if not s.val_items:
            return None
        losses = fixed_noise_losses(
            s.model, s.val_items, lambda c: s.embed(c, training=False), self.preset.validation,
            s.device, s.accelerator.autocast,
        )  # fmt: skip
        return sum(losses) / len(losses)

    def _render_samples(self, epoch: int) -> None:
        s, settings = self.s, self.preset.validation
        if not settings.images:
            return
        prompts = sample_prompts(
            settings, [i.example for i in s.val_items], [i.example for i in s.train_items]
        )
        render_samples(
            s.model, prompts, settings, (s.resolution, s.resolution), self.paths.samples(epoch),
            s.accelerator.autocast,
        )  # fmt: skip

    def _plot(self) -> None:
        history.plot_losses(
            self.loss_log.rows(), self.epoch_log.rows(), self.paths.loss_curve,
            f"LoRA {self.preset.name} on {self.job.tier_dir.name}",
        )  # fmt: skip

    # --- logs, start and end ---------------------------------------------------------------

    def _open_logs(self, resuming: bool, position: checkpoints.Position) -> None:
        """Fresh logs, or (resuming) the rows up to the saved state: later ones are redone."""
        step_keep = (lambda r: int(r["step"]) <= position.global_step) if resuming else None
        epoch_keep = (lambda r: int(r["epoch"]) <= position.global_epoch) if resuming else None
        self.loss_log = history.CsvLog(self.paths.loss_log, history.LOSS_FIELDS, step_keep)
        self.epoch_log = history.CsvLog(self.paths.epoch_log, history.EPOCH_FIELDS, epoch_keep)

    def _baseline(self) -> None:
        """Epoch 0: the validation loss of the base model (LoRA B starts at zero)."""
        val_loss = self._validation_loss()
        if self.is_main:
            self.epoch_log.append(
                {"epoch": 0, "phase": self.preset.phases[0].name, "step": 0, "train_loss": "",
                 "val_loss": format_loss(val_loss), "seconds": "0"}
            )  # fmt: skip
        if val_loss is None:
            self.log("the tier has no val images: no validation loss (set curation.val_fraction)")

    def _config(self) -> dict[str, Any]:
        return run_training_config(self.job, self.s)

    def _finish(self, resumed: bool) -> dict[str, Any]:
        s = self.s
        if self.is_main:
            modules, architecture = s.lora_modules(), s.model.architecture
            save_diffusers_lora(
                self.paths.lora_diffusers, architecture, modules, self.preset.save_dtype
            )
            save_kohya_lora(
                self.paths.lora_kohya, architecture, modules, self.preset.alpha,
                s.model.unet.config.layers_per_block, self.preset.save_dtype, self.preset.name,
            )  # fmt: skip
            items = s.train_items + s.val_items
            losses = fixed_noise_losses(
                s.model, items, lambda c: s.embed(c, training=False), self.preset.validation,
                s.device, s.accelerator.autocast,
            )  # fmt: skip
            self.worst = write_loss_scan(
                items, losses, self.paths.image_losses, self.paths.worst_images,
                self.preset.worst_images, self.preset.validation,
            )  # fmt: skip
            self._plot()
        s.accelerator.wait_for_everyone()
        summary = self._summary(complete=True, resumed=resumed)
        if self.is_main:  # written last: its presence means the run is complete
            write_text_atomic(self.paths.summary, json.dumps(summary, indent=2) + "\n")
        return summary

    def _summary(self, complete: bool, resumed: bool) -> dict[str, Any]:
        return run_summary(
            self.paths, self.preset.name, self.epoch_log.rows(),
            complete=complete, resumed=resumed, epochs=self.global_epoch,
            global_steps=self.global_step, worst=self.worst,
            seconds=time.perf_counter() - self.started, first_step_at=self.first_step_at,
            steps=self.steps_this_run, training_seconds=self.training_seconds,
        )  # fmt: skip
