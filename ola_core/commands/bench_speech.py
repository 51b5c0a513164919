"""`ola-assistant bench speech`: how fast the voices and the sentence splitter are on this machine.

Per synthesizer: load + warm-up time, first-chunk latency (text in → first PCM chunk out) and
real-time factor (synthesis seconds / audio seconds) over a fixed set of sentences in the
languages it speaks. For the splitter: processing time per delta and how long it holds a
finished sentence back (its look-ahead, in deltas and in ms at a given token rate) on a fixed
answer cut into token-like deltas (words with their leading space, one CJK character each).
``--answers N`` speaks whole answers instead (:mod:`ola_core.commands.bench_answers`).
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ola_core.speech.splitter import SentenceSplitter

if TYPE_CHECKING:  # imported when the topic runs: `bench gpu` must parse without soxr and audio I/O
    from ola_core.speech.synthesizer import Synthesizer

SENTENCES: dict[str, tuple[str, ...]] = {
    "en": (
        "Sure.",
        "The red mug on your desk is half full.",
        "I can see a laptop, a notebook and a cup of coffee next to the window.",
        "The value of pi is about 3.14, and the meeting with Dr. Smith starts at five in the afternoon.",
        "If you want, I can also read the rest of the document aloud, summarise each section in one "
        "sentence, or point out the parts that look most important for your presentation tomorrow.",
    ),
    "zh": (
        "好的。",
        "你桌上的红色杯子里还有一半水。",
        "我看到一台笔记本电脑、一个本子和窗边的一杯咖啡。",
        "如果你愿意，我可以把文档剩下的部分读给你听，或者用一句话概括每一节的内容。",
    ),
}

ANSWER = (
    "Sure! Here is what I can see on your screen.\n\n"
    "## Summary\n"
    "1. A **code editor** with a Python file open, about 120 lines long.\n"
    "2. A browser tab showing https://docs.python.org/3/library/asyncio.html.\n"
    "3. A terminal where the last command failed with exit code 2.\n\n"
    "The error says `ModuleNotFoundError: No module named 'numpy'`, e.g. the package is missing. "
    "Install it with `pip install numpy`, then run the script again... it should work. "
    "Dr. Smith's notes (v. 3.2) also mention the U.S. mirror, which is faster at 9 a.m. on weekdays.\n\n"
    "另外，你的终端里还有一个警告：磁盘空间只剩下百分之五。建议先清理一下下载文件夹，然后再继续。"
    "如果需要，我可以一步一步地告诉你怎么做！"
)
_TOKEN = re.compile(r"[\u3000-\u9fff\uff00-\uffef]|\s?[A-Za-z]+|\s?\d{1,3}|\s?[^\sA-Za-z\d]|\s+")


def token_stream(text: str = ANSWER) -> list[str]:
    """Token-like deltas: roughly how a BPE tokenizer streams this text (words, digits, CJK chars)."""
    deltas = _TOKEN.findall(text)
    assert "".join(deltas) == text
    return deltas


def bench_synthesizer(synthesizer: Synthesizer) -> dict[str, Any]:
    t0 = time.perf_counter()
    synthesizer.warm_up()
    warm_up_s = time.perf_counter() - t0
    first_chunk: list[float] = []
    synth_s = audio_s = 0.0
    per_sentence = []
    for language, sentences in SENTENCES.items():
        if language not in synthesizer.languages:
            continue
        for sentence in sentences:
            start = time.perf_counter()
            first = None
            samples = 0
            for pcm in synthesizer.synthesize(sentence):
                first = first if first is not None else time.perf_counter() - start
                samples += len(pcm)
            elapsed = time.perf_counter() - start
            seconds = samples / synthesizer.sample_rate
            first_chunk.append(first if first is not None else elapsed)
            synth_s += elapsed
            audio_s += seconds
            per_sentence.append(
                {
                    "language": language,
                    "chars": len(sentence),
                    "first_chunk_ms": round(1000 * first_chunk[-1], 1),
                    "synth_ms": round(1000 * elapsed, 1),
                    "audio_s": round(seconds, 3),
                }
            )
    return {
        "sample_rate": synthesizer.sample_rate,
        "warm_up_s": round(warm_up_s, 3),
        "first_chunk_ms_median": round(1000 * statistics.median(first_chunk), 1),
        "first_chunk_ms_max": round(1000 * max(first_chunk), 1),
        "rtf": round(synth_s / audio_s, 4) if audio_s else None,
        "audio_s": round(audio_s, 2),
        "sentences": per_sentence,
    }


def bench_splitter(tokens_per_s: float = 25.0, repeats: int = 20) -> dict[str, Any]:
    """Feed time per delta, and the look-ahead: deltas between a sentence's end and its release."""
    deltas = token_stream()
    starts = [0]  # raw offset where each delta begins
    for delta in deltas:
        starts.append(starts[-1] + len(delta))
    raw = "".join(deltas)
    feed_us: list[float] = []
    holds: list[int] = []
    for repeat in range(repeats):
        splitter = SentenceSplitter()
        cursor = 0
        for i, delta in enumerate(deltas):
            start = time.perf_counter()
            chunks = splitter.feed(delta)
            feed_us.append(1e6 * (time.perf_counter() - start))
            for chunk in chunks if repeat == 0 else ():
                end = _raw_end(raw, chunk, cursor)
                cursor = end
                written = next(k for k in range(len(deltas)) if starts[k + 1] >= end)
                holds.append(i - written)
        splitter.flush()
    ordered = sorted(feed_us)
    return {
        "deltas": len(deltas),
        "chunks": len(holds),
        "feed_us_mean": round(statistics.fmean(feed_us), 1),
        "feed_us_p99": round(ordered[int(0.99 * (len(ordered) - 1))], 1),
        "hold_deltas_median": statistics.median(holds) if holds else None,
        "hold_deltas_mean": round(statistics.fmean(holds), 2) if holds else None,
        "hold_deltas_max": max(holds) if holds else None,
        "tokens_per_s": tokens_per_s,
        "hold_ms_mean": round(1000 * statistics.fmean(holds) / tokens_per_s, 1) if holds else None,
    }


