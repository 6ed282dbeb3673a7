#!/usr/bin/python3
"""PyTorch references of heed's three shipped graphs, written the way people
write them in PyTorch and computing exactly what the YAML files compute:

    bahdanau   graphs/bahdanau_seq2seq.yaml    BahdanauSeq2Seq
    luong      graphs/luong_dot_seq2seq.yaml   LuongSeq2Seq
    encoder    graphs/self_attention_encoder.yaml  SelfAttentionEncoder

Same parameters (shapes and counts: check_params asserts them against `heed
inspect`), same padding rules (pad id 0: packed-sequence recurrences, masked
attention, masked pooling, pad targets ignored by the loss), same optimizer
(Adam, the graph's lr, clipping by global norm). Parameter names follow heed's
(heed_state_dict), so weights move between the two sides name for name.

Run as a script it checks the references against heed: parameter names,
shapes and counts, then the logits and the loss of `heed run` on weights and
ragged inputs written from PyTorch, then greedy decoding (`heed infer`):

    /usr/bin/python3 bench/torch_graphs.py [--only NAME]
"""
import argparse
import json
import os
import re
import tempfile
from dataclasses import dataclass

from common import require_torch

require_torch()
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from common import ROOT, heed_binary, heed_param_counts, read_safetensors, run, write_safetensors

PAD, UNK, BOS, EOS = 0, 1, 2, 3  # heed's reserved ids


# ------------------------------------------------------------ padding

def lengths_of(ids):
    """Row lengths [B] of padded ids [B, T], as heed counts them: up to the last
    id that is not the pad id."""
    steps = torch.arange(1, ids.shape[1] + 1).expand_as(ids)
    return (steps * (ids != PAD)).max(dim=1).values


def padding_mask(lengths, steps):
    """[B, steps], True at the padded positions."""
    return torch.arange(steps)[None, :] >= lengths[:, None]


def run_rnn(rnn, x, lengths, state=None):
    """nn.GRU / nn.LSTM over a padded batch with heed's (packed-sequence)
    semantics: outputs past a row's length are zero and the final state is the
    one at its last real step, in both directions. Full batches skip packing."""
    steps = x.shape[1]
    if bool((lengths == steps).all()):
        return rnn(x, state)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, state = rnn(packed, state)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=steps)
    return out, state


def masked_softmax(scores, pad):
    """Softmax over the last axis with the padded positions (pad [B, S],
    broadcast over the middle axes) given zero weight."""
    pad = pad.view(pad.shape[0], *([1] * (scores.dim() - 2)), pad.shape[1])
    return scores.masked_fill(pad, float("-inf")).softmax(dim=-1)


def sinusoids(steps, width):
    """Vaswani et al.'s positions: PE[p, 2i] = sin(p / 10000^(2i/E)),
    PE[p, 2i+1] = cos(the same), computed in double precision like heed."""
    pos = torch.arange(steps, dtype=torch.float64)[:, None]
    rate = torch.pow(10000.0, -torch.arange(0, width, 2, dtype=torch.float64) / width)
    pe = torch.zeros(steps, width, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * rate)
    pe[:, 1::2] = torch.cos(pos * rate[: width // 2])
    return pe.float()


# ------------------------------------------------------------ seq2seq

class Seq2Seq(nn.Module):
    """What both encoder-decoders share: the loss of teacher forcing (the
    logits at step t scored against the target at t+1, pad targets ignored,
    heed's `shift: 1`) and greedy decoding of exactly `steps` tokens."""

    def loss(self, src, tgt):
        logits = self(src, tgt)[:, :-1]
        return functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1),
                               ignore_index=PAD)

    def greedy(self, src, steps):
        """Greedy decoding, the encoder run once, then `steps` decoder steps,
        each fed the previous step's best token (<bos> first); no early stop.
        Returns the tokens [B, steps]."""
        memory, state = self.encode(src)
        token = torch.full((src.shape[0],), BOS, dtype=torch.long)
        out = []
        for _ in range(steps):
            logits, state = self.step(token, state, memory)
            token = logits.argmax(dim=1)
            out.append(token)
        return torch.stack(out, dim=1)


