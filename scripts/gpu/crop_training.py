"""The training loop the crop networks share (train_shape_encoder.py, train_landmarks.py): the common
command-line options, the device set-up, Adam with warm-up and cosine decay over the time budget, an
EMA of the weights (what is exported and validated), bf16 autocast and channels_last on CUDA, an
optional torch.compile that falls back to eager, timing of render vs train, periodic log lines,
validation, resume state and exports. Each trainer supplies the batch, the loss and the reports.
"""
import contextlib
import copy
import math
import os
import sys
import time

import numpy as np
import torch

from pack_io import Pack
from parity_checks import check_encoder, run_parity_checks


def add_training_arguments(parser, state_dir):
    p = parser
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument('--minutes', type=float, default=7.0, help='training time budget, minutes (startup and export come on top)')
    p.add_argument('--steps', type=int, default=0, help='stop after this many steps (0 = time budget only)')
    p.add_argument('--batch', type=int, default=256)
    p.add_argument('--lr', type=float, default=2e-3)
    p.add_argument('--warmup-steps', type=int, default=200)
    p.add_argument('--ema-beta', type=float, default=0.999)
    p.add_argument('--supersample', type=int, default=2, help='render at this many times the crop side, then average')
    p.add_argument('--no-shadows', action='store_true', help='skip the cast-shadow map')
    p.add_argument('--val-every', type=int, default=250)
    p.add_argument('--log-every', type=int, default=25)
    p.add_argument('--checkpoint-minutes', type=float, default=2.0, help='save the resume state and refresh the export this often')
    p.add_argument('--state-dir', default=state_dir, help='resume state (not for $OUT: it holds Adam moments)')
    p.add_argument('--resume', action='store_true')
    p.add_argument('--init-from', default='', help='exported folder to start from (weights only)')
    p.add_argument('--compile', action='store_true', help='torch.compile the network (falls back to eager on any failure)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--device', default='auto')
    p.add_argument('--threads', type=int, default=0, help='CPU threads (0 = torch default)')
    p.add_argument('--parity-only', action='store_true')


class Log:
    def __init__(self, path):
        self.file = open(path, 'a')
        self.started = time.time()

    def __call__(self, line):
        text = f'[{time.time() - self.started:7.1f} s] {line}'
        print(text, flush=True)
        self.file.write(text + '\n')
        self.file.flush()


def choose_device(args, log):
    """(device, cuda); logs the versions. TF32 stays off (exact float32) until allow_fast_math."""
    device = ('cuda' if torch.cuda.is_available() else 'cpu') if args.device == 'auto' else args.device
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = device.startswith('cuda')
    log(f'torch {torch.__version__}, device {device}' + (f' ({torch.cuda.get_device_name(0)})' if cuda else '') + f', numpy {np.__version__}')
    if cuda:  # exact float32 for the parity checks
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return device, cuda


def allow_fast_math(cuda):
    """After the parity checks: TF32 and cuDNN autotuning for training."""
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True


def start_run(args, network_check=check_encoder):
    """The output folder and its train.log, the device, args.pack and the parity checks (exit 3 when one
    fails). Returns (log, device, cuda, pack), or None after --parity-only."""
    os.makedirs(args.out, exist_ok=True)
    log = Log(os.path.join(args.out, 'train.log'))
    device, cuda = choose_device(args, log)
    pack = Pack(args.pack)
    if not run_parity_checks(pack, device, log, network_check):
        log('parity checks FAILED: not training (see the lines above)')
        sys.exit(3)
    log('parity checks passed')
    if args.parity_only:
        return None
    allow_fast_math(cuda)
    return log, device, cuda, pack


def save_grid(rows, path):
    from PIL import Image
    grid = np.concatenate([np.concatenate(list(row), 1) for row in rows], 0)
    Image.fromarray(grid).save(path + '.tmp.png')
    os.replace(path + '.tmp.png', path)


def to_uint8(images_nchw):
    return ((images_nchw.float() + 1) * 127.5).round().clamp(0, 255).byte().permute(0, 2, 3, 1).cpu().numpy()