def _raw_end(raw: str, chunk: str, cursor: int) -> int:
    """Offset in the raw answer just after the chunk's last word and its closing punctuation."""
    words = re.findall(r"[^\W_]+", chunk)
    tail = (
        words[-1][-1]
        if words and "\u3000" <= words[-1][-1] <= "\u9fff"
        else (words[-1] if words else chunk[-1])
    )
    end = raw.find(tail, cursor)
    end = (end + len(tail)) if end >= 0 else cursor
    while end < len(raw) and raw[end] in ".!?;:,…。！？；，：\"')*`":
        end += 1
    return end


def each_voice(
    synthesizer: str | None, measure: Callable[[Synthesizer], dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """``measure`` every voice engine that runs here (or only ``synthesizer``); the others' reason."""
    from ola_core.speech.selection import VoiceContext, list_voices

    context = VoiceContext()
    engines = [row for row in list_voices(context) if synthesizer in (None, row[1])]
    if synthesizer is not None and not engines:
        from ola_core.errors import SynthesisError

        raise SynthesisError(f"There is no voice engine called {synthesizer!r}.")
    results: dict[str, Any] = {}
    for entry, name, reason in engines:
        if entry is None or reason is not None:
            results[name] = {"unavailable": reason}
            continue
        t0 = time.perf_counter()
        engine = entry.create(context)
        load_s = time.perf_counter() - t0
        results[name] = {"create_s": round(load_s, 3), **measure(engine)}
    return results


def run_benchmark(synthesizer: str | None = None) -> dict[str, Any]:
    results = each_voice(synthesizer, bench_synthesizer)
    return {
        "machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version()},
        "synthesizers": results,
        "splitter": bench_splitter(),
    }


def _handle(args: argparse.Namespace) -> int:
    if args.tiny:
        from ola_core.speech.cosyvoice.synthesizer import use_tiny_model

        use_tiny_model()
    if args.answers:
        return _handle_answers(args)
    report = run_benchmark(args.synthesizer)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    for name, figures in report["synthesizers"].items():
        if "unavailable" in figures:
            print(f"{name:>12}: unavailable ({figures['unavailable']})")
            continue
        print(
            f"{name:>12}: warm-up {figures['warm_up_s']:.2f} s, first chunk median "
            f"{figures['first_chunk_ms_median']:.0f} ms (max {figures['first_chunk_ms_max']:.0f}), "
            f"RTF {figures['rtf']}"
        )
    splitter = report["splitter"]
    print(
        f"{'splitter':>12}: {splitter['feed_us_mean']:.0f} µs per delta (p99 {splitter['feed_us_p99']:.0f}), "
        f"releases a finished sentence {splitter['hold_deltas_median']} delta(s) after its end (median)"
    )
    return 0


def _handle_answers(args: argparse.Namespace) -> int:
    """``--answers N``: every available voice (or the chosen one) speaks N answers on the speaker."""
    from ola_core.commands.bench_answers import run_answers

    results = each_voice(
        args.synthesizer, lambda voice: run_answers(voice, token_stream, args.answers, args.tokens_per_s)
    )
    report = {"machine": {"cpu": platform.processor() or platform.machine()}, "answers": results}
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    for name, figures in results.items():
        if "unavailable" in figures:
            print(f"{name:>12}: unavailable ({figures['unavailable']})")
            continue
        print(
            f"{name:>12}: {figures['answers']} answers, {figures['audio_s']} s of audio: "
            f"{figures['underruns']} underruns ({figures['starved_ms_total']} ms of silence), "
            f"{figures['output_underflows']} device underflows; gaps between sentences p50 "
            f"{figures['gap_ms_p50']} ms, max {figures['gap_ms_max']} ms; first clause → first audio "
            f"p50 {figures['first_clause_to_audio_ms_p50']} ms, first token → first audio p50 "
            f"{figures['first_token_to_audio_ms_p50']} ms"
        )
    return 0


def register(topics: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = topics.add_parser("speech", help="voices (first-chunk latency, RTF) and the sentence splitter")
    parser.add_argument("--synthesizer", help="only this voice engine (default: every one)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--tiny",
        action="store_true",
        help="CosyVoice: write a tiny random model folder and run it on the CPU (times the code path, not the voice)",
    )
    parser.add_argument(
        "--answers",
        type=int,
        default=0,
        metavar="N",
        help="speak N answers, streamed like the model's text, through the pipeline and the speaker: "
        "underruns, gaps between sentences, first audio",
    )
    parser.add_argument(
        "--tokens-per-s", type=float, default=25.0, help="with --answers: how fast the text streams"
    )
    parser.set_defaults(handler=_handle)