class AdditiveAttention(nn.Module):
    """Bahdanau scores v . tanh(Wq s + Wk m_j + bk) of memory [B, S, Dm] for a
    state s [B, H]; the key projection is computed once per source."""

    def __init__(self, query, memory, units):
        super().__init__()
        self.query_proj = nn.Linear(query, units, bias=False)
        self.key_proj = nn.Linear(memory, units)
        self.v = nn.Linear(units, 1, bias=False)

    def forward(self, state, memory, keys, pad):
        scores = self.v(torch.tanh(self.query_proj(state)[:, None, :] + keys)).squeeze(2)
        weights = masked_softmax(scores, pad)
        return torch.bmm(weights[:, None, :], memory).squeeze(1)


class AttentiveGRU(nn.Module):
    """heed's `GRU` with `attention:`: at each step the previous state attends
    to the memory and the cell reads [input; context]."""

    def __init__(self, inputs, memory, hidden):
        super().__init__()
        self.cell = nn.GRUCell(inputs + memory, hidden)
        self.attention = AdditiveAttention(hidden, memory, hidden)

    def forward(self, x, state, memory, keys, pad):
        """One step: x [B, In], state [B, H] -> (new state, context)."""
        context = self.attention(state, memory, keys, pad)
        return self.cell(torch.cat([x, context], dim=1), state), context


class BahdanauSeq2Seq(Seq2Seq):
    """graphs/bahdanau_seq2seq.yaml: a bidirectional GRU encoder; the decoder
    starts from tanh(W [h_fwd; h_bwd] + b) and attends (additive scores) from
    its previous state at each step; logits from [output; context; embedded
    token]."""

    yaml = "graphs/bahdanau_seq2seq.yaml"
    lr, clip = 0.002, 5.0

    def __init__(self, V_src, V_tgt, E=16, H=256):
        super().__init__()
        self.src_emb = nn.Embedding(V_src, E, padding_idx=PAD)
        self.enc = nn.GRU(E, H, batch_first=True, bidirectional=True)
        self.init = nn.Linear(2 * H, H)
        self.tgt_emb = nn.Embedding(V_tgt, E, padding_idx=PAD)
        self.dec = AttentiveGRU(E, 2 * H, H)
        self.logits = nn.Linear(H + 2 * H + E, V_tgt)

    def encode(self, src):
        """What the decoder reads (encoder states [B, S, 2H], their key
        projection, the padding mask) and its first state [B, H]."""
        lengths = lengths_of(src)
        memory, last = run_rnn(self.enc, self.src_emb(src), lengths)
        state = torch.tanh(self.init(torch.cat([last[0], last[1]], dim=1)))
        keys = self.dec.attention.key_proj(memory)
        return (memory, keys, padding_mask(lengths, src.shape[1])), state

    def forward(self, src, tgt):
        """Teacher forcing: logits [B, T, V_tgt] for the decoder inputs tgt."""
        (memory, keys, pad), state = self.encode(src)
        emb = self.tgt_emb(tgt)
        outs, contexts = [], []
        for t in range(tgt.shape[1]):
            state, context = self.dec(emb[:, t], state, memory, keys, pad)
            outs.append(state)
            contexts.append(context)
        return self.logits(torch.cat([torch.stack(outs, 1), torch.stack(contexts, 1), emb], dim=2))

    def step(self, token, state, memory):
        """One decoder step: logits [B, V_tgt] and the new state."""
        emb = self.tgt_emb(token)
        state, context = self.dec(emb, state, *memory)
        return self.logits(torch.cat([state, context, emb], dim=1)), state


def dot_attention(queries, memory, pad):
    """Luong dot scores of every query [B, T, H] against memory [B, S, H]:
    the contexts [B, T, H]."""
    weights = masked_softmax(torch.bmm(queries, memory.transpose(1, 2)), pad)
    return torch.bmm(weights, memory)


