#!/usr/bin/python3
"""The PyTorch peer of `zoo train captioner`: Show and Tell on a COCO-captions folder.

Same recipe as zoo's default captioner: torchvision resnet18 from scratch as the encoder (its
layer4 map averaged), a Linear image embedding fed as the LSTM's first input, 256-wide word
embeddings, one 512-wide LSTM, dropout 0.3 before the output layer, Adam at 1e-3 without weight
decay, gradients clipped at norm 5, batch 64, a cosine learning-rate schedule over --epochs,
teacher forcing on one reference per image per epoch (picked at random), captions cut at 20
words, images resized to --size (bilinear) and normalised with ImageNet's mean and std, no
augmentation. Tokens: lower case, every ASCII punctuation character its own token (zoo's rule).

Trains until --epochs are done or SIGTERM arrives (the wall-clock budget `timeout -s TERM`
gives), keeping the weights with the best greedy BLEU-4 on val2017 after each epoch (each
epoch's line on stdout gives its training seconds, validation left out, and that BLEU-4); then
writes the beam-searched (beam 3, length normalisation 0.7, as `zoo eval`) captions of val2017
with those weights to --out as JSON: [{"file_name", "caption"}].

  timeout -s TERM 25m /usr/bin/python3 scripts/bench/caption_torch.py --data DIR --size 128 \\
      --threads 1 --out torch_captions.json
"""
import argparse
import json
import math
import os
import random
import signal
import string
import time

import numpy as np
import torch
import torch.nn as nn
import torchvision
from PIL import Image
from nltk.translate.bleu_score import corpus_bleu

PAD, START, END, UNK = 0, 1, 2, 3
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


def tokenize(text):
    out, word = [], ""
    for ch in text.lower():
        if ch.isspace():
            if word:
                out.append(word)
            word = ""
        elif ch in string.punctuation:
            if word:
                out.append(word)
            out.append(ch)
            word = ""
        else:
            word += ch
    if word:
        out.append(word)
    return out


def read_split(root, split):
    with open(os.path.join(root, "annotations", f"captions_{split}2017.json")) as f:
        j = json.load(f)
    files = {im["id"]: im["file_name"] for im in j["images"]}
    caps = {}
    for a in j["annotations"]:
        caps.setdefault(a["image_id"], []).append(tokenize(a["caption"]))
    ids = sorted(files)
    return [os.path.join(root, f"{split}2017", files[i]) for i in ids], [caps[i] for i in ids]


def load_images(paths, size):
    out = torch.empty(len(paths), 3, size, size, dtype=torch.uint8)
    for i, p in enumerate(paths):
        im = Image.open(p).convert("RGB").resize((size, size), Image.BILINEAR)
        out[i] = torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)
    return out


def normalise(batch):
    return (batch.float() / 255.0 - MEAN) / STD


class ShowAndTell(nn.Module):
    def __init__(self, vocab, embed=256, hidden=512, dropout=0.3):
        super().__init__()
        r = torchvision.models.resnet18(weights=None)
        self.encoder = nn.Sequential(*list(r.children())[:-2])  # up to layer4
        self.image_embed = nn.Linear(512, embed)
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab)

    def encode(self, images):
        return self.encoder(images).mean((2, 3))

    def forward(self, images, tokens):
        x = torch.cat([self.image_embed(self.encode(images)).unsqueeze(1), self.embed(tokens)], 1)
        out, _ = self.lstm(x)
        return self.head(self.dropout(out[:, 1:]))

    def start(self, pooled):
        _, state = self.lstm(self.image_embed(pooled).unsqueeze(1))
        return state

    def step(self, tokens, state):
        out, state = self.lstm(self.embed(tokens).unsqueeze(1), state)
        return torch.log_softmax(self.head(self.dropout(out[:, 0])), 1), state


def forbid(logp):
    logp[:, PAD] = -math.inf
    logp[:, START] = -math.inf
    return logp


@torch.no_grad()
def greedy(model, images, max_len=20):
    state = model.start(model.encode(images))
    last = torch.full((images.size(0),), START, dtype=torch.long)
    out = [[] for _ in range(images.size(0))]
    done = [False] * images.size(0)
    for _ in range(max_len):
        logp, state = model.step(last, state)
        last = forbid(logp).argmax(1)
        for i, t in enumerate(last.tolist()):
            if done[i]:
                continue
            if t == END:
                done[i] = True
            else:
                out[i].append(t)
        if all(done):
            break
    return out


