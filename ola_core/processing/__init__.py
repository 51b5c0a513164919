"""Pixels, mels and token ids, exactly as the official Ola inference makes them.

Everything between a user's media and :mod:`ola_core.processing.inputs`: ``image.process_image`` →
``ImageInput``, ``video.process_video`` → ``VideoClip`` (``VideoInput`` + soundtrack),
``audio.process_audio`` → ``AudioClip`` (``SpeechInput``), ``prompt.build_prompt`` /
``prompt.build_continuation`` → ``PromptInputs``, and ``generation.DecodingSettings``.

Nothing is imported here: the settings and the GUI read ``generation`` and ``media`` without
loading torch, PIL or the audio decoders.
"""