class LuongSeq2Seq(Seq2Seq):
    """graphs/luong_dot_seq2seq.yaml: an LSTM encoder; an LSTM decoder starting
    from the encoder's last h (c = 0); every decoder state attends to all
    encoder states (dot scores); logits from [context; decoder state]."""

    yaml = "graphs/luong_dot_seq2seq.yaml"
    lr, clip = 0.002, 5.0

    def __init__(self, V_src, V_tgt, E=16, H=256):
        super().__init__()
        self.src_emb = nn.Embedding(V_src, E, padding_idx=PAD)
        self.enc = nn.LSTM(E, H, batch_first=True)
        self.tgt_emb = nn.Embedding(V_tgt, E, padding_idx=PAD)
        self.dec = nn.LSTM(E, H, batch_first=True)
        self.logits = nn.Linear(2 * H, V_tgt)

    def encode(self, src):
        """What the decoder reads (encoder states [B, S, H], the padding mask)
        and its first state (the encoder's last h, c = 0; [1, B, H] each)."""
        lengths = lengths_of(src)
        memory, (h, _) = run_rnn(self.enc, self.src_emb(src), lengths)
        return (memory, padding_mask(lengths, src.shape[1])), (h, torch.zeros_like(h))

    def forward(self, src, tgt):
        """Teacher forcing: logits [B, T, V_tgt] for the decoder inputs tgt."""
        (memory, pad), state = self.encode(src)
        dec, _ = self.dec(self.tgt_emb(tgt), state)
        return self.logits(torch.cat([dot_attention(dec, memory, pad), dec], dim=2))

    def step(self, token, state, memory):
        """One decoder step: logits [B, V_tgt] and the new (h, c)."""
        dec, state = self.dec(self.tgt_emb(token)[:, None, :], state)
        context = dot_attention(dec, *memory)
        return self.logits(torch.cat([context, dec], dim=2)).squeeze(1), state


# ------------------------------------------------------------ encoder

class EncoderLayer(nn.Module):
    """The graph's encoder_layer block (post-norm): x = LayerNorm(x +
    Dropout(MHA(x))); x = LayerNorm(x + Dropout(W2 gelu(W1 x))) with the exact
    (erf) GELU. Unlike nn.TransformerEncoderLayer, no dropout after the GELU."""

    def __init__(self, E, heads, F, dropout):
        super().__init__()
        self.attn = nn.MultiheadAttention(E, heads, dropout=dropout, batch_first=True)
        self.drop1 = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(E)
        self.ff1 = nn.Linear(E, F)
        self.ff2 = nn.Linear(F, E)
        self.drop2 = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(E)

    def forward(self, x, pad):
        a, _ = self.attn(x, x, x, key_padding_mask=pad, need_weights=False)
        x = self.norm1(x + self.drop1(a))
        return self.norm2(x + self.drop2(self.ff2(torch.nn.functional.gelu(self.ff1(x)))))


class SelfAttentionEncoder(nn.Module):
    """graphs/self_attention_encoder.yaml: embedding + sinusoidal
    positions (no sqrt(E) scaling), 2 encoder layers (4 heads, dropout 0.1), mean over the real
    positions, one Affine layer to C scores."""

    yaml = "graphs/self_attention_encoder.yaml"
    lr, clip = 0.0005, 1.0

    def __init__(self, V, C, E=256, F=1024, heads=4, layers=2, dropout=0.1):
        super().__init__()
        self.emb = nn.Embedding(V, E, padding_idx=PAD)
        self.layers = nn.ModuleList(EncoderLayer(E, heads, F, dropout) for _ in range(layers))
        self.logits = nn.Linear(E, C)
        self.register_buffer("pe", sinusoids(512, E), persistent=False)

    def forward(self, text):
        """Class scores [B, C] of padded character ids text [B, L]."""
        L, E = text.shape[1], self.emb.embedding_dim
        if L > self.pe.shape[0]:
            self.pe = sinusoids(L, E)
        lengths = lengths_of(text)
        pad = padding_mask(lengths, L)
        x = self.emb(text) + self.pe[:L]
        for layer in self.layers:
            x = layer(x, pad)
        pooled = (x * ~pad[:, :, None]).sum(dim=1) / lengths[:, None]
        return self.logits(pooled)

    def loss(self, text, label):
        return functional.cross_entropy(self(text), label, ignore_index=PAD)


# ------------------------------------------------------------ registry

