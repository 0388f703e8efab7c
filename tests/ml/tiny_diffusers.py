"""Tiny random diffusers audio pipelines, built from their components at test time.

Like ``tiny_models``: every component is made from its config with random
weights, the tokenizers with the ``tokenizers`` library (no download), and the
whole pipeline is written with ``save_pretrained`` so the providers load it
through the same ``DiffusionPipeline.from_pretrained`` path as a real checkpoint
(``model_index.json`` names the pipeline class).

Shapes follow diffusers' own ``get_dummy_components`` but keep the real models'
sampling rates and latent frame rates, so durations, rates and channels are
those a user gets:
- Stable Audio 3: 44.1 kHz stereo, 2048 samples per latent frame.
- Stable Audio Open: 44.1 kHz stereo, 2048 samples per latent frame, at most
  ``SAO_SAMPLE_SIZE`` frames (the model's longest clip).
- ACE-Step 1.5: 48 kHz stereo, 1920 samples per latent frame (25 frames/s).
"""

from __future__ import annotations

from pathlib import Path

from tests.ml.tiny_models import WORDS, _t5_tokenizer

SA_RATE = 44_100
ACE_RATE = 48_000
SAO_SAMPLE_SIZE = 64  # latent frames: 64 * 2048 / 44100 = 2.97 s at most
COND_DIM = 16


def _word_tokenizer(special: list[str]):  # type: ignore[no-untyped-def]
    """A word-level tokenizer over WORDS plus letters, with the given special tokens first."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    pieces = [(token, 0.0) for token in special] + [("\u2581", -2.0)]
    pieces += [("\u2581" + word, -1.0) for word in WORDS]
    pieces += [
        (ch, -5.0) for ch in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789|=.,:-#[]\n/_<>"
    ]
    tok = Tokenizer(models.Unigram(pieces, unk_id=special.index("<unk>")))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.add_special_tokens(special)
    return tok, len(pieces)


def _wake(seed: int, *modules) -> None:  # type: ignore[no-untyped-def]
    """Fill the parameters that start at zero with small random values.

    Output projections, adapters and norms' offsets start at zero in these
    architectures (training moves them); left at zero, every latent would
    decode to the same audio and no test could tell one seed from another.
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in modules:
            for parameter in module.parameters():
                if parameter.numel() and not parameter.abs().max() > 0:
                    parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.2)


def build_tiny_stable_audio_3(path: Path, seed: int = 0, inpaint: bool = False) -> Path:
    import torch
    from diffusers import (
        AutoencoderSAME,
        FlowMatchEulerDiscreteScheduler,
        StableAudio3DiTModel,
        StableAudio3Pipeline,
    )
    from diffusers.pipelines.stable_audio_3.modeling_stable_audio_3 import StableAudio3DurationEmbedder
    from transformers import GemmaTokenizer, T5GemmaConfig, T5GemmaEncoderModel
    from transformers.models.t5gemma.configuration_t5gemma import T5GemmaModuleConfig

    tok, vocab = _word_tokenizer(["<pad>", "<eos>", "<bos>", "<unk>"])
    tokenizer = GemmaTokenizer(
        tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", bos_token="<bos>", unk_token="<unk>"
    )
    tokenizer.model_max_length = 64
    torch.manual_seed(seed)
    transformer = StableAudio3DiTModel(
        io_channels=8,
        patch_size=1,
        embed_dim=32,
        depth=2,
        num_heads=4,
        cond_token_dim=COND_DIM,
        global_cond_dim=COND_DIM,
        local_add_cond_dim=9 if inpaint else 5,  # inpainting: the mask and the 8 latent channels
        timestep_features_dim=16,
        ff_mult=2,
        num_memory_tokens=3,
        use_differential_attention=False,
    )
    vae = AutoencoderSAME(
        audio_channels=2,
        patch_size=16,
        encoder_channels=8,
        encoder_c_mults=(2, 2),
        encoder_strides=(8, 16),  # 16 * 8 * 16 = 2048 samples per latent frame
        encoder_transformer_depths=(1, 1),
        latent_dim=8,
        use_differential_attention=False,
        dim_heads=4,
        ff_mult=2,
        sampling_rate=SA_RATE,
    )
    module = T5GemmaModuleConfig(
        vocab_size=vocab,
        hidden_size=COND_DIM,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=8,
        max_position_embeddings=128,
        sliding_window=64,
        layer_types=["full_attention"],
    )
    text_encoder = T5GemmaEncoderModel(
        T5GemmaConfig(encoder=module.to_dict(), decoder=module.to_dict(), is_encoder_decoder=False)
    )
    duration_embedder = StableAudio3DurationEmbedder(output_dim=COND_DIM, fourier_dim=16)
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0, stochastic_sampling=True)
    _wake(seed + 1, transformer, vae, duration_embedder)
    pipe = StableAudio3Pipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        duration_embedder=duration_embedder,
        transformer=transformer,
        scheduler=scheduler,
    )
    path.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(path)
    return path


