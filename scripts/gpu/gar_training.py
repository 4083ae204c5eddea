"""One training step of the torch GAR with the semantics of src/gar/train-gar.ts GarTrainer:
non-saturating logistic loss, lazy R1 (γ/2·|∇D(real)|², ×interval on every interval-th D step),
optional lazy path-length regularisation, EMA of G (half-life emaKimg·1000 images, ramp-up
emaRampup·images seen), style mixing (with probability p a second latent from a random cutoff
half the time, as TS draws it), mirrored reals, Adam (β1 0, β2 0.99, ε 1e-8, TS's update rule and
no lazy-regularisation correction, as TS), geometry-consistency losses through frozen judges.

Randomness: every draw of step s comes from generators seeded with (seed, s), so a resumed run
repeats the steps an uninterrupted run would have taken (up to GPU non-determinism).
"""
import math

import torch
import torch.nn.functional as F

from gar_torch import Discriminator, Generator

DEFAULT_TRAIN = {  # src/gar/train-gar.ts DEFAULT_TRAIN_GAR_CONFIG
    'batchSize': 4, 'learningRate': 0.0025, 'r1Gamma': 10.0, 'r1Interval': 16, 'pathLengthWeight': 2.0, 'pathLengthInterval': 4,
    'emaKimg': 10.0, 'emaRampup': 0.05, 'styleMixingProbability': 0.9, 'mirrorReal': True, 'seed': 0,
    'normalWeight': 0.0, 'landmarkWeight': 0.0, 'landmarkInterval': 4, 'identityWeight': 0.0, 'identityInterval': 4,
}


class Adam:
    """src/gar/adam.ts: lr_t = lr·√(1−β2^t)/(1−β1^t); p −= lr_t·m/(√v + ε). State readable by TS name."""

    def __init__(self, named_params, lr, beta1=0.0, beta2=0.99, eps=1e-8):
        self.names = [n for n, _ in named_params]
        self.params = [p for _, p in named_params]
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.lr, self.beta1, self.beta2, self.eps, self.step = lr, beta1, beta2, eps, 0

    @torch.no_grad()
    def apply(self):
        self.step += 1
        lr_t = self.lr * math.sqrt(1 - self.beta2 ** self.step) / (1 - self.beta1 ** self.step)
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        params, grads = [self.params[i] for i in live], [self.params[i].grad for i in live]
        m, v = [self.m[i] for i in live], [self.v[i] for i in live]
        torch._foreach_mul_(m, self.beta1)
        torch._foreach_add_(m, grads, alpha=1 - self.beta1)
        torch._foreach_mul_(v, self.beta2)
        torch._foreach_addcmul_(v, grads, grads, value=1 - self.beta2)
        denominator = torch._foreach_sqrt(v)
        torch._foreach_add_(denominator, self.eps)
        torch._foreach_addcdiv_(params, m, denominator, value=-lr_t)
        for p in params:
            p.grad = None

    def named_state(self):
        return [x for name, m, v in zip(self.names, self.m, self.v) for x in ((f'{name}.m', m), (f'{name}.v', v))]


def seeded_generators(seed, step, device):
    """(device generator, CPU generator) for step `step`: draws depend on (seed, step) only."""
    base = (seed * 1_000_003 + step * 7_919) % (2 ** 62)
    device_gen = torch.Generator(device=device)
    device_gen.manual_seed(base)
    cpu_gen = torch.Generator()
    cpu_gen.manual_seed(base + 1)
    return device_gen, cpu_gen


