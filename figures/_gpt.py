"""A small causal transformer shared by the trained figures, and its optimiser helpers.

nanoGPT (Karpathy 2022) trimmed to what tiny synthetic tasks need: a config dataclass,
pre-LayerNorm blocks (Radford et al. 2019), attention through F.scaled_dot_product_attention,
learned positions or rotary ones (RoPE, Su et al. 2021: attention by relative offset, which
copying tasks need), optional tied embeddings (Press & Wolf 2017). `layernorm=False` and
`act="relu"` give the grokking model of Nanda et al. 2023 (no LayerNorm, ReLU MLP).
"""

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class GPTConfig:
    vocab_size: int
    block_size: int           # longest sequence the position table covers
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    d_mlp: int = 0            # 0 means 4·n_embd, as in GPT-2
    act: str = "gelu"         # "relu" for Nanda et al. 2023
    layernorm: bool = True    # Nanda et al. 2023 train without it
    tied: bool = True         # output head shares the token embedding
    rope: bool = False        # rotary positions instead of a learned position table


def rotary(x, base=10000.0):
    """Rotate channel pairs (i, i + hd/2) of q or k (B, H, T, hd) by an angle proportional to
    the position, so that q·k depends only on the offset between positions (Su et al. 2021;
    the half-split layout of GPT-NeoX)."""
    T, hd = x.shape[-2], x.shape[-1]
    inv_freq = base ** (-torch.arange(0, hd, 2, device=x.device, dtype=torch.float32) / hd)
    angle = torch.arange(T, device=x.device, dtype=torch.float32)[:, None] * inv_freq
    angle = torch.cat([angle, angle], -1)
    x1, x2 = x.chunk(2, dim=-1)
    return x * angle.cos().to(x.dtype) + torch.cat([-x2, x1], -1) * angle.sin().to(x.dtype)


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        assert cfg.n_embd % cfg.n_head == 0
        self.n_head = cfg.n_head
        self.rope = cfg.rope
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=False)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=False)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if self.rope:
            q, k = rotary(q), rotary(k)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # fused kernel where there is one
        return self.proj(y.transpose(1, 2).contiguous().view(B, T, C))


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        hidden = cfg.d_mlp or 4 * cfg.n_embd
        self.fc = nn.Linear(cfg.n_embd, hidden, bias=True)
        self.proj = nn.Linear(hidden, cfg.n_embd, bias=True)
        self.act = F.relu if cfg.act == "relu" else F.gelu

    def forward(self, x):
        return self.proj(self.act(self.fc(x)))


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        norm = (lambda: nn.LayerNorm(cfg.n_embd)) if cfg.layernorm else nn.Identity
        self.ln1, self.attn, self.ln2, self.mlp = norm(), CausalSelfAttention(cfg), norm(), MLP(cfg)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = None if cfg.rope else nn.Embedding(cfg.block_size, cfg.n_embd)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd) if cfg.layernorm else nn.Identity()
        self.head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        if cfg.tied:
            self.head.weight = self.wte.weight
        # GPT-2 init: N(0, 0.02), residual projections scaled by 1/sqrt(2·n_layer).
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * cfg.n_layer) if name.endswith("proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx):
        """idx (B, T) token ids -> logits (B, T, vocab)."""
        x = self.wte(idx)
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(idx.shape[1], device=idx.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))

    def count_params(self, non_embedding=True):
        """Kaplan et al. 2020 count N without the embedding tables (the head too when tied)."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.wte.weight.numel() + (self.wpe.weight.numel() if self.wpe is not None else 0)
            if not self.cfg.tied:
                n -= self.head.weight.numel()
        return n


# -- training helpers shared by the figures ------------------------------------------------

def adamw(model, lr, weight_decay, betas=(0.9, 0.95)):
    """AdamW with decay on matrices only (nanoGPT's configure_optimizers)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas)


def cosine_lr(step, total, lr, warmup=0, floor=0.1):
    """Linear warmup then cosine decay to floor·lr at `total`; Hoffmann et al. 2022 match
    the schedule's length to the number of training tokens, so every run ends decayed."""
    if step < warmup:
        return lr * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t)))
