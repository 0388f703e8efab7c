import numpy as np
import pytest

from core.similarity import cosine_similarity, filter_by_similarity


def test_cosine_basics():
    assert cosine_similarity(np.array([1.0, 0.0]), np.array([2.0, 0.0])) == pytest.approx(1.0)
    assert cosine_similarity(np.array([1.0, 0.0]), np.array([0.0, 3.0])) == pytest.approx(0.0)
    assert cosine_similarity(np.array([1.0, 1.0]), np.array([-1.0, -1.0])) == pytest.approx(-1.0)


def test_cosine_zero_norm_is_zero():
    assert cosine_similarity(np.zeros(3), np.array([1.0, 2.0, 3.0])) == 0.0
    assert cosine_similarity(np.array([1.0, 2.0, 3.0]), np.zeros(3)) == 0.0
    assert cosine_similarity(np.zeros(3), np.zeros(3)) == 0.0


def test_cosine_shape_mismatch_is_an_error():
    with pytest.raises(ValueError):
        cosine_similarity(np.ones(2), np.ones(3))


def unit(angle_deg: float) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    return np.array([np.cos(a), np.sin(a)])


CENTROID = np.array([1.0, 0.0])


def test_filter_threshold_and_ordering():
    # cosines: 0.5, 0.97, 0.0, 0.87
    embeddings = [unit(60), unit(15), unit(90), unit(30)]
    assert filter_by_similarity(embeddings, CENTROID, 0.3, 10) == [1, 3, 0]


def test_filter_max_results():
    embeddings = [unit(60), unit(15), unit(90), unit(30)]
    assert filter_by_similarity(embeddings, CENTROID, 0.3, 2) == [1, 3]


def test_filter_falls_back_to_top_n_when_none_pass():
    embeddings = [unit(100), unit(170), unit(95)]
    assert filter_by_similarity(embeddings, CENTROID, 0.3, 2) == [2, 0]


def test_filter_exact_threshold_passes():
    embeddings = [unit(60)]  # cosine 0.5
    assert filter_by_similarity(embeddings, CENTROID, 0.5 - 1e-12, 1) == [0]


def test_filter_ties_keep_input_order_and_edge_cases():
    embeddings = [unit(10), unit(-10), unit(10)]
    assert filter_by_similarity(embeddings, CENTROID, 0.3, 3) == [0, 1, 2]
    assert filter_by_similarity([], CENTROID, 0.3, 3) == []
    assert filter_by_similarity(embeddings, CENTROID, 0.3, 0) == []