def build_tiny_stable_audio_open(path: Path, seed: int = 0) -> Path:
    """A random Stable Audio Open (T5 text encoder, Oobleck VAE, DiT) saved to ``path``."""
    import torch
    from diffusers import (
        AutoencoderOobleck,
        EDMDPMSolverMultistepScheduler,
        StableAudioDiTModel,
        StableAudioPipeline,
        StableAudioProjectionModel,
    )
    from transformers import T5Config, T5EncoderModel

    tokenizer, vocab = _t5_tokenizer()
    tokenizer.model_max_length = 32
    torch.manual_seed(seed)
    transformer = StableAudioDiTModel(
        sample_size=SAO_SAMPLE_SIZE,
        in_channels=4,
        num_layers=2,
        attention_head_dim=4,
        num_attention_heads=2,
        num_key_value_attention_heads=2,
        out_channels=4,
        cross_attention_dim=8,
        time_proj_dim=8,
        global_states_input_dim=16,  # start and end seconds, each conditioning_dim wide
        cross_attention_input_dim=8,
    )
    vae = AutoencoderOobleck(
        encoder_hidden_size=8,  # mean and scale of 4 latent channels
        downsampling_ratios=[4, 8, 8, 8],  # 2048 samples per latent frame
        decoder_channels=4,
        decoder_input_channels=4,
        audio_channels=2,
        channel_multiples=[1, 2, 2, 2],
        sampling_rate=SA_RATE,
    )
    text_encoder = T5EncoderModel(
        T5Config(vocab_size=vocab, d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2, pad_token_id=0)
    )
    projection = StableAudioProjectionModel(
        text_encoder_dim=16, conditioning_dim=8, min_value=0, max_value=SAO_SAMPLE_SIZE * 2048 // SA_RATE + 1
    )
    # The real checkpoints' CosineDPMSolverMultistepScheduler needs torchsde, which the ml extra
    # does not install; EDM DPM-Solver is its deterministic sibling.
    scheduler = EDMDPMSolverMultistepScheduler(
        solver_order=2, prediction_type="v_prediction", sigma_data=1.0, sigma_schedule="exponential"
    )
    _wake(seed + 1, transformer, vae, projection)
    pipe = StableAudioPipeline(
        vae=vae,
        text_encoder=text_encoder,
        projection_model=projection,
        tokenizer=tokenizer,
        transformer=transformer,
        scheduler=scheduler,
    )
    path.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(path)
    return path


def build_tiny_ace_step(path: Path, seed: int = 0, cover: bool = True) -> Path:
    """A random ACE-Step 1.5 (Qwen3 text encoder, condition encoder, DiT, Oobleck VAE) saved to ``path``.

    ``cover=False`` leaves out the audio tokenizer and detokenizer, as a
    checkpoint converted without them is.
    """
    import torch
    from diffusers import AutoencoderOobleck, FlowMatchEulerDiscreteScheduler
    from diffusers.models.transformers.ace_step_transformer import AceStepTransformer1DModel
    from diffusers.pipelines.ace_step import (
        AceStepAudioTokenDetokenizer,
        AceStepAudioTokenizer,
        AceStepConditionEncoder,
        AceStepPipeline,
    )
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3Model

    tok, vocab = _word_tokenizer(["<|endoftext|>", "<unk>"])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<|endoftext|>", unk_token="<unk>")
    attention = {"num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8}
    window = {"rope_theta": 10000.0, "sliding_window": 16}
    torch.manual_seed(seed)
    transformer = AceStepTransformer1DModel(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        in_channels=24,
        audio_acoustic_hidden_dim=8,
        patch_size=2,
        **attention,
        **window,
    )
    text_encoder = Qwen3Model(
        Qwen3Config(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            vocab_size=vocab,
            max_position_embeddings=512,
            **attention,
        )
    )
    condition_encoder = AceStepConditionEncoder(
        hidden_size=32,
        intermediate_size=64,
        text_hidden_dim=32,
        timbre_hidden_dim=8,
        num_lyric_encoder_hidden_layers=1,
        num_timbre_encoder_hidden_layers=1,
        **attention,
        **window,
    )
    extra: dict[str, object] = {}
    if cover:
        extra["audio_tokenizer"] = AceStepAudioTokenizer(
            hidden_size=32,
            intermediate_size=64,
            audio_acoustic_hidden_dim=8,
            pool_window_size=2,
            fsq_dim=32,
            fsq_input_levels=[4, 4, 4],
            fsq_input_num_quantizers=1,
            num_attention_pooler_hidden_layers=1,
            **attention,
            **window,
        )
        extra["audio_token_detokenizer"] = AceStepAudioTokenDetokenizer(
            hidden_size=32,
            intermediate_size=64,
            audio_acoustic_hidden_dim=8,
            pool_window_size=2,
            num_attention_pooler_hidden_layers=1,
            **attention,
            **window,
        )
    vae = AutoencoderOobleck(
        encoder_hidden_size=16,  # mean and scale of 8 latent channels
        downsampling_ratios=[2, 4, 4, 6, 10],  # 1920 samples per latent frame: 25 frames/s
        decoder_channels=4,
        decoder_input_channels=8,
        audio_channels=2,
        channel_multiples=[1, 2, 2, 2, 2],
        sampling_rate=ACE_RATE,
    )
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0)
    _wake(seed + 1, transformer, vae, condition_encoder, *extra.values())
    pipe = AceStepPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        transformer=transformer,
        condition_encoder=condition_encoder,
        scheduler=scheduler,
        **extra,
    )
    path.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(path)
    return path
