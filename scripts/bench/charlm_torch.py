#!/usr/bin/env python3
"""The PyTorch peer of `zoo train charlm`: the same model (nn.Embedding, a batch-first nn.LSTM,
nn.Linear), the same text split (the last 10% validates), the same stream batches (B
contiguous streams, T characters per batch, the state carried and detached between batches),
Adam with gradient-norm clipping, a constant learning rate. Trains --steps steps, then
validates over the validation text read as contiguous streams from a zero state. Prints the
training throughput (characters/s, the training steps alone) and the validation bits per
character as JSON on stdout (throughput: the training loop's wall time, batching included).

Run with Debian's interpreter: /usr/bin/python3 scripts/bench/charlm_torch.py --data text.txt
"""
import argparse
import json
import math
import time

import torch
from torch import nn
import torch.nn.functional as F


class CharLm(nn.Module):
    def __init__(self, vocab, embed, hidden, layers, dropout):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.rnn = nn.LSTM(embed, hidden, layers, dropout=dropout if layers > 1 else 0.0, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        out, state = self.rnn(self.embed(x), state)
        return self.head(out), state


def streams_of(tokens, b):
    length = tokens.numel() // b
    return tokens[: b * length].view(b, length)


def batches(streams, t):
    length = streams.size(1)
    for begin in range(0, length - 1, t):
        steps = min(t, length - 1 - begin)
        yield streams[:, begin:begin + steps], streams[:, begin + 1:begin + 1 + steps]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--embed", type=int, default=64)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--bf16", action="store_true", help="CPU autocast to bfloat16")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    text = open(a.data, "rb").read().decode("utf-8")
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    tokens = torch.tensor([index[c] for c in text], dtype=torch.int64)
    n_val = round(len(tokens) * 0.1)
    train, val = tokens[: len(tokens) - n_val], tokens[len(tokens) - n_val:]

    model = CharLm(len(vocab), a.embed, a.hidden, a.layers, 0.0)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, weight_decay=0.0)
    model.train()
    state, step, chars = None, 0, 0
    t0 = time.perf_counter()
    while step < a.steps:
        state = None  # a new epoch starts from zeros
        for x, y in batches(streams_of(train, a.batch_size), a.seq_len):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
                logits, state = model(x, state)
                state = tuple(s.detach() for s in state)
                loss = F.cross_entropy(logits.float().reshape(-1, len(vocab)), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), a.clip)
            opt.step()
            loss.item()
            chars += y.numel()
            step += 1
            if step == a.steps:
                break

    seconds = time.perf_counter() - t0

    model.eval()
    total, count, state = 0.0, 0, None
    val_streams = max(1, min(a.batch_size, val.numel() // (a.seq_len + 1)))
    with torch.no_grad():
        for x, y in batches(streams_of(val, val_streams), a.seq_len):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.bf16):
                logits, state = model(x, state)
            total += F.cross_entropy(logits.float().reshape(-1, len(vocab)), y.reshape(-1), reduction="sum").item()
            count += y.numel()
    print(json.dumps({"chars_per_s": chars / seconds, "val_bpc": total / count / math.log(2),
                      "steps": step, "vocab": len(vocab)}))


if __name__ == "__main__":
    main()
