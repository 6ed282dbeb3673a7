#!/usr/bin/env python3
"""make_corpus.py - writes the fuzz targets' seed corpora (tests/fuzz/corpus/).

Deterministic: running it again writes the same files. Each corpus holds a few
valid inputs (the shipped graphs, weights for the harness's fixed model, small
TSV files) and a few broken ones (truncated, lying lengths, overlapping
offsets, duplicate keys, deep nesting, alias bombs, invalid UTF-8, NUL bytes),
and the dictionaries (model.dict: the model language; safetensors.dict,
data.dict).
The fuzzer reads copies of these (.ci/fuzz); it never writes here.

    python3 tests/fuzz/make_corpus.py
"""
import glob
import json
import os
import re
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ------------------------------------------------------------------ models

def model_corpus():
    graphs = os.path.join(ROOT, "graphs")
    for g in sorted(os.listdir(graphs)):
        if g.endswith(".yaml"):
            shutil.copyfile(os.path.join(graphs, g), os.path.join(CORPUS, "model", g))

    write("model", "blocks_repeat.yaml", """heed: 1
name: blocks
dims: {D: 8}
inputs:
  x: {shape: [B, T, D], dtype: float}
blocks:
  layer:
    inputs: [h]
    params: {units: 8, act: relu}
    nodes:
      proj: {op: Affine, in: h, units: units, activation: act}
      res:  {op: Add, in: [h, proj]}
    output: res
nodes:
  stack: {block: layer, in: x, repeat: 3, act: tanh}
  out:   {op: Tanh, in: stack}
outputs: [stack.0.proj]
""")

    write("model", "many_ops.yaml", """heed: 1
name: many_ops
doc: every op once, on float inputs
dims: {D: 8, H: 6, E: 8}
inputs:
  x: {shape: [B, T, D], dtype: float}
  y: {shape: [B, T, H], dtype: float}
  ids: [B, T]
  len: {shape: [B], dtype: ids}
nodes:
  emb:  {op: Embedding, in: ids, vocab: 20, dim: E}
  pos:  {op: PositionalEncoding, in: emb, kind: learned, max_len: 64, scale: true}
  cat:  {op: Concat, in: [x, pos], axis: -1}
  rnn:  {op: RNN, in: cat, hidden: H, nonlinearity: relu, dropout: 0.1}
  rnn2: {op: RNN, in: cat, hidden: H, layers: 2, dropout: 0.1}
  lstm: {op: LSTM, in: x, hidden: H, bidirectional: true, lengths: len}
  gru:  {op: GRU, in: x, hidden: H, state: rnn.state,
         attention: {memory: lstm, score: general, units: H, lengths: len}}
  att:  {op: Attention, query: gru, keys: lstm, score: scaled_dot, lengths: len}
  mha:  {op: MultiHeadAttention, query: x, heads: 2, causal: true, weights: per_head,
         key_lengths: len, dropout: 0.0, bias: false}
  ln:   {op: LayerNorm, in: mha, eps: 1e-6, affine: false}
  g:    {op: GELU, in: ln, approximate: tanh}
  s:    {op: Sigmoid, in: g}
  m:    {op: Mul, in: [s, x]}
  r:    {op: ReLU, in: m}
  sm:   {op: Softmax, in: r}
  dr:   {op: Dropout, in: sm, p: 0.5}
  pool: {op: MeanPool, in: dr}
  aff:  {op: Affine, in: [att, gru.context], units: H, bias: true, activation: sigmoid}
  tot:  {op: Sum, in: [aff, y]}
outputs: [att.weights, mha.weights, lstm.h, lstm.c, gru.weights]
loss: {op: MSE, in: tot, target: y}
train: {optimizer: sgd, lr: 0.1, momentum: 0.9, weight_decay: 0.0001, batch: 4,
        epochs: 1, seed: 7, lr_decay: 1.0, eps: 1e-8}
""")

    write("model", "seq2seq_luong_general.yaml", """heed: 1
name: luong_general
dims: {E: 8, H: 16}
inputs:
  src: [B, S]
  tgt: [B, T]
data:
  src: {column: 0, tokens: words, vocab: V_src, reverse: true}
  tgt: {column: 1, tokens: chars, vocab: V_tgt, bos: true, eos: true}
nodes:
  src_emb: {op: Embedding, in: src, vocab: V_src, dim: E}
  enc:     {op: LSTM, in: src_emb, hidden: H}
  tgt_emb: {op: Embedding, in: tgt, vocab: V_tgt, dim: E}
  dec:     {op: LSTM, in: tgt_emb, hidden: H, state: enc.state}
  ctx:     {op: Attention, score: general, query: dec, keys: enc, values: enc}
  logits:  {op: Affine, in: [ctx, dec], units: V_tgt}
loss: {op: CrossEntropy, logits: logits, target: tgt, shift: 1, smoothing: 0.1}
decode: {max_length: 20}
train: {optimizer: adam, lr: 0.001, batch: 8, epochs: 1, clip: 5.0}
""")

    write("model", "anchors_merge.yaml", """heed: 1
name: anchors
dims: &d {D: 4}
inputs:
  x: {shape: [B, D], dtype: float}
nodes:
  a: &aff {op: Affine, in: x, units: 4}
  b: {<<: *aff, in: a}
  c: {op: Add, in: [a, b]}
""")

    # broken ones
    write("model", "syntax_error.yaml", "heed: 1\nnodes:\n  a: {op: Affine, in: x\n  b: [\n")
    write("model", "duplicate_keys.yaml", """heed: 1
inputs:
  x: {shape: [B, 4], dtype: float}
nodes:
  a: {op: Affine, in: x, units: 4, units: 5}
  a: {op: Tanh, in: x}
train: {lr: 0.1, lr: 0.2}
""")
    write("model", "deep_nesting.yaml", "heed: 1\nnodes: " + "[" * 80 + "]" * 80 + "\n")
    write("model", "deep_block.yaml", "heed: 1\n" + "".join(
        "  " * i + "k%d:\n" % i for i in range(70)) + "  " * 70 + "v\n")
    bomb = "heed: 1\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 9):
        bomb += "a%d: &a%d [%s]\n" % (i, i, ", ".join(["*a%d" % (i - 1)] * 10))
    write("model", "alias_bomb.yaml", bomb)
    write("model", "unknown_alias.yaml", "heed: 1\nnodes: *missing\n")
    write("model", "invalid_utf8.yaml",
          b"heed: 1\nname: \xff\xfe\xc0\xaf\nnodes:\n  \xed\xa0\x80: {op: Tanh, in: x}\n")
    write("model", "nul_byte.yaml", b"heed: 1\nname: \"a\\0b\"\nnodes:\n  a\x00b: {op: Tanh}\n")
    write("model", "cycle_unknown.yaml", """heed: 1
inputs:
  x: {shape: [B, 4], dtype: float}
nodes:
  a: {op: tanh, in: c}
  b: {op: Transformer, in: a, biass: true}
  c: {op: Add, in: [b, hiden]}
trian: {lr: 1}
""")
    write("model", "huge_dims.yaml", """heed: 1
dims: {E: 2147483647, H: 9223372036854775807, Z: 0, N: -3, F: 1.5e300}
inputs:
  x: {shape: [B, E, E, E], dtype: float}
  ids: [B, H]
nodes:
  emb: {op: Embedding, in: ids, vocab: 2147483648, dim: E}
  a: {op: Affine, in: x, units: 4294967296}
  p: {op: PositionalEncoding, in: emb, max_len: 99999999999}
  m: {op: MultiHeadAttention, query: a, heads: 2147483647}
""")
    write("model", "recursive_block.yaml", """heed: 1
inputs:
  x: {shape: [B, 4], dtype: float}
blocks:
  a:
    inputs: [h]
    nodes:
      n: {block: b, in: h}
  b:
    inputs: [h]
    nodes:
      n: {block: a, in: h, repeat: 3}
nodes:
  s: {block: a, in: x, repeat: 2}
""")
    write("model", "multi_doc.yaml", "heed: 1\n---\nheed: 2\n...\n--- !!map\n? [a]\n: b\n")
    write("model", "tags_styles.yaml", """%YAML 1.1
%TAG !e! tag:example.com,2000:
--- !e!model
heed: !!int 1
name: |
  multi
  line
doc: >-
  folded
  text
inputs: {x: {shape: [B, 0x10], dtype: !!str float}}
nodes:
  ? a
  : {op: Tanh, in: x}
  'b': {"op": 'Sigmoid', in: a}
""")
    write("model", "empty.yaml", "")
    write("model", "minimal.yaml", "heed: 1\n")


