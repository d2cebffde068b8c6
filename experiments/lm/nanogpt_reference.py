"""
nanoGPT's char-level CPU anchor, in PyTorch, as the peer for `lm train --preset nanogpt-char`.

A self-contained transcription of what nanoGPT's train.py + model.py do for the README's "baby GPT"
command (config/train_shakespeare_char.py with --device=cpu --compile=False --eval_iters=20
--block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128 --max_iters=2000
--lr_decay_iters=2000 --dropout=0.0): the same modules in the same construction order (so
torch.manual_seed(1337) gives nanoGPT's initial weights), the same get_batch calls in the same order
(first batch prefetched before the loop, estimate_loss drawing from the same global generator), the
same AdamW groups, schedule, clipping and evaluation. Dropout is 0, so it is left out (p = 0 draws no
random numbers in PyTorch).

    python3 experiments/lm/nanogpt_reference.py --seed 1337 [--json out.json]

Needs PyTorch (Debian: python3-torch). Prints the train/val estimates at every eval_interval and the
final step, the wall time and tokens/s.
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn as nn
from torch.nn import functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, '..', '..', 'data', 'tinyshakespeare', 'input.txt')


class LayerNorm(nn.Module):
    def __init__(self, ndim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class CausalSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_attn = nn.Linear(c.n_embd, 3 * c.n_embd, bias=c.bias)
        self.c_proj = nn.Linear(c.n_embd, c.n_embd, bias=c.bias)
        self.n_head = c.n_head
        self.n_embd = c.n_embd
        self.register_buffer('mask', torch.tril(torch.ones(c.block_size, c.block_size)).view(1, 1, c.block_size, c.block_size))

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(self.n_embd, dim=2)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float('-inf'))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc = nn.Linear(c.n_embd, 4 * c.n_embd, bias=c.bias)
        self.gelu = nn.GELU(approximate=getattr(c, 'gelu', 'none'))
        self.c_proj = nn.Linear(4 * c.n_embd, c.n_embd, bias=c.bias)

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1 = LayerNorm(c.n_embd, bias=c.bias)
        self.attn = CausalSelfAttention(c)
        self.ln_2 = LayerNorm(c.n_embd, bias=c.bias)
        self.mlp = MLP(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(c.vocab_size, c.n_embd),
            wpe=nn.Embedding(c.block_size, c.n_embd),
            h=nn.ModuleList([Block(c) for _ in range(c.n_layer)]),
            ln_f=LayerNorm(c.n_embd, bias=c.bias),
        ))
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying
        self.apply(self._init_weights)
        for pn, p in self.named_parameters():
            if pn.endswith('c_proj.weight'):
                torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                torch.nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx, targets):
        T = idx.size(1)
        pos = torch.arange(0, T, dtype=torch.long)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)


class Config:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def train(text, seed=1337, iters=2000, eval_interval=250, eval_iters=20, log=print, legacy=False):
    """nanoGPT's loop for the anchor configuration: (evaluations, per-step training losses, seconds in steps)."""
    # prepare.py: the character vocabulary of the whole text; first 90% train, last 10% val.
    chars = sorted(set(text))
    stoi = {ch: i for i, ch in enumerate(chars)}
    ids = np.array([stoi[ch] for ch in text], dtype=np.uint16)
    n = len(ids)
    train_data, val_data = ids[: int(n * 0.9)], ids[int(n * 0.9):]

    block_size, batch_size = 64, 12
    lr_max, min_lr, warmup_iters, lr_decay_iters = 1e-3, 1e-4, 100, iters
    max_iters, weight_decay, beta1, beta2, grad_clip = iters, 1e-1, 0.9, 0.99, 1.0

    torch.manual_seed(seed)

    def get_batch(split):
        data = train_data if split == 'train' else val_data
        ix = torch.randint(len(data) - block_size, (batch_size,))
        x = torch.stack([torch.from_numpy(data[i:i + block_size].astype(np.int64)) for i in ix])
        y = torch.stack([torch.from_numpy(data[i + 1:i + 1 + block_size].astype(np.int64)) for i in ix])
        return x, y

    c = Config(vocab_size=len(chars), block_size=block_size, n_layer=4, n_head=4, n_embd=128, bias=False,
               gelu='tanh' if legacy else 'none')
    model = GPT(c)
    params = {pn: p for pn, p in model.named_parameters() if p.requires_grad}
    if legacy:  # early-2023 nanoGPT (minGPT's grouping): only Linear weights decay; wte (= lm_head) and wpe do not
        decay = [p for pn, p in params.items() if p.dim() >= 2 and not pn.endswith(('wte.weight', 'wpe.weight'))]
        nodecay = [p for pn, p in params.items() if not (p.dim() >= 2 and not pn.endswith(('wte.weight', 'wpe.weight')))]
    else:
        decay = [p for p in params.values() if p.dim() >= 2]
        nodecay = [p for p in params.values() if p.dim() < 2]
    opt = torch.optim.AdamW([
        {'params': decay, 'weight_decay': weight_decay},
        {'params': nodecay, 'weight_decay': 0.0},
    ], lr=lr_max, betas=(beta1, beta2))

    @torch.no_grad()
    def estimate_loss():
        out = {}
        model.eval()
        for split in ['train', 'val']:
            losses = torch.zeros(eval_iters)
            for k in range(eval_iters):
                X, Y = get_batch(split)
                losses[k] = model(X, Y).item()
            out[split] = losses.mean().item()
        model.train()
        return out

    def get_lr(it):
        if it < warmup_iters:  # early-2023 nanoGPT: lr * it / warmup_iters
            return lr_max * it / warmup_iters if legacy else lr_max * (it + 1) / (warmup_iters + 1)
        if it > lr_decay_iters:
            return min_lr
        ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr_max - min_lr)

    history, step_losses, train_s = [], [], 0.0
    X, Y = get_batch('train')  # nanoGPT fetches the very first batch before the loop
    it = 0
    while True:
        lr = get_lr(it)
        for g in opt.param_groups:
            g['lr'] = lr
        if it % eval_interval == 0 or it == max_iters:
            losses = estimate_loss()
            history.append({'step': it, 'train_loss': losses['train'], 'val_loss': losses['val'], 'lr': lr})
            log(f"step {it}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")
        if it == max_iters:  # nanoGPT then does one more update before its `iter_num > max_iters` break
            break
        t0 = time.time()
        loss = model(X, Y)
        X, Y = get_batch('train')
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step_losses.append(loss.item())
        train_s += time.time() - t0
        it += 1
    return history, step_losses, train_s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--data', default=DEFAULT_DATA)
    ap.add_argument('--seed', type=int, default=1337)
    ap.add_argument('--iters', type=int, default=2000)
    ap.add_argument('--threads', type=int, default=0, help='torch threads (0: PyTorch default)')
    ap.add_argument('--json', help='write the history and summary here')
    ap.add_argument('--legacy', action='store_true', help='nanoGPT as of early 2023 (when its README quoted 1.88): tanh GELU, '
                    'weight decay on Linear weights only (not the embeddings), warm-up lr * it / warmup_iters')
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    text = open(a.data, encoding='utf-8').read()
    t0 = time.time()
    history, step_losses, train_s = train(text, seed=a.seed, iters=a.iters, log=lambda m: print(m, flush=True), legacy=a.legacy)
    wall = time.time() - t0
    tokens = a.iters * 12 * 64
    summary = {'seed': a.seed, 'legacy': a.legacy, 'val_loss': history[-1]['val_loss'], 'train_loss': history[-1]['train_loss'],
               'wall_seconds': wall, 'train_seconds': train_s, 'tokens_per_second': tokens / train_s,
               'torch': torch.__version__, 'threads': torch.get_num_threads(), 'history': history, 'step_losses': step_losses}
    print(f"seed {a.seed}: val {summary['val_loss']:.4f} train {summary['train_loss']:.4f}, "
          f"{wall:.0f} s wall, {summary['tokens_per_second']:.0f} tokens/s in training steps", flush=True)
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(summary, f, indent=2)


if __name__ == '__main__':
    main()
