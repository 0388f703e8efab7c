"""What each music engine can do, declared once so the app and the CLI offer only that.

Every music provider carries ``capabilities: Capabilities`` (a Protocol
attribute in ``core.providers.base``). ``ENGINES`` holds each registered
engine's declaration before any provider is built (for choices made without
loading anything: the brief form, routing); a provider built for a particular
model may refine it (a stereo MusicGen, Stable Audio Open against Stable
Audio 3, a checkpoint with a different longest clip).

More like this (``more_like``):
- ``"variation"``: a true variation of each reference clip (audio-to-audio:
  Stable Audio 3's ``init_noise_level``, ACE-Step's cover mode), as near as the
  ``variation_strength`` setting says;
- ``"continuation"``: the clip continues the end of a reference (MusicGen);
- ``"recipe"``: the reference's recipe is varied (the sketch engine), as far as the
  strength says;
- ``"prompt"``: the engine cannot take audio; the brief is made again with new
  seeds and the similarity filter keeps what is near (Stable Audio Open).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

MORE_LIKE_KINDS = ("variation", "continuation", "recipe", "prompt")

# "close" keeps most of the reference, "loose" the least (the more-like dialog's field).
VARIATION_STRENGTHS = ("close", "near", "balanced", "far", "loose")
DEFAULT_VARIATION_STRENGTH = "balanced"


@dataclass(frozen=True)
class Capabilities:
    longest_sec: float  # the longest clip one call can make
    sample_rate: int  # of the clips it writes (Hz)
    channels: int  # 1 mono, 2 stereo
    more_like: str = "prompt"  # one of MORE_LIKE_KINDS
    variation: bool = False  # audio-to-audio from a reference clip
    continuation: bool = False  # continues a clip from its end
    tempo_input: bool = False  # takes a tempo (BPM) as its own input, not through the prompt
    key_input: bool = False  # takes a key / scale as its own input
    lyrics_input: bool = False  # sings lyrics
    needs_cuda: bool = False  # cannot run in useful time without a CUDA GPU
    variation_strength: bool = False  # honours the variation_strength setting and a more-like call's own
    extend_sec: float = 0.0  # the longest clip "extend" can make from one of its clips; 0: it cannot

    def __post_init__(self) -> None:
        if self.more_like not in MORE_LIKE_KINDS:
            raise ValueError(f"more_like must be one of {MORE_LIKE_KINDS}, not {self.more_like!r}")

    @property
    def stereo(self) -> bool:
        return self.channels >= 2

    def with_changes(self, **changes: object) -> Capabilities:
        return replace(self, **changes)  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, object]:
        from dataclasses import asdict

        return {**asdict(self), "stereo": self.stereo}


def strength_fraction(strength: str) -> float:
    """``"close"`` .. ``"loose"`` as 0.0 .. 1.0 (how far from the reference); ValueError if unknown."""
    name = (strength or DEFAULT_VARIATION_STRENGTH).strip().lower()
    if name not in VARIATION_STRENGTHS:
        raise ValueError(
            f"variation_strength must be one of {', '.join(VARIATION_STRENGTHS)}, not {strength!r}."
        )
    return VARIATION_STRENGTHS.index(name) / (len(VARIATION_STRENGTHS) - 1)


def chosen_strength(asked: str | None, settings: object | None) -> str:
    """The strength of one call: ``asked`` (a more-like request's own), else the
    ``variation_strength`` setting, else ``"balanced"``."""
    if asked:
        return asked.strip().lower()
    return str(getattr(settings, "variation_strength", None) or DEFAULT_VARIATION_STRENGTH)


SKETCH = Capabilities(
    longest_sec=600.0,
    sample_rate=32_000,
    channels=1,
    more_like="recipe",
    variation_strength=True,  # scales how far vary_recipe moves (balanced: as it always did)
    tempo_input=True,  # the recipe takes the tempo and key exactly
    key_input=True,
    extend_sec=600.0,  # the recipe rendered longer
)
MUSICGEN = Capabilities(
    longest_sec=30.0,  # 1500 decoder steps at 50 frames/s, the model's trained context
    sample_rate=32_000,
    channels=1,
    more_like="continuation",
    continuation=True,
    extend_sec=600.0,  # windowed continuation (core.windowed)
)
HF_ENDPOINT = Capabilities(longest_sec=30.0, sample_rate=32_000, channels=1, more_like="prompt")
# Stable Audio 3 medium (CUDA); the provider refines it for Stable Audio Open.
STABLE_AUDIO_3 = Capabilities(
    longest_sec=384.0,  # the duration embedder's range (duration_embedder/config.json max_val)
    sample_rate=44_100,
    channels=2,
    more_like="variation",
    variation=True,
    needs_cuda=True,
    variation_strength=True,
    extend_sec=600.0,  # inpainting past the end, window by window past the longest clip
)
STABLE_AUDIO_OPEN = Capabilities(
    longest_sec=11.0,  # Open Small: 256 latent frames of 2048 samples at 44.1 kHz (1.0: 47.55 s)
    sample_rate=44_100,
    channels=2,
    more_like="prompt",
)
ACE_STEP = Capabilities(
    longest_sec=600.0,  # ACE-Step 1.5 makes up to ten minutes
    sample_rate=48_000,
    channels=2,
    more_like="variation",
    variation=True,
    tempo_input=True,
    key_input=True,
    lyrics_input=True,
    variation_strength=True,
    extend_sec=600.0,  # repaint from the end
)

# The declaration of each registered music engine, by registry name.
ENGINES: dict[str, Capabilities] = {
    "sketch": SKETCH,
    "musicgen": MUSICGEN,
    "hf-endpoint": HF_ENDPOINT,
    "stable-audio": STABLE_AUDIO_3,
    "ace-step": ACE_STEP,
}


def of_engine(name: str) -> Capabilities:
    """The declaration of engine ``name`` (a KeyError names an unregistered one)."""
    return ENGINES[name]


__all__ = [
    "ACE_STEP",
    "DEFAULT_VARIATION_STRENGTH",
    "ENGINES",
    "HF_ENDPOINT",
    "MORE_LIKE_KINDS",
    "MUSICGEN",
    "SKETCH",
    "STABLE_AUDIO_3",
    "STABLE_AUDIO_OPEN",
    "VARIATION_STRENGTHS",
    "chosen_strength",
    "Capabilities",
    "of_engine",
    "strength_fraction",
]
