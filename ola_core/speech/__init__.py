"""Speech out: sentence splitting, voices, playback, and the pipeline joining them.

Modules (see docs/ARCHITECTURE.md "speech"): markdown.py and splitter.py turn model text into
speakable sentences; synthesizer.py is the voice contract and its watchdog; hibari_voice.py,
espeak_voice.py (and cosyvoice/) are voices; language.py and selection.py choose one per
sentence; player.py plays, recording.py keeps the audio; pipeline.py runs it all per answer.
Nothing is imported here, so importing one part does not load sounddevice or onnxruntime.
"""