@dataclass(frozen=True)
class Graph:
    """A shipped graph: its reference class, fixed dims, data dims, inputs."""
    cls: type
    fixed: dict      # the fixed dims compared (issue 7's; given to heed too)
    inputs: tuple    # (input name, vocabulary dim, length dim); length None: [B]
    targets: int     # how many of the last inputs only the loss reads


GRAPHS = {
    "bahdanau": Graph(BahdanauSeq2Seq, {"E": 16, "H": 256},
                      (("src", "V_src", "S"), ("tgt", "V_tgt", "T")), 0),
    "luong": Graph(LuongSeq2Seq, {"E": 16, "H": 256},
                   (("src", "V_src", "S"), ("tgt", "V_tgt", "T")), 0),
    "encoder": Graph(SelfAttentionEncoder, {"E": 256, "F": 1024},
                     (("text", "V", "L"), ("label", "C", None)), 1),
}


def yaml_path(name):
    return os.path.join(ROOT, GRAPHS[name].cls.yaml)


def build(name, dims, seed=1):
    """The reference model of graph `name` at `dims` (batch and length dims
    are ignored), its parameters initialised from `seed`."""
    g = GRAPHS[name]
    torch.manual_seed(seed)
    args = {k: v for k, v in dims.items() if k not in ("B", "S", "T", "L")}
    return g.cls(**{**g.fixed, **args})


def optimizer(model):
    """Adam with the graph's learning rate (betas, eps: heed's defaults)."""
    return torch.optim.Adam(model.parameters(), lr=model.lr)


def train_step(model, opt, inputs):
    """One training step as heed's: forward, loss, backward, clipping by the
    global gradient norm, Adam. Returns the loss."""
    opt.zero_grad()
    loss = model.loss(*inputs)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), model.clip)
    opt.step()
    return loss


