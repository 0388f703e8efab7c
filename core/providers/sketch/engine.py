"""The provider: ``SketchEngine`` (``MusicProvider``): batches, more-like, blends and
extends, each clip written to a WAV; and ``create``, the registry factory.
"""

from __future__ import annotations

import copy
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

import core.providers.sketch as package  # the package: tests make its disk full through it
from core.errors import AudioFileError, GenerationFailedError
from core.models import BriefParams
from core.prompt import brief_of
from core.providers.base import (
    STAGE_GENERATING,
    ExtendRequest,
    GeneratedClip,
    GenerationRequest,
    ReferenceClip,
    check_cancel,
    clip_seed,
)
from core.providers.capabilities import SKETCH as SKETCH_CAPABILITIES
from core.providers.sketch.cues import params_of
from core.providers.sketch.imitate import recipe_from_descriptors
from core.providers.sketch.recipe import blend_recipes, design_recipe, is_sketch_recipe, vary_recipe
from core.providers.sketch.render import render_recipe
from core.providers.sketch.theory import ENGINE, SR
from core.settings import Settings

AUDIO_MATCH_CANDIDATES = 4  # recipes tried per foreign reference
AUDIO_MATCH_SECONDS = 4.0  # length of each trial render


class SketchEngine:
    """The embedded music provider (``MusicProvider``)."""

    name = ENGINE
    model: str | None = None
    capabilities = SKETCH_CAPABILITIES
    blends = True  # takes GenerationRequest.blend_with: blends two references' recipes

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings
        self.last_warning: str | None = None  # why the last batch has fewer clips than asked, if it has

    def recipe_for(
        self,
        brief: str,
        params: BriefParams,
        seed: int,
        references: Sequence[ReferenceClip] = (),
        reference_index: int = 0,
        derived: dict[Path, dict[str, Any] | None] | None = None,
        blend_with: Sequence[ReferenceClip] = (),
    ) -> dict[str, Any]:
        """The recipe of one clip: fresh, a variation of one of ``references``, or (with
        ``blend_with``) a variation of a blend of one of each."""
        if not references:
            return design_recipe(brief, params.energy, params.density, seed, bpm=params.bpm, key=params.key)
        derived = {} if derived is None else derived
        parent = self._parent_recipe(references[reference_index % len(references)], derived)
        if blend_with:
            other = self._parent_recipe(blend_with[reference_index % len(blend_with)], derived)
            if parent is not None and other is not None:
                parent = blend_recipes(parent, other, seed)
            else:
                parent = parent if parent is not None else other
        if parent is None:  # unreadable reference: start from the brief
            return design_recipe(brief, params.energy, params.density, seed)
        return vary_recipe(parent, seed)

    def _parent_recipe(
        self, reference: ReferenceClip, derived: dict[Path, dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        """The reference's own recipe, or one imitating its audio (None when unreadable)."""
        if is_sketch_recipe(reference.recipe):
            return reference.recipe
        if reference.audio_path not in derived:
            derived[reference.audio_path] = self._recipe_from_audio(reference)
        return derived[reference.audio_path]

    @staticmethod
    def _recipe_from_audio(reference: ReferenceClip) -> dict[str, Any] | None:
        """Analysis by synthesis: a few recipes in the style nearest to the clip, each
        rendered briefly and embedded; the one that lands closest to the clip wins.
        Deterministic: the seeds come from the clip's own descriptors."""
        from core.providers.features import FeatureEmbedder, describe_audio, embed_samples

        try:
            descriptors = describe_audio(reference.audio_path)
            # The features-v1 space whatever the session's embedder: the style prototypes live there.
            embedding = FeatureEmbedder(version="v1").embed_audio(reference.audio_path)
        except AudioFileError:
            return None
        fingerprint = ",".join(f"{k}={descriptors[k]:.4g}" for k in sorted(descriptors))
        base = zlib.crc32(fingerprint.encode("ascii"))
        best: tuple[float, dict[str, Any]] | None = None
        for k in range(AUDIO_MATCH_CANDIDATES):
            candidate = recipe_from_descriptors(descriptors, embedding, (base + 7919 * k) % (2**31 - 1))
            score = float(np.dot(embed_samples(render_recipe(candidate, AUDIO_MATCH_SECONDS)), embedding))
            if best is None or score > best[0]:
                best = (score, candidate)
        return best[1] if best is not None else None

    def generate_batch(
        self,
        prompt: str,
        num_clips: int,
        duration_sec: float,
        request: GenerationRequest | None = None,
    ) -> list[GeneratedClip]:
        params = params_of(prompt, request, duration_sec)
        batch_seed = request.seed if request is not None else 0
        references = tuple(request.references) if request is not None else ()
        blend_with = tuple(request.blend_with) if request is not None else ()
        cancel = request.cancel if request is not None else None
        progress = request.progress if request is not None else None
        on_clip = request.on_clip if request is not None else None
        out_dir = request.out_dir if request is not None and request.out_dir is not None else None
        if out_dir is None:
            out_dir = Path(tempfile.mkdtemp(prefix="sessionlab-sketch-"))
        brief = brief_of(prompt)
        derived: dict[Path, dict[str, Any] | None] = {}
        clips: list[GeneratedClip] = []
        errors: list[str] = []
        self.last_warning = None
        if progress is not None:
            progress(STAGE_GENERATING, 0, num_clips)
        for i in range(num_clips):
            check_cancel(cancel)
            seed = clip_seed(batch_seed, i)
            try:
                recipe = self.recipe_for(brief, params, seed, references, batch_seed + i, derived, blend_with)
                samples = render_recipe(recipe, duration_sec, cancel)
                path = package.write_wav_atomic(
                    out_dir / f"sketch-{batch_seed}-{i:02d}-{seed}.wav", samples, SR
                )
            except OSError as exc:  # a full or read-only disk: skip this clip, as the contract says
                errors.append(str(exc))
                continue
            clip = GeneratedClip(
                audio_path=path,
                duration_sec=samples.shape[0] / SR,
                raw_prompt=prompt,
                seed=seed,
                recipe=recipe,
            )
            clips.append(clip)
            if on_clip is not None:
                on_clip(i, clip)
            if progress is not None:
                progress(STAGE_GENERATING, i + 1, num_clips)
        if not clips:
            detail = f" ({errors[0]})" if errors else ""
            raise GenerationFailedError(f"The sketch engine could not write any clip{detail}.")
        if errors:  # the service shows it: a clip is never dropped without a word
            self.last_warning = (
                f"{len(clips)} of {num_clips} clips were made; one could not be written ({errors[0]})."
            )
        return clips

    def extend_clip(self, request: ExtendRequest) -> GeneratedClip:
        """The source's recipe rendered to ``request.to_sec``: one window, no seam to hide."""
        from core.errors import ValidationError

        recipe = request.source.recipe
        if not is_sketch_recipe(recipe):
            raise ValidationError(
                "The sketch engine can only extend its own clips (this one has no sketch recipe);"
                " choose the engine that made it."
            )
        assert recipe is not None
        out_dir = Path(request.out_dir) if request.out_dir is not None else Path(tempfile.mkdtemp())
        if request.progress is not None:
            request.progress(STAGE_GENERATING, 0, 1)
        check_cancel(request.cancel)
        samples = render_recipe(recipe, request.to_sec, request.cancel)
        check_cancel(request.cancel)
        seed = request.source.seed if request.source.seed is not None else int(recipe["seed"])
        path = package.write_wav_atomic(out_dir / f"sketch-extend-{seed}-{samples.shape[0]}.wav", samples, SR)
        if request.progress is not None:
            request.progress(STAGE_GENERATING, 1, 1)
        return GeneratedClip(
            audio_path=path,
            duration_sec=samples.shape[0] / SR,
            raw_prompt=request.prompt,
            seed=seed,
            recipe=copy.deepcopy(recipe),
        )


def create(settings: Settings, model: str | None = None) -> SketchEngine:
    """Registry factory. The embedded engine has no model to choose."""
    if model:
        from core.errors import ValidationError

        raise ValidationError(f"The sketch engine has no models to choose from (got {model!r}).")
    return SketchEngine(settings)
