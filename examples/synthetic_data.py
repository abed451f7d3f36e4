"""Tiny synthetic speech-like data for the training examples (NumPy only).

Each utterance spells a random transcript: every symbol occupies 2-4 frames,
with silence frames between; a frame's feature vector is a fixed random
embedding of what is being "said" plus noise. A transducer can learn to
transcribe it in a few hundred steps on a CPU.
"""

import numpy as np

VOCAB = 8  # symbol 0 is the blank / termination symbol
FEATURES = 16
MAX_SYMBOLS = 6
MAX_FRAMES = 40


def make_batch(rng, batch_size, embedding=None):
    """Returns a dict of padded arrays: features [B, T, F], symbols [B, S],
    frame_lengths [B], symbol_lengths [B] (T = MAX_FRAMES, S = MAX_SYMBOLS)."""
    if embedding is None:
        embedding = np.random.default_rng(1234).standard_normal((VOCAB, FEATURES))
    features = np.zeros((batch_size, MAX_FRAMES, FEATURES), np.float32)
    symbols = np.zeros((batch_size, MAX_SYMBOLS), np.int32)
    frame_lengths = np.zeros(batch_size, np.int32)
    symbol_lengths = np.zeros(batch_size, np.int32)
    for b in range(batch_size):
        n = int(rng.integers(1, MAX_SYMBOLS + 1))
        labels = rng.integers(1, VOCAB, n)
        frames = []
        for label in labels:
            frames += [0] * int(rng.integers(0, 2)) + [int(label)] * int(rng.integers(2, 5))
        frames += [0] * int(rng.integers(1, 3))
        frames = frames[:MAX_FRAMES]
        t = len(frames)
        features[b, :t] = embedding[frames] + 0.3 * rng.standard_normal((t, FEATURES))
        symbols[b, :n] = labels
        frame_lengths[b], symbol_lengths[b] = t, n
    return {
        "features": features,
        "symbols": symbols,
        "frame_lengths": frame_lengths,
        "symbol_lengths": symbol_lengths,
    }


def decoder_inputs(symbols):
    """[B, S+1]: the blank followed by the transcript (stateless predictor input)."""
    return np.concatenate([np.zeros_like(symbols[:, :1]), symbols], axis=1)