# ------------------------------------------------------------ safetensors

def safetensors(tensors, metadata=None, pad=True, header_len=None, header=None):
    """tensors: list of (name, dtype, shape, bytes); offsets laid out in order."""
    h = {}
    if metadata is not None:
        h["__metadata__"] = metadata
    data = b""
    for name, dtype, shape, raw in tensors:
        h[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = header if header is not None else json.dumps(h, separators=(",", ":"))
    text = text.encode("utf-8") if isinstance(text, str) else text
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    n = len(text) if header_len is None else header_len
    return struct.pack("<Q", n) + text + data


def f32(*v):
    return struct.pack("<%df" % len(v), *v)


def i32(*v):
    return struct.pack("<%di" % len(v), *v)


# The fixed model of fuzz_safetensors.c: E=4, V = 4 reserved + "a", "b", "c",
# C = 4 reserved + "en", "fr".
RESERVED = ["<pad>", "<unk>", "<bos>", "<eos>"]
VOCAB_V = RESERVED + ["a", "b", "c"]
VOCAB_C = RESERVED + ["en", "fr"]


def weights(vocab_v=VOCAB_V, vocab_c=VOCAB_C, e=4, dims="E=4", extra=None):
    v, c = len(vocab_v), len(vocab_c)
    meta = {"heed.dims": dims, "heed.model": "fuzz_weights", "heed.hash": "0123456789abcdef",
            "heed.vocab.V": json.dumps(vocab_v, separators=(",", ":")),
            "heed.vocab.C": json.dumps(vocab_c, separators=(",", ":"))}
    if extra:
        meta.update(extra)
    t = [("emb.weight", "F32", [v, e], f32(*[0.01 * i for i in range(v * e)])),
         ("logits.weight", "F32", [c, e], f32(*[-0.02 * i for i in range(c * e)])),
         ("logits.bias", "F32", [c], f32(*[0.5] * c))]
    return t, meta


def safetensors_corpus():
    # named .st: the repository ignores *.safetensors
    t, meta = weights()
    good = safetensors(t, meta)
    write("safetensors", "weights_valid.st", good)
    write("safetensors", "weights_no_vocab.st", safetensors(t, {"heed.dims": "E=4"}))
    write("safetensors", "weights_partial.st", safetensors(t[:2], meta))
    t2, meta2 = weights(vocab_v=VOCAB_V + ["\u00e9", "\U0001F600"], e=2, dims="E=2,X=9,,=3")
    write("safetensors", "weights_dims_e2.st", safetensors(t2, meta2))
    t3, meta3 = weights()
    meta3["heed.vocab.V"] = json.dumps(["<pad>", "<unk>", "<bos>", "<eos>", "a", "a"])
    meta3["heed.vocab.C"] = "not json ["
    write("safetensors", "weights_bad_vocab.st", safetensors(t3, meta3))
    meta4 = dict(meta)
    meta4["heed.vocab.V"] = json.dumps(["<unk>", "<pad>", "<bos>", "<eos>", "a"])
    meta4["heed.vocab.C"] = json.dumps(["<pad>", "<unk>"])
    meta4["heed.dims"] = "E=abc,E=,=,E=-1"
    write("safetensors", "weights_reserved_order.st", safetensors(t, meta4))
    tm = [(n, "I32" if n == "logits.bias" else d, s if n != "emb.weight" else [4, 7], r)
          for n, d, s, r in t] + [("extra", "F32", [1], f32(0))]
    write("safetensors", "weights_mismatched.st", safetensors(tm, meta))

    plain = [("a", "F32", [2, 3], f32(1, 2, 3, 4, 5, 6)),
             ("ids", "I32", [4], i32(0, 1, -1, 2147483647)),
             ("scalar", "F32", [], f32(3.5)),
             ("empty", "F32", [0, 5], b"")]
    write("safetensors", "plain_valid.st", safetensors(plain))
    write("safetensors", "plain_rank5.st",
          safetensors([("r5", "F32", [1, 1, 1, 1, 2], f32(1, 2))]))
    write("safetensors", "plain_other_dtypes.st",
          safetensors([("h", "F16", [2], b"\x00\x3c\x00\x40"), ("b", "BOOL", [3], b"\x01\x00\x01"),
                       ("d", "F64", [1], struct.pack("<d", 1.0)), ("q", "Q4", [1], b"\x00")]))
    write("safetensors", "empty_header.st", safetensors([], header="{}"))
    write("safetensors", "truncated.st", good[: len(good) - 13])
    write("safetensors", "truncated_header.st", good[:40])
    write("safetensors", "short.st", b"\x10\x00\x00")
    write("safetensors", "length_only.st", struct.pack("<Q", 0))
    write("safetensors", "huge_header_len.st",
          safetensors(plain, header_len=0xFFFFFFFFFFFFFFFF))
    write("safetensors", "header_len_past_end.st",
          safetensors(plain, header_len=1 << 20))
    write("safetensors", "overlap.st", safetensors([], header=json.dumps({
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
        "c": {"dtype": "F32", "shape": [0], "data_offsets": [8, 8]}})) + f32(1, 2, 3))
    write("safetensors", "duplicate_keys.st", safetensors(
        [], header='{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                   '"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}') + f32(1))
    write("safetensors", "offsets_lie.st", safetensors([], header=json.dumps({
        "a": {"dtype": "F32", "shape": [4611686018427387904, 4], "data_offsets": [0, 16]},
        "b": {"dtype": "I32", "shape": [-1], "data_offsets": [-4, 0]},
        "c": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 99999999999999]},
        "d": {"dtype": "F32", "shape": [3], "data_offsets": [8, 4]},
        "e": {"dtype": "F32", "shape": "x", "data_offsets": [0]},
        "f": [1, 2], "__metadata__": {"k": 1}})) + f32(1, 2, 3, 4))
    write("safetensors", "unaligned.st",
          safetensors([("a", "F32", [1], f32(1))], pad=False,
                      header='{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'))
    write("safetensors", "deep_json.st",
          safetensors([], header="[" * 3000 + "]" * 3000))
    write("safetensors", "invalid_utf8_name.st", safetensors(
        [], header=b'{"\xff\xfe":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}') + f32(1))
    write("safetensors", "nul_name.st", safetensors(
        [], header='{"a\\u0000b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                   '"__metadata__":{"heed.vocab.V":"[\\"<pad>\\u0000\\"]"}}') + f32(1))
    write("safetensors", "not_object.st", safetensors([], header='[1,2,3]'))


# --------------------------------------------------------------------- data

def data_corpus():
    # columns: 0 chars (bos, eos, reverse), 1 label, 2 words
    write("data", "valid.tsv", "hello\ten\tthe quick brown fox\n"
                               "bonjour\tfr\tle renard brun\n"
                               "hallo\tde\tder schnelle fuchs\n")
    write("data", "crlf_blank_lines.tsv", "abc\tx\tone two\r\n\r\n\n  \t y \t  three   four \r\n")
    write("data", "utf8_valid.tsv", "\u00e9t\u00e9\t\u00e9\t\u4e2d\u6587 \U0001F600\n"
                                    "\u0440\u0443\u0441\t\u0440\t\u0441\u043b\u043e\u0432\u043e\n")
    write("data", "reserved_tokens.tsv", "<pad><unk>\t<eos>\t<bos> <pad> <unk>\n")
    write("data", "empty_columns.tsv", "\t\t\n\tlabel\t\nx\t\t\n")
    write("data", "missing_columns.tsv", "abc\ten\tok words\nonly one column\n")
    write("data", "many_columns.tsv", "\t".join("c%d" % i for i in range(70)) + "\n")
    write("data", "invalid_utf8.tsv",
          b"ok\ten\tfine\n\xc0\xaf\ten\toverlong\n\xed\xa0\x80\tx\tsurrogate\nab\xf4\x90\x80\x80\tx\ty\n")
    write("data", "truncated_utf8.tsv", b"abc\ten\tw\xe2\x82")
    write("data", "nul_byte.tsv", b"ab\x00c\ten\tw\n")
    write("data", "empty.tsv", "")
    write("data", "newlines_only.tsv", "\n\n\r\n\n")
    write("data", "long_token.tsv", "a\tb\t" + "x" * 1100 + " \u00e9" * 600 + "\n")
    write("data", "many_tokens.tsv", "y" * 4100 + "\tz\t" + "w " * 4100 + "\n")
    write("data", "no_final_newline.tsv", "abc\tl\tw1 w2\ndef\tm\tw3")

# --------------------------------------------------------------- dictionary

def model_dict():
    """tests/fuzz/model.dict: the words of the model language for fuzz_model."""
    ops = re.findall(r'HEED_OP\((\w+),', open(os.path.join(ROOT, "ops", "ops.def")).read())
    attrs, choices = set(), set()
    for f in sorted(glob.glob(os.path.join(ROOT, "ops", "*.c"))):
        s = open(f).read()
        attrs |= set(re.findall(r'\.name = "(\w+)"', s))
        for c in re.findall(r'\.choices = "([^"]*)"', s):
            choices |= set(c.split(","))
        attrs |= set(re.findall(r'"(out|state|weights|scores|context|h|c)"', s))
    attrs -= set(ops)
    top = ["heed", "name", "doc", "dims", "inputs", "data", "blocks", "nodes", "outputs", "loss",
           "train", "decode"]
    keys = ["shape", "dtype", "float", "ids", "column", "tokens", "chars", "words", "label",
            "vocab", "bos", "eos", "reverse", "op", "block", "repeat", "params", "output",
            "optimizer", "adam", "sgd", "lr", "momentum", "beta1", "beta2", "eps",
            "weight_decay", "clip", "batch", "epochs", "seed", "lr_decay", "label_smoothing",
            "max_length", "true", "false", "B", "S", "T", "V", "V_src", "V_tgt", "E", "H"]
    values = ["0", "1", "-1", "256", "257", "2147483647", "2147483648", "4096", "1e-5", ".nan",
              ".inf", "-.inf", "0x10", "~", "null", "yes", "no"]
    syntax = ["heed: 1\n", ": ", "- ", "{", "}", "[", "]", ", ", "\n  ", "&a ", "*a", "<<: ",
              "? ", "---\n", "...\n", "!!str ", "!!int ", "!!map ", "%YAML 1.2\n", "|\n", ">-\n",
              "#", "'", "\"", "\\t", "\t", ".", b"\xef\xbb\xbf"]
    words = []
    for group in (top, keys, ops, sorted(attrs), sorted(choices), values, syntax):
        words += group
    write_dict("model.dict", words, "fuzz_model: top-level keys, op names (ops/ops.def),\n"
               "# attribute names and choices (the ops' schemas), data/train keys, values and\n"
               "# YAML syntax.")


def safetensors_dict():
    words = ["__metadata__", "dtype", "shape", "data_offsets", "F32", "I32", "U32", "F16",
             "BF16", "I16", "U16", "F64", "I64", "U64", "I8", "U8", "BOOL", "F8_E4M3",
             "F8_E5M2", "heed.dims", "heed.model", "heed.hash", "heed.vocab.V",
             "heed.vocab.C", "E=", "V=", "C=", ",", "emb.weight", "logits.weight",
             "logits.bias", "<pad>", "<unk>", "<bos>", "<eos>", '{"', '":', '":{', '},"',
             '["', '\\"', '"]', "[]", "{}", "0", "-1", "4", "4294967296", "2147483648",
             "9223372036854775807", "18446744073709551616", "1e308", "0.5", "true", "null",
             "\\u0000", "\\ud800", b"\x00\x00\x00\x00\x00\x00\x00\x00",
             b"\xff\xff\xff\xff\xff\xff\xff\xff", b"\x00\x00\xc0\x7f"]
    write_dict("safetensors.dict", words, "fuzz_safetensors: header keys, dtypes, heed's\n"
               "# metadata keys and parameter names, JSON pieces, edge numbers.")


def data_dict():
    words = ["\t", "\r\n", "\n", " ", "  ", "<pad>", "<unk>", "<bos>", "<eos>",
             b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9f\x98\x80", b"\xc0\xaf",
             b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xef\xbb\xbf", b"\xff", b"\x00",
             b"\xe2\x82", b"\xf0\x9f"]
    write_dict("data.dict", words, "fuzz_data: separators, reserved tokens, UTF-8 (valid,\n"
               "# overlong, surrogate, out of range, truncated).")


def write_dict(name, words, what):
    """A libFuzzer dictionary: one quoted word per line (bytes escaped as \\xNN)."""
    seen = []
    for w in words:
        w = w if isinstance(w, bytes) else w.encode("utf-8")
        if w not in seen:
            seen.append(w)

    def esc(w):
        return "".join("\\" + chr(b) if b in (0x22, 0x5C) else chr(b) if 0x20 <= b < 0x7F
                       else "\\x%02X" % b for b in w)
    with open(os.path.join(HERE, name), "w") as f:
        f.write("# libFuzzer dictionary for %s\n# Written by make_corpus.py.\n" % what)
        for w in seen:
            f.write('"%s"\n' % esc(w))


def main():
    for target in ("model", "safetensors", "data"):
        d = os.path.join(CORPUS, target)
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
    model_corpus()
    safetensors_corpus()
    data_corpus()
    model_dict()
    safetensors_dict()
    data_dict()


if __name__ == "__main__":
    main()
