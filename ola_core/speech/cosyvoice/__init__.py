"""Our CosyVoice2 runtime: the official CosyVoice2-0.5B files, streamed text → 24 kHz speech.

Modules: ``config`` (numbers from cosyvoice2.yaml), ``loading`` (files → modules), ``lm``
(Qwen2 text → speech tokens), ``encoder`` + ``estimator`` + ``flow`` (tokens → mel), ``hift``
(mel → waveform), ``runtime`` (fixed-hop streaming, cancel), ``frontend`` (text rules),
``clone`` (voice cloning from a clip, saved voices),
``synthesizer`` (the Synthesizer and its registry entry), ``tiny`` (random test folders).
Import the submodules you need; this package import stays light.
"""
