"""The handwritten-digits dataset (scikit-learn's bundled copy, offline) with Kiln's fixed split.

Shared by the lossy passes' tools (quantization, pruning): every model trained on digits uses this
split, so accuracies in tests, benchmarks and notes compare like with like.

    images: float32 [N, 1, 8, 8], pixel values / 16 (so in [0, 1])
    labels: int64 [N]
    split:  a permutation of the 1797 samples seeded with 0; the first 360 are the test set
"""
import numpy as np

TEST_COUNT = 360


def load_split():
    """Returns (train_x, train_y, test_x, test_y) with the shapes above."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    labels = digits.target.astype(np.int64)
    order = np.random.RandomState(0).permutation(len(labels))
    test, train = order[:TEST_COUNT], order[TEST_COUNT:]
    return images[train], labels[train], images[test], labels[test]
