"""Tiny random MusicGen and CLAP models, built from their configs at test time.

The tokenizers are made with the `tokenizers` library (a Unigram model for T5,
a byte-level BPE for CLAP's RoBERTa), wrapped in the transformers classes the
real checkpoints use, and everything is written with ``save_pretrained`` so the
providers load it through the same ``from_pretrained`` path as a real download.

Shapes are chosen to exercise the generic code rather than MusicGen's numbers:
MusicGen runs at 8 kHz with 160-sample frames (50 frames/s, 4 codebooks, like
the real one), CLAP expects 16 kHz input in 2-second windows (the real one
48 kHz and 10 s), so resampling and windowing are really done.
"""

from __future__ import annotations

from pathlib import Path

WORDS = [
    "lofi",
    "warm",
    "beat",
    "soft",
    "drums",
    "bright",
    "synth",
    "lead",
    "dark",
    "ambient",
    "pad",
    "slow",
    "fast",
    "piano",
    "bass",
    "guitar",
    "energy",
    "density",
    "duration",
    "with",
    "and",
    "the",
    "of",
    "a",
]

MUSICGEN_RATE = 8000
CLAP_RATE = 16000
CLAP_WINDOW_SEC = 2
CLAP_DIM = 8


def _t5_tokenizer():  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    pieces += [("\u2581" + word, -1.0) for word in WORDS]
    pieces += [(ch, -5.0) for ch in "abcdefghijklmnopqrstuvwxyz0123456789|=.,:-"]
    tok = Tokenizer(models.Unigram(pieces, unk_id=2))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    return T5Tokenizer(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", extra_ids=0
    ), len(pieces)


def build_tiny_musicgen(path: Path, seed: int = 0, channels: int = 1) -> Path:
    """A random MusicGen (T5 text encoder, EnCodec, decoder) saved to ``path``.

    ``channels=2`` builds a stereo one like musicgen-stereo-*: a mono codec used
    once per channel, the decoder's codebooks interleaved left/right.
    """
    import torch
    from transformers import (
        EncodecConfig,
        EncodecFeatureExtractor,
        GenerationConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenProcessor,
        T5Config,
    )

    tokenizer, vocab_size = _t5_tokenizer()
    text = T5Config(
        vocab_size=vocab_size,
        d_model=16,
        d_kv=8,
        d_ff=32,
        num_layers=1,
        num_heads=2,
        decoder_start_token_id=0,
        pad_token_id=0,
        eos_token_id=1,
    )
    audio = EncodecConfig(
        sampling_rate=MUSICGEN_RATE,
        upsampling_ratios=[8, 5, 4],  # 160 samples per frame: 50 frames per second
        hidden_size=16,
        num_filters=4,
        codebook_size=64,
        num_lstm_layers=1,
        num_residual_layers=1,
        target_bandwidths=[1.2],  # 4 quantizers of 6 bits at 50 frames/s
    )
    decoder = MusicgenDecoderConfig(
        vocab_size=64,
        max_position_embeddings=4096,
        num_hidden_layers=1,
        ffn_dim=32,
        num_attention_heads=2,
        hidden_size=16,
        num_codebooks=4 * channels,
        audio_channels=channels,
        pad_token_id=64,
        bos_token_id=64,
    )
    config = MusicgenConfig(text_encoder=text, audio_encoder=audio, decoder=decoder)
    torch.manual_seed(seed)
    model = MusicgenForConditionalGeneration(config)
    # Codebooks start at zero: every code would decode to the same audio.
    generator = torch.Generator().manual_seed(seed + 1)
    for layer in model.audio_encoder.quantizer.layers:
        layer.codebook.embed.data.copy_(torch.randn(layer.codebook.embed.shape, generator=generator))
    model.generation_config = GenerationConfig(
        do_sample=True,
        guidance_scale=3.0,
        max_length=1500,
        decoder_start_token_id=64,
        pad_token_id=64,
        bos_token_id=64,
    )
    processor = MusicgenProcessor(
        feature_extractor=EncodecFeatureExtractor(feature_size=channels, sampling_rate=MUSICGEN_RATE),
        tokenizer=tokenizer,
    )
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


def _roberta_tokenizer():  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import RobertaTokenizer

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator([" ".join(WORDS)] * 4, trainer)
    tok.post_processor = processors.RobertaProcessing(
        ("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>"))
    )
    return RobertaTokenizer(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
    ), tok.get_vocab_size()


def build_tiny_clap(path: Path, seed: int = 0) -> Path:
    """A random CLAP (RoBERTa text tower, HTSAT audio tower) saved to ``path``."""
    import torch
    from transformers import (
        ClapAudioConfig,
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapProcessor,
        ClapTextConfig,
    )

    tokenizer, vocab_size = _roberta_tokenizer()
    text = ClapTextConfig(
        vocab_size=vocab_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=80,
        projection_dim=CLAP_DIM,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    audio = ClapAudioConfig(
        window_size=4,
        num_mel_bins=16,
        spec_size=64,
        patch_size=4,
        patch_stride=[4, 4],
        depths=[1, 1],
        num_attention_heads=[1, 2],
        patch_embeds_hidden_size=8,
        hidden_size=16,
        projection_dim=CLAP_DIM,
        enable_fusion=False,
        num_classes=4,
    )
    config = ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=CLAP_DIM)
    torch.manual_seed(seed)
    model = ClapModel(config)
    extractor = ClapFeatureExtractor(
        feature_size=16,
        sampling_rate=CLAP_RATE,
        hop_length=160,
        max_length_s=CLAP_WINDOW_SEC,
        fft_window_size=512,
        frequency_max=8000,
        truncation="rand_trunc",
        padding="repeatpad",
    )
    processor = ClapProcessor(feature_extractor=extractor, tokenizer=tokenizer)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path


def install_in_hub_cache(model_dir: Path, cache_dir: Path, repo_id: str) -> Path:
    """Lay ``model_dir``'s files out as the Hugging Face cache does after a download of ``repo_id``."""
    import shutil

    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = cache_dir / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    for item in model_dir.iterdir():
        if item.is_file():
            shutil.copy2(item, snapshot / item.name)
    return snapshot
