"""``sketch``: the embedded music engine (offline, CPU, numpy only, no weights).

It turns a brief into a short arrangement and renders it with a small numpy
synthesiser. Two steps, kept apart so that "more like this" can work on the
first one:

1. **Design** a *recipe*: a JSON-able dict that says everything about the clip
   (style, tempo, key, mode, chord progression, layers, instruments, groove,
   brightness, drive, the seeds of the melody and of the pattern variations).
   It comes from the words of the brief (see ``STYLES`` and the ``_CUE_*``
   tables), from energy (tempo, loudness) and density (number of layers, note
   density), and from the clip's own seed: the seed picks one of the brief's
   three *arrangements* (``variants``: beat, instruments, register, figures,
   mix, and what else the brief leaves open), so that a batch offers real
   alternatives, and gives the clip its own details (progression, melody,
   groove variation). More-like *varies* a reference's recipe instead:
   same style, tempo, key, mode, arrangement and timbre family; new melody, a
   little new pattern and voicing (loose: half the children take another
   arrangement of the brief). A reference with no recipe of ours (an imported clip,
   another engine's) gets one by analysis by synthesis: the style whose
   prototype embedding is nearest, its measured tempo, key, mode and
   brightness, and of a few such recipes the one whose short render embeds
   closest to the clip.
2. **Render** the recipe: every note is an array slice. Tones come from
   band-limited single-cycle wavetables read with a uint32 phase accumulator
   (a table per spectrum, cutoff and octave, built once per process); plucked
   notes crossfade a bright table into a dull one; electric piano and bells
   are two-operator FM tables crossfading to a sine; pads are whole chords
   built as seamless loops with one inverse FFT (shared by every clip); drums
   are one-shots (pitch-swept sines and filtered noise) made once per kit
   variant and added at their onsets. Each pitch of each instrument is
   rendered once per clip as a release-less *body* and sliced to every
   length it plays. Each layer is brought to its style's level in the mix.
   Filters are moving averages (running sums); no per-sample Python loop,
   no scipy.

Every note has an attack and a release ramp and the clip gets
``core.audio.fade_edges``, so nothing clicks; the mix is brought to a loudness
that follows energy and its peak kept below -1 dBFS. The render is a pure
function of (recipe, duration): the same recipe always gives the same samples.

The package, along those seams: ``theory`` (keys, modes, progressions, the grid,
bass and chord figures, seeded choices), ``cues`` (styles and the words of a
brief), ``recipe`` (design, check, vary, blend), ``imitate`` (analysis by
synthesis), ``variants`` (a brief's arrangements), ``synth`` (wavetables,
envelopes, filters, pads), ``instruments``,
``drums`` (kits and grooves), ``render`` and ``engine`` (``SketchEngine``,
``create``). Every name is importable from ``core.providers.sketch`` itself.
"""

from __future__ import annotations

# What core.providers.sketch offered before its split stays importable from it.
from core.audio import SAMPLE_RATE, fade_edges, limit_peak, moving_average, write_wav_atomic  # noqa: F401
from core.errors import AudioFileError, GenerationFailedError  # noqa: F401
from core.models import BriefParams  # noqa: F401
from core.prompt import brief_of  # noqa: F401
from core.providers.base import (  # noqa: F401
    STAGE_GENERATING,
    ExtendRequest,
    GeneratedClip,
    GenerationRequest,
    ReferenceClip,
    check_cancel,
    clip_seed,
)
from core.providers.capabilities import SKETCH as SKETCH_CAPABILITIES  # noqa: F401
from core.providers.sketch.cues import (  # noqa: F401
    _CUE_BRIGHT,
    _CUE_BUSY,
    _CUE_DARK,
    _CUE_DRIVE,
    _CUE_FAST,
    _CUE_MAJOR,
    _CUE_MINOR,
    _CUE_SLOW,
    _CUE_SPARSE,
    _CUE_SWING,
    _PARAM,
    _STYLE_WORDS,
    _TOKEN,
    STYLES,
    Cues,
    Style,
    _words,
    params_of,
    read_cues,
    words_of,
)
from core.providers.sketch.drums import (  # noqa: F401
    _GROOVE_EXTRAS,
    GROOVES,
    Kit,
    _band_noise,
    _burst,
    _sweep,
    make_kit,
)
from core.providers.sketch.engine import (  # noqa: F401
    AUDIO_MATCH_CANDIDATES,
    AUDIO_MATCH_SECONDS,
    SketchEngine,
    create,
)
from core.providers.sketch.imitate import (  # noqa: F401
    recipe_from_descriptors,
    style_prototypes,
)
from core.providers.sketch.instruments import (  # noqa: F401
    INSTRUMENTS,
    Instrument,
    _decay,
    _fm_table,
    _quantise_cutoff,
    _render_note,
    _shape,
)
from core.providers.sketch.recipe import (  # noqa: F401
    _BLENDED_NUMBERS,
    _NUMERIC_FIELDS,
    _driven,
    _pick_style,
    blend_recipes,
    design_recipe,
    is_sketch_recipe,
    vary_recipe,
)
from core.providers.sketch.render import (  # noqa: F401
    _Renderer,
    render_recipe,
)
from core.providers.sketch.synth import (  # noqa: F401
    _MAX_SAMPLES,
    _NOISE,
    _NOTE_SAMPLES,
    _PHASE_BITS,
    _PHASE_RAMP,
    _TIME,
    PAD_LOOP,
    TABLE_SIZE,
    _envelope,
    _harmonic_amps,
    _lowpass,
    _midi_hz,
    _octave_of,
    _pad_loop,
    _ramp,
    _ramp_in,
    _ramp_out,
    _read_table,
    _table,
)
from core.providers.sketch.theory import (  # noqa: F401
    BASS_PATTERNS,
    CHORD_PATTERNS,
    ENGINE,
    KEY_NAMES,
    LAYERS,
    MINOR_MODES,
    MODES,
    PEAK_CEILING_DBFS,
    PROGRESSIONS,
    RECIPE_VERSION,
    SR,
    STEPS_PER_BAR,
    _choose,
    _rng,
)
from core.providers.sketch.variants import (  # noqa: F401
    GROOVE_FAMILIES,
    MIX_FOCUS,
    VARIANTS,
    arrangement,
    rearrange,
    variant_of,
)
from core.settings import Settings  # noqa: F401