@torch.no_grad()
def beam_search(model, image, beam=3, max_len=20, alpha=0.7):
    state = model.start(model.encode(image))
    live = [([], 0.0)]
    last = torch.tensor([START])
    finished = []

    def score(lp, n):
        return lp / (max(n, 1) ** alpha)

    for _ in range(max_len):
        h = state[0].expand(-1, len(live), -1).contiguous() if state[0].size(1) == 1 else state[0]
        c = state[1].expand(-1, len(live), -1).contiguous() if state[1].size(1) == 1 else state[1]
        logp, (h, c) = model.step(last, (h, c))
        totals = forbid(logp.double()) + torch.tensor([lp for _, lp in live], dtype=torch.double).unsqueeze(1)
        best, where = totals.flatten().topk(min(beam, totals.numel()))
        V = totals.size(1)
        kept, parents, tokens = [], [], []
        for b, w in zip(best.tolist(), where.tolist()):
            if not math.isfinite(b):
                break
            p, t = divmod(w, V)
            if t == END:
                finished.append((live[p][0], b, score(b, len(live[p][0]) + 1)))
                continue
            kept.append((live[p][0] + [t], b))
            parents.append(p)
            tokens.append(t)
        live = kept
        if not live:
            break
        idx = torch.tensor(parents)
        state = (h[:, idx], c[:, idx])
        last = torch.tensor(tokens)
    for words, lp in live:
        finished.append((words, lp, score(lp, len(words))))
    finished.sort(key=lambda f: -f[2])
    return finished[0][0] if finished else []


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))

    start = time.time()
    train_paths, train_caps = read_split(args.data, "train")
    val_paths, val_caps = read_split(args.data, "val")
    words = {}
    for caps in train_caps:
        for c in caps:
            for w in c:
                words[w] = words.get(w, 0) + 1
    itos = ["<pad>", "<start>", "<end>", "<unk>"] + sorted(words, key=lambda w: (-words[w], w))
    stoi = {w: i for i, w in enumerate(itos)}
    train_images = load_images(train_paths, args.size)
    val_images = load_images(val_paths, args.size)
    print(f"read {len(train_paths)} train / {len(val_paths)} val images, vocabulary {len(itos)} "
          f"in {time.time() - start:.1f} s", flush=True)

    model = ShowAndTell(len(itos))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=0.0)
    steps_per_epoch = math.ceil(len(train_paths) / args.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)
    best, best_state = -1.0, None
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train_paths)).tolist()
        t0, total, count = time.time(), 0.0, 0
        for b in range(0, len(order), args.batch_size):
            if stop["now"]:
                break
            idx = order[b:b + args.batch_size]
            seqs = []
            for i in idx:
                c = random.choice(train_caps[i])[:20]
                seqs.append([START] + [stoi.get(w, UNK) for w in c] + [END])
            T = max(len(s) for s in seqs)
            tokens = torch.full((len(seqs), T), PAD, dtype=torch.long)
            for i, s in enumerate(seqs):
                tokens[i, :len(s)] = torch.tensor(s)
            logits = model(normalise(train_images[idx]), tokens[:, :-1])
            loss = loss_fn(logits.reshape(-1, logits.size(-1)), tokens[:, 1:].reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            total += loss.item()
            count += 1
        train_s = time.time() - t0
        if stop["now"]:
            print(f"SIGTERM during epoch {epoch + 1}: stopping", flush=True)
            break
        model.eval()
        hyps = []
        for b in range(0, len(val_paths), 128):
            hyps += greedy(model, normalise(val_images[b:b + 128]))
        bleu4 = corpus_bleu(val_caps, [[itos[t] for t in h] for h in hyps])
        print(f"epoch {epoch + 1}: train loss {total / max(count, 1):.4f}, val greedy BLEU-4 {bleu4:.4f}, "
              f"training {train_s:.2f} s, {time.time() - t0:.0f} s with validation, {time.time() - start:.0f} s in all",
              flush=True)
        if bleu4 > best:
            best, best_state = bleu4, {k: v.clone() for k, v in model.state_dict().items()}
        if stop["now"]:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    out = []
    for i, p in enumerate(val_paths):
        words_out = beam_search(model, normalise(val_images[i:i + 1]))
        out.append({"file_name": os.path.basename(p), "caption": " ".join(itos[t] for t in words_out)})
    with open(args.out, "w") as f:
        json.dump(out, f)
    print(f"best greedy BLEU-4 {best:.4f}; wrote {len(out)} beam-3 captions to {args.out}", flush=True)


if __name__ == "__main__":
    main()