def random_inputs(name, dims, ragged=False, seed=7):
    """Random ids for the graph's inputs, avoiding the reserved ids like `heed
    bench`; ragged: every row but the first ends at a random length."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _, vocab, length in GRAPHS[name].inputs:
        shape = (dims["B"],) if length is None else (dims["B"], dims[length])
        ids = torch.randint(4, dims[vocab], shape, generator=gen)
        if ragged and length is not None:
            keep = torch.randint(1, dims[length] + 1, (dims["B"], 1), generator=gen)
            keep[0] = dims[length]
            ids = ids.masked_fill(padding_mask(keep[:, 0], dims[length]), PAD)
        out.append(ids)
    return out


def heed_state_dict(model):
    """The model's parameters under heed's names: PyTorch's, except that the
    nn.GRUCell `cell` of a decoder holds its node's layer-0 weights
    (dec.cell.weight_ih is heed's dec.weight_ih_l0)."""
    return {re.sub(r"\.cell\.(\w+)$", r".\1_l0", k): v for k, v in model.state_dict().items()}


def check_params(name, dims):
    """Asserts that the reference has as many parameters as heed's graph at
    `dims`; returns the count."""
    heed = sum(heed_param_counts(yaml_path(name), dims).values())
    mine = sum(p.numel() for p in build(name, dims).parameters())
    assert mine == heed, f"{name}: PyTorch has {mine} parameters, heed {heed}"
    return mine


# ------------------------------------------------------------ checking against heed

CHECK_DIMS = {
    "bahdanau": {"B": 5, "S": 9, "T": 7, "V_src": 14, "V_tgt": 12},
    "luong": {"B": 5, "S": 9, "T": 7, "V_src": 14, "V_tgt": 12},
    "encoder": {"B": 5, "L": 11, "V": 14, "C": 7},
}
# both sides at the compared fixed sizes, whatever the YAML's defaults
CHECK_DIMS = {name: {**dims, **GRAPHS[name].fixed} for name, dims in CHECK_DIMS.items()}
# the tokens of the check's vocabularies: single characters, in byte order
CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"


def vocabulary(size):
    return ["<pad>", "<unk>", "<bos>", "<eos>"] + list(CHARS[: size - 4])


def check_model(name, dims):
    """The reference with its initial weights scaled up 3x, so the checks
    exercise the nonlinearities and what is decoded depends on the source (at
    PyTorch's initial scale every source decodes to nearly the same tokens)."""
    model = build(name, dims).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    return model


def save_for_heed(name, model, dims, path):
    """Writes the model's weights as heed's weights file: tensors under heed's
    names, the fixed dims and the vocabularies in the metadata."""
    g = GRAPHS[name]
    meta = {"heed.dims": ",".join(f"{k}={v}" for k, v in g.fixed.items())}
    for _, vocab, _ in g.inputs:
        meta[f"heed.vocab.{vocab}"] = json.dumps(vocabulary(dims[vocab]))
    write_safetensors(path, heed_state_dict(model), meta)


def heed(*args):
    return run([heed_binary(), *args])


def check_forward(name, tmp):
    """heed run on PyTorch's weights and ragged inputs: logits (at real
    positions) and loss must agree. Returns the largest difference of the
    logits relative to their largest magnitude, and the loss's difference."""
    dims = CHECK_DIMS[name]
    model = check_model(name, dims)
    weights, inputs_path, out = (os.path.join(tmp, f) for f in ("w.st", "in.st", "out.st"))
    save_for_heed(name, model, dims, weights)
    inputs = random_inputs(name, dims, ragged=True)
    names = [i[0] for i in GRAPHS[name].inputs]
    write_safetensors(inputs_path, {n: t.int() for n, t in zip(names, inputs)})
    heed("run", yaml_path(name), "--weights", weights, "--inputs", inputs_path, "--out", out,
         "--threads", "1")
    values, _ = read_safetensors(out)
    with torch.no_grad():
        logits = model(*inputs[: len(inputs) - GRAPHS[name].targets])
        loss = model.loss(*inputs)
    if logits.dim() == 3:  # compare where the decoder reads a real token
        real = ~padding_mask(lengths_of(inputs[1]), inputs[1].shape[1])
        logits, theirs = logits[real], values["logits"][real]
    else:
        theirs = values["logits"]
    return ((logits - theirs).abs().max() / logits.abs().max()).item(), \
        abs(loss.item() - values["loss"].item())


def check_decode(name, tmp):
    """heed infer (greedy, up to the graph's 40 steps) against the reference's
    greedy decoding of 32 sources; returns their count. heed never emits <pad>
    or <bos>; the reference's output layer is biased against them so its
    argmax does the same."""
    dims = {**CHECK_DIMS[name], "B": 32}
    model = check_model(name, dims)
    with torch.no_grad():
        model.logits.bias[PAD] = -1e4
        model.logits.bias[BOS] = -1e4
    weights = os.path.join(tmp, "w.st")
    save_for_heed(name, model, dims, weights)
    src = random_inputs(name, dims, ragged=True)[0]
    src_vocab, tgt_vocab = vocabulary(dims["V_src"]), vocabulary(dims["V_tgt"])
    texts = ["".join(src_vocab[i] for i in row if i != PAD) for row in src.tolist()]
    theirs = heed("infer", yaml_path(name), "--weights", weights, "--threads", "1",
                  *texts).splitlines()
    with torch.no_grad():
        tokens = model.greedy(src, 40).tolist()
    # as heed_vocab_decode: up to <eos>, without <pad> and <bos>
    mine = ["".join(tgt_vocab[i] for i in row[: row.index(EOS) if EOS in row else 40]
                    if i not in (PAD, BOS)) for row in tokens]
    assert mine == theirs, f"{name}: greedy decoding differs:\n{mine}\n{theirs}"
    return len(texts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=list(GRAPHS))
    args = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="heed_torch_graphs_") as tmp:
        for name in [args.only] if args.only else GRAPHS:
            n = check_params(name, CHECK_DIMS[name])
            dl, dloss = check_forward(name, tmp)
            line = (f"{name:9s} {n} parameters, names and shapes as heed's; heed run: logits "
                    f"max |diff| {dl:.1e} of their largest, loss |diff| {dloss:.1e}")
            if issubclass(GRAPHS[name].cls, Seq2Seq):
                line += f"; greedy decoding equal on {check_decode(name, tmp)} sources"
            print(line)
            assert dl < 1e-5 and dloss < 1e-4, f"{name}: heed and PyTorch disagree"


if __name__ == "__main__":
    main()
