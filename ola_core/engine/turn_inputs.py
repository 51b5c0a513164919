"""A :class:`Turn` (what the user said, showed and attached) → the prompt builder's ``UserMessage``.

The choices that make a live turn look like what Ola was trained on (docs/official-ola.md §4.2):

* a spoken question with camera frames → the frames as a video and the speech as its
  soundtrack, one video+audio input ("video is the bridge");
* camera frames without speech → a silent video;
* a screen → one image of its newest frame (the high-res view keeps text on screen readable),
  with the speech, if any, as the spoken question (the image + spoken-question form);
* speech alone → the audio form ``<speech>\\n{text}``; attached images, audio-bearing video
  files as the official code reads them;
* a sound file (``Turn.sound``) → the audio of the video, replacing a video file's own
  soundtrack (the official ``--audio_path``), or the audio form without a video.

Pixels, mels and frame sampling are ``ola_core.processing``'s; this module only routes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PIL import Image

from ola_core.engine.types import Turn
from ola_core.media_types import spread
from ola_core.processing.audio import SAMPLE_RATE, load_audio, process_audio, speech_features
from ola_core.processing.image import ImageSource, load_image, process_image
from ola_core.processing.inputs import ImageInput, SpeechInput, VideoInput
from ola_core.processing.prompt import UserMessage
from ola_core.processing.video import DEFAULT_MAX_FRAMES, process_frames, process_video

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MediaBudget:
    """How much media a turn may bring; :meth:`reduced` is what a retry after out-of-memory uses."""

    max_video_frames: int = DEFAULT_MAX_FRAMES  # frames sampled from a video file (official: 64)
    max_camera_frames: int = 8  # live camera frames per turn (what capture hands over by default)
    max_image_side: int | None = None  # None: the official ≤1536² high-res view

    def reduced(self) -> MediaBudget:
        """Half the frames, images at most 768 px on their longer side."""
        side = min(self.max_image_side or 1536, 1536) // 2
        return MediaBudget(max(1, self.max_video_frames // 2), max(1, self.max_camera_frames // 2), side)


def _image(source: ImageSource, budget: MediaBudget) -> ImageInput:
    image = load_image(source)
    if budget.max_image_side is not None and max(image.size) > budget.max_image_side:
        image = image.copy()
        image.thumbnail((budget.max_image_side, budget.max_image_side), Image.Resampling.BICUBIC)
    return process_image(image)


def user_message(turn: Turn, budget: MediaBudget) -> UserMessage:
    """The prompt builder's view of ``turn``; media errors (:class:`MediaError`) name the file."""
    images = [_image(path, budget) for path in turn.images]
    speech: SpeechInput | None = None
    if turn.speech is not None and turn.speech.size:
        # load_audio takes int16 or float arrays alike (capture hands over either).
        speech = speech_features(load_audio(turn.speech, SAMPLE_RATE), "Your recording").speech

    video: VideoInput | None = None
    # A sound file replaces the video's own soundtrack, as the official --audio_path does.
    soundtrack = process_audio(turn.sound).speech if turn.sound is not None else None
    if turn.video is not None:
        clip = process_video(turn.video, budget.max_video_frames, with_audio=soundtrack is None)
        video = clip.video
        if clip.audio is not None:
            soundtrack = clip.audio.speech
    if turn.frames:
        if turn.frames_kind == "screen":
            images.append(_image(turn.frames[-1].rgb, budget))
        elif video is None:
            frames = spread(list(turn.frames), budget.max_camera_frames)
            video = process_frames(frames, budget.max_camera_frames).video
            if soundtrack is None:  # the spoken question becomes the clip's own soundtrack, as in training
                soundtrack, speech = speech, None
        else:
            log.info("a video file is attached; the camera frames of this turn are not used")
    return UserMessage(
        text=turn.text, images=tuple(images), video=video, audio=soundtrack, spoken_question=speech
    )