class GarTrainer:
    def __init__(self, network, train, crops, normal_maps, device, judges=None):
        self.network, self.config, self.device = dict(network), dict(DEFAULT_TRAIN, **train), device
        self.crops, self.normal_maps = crops, normal_maps
        R = network['resolution']
        if crops.resolution != R or normal_maps.resolution != R:
            raise ValueError(f'crops ({crops.resolution}²) and normal maps ({normal_maps.resolution}²) must be at the GAR resolution {R}²')
        batch = self.config['batchSize']
        if batch % min(network['mbstdGroupSize'], batch) != 0:
            raise ValueError(f'batch {batch} is not a multiple of the minibatch-stddev group {network["mbstdGroupSize"]}')
        if self.config['identityWeight'] > 0 and batch % 2:
            raise ValueError('identityWeight > 0 pairs the samples: the batch size must be even')
        seed = self.config['seed']
        torch.manual_seed(seed * 3 + 1)  # initialisation from the seed (TS: G from seed·3+1, D from seed·3+2)
        self.G = Generator(network).to(device)
        self.G_ema = Generator(network).to(device)
        self.G_ema.load_state_dict(self.G.state_dict())
        self.G_ema.requires_grad_(False)
        torch.manual_seed(seed * 3 + 2)
        self.D = Discriminator(network).to(device)
        lr = self.config['learningRate']
        self.opt_G = Adam(list(self.G.named_parameters()), lr)
        self.opt_D = Adam(list(self.D.named_parameters()), lr)
        self.step, self.path_length_mean = 0, 0.0
        self.judges = judges or {}
        for name, key in (('normal', 'normalWeight'), ('landmark', 'landmarkWeight'), ('identity', 'identityWeight')):
            if self.config[key] > 0 and name not in self.judges:
                raise ValueError(f'{key} > 0 needs the {name} judge')

    def _latents(self, rows, cpu_gen, device_gen):
        z = torch.randn([rows, self.network['zDim']], device=self.device, generator=device_gen)
        mixing = {}
        if torch.rand([], generator=cpu_gen).item() < self.config['styleMixingProbability']:
            num_ws = self.G.num_ws
            cutoff = 1 + int(torch.randint(num_ws - 1, [], generator=cpu_gen)) if torch.rand([], generator=cpu_gen).item() < 0.5 else num_ws
            mixing = {'mixing_z': torch.randn([rows, self.network['zDim']], device=self.device, generator=device_gen), 'mixing_cutoff': cutoff}
        return z, mixing

    def _terms(self, step):
        c, terms = self.config, []
        if c['normalWeight'] > 0:
            terms.append(('normal', c['normalWeight']))
        if c['landmarkWeight'] > 0 and step % c['landmarkInterval'] == 0:
            terms.append(('landmark', c['landmarkWeight'] * c['landmarkInterval']))
        if c['identityWeight'] > 0 and step % c['identityInterval'] == 0:
            terms.append(('identity', c['identityWeight'] * c['identityInterval']))
        return terms

    def train_step(self):
        """One G step and one D step; returns the step's losses as 0-d tensors (no host sync)."""
        c, batch = self.config, self.config['batchSize']
        self.step += 1
        device_gen, cpu_gen = seeded_generators(c['seed'], self.step, self.device)
        losses = {}
        terms = self._terms(self.step)

        # Generator: non-saturating loss (+ consistency terms); a batch of pairs when the identity loss is due.
        paired = any(name == 'identity' for name, _ in terms)
        maps = self.normal_maps.sample_pairs(batch // 2, device_gen) if paired else self.normal_maps.sample(batch, device_gen)
        z, mixing = self._latents(batch // 2 if paired else batch, cpu_gen, device_gen)
        self.D.requires_grad_(False)
        ws = self.G.map_latents(z, update_w_avg=True, **mixing)
        if paired:
            ws = ws.repeat_interleave(2, dim=0)  # one w per pair, exactly equal in both rows
        images = self.G.synthesize(ws, maps['normals'], noise_generator=device_gen)
        adversarial = F.softplus(-self.D(images)).mean()
        loss = adversarial
        for name, weight in terms:
            value = self.judges[name](images, maps)
            losses[name] = value.detach()
            loss = loss + value * weight
        loss.backward()
        self.opt_G.apply()
        self.D.requires_grad_(True)
        losses['G'] = adversarial.detach()

        if c['pathLengthWeight'] > 0 and self.step % c['pathLengthInterval'] == 0:
            losses['pathLength'] = self._path_length_step(device_gen, cpu_gen)

        # Discriminator: fakes (no gradient to G) vs mirrored reals, plus lazy R1 on reals.
        with torch.no_grad():
            d_maps = self.normal_maps.sample(batch, device_gen)
            dz, dmixing = self._latents(batch, cpu_gen, device_gen)
            fakes = self.G.synthesize(self.G.map_latents(dz, **dmixing), d_maps['normals'], noise_generator=device_gen)
        reals = self.crops.sample(batch, device_gen, mirror=c['mirrorReal'])
        with_r1 = c['r1Gamma'] > 0 and self.step % c['r1Interval'] == 0
        if with_r1:
            reals.requires_grad_(True)
        real_logits = self.D(reals)
        adversarial_d = F.softplus(self.D(fakes)).mean() + F.softplus(-real_logits).mean()
        loss_d = adversarial_d
        if with_r1:
            (gradient,) = torch.autograd.grad(real_logits.sum(), reals, create_graph=True)
            penalty = gradient.square().sum(dim=(1, 2, 3)).mean() * (c['r1Gamma'] / 2)
            loss_d = loss_d + penalty * c['r1Interval']
            losses['r1'] = penalty.detach()
        loss_d.backward()
        self.opt_D.apply()
        losses['D'] = adversarial_d.detach()
        self.update_ema()
        return losses

    @torch.no_grad()
    def update_ema(self):
        batch = self.config['batchSize']
        images_seen = self.step * batch
        half_life = self.config['emaKimg'] * 1000
        ema_images = min(half_life, images_seen * self.config['emaRampup']) if self.config['emaRampup'] > 0 else half_life  # 0: no ramp-up (as train-gar.ts)
        beta = 0.5 ** (batch / max(ema_images, 1e-8))
        ema_params = [p for _, p in self.G_ema.named_parameters()]
        params = [p for _, p in self.G.named_parameters()]
        torch._foreach_mul_(ema_params, beta)
        torch._foreach_add_(ema_params, params, alpha=1 - beta)
        for (_, e), (_, b) in zip(self.G_ema.named_buffers(), self.G.named_buffers()):
            e.copy_(b)  # w̄ is copied, not averaged (adam.ts updateEma)

    def _path_length_step(self, device_gen, cpu_gen):
        """StyleGAN2 path-length regularisation as train-gar.ts pathLengthStep (noise off, its own Adam step)."""
        n = max(1, self.config['batchSize'] // 2)
        R = self.network['resolution']
        maps = self.normal_maps.sample(n, device_gen)
        z, mixing = self._latents(n, cpu_gen, device_gen)
        ws = self.G.map_latents(z, **mixing)  # not detached: the penalty reaches the mapping through ws, as in StyleGAN2
        projection = torch.randn([n, 3, R, R], device=self.device, generator=device_gen) / R
        images = self.G.synthesize(ws, maps['normals'])
        (ws_gradient,) = torch.autograd.grad((images * projection).sum(), ws, create_graph=True)
        lengths = ws_gradient.square().sum(dim=2).mean(dim=1).sqrt()
        penalty = (lengths - self.path_length_mean).square().mean()
        (penalty * self.config['pathLengthWeight'] * self.config['pathLengthInterval']).backward()
        self.opt_G.apply()
        self.path_length_mean += 0.01 * (lengths.detach().mean().item() - self.path_length_mean)
        return (penalty * self.config['pathLengthWeight']).detach()
