import pytest

from core.labels import clean_label, unique_label


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Bright Driving", "Bright Driving"),
        ('"dusty lofi keys"', "Dusty Lofi Keys"),
        ("**Neon Pulse**\n\nThis cluster features...", "Neon Pulse"),
        ("Label: warm tape hiss groove", "Warm Tape Hiss"),
        ("[bold red]Loud[/bold red] Noise", "Loud Noise"),
        ("\x1b[31mRed\x1b[0m Zone\x07", "Red Zone"),
        ("Café Noir!", "Cafe Noir"),
        ("<b>Deep</b> House", "Deep House"),
        ("Supercalifragilisticexpialidocious", "Supercalifragilistic"),
    ],
)
def test_clean_label(raw, expected):
    assert clean_label(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "!!!", "\x1b[31m", "日本語", None, 42])
def test_clean_label_gives_none_for_junk(raw):
    assert clean_label(raw) is None


def test_clean_label_long_output_is_cut():
    label = clean_label("word " * 5000)
    assert label == "Word Word Word"


def test_unique_label():
    assert unique_label("Dark Sparse", []) == "Dark Sparse"
    assert unique_label("Dark Sparse", ["dark sparse"]) == "Dark Sparse 2"
    assert unique_label("Dark Sparse", ["Dark Sparse", "Dark Sparse 2"]) == "Dark Sparse 3"
    assert unique_label("One Two Three", ["One Two Three"]) == "One Two 2"
