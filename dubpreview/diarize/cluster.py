"""Clustering of speaker embeddings into speakers.

Units of at most ``unit_s`` seconds of speech (VAD regions, cut evenly) get the mean of
the GE2E window embeddings inside them; agglomerative clustering (scikit-learn, cosine
distance, average linkage) groups them, either into the number of speakers the user gave
or by a distance threshold (:data:`DISTANCE_THRESHOLD`). Clusters holding less than
``min_share`` of the speech (and under ``min_speaker_s``) are folded into the nearest
large one, then every unit is re-assigned to its nearest centroid (two k-means steps).
"""

from __future__ import annotations

import numpy as np

from dubpreview.errors import DubError

DISTANCE_THRESHOLD = 0.4
"""Cosine distance (1 - cosine) at which average-linkage merging stops when the number of
speakers is not given. Chosen on the clips in ``bench/speakers.py``: 2 s units of one
speaker sit within ~0.3 of each other; the two fillets-ng actors are ~0.5 apart."""


def _normalize(x: np.ndarray) -> np.ndarray:
    return x / (np.linalg.norm(x, axis=-1, keepdims=True) + 1e-9)


def cluster_units(emb: np.ndarray, durations: np.ndarray, n_speakers: int | None = None,
                  max_speakers: int = 8, threshold: float = DISTANCE_THRESHOLD,
                  min_share: float = 0.05, min_speaker_s: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """Speaker label per unit.

    Args:
        emb: float32 ``(n, 256)`` unit embeddings (L2-normalised).
        durations: seconds of speech per unit, shape ``(n,)``.
        n_speakers: the number of speakers if known (then exactly that many when there are
            enough units), else found with ``threshold`` and capped at ``max_speakers``.

    Returns:
        (labels ``(n,)`` int numbered 0, 1, ... in order of first appearance,
        centroids ``(k, 256)`` float32 L2-normalised).

    Raises:
        DubError: ``n_speakers`` below 1.
    """
    from sklearn.cluster import AgglomerativeClustering

    n = len(emb)
    if n_speakers is not None and n_speakers < 1:
        raise DubError(f"the number of speakers must be at least 1, not {n_speakers}")
    if n == 0:
        return np.zeros(0, int), np.zeros((0, emb.shape[1] if emb.ndim == 2 else 256), np.float32)
    emb = _normalize(np.asarray(emb, np.float64))
    if n == 1 or n_speakers == 1:
        labels = np.zeros(n, int)
    elif n_speakers is not None:
        labels = AgglomerativeClustering(n_clusters=min(n_speakers, n), metric="cosine",
                                         linkage="average").fit_predict(emb)
    else:
        labels = AgglomerativeClustering(n_clusters=None, distance_threshold=threshold, metric="cosine",
                                         linkage="average").fit_predict(emb)
        share = np.bincount(labels, weights=durations)
        big = np.flatnonzero(share >= max(min_speaker_s, min_share * durations.sum()))
        if big.size == 0:
            big = np.array([int(np.argmax(share))])
        big = big[np.argsort(-share[big])][:max_speakers]
        cents = _normalize(np.stack([emb[labels == b].mean(0) for b in big]))
        labels = np.argmax(emb @ cents.T, axis=1)
    k = labels.max() + 1
    for _ in range(2):  # k-means refinement on the units, weighted by duration
        cents = []
        for j in range(k):
            m = labels == j
            cents.append(_normalize((emb[m] * durations[m, None]).sum(0)) if m.any() else np.zeros(emb.shape[1]))
        new = np.argmax(emb @ np.stack(cents).T, axis=1)
        if n_speakers is not None and len(set(new.tolist())) < len(set(labels.tolist())):
            break  # keep the number of speakers the user asked for
        labels = new
    order = {lab: i for i, lab in enumerate(dict.fromkeys(labels.tolist()))}
    labels = np.array([order[x] for x in labels], int)
    cents = np.stack([_normalize((emb[labels == j] * durations[labels == j, None]).sum(0))
                      for j in range(len(order))])
    return labels, cents.astype(np.float32)
