"""A tiny Qwen2-style byte-level BPE tokenizer, built by our own code, in the official file layout.

Tests and the GUI's interface-test mode need a tokenizer that behaves like Ola's (Qwen2.5's):
byte-level BPE behind Qwen2's pre-tokenizer regex, the ``<|endoftext|>``, ``<|im_start|>`` and
``<|im_end|>`` special tokens and the ChatML template — but small, and made without the hub.
The files written here (``vocab.json``, ``merges.txt``, ``tokenizer.json``,
``tokenizer_config.json``, ``special_tokens_map.json``, ``added_tokens.json``) load with
transformers 5's ``AutoTokenizer`` and with the slow ``Qwen2Tokenizer`` the official code uses,
and both give the same ids (the merges are plain rank-ordered pairs).
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from ola_core.processing.tokens import ENDOFTEXT, IM_END, IM_START, SPECIAL_TOKENS

# Qwen2's pre-tokenization pattern (splits words, single digits, punctuation runs, newlines).
QWEN2_SPLIT_PATTERN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"

# Qwen2-Instruct's ChatML template: a default system prompt, one block per message.
QWEN2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Text the merges are learned from: the phrases Ola's prompts are made of, plus everyday English,
# so that tiny-model prompts tokenize into realistic multi-byte tokens.
_TRAINING_TEXT = """\
<|im_start|>system
You are a helpful assistant.<|im_end|>
<|im_start|>user
What is in this image? Describe the picture in detail.
User's question in speech: What do you hear in the audio?
Please describe the video and what the people are saying.
What is the person doing on the screen? Read the text on the screen for me.
<|im_end|>
<|im_start|>assistant
The image shows a cat sitting on a table next to a window. The weather outside is sunny.
The speaker says that the meeting starts at ten o'clock and that everyone should be there on time.
In the video, a man walks into the room, opens the door and talks to the woman at the desk.
I can see a web page with a title, some buttons and a list of settings on the right side.
There are 3 apples and 12 oranges; that's 15 pieces of fruit in total.
Hello! How can I help you today? I'm happy to answer any question you have.
The quick brown fox jumps over the lazy dog. This is a test of the assistant's voice.
Thank you for your question. Let me think about it and give you a short answer.
"""

N_MERGES = 250


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte → printable-character map, which byte-level BPE vocabularies use."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars, strict=True)}


def _pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_SPLIT_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ]
    )


def train_bpe(text: str, n_merges: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Learn byte-level BPE merges from ``text``; deterministic (ties go to the smallest pair).

    Returns the vocabulary (256 byte symbols first, in GPT-2 order, then one token per merge)
    and the merges in rank order.
    """
    byte_symbols = list(_bytes_to_unicode().values())
    vocab = {symbol: i for i, symbol in enumerate(byte_symbols)}
    for special in SPECIAL_TOKENS:  # learn from the text around the special tokens, not inside them
        text = text.replace(special, "\n")
    words = Counter(piece for piece, _ in _pre_tokenizer().pre_tokenize_str(text))
    # Each word as a tuple of current symbols, with its count.
    split_words = {tuple(word): count for word, count in words.items()}
    merges: list[tuple[str, str]] = []
    while len(merges) < n_merges:
        pairs: Counter[tuple[str, str]] = Counter()
        for symbols, count in split_words.items():
            for pair in itertools.pairwise(symbols):
                pairs[pair] += count
        if not pairs:
            break
        best_count = max(pairs.values())
        if best_count < 2:
            break
        best = min(pair for pair, count in pairs.items() if count == best_count)
        merged = best[0] + best[1]
        merges.append(best)
        vocab[merged] = len(vocab)
        new_words: dict[tuple[str, ...], int] = {}
        for symbols, count in split_words.items():
            out: list[str] = []
            i = 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    out.append(merged)
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            new_words[tuple(out)] = new_words.get(tuple(out), 0) + count
        split_words = new_words
    return vocab, merges


def write_tokenizer_files(
    out_dir: Path, model_max_length: int = 32768, first_special_id: int | None = None
) -> dict[str, int]:
    """Write the tiny tokenizer into ``out_dir``; returns the ids of the special tokens.

    ``first_special_id`` pads the vocabulary with never-produced filler tokens so that the
    special tokens get Qwen2.5's ids (151643…) and ``len(tokenizer)`` a realistic size: the
    full-size random build then keeps embedding matrices of the real size after the vocab resize.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    vocab, merges = train_bpe(_TRAINING_TEXT, N_MERGES)
    if first_special_id is not None:
        vocab |= {f"<|filler_{i}|>": i for i in range(len(vocab), first_special_id)}
    special_ids = {token: len(vocab) + i for i, token in enumerate(SPECIAL_TOKENS)}

    (out_dir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    merge_lines = "".join(f"{a} {b}\n" for a, b in merges)
    (out_dir / "merges.txt").write_text("#version: 0.2\n" + merge_lines, encoding="utf-8")

    tokenizer = Tokenizer(
        models.BPE(vocab=vocab, merges=merges, unk_token=None, fuse_unk=False, byte_fallback=False)
    )
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = _pre_tokenizer()
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    # Merges as "a b" strings: the older format that tokenizers 0.19 (official stack) also reads.
    tokenizer_json = json.loads(tokenizer.to_str())
    tokenizer_json["model"]["merges"] = [" ".join(pair) for pair in tokenizer_json["model"]["merges"]]
    (out_dir / "tokenizer.json").write_text(json.dumps(tokenizer_json, ensure_ascii=False), encoding="utf-8")

    added_tokens_decoder = {
        str(i): {
            "content": token,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": True,
        }
        for token, i in special_ids.items()
    }
    config = {
        "add_prefix_space": False,
        "added_tokens_decoder": added_tokens_decoder,
        "additional_special_tokens": [IM_START, IM_END],
        "bos_token": None,
        "chat_template": QWEN2_CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": IM_END,
        "errors": "replace",
        "model_max_length": model_max_length,
        "pad_token": ENDOFTEXT,
        "padding_side": "right",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False))
    special_map = {
        "additional_special_tokens": [IM_START, IM_END],
        "eos_token": {
            "content": IM_END,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
        },
        "pad_token": {
            "content": ENDOFTEXT,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
        },
    }
    (out_dir / "special_tokens_map.json").write_text(json.dumps(special_map, indent=2))
    (out_dir / "added_tokens.json").write_text(json.dumps(special_ids, indent=2))
    return special_ids