class CropTrainer:
    """A network, its EMA, Adam, the random stream and the step counters, with resume state in
    args.state_dir. run() trains until args.minutes of training or args.steps."""

    def __init__(self, args, log, network, device, cuda):
        self.args, self.log, self.device, self.cuda = args, log, device, cuda
        self.network = network.to(device).to(memory_format=torch.channels_last)
        self.ema = copy.deepcopy(self.network).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        self.optimiser = torch.optim.Adam(self.network.parameters(), lr=args.lr, betas=(0.9, 0.99), eps=1e-8)
        self.generator = torch.Generator(device=device).manual_seed(args.seed)
        self.step, self.trained_s, self.history = 0, 0.0, []
        self.state_path = os.path.join(args.state_dir, 'state.pt')
        self.model = self.network
        if args.resume and os.path.exists(self.state_path):
            state = torch.load(self.state_path, map_location='cpu', weights_only=False)
            self.network.load_state_dict(state['encoder'])
            self.ema.load_state_dict(state['ema'])
            self.optimiser.load_state_dict(state['optimiser'])
            self.generator.set_state(state['generator'])
            self.step, self.trained_s, self.history = state['step'], state['trained_s'], state['history']
            log(f'resumed from {self.state_path} at step {self.step} ({self.trained_s / 60:.1f} min trained)')
        if args.compile and hasattr(torch, 'compile'):
            try:
                self.model = torch.compile(self.network)
            except Exception as error:  # a compile failure must never end the run
                log(f'torch.compile unavailable ({str(error).splitlines()[0][:200]}): eager')

    def learning_rate(self, progress):
        args = self.args
        warm = min(1.0, (self.step + 1) / args.warmup_steps)
        return args.lr * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))

    def checkpoint(self):
        os.makedirs(self.args.state_dir, exist_ok=True)
        torch.save({'encoder': self.network.state_dict(), 'ema': self.ema.state_dict(), 'optimiser': self.optimiser.state_dict(), 'generator': self.generator.get_state(),
                    'step': self.step, 'trained_s': self.trained_s, 'history': self.history}, self.state_path + '.tmp')
        os.replace(self.state_path + '.tmp', self.state_path)

    def validate(self, measure):
        """measure(ema) -> (metrics dict, log line); appended to the history with the step."""
        metrics, line = measure(self.ema)
        metrics['step'] = self.step
        self.history.append(metrics)
        self.log(f'val step {self.step}: {line}')

    def run(self, make_batch, loss_of, describe, measure, export, save_samples):
        """make_batch() -> (crops [B, 3, S, S], targets), drawn from self.generator without gradients;
        loss_of(raw float32, targets) -> (loss, terms); describe(terms as floats) -> log text;
        measure(ema) -> (metrics, line); export(reason); save_samples()."""
        args, log = self.args, self.log
        if self.step == 0:
            self.validate(measure)
        budget_s = args.minutes * 60
        interval_start, interval_images, last_checkpoint = time.time(), 0, time.time()
        render_s = train_s = 0.0
        log(f'training: batch {args.batch}, {args.minutes:g} min' + (f' or {args.steps} steps' if args.steps else '') + f', supersample {args.supersample}, shadows {not args.no_shadows}')
        while self.trained_s < budget_s and (not args.steps or self.step < args.steps):
            loop_start = time.time()
            with torch.no_grad():
                x, targets = make_batch()
            if self.cuda and self.step < 8:
                torch.cuda.synchronize()
            rendered = time.time()
            for group in self.optimiser.param_groups:
                group['lr'] = self.learning_rate(self.trained_s / budget_s)
            try:
                with torch.autocast('cuda', dtype=torch.bfloat16) if self.cuda else contextlib.nullcontext():
                    raw = self.model(x)
                loss, terms = loss_of(raw.float(), targets)
            except Exception as error:
                if self.model is self.network:
                    raise
                log(f'torch.compile failed at the first step ({str(error).splitlines()[0][:200]}): eager from here')
                self.model = self.network
                continue
            self.optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.network.parameters(), 5.0)
            self.optimiser.step()
            with torch.no_grad():
                beta = min(args.ema_beta, (1 + self.step) / (10 + self.step))
                for e, p in zip(self.ema.parameters(), self.network.parameters()):
                    e.lerp_(p.detach(), 1 - beta)
            self.step += 1
            interval_images += args.batch
            if self.cuda and self.step <= 8:
                torch.cuda.synchronize()
            if 2 < self.step <= 8:  # separate timings while the clock is synchronised
                render_s += rendered - loop_start
                train_s += time.time() - rendered
                if self.step == 8:
                    log(f'timing over steps 3-8: render {1000 * render_s / 6:.0f} ms, train step {1000 * train_s / 6:.0f} ms per batch of {args.batch}')
            self.trained_s += time.time() - loop_start
            if self.step % args.log_every == 0:
                rate = interval_images / (time.time() - interval_start)
                log(f'step {self.step}: loss {float(loss):.4f} ({describe({k: float(v) for k, v in terms.items()})}), '
                    f'lr {self.optimiser.param_groups[0]["lr"]:.2e}, {rate:.1f} images/s, {self.trained_s / 60:.2f} min')
                interval_start, interval_images = time.time(), 0
            if self.step % args.val_every == 0:
                self.validate(measure)
            if time.time() - last_checkpoint > args.checkpoint_minutes * 60:
                if self.history[-1]['step'] != self.step:
                    self.validate(measure)  # the export's measured errors belong to the weights it holds
                self.checkpoint()
                export(f'checkpoint at step {self.step}')
                save_samples()
                last_checkpoint = time.time()
        if not self.history or self.history[-1]['step'] != self.step:
            self.validate(measure)
        self.checkpoint()
        export(f'final, step {self.step}')
        save_samples()
        log(f'done: {self.step} steps, {self.step * args.batch} images, {self.trained_s / 60:.2f} min of training')
