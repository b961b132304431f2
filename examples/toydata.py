"""Small synthetic datasets for the examples: learnable, deterministic, instant to make."""
import torch


def blobs(n=2048, d=20, classes=10, seed=0):
    """Gaussian clusters: a classification task an MLP learns in a few hundred steps."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(classes, d, generator=g) * 2
    y = torch.randint(0, classes, (n,), generator=g)
    return centers[y] + torch.randn(n, d, generator=g), y


def images(n=1024, classes=4, size=16, seed=0):
    """Noisy images whose class is the quadrant holding a bright square."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    x = torch.randn(n, 3, size, size, generator=g)
    half = size // 2
    for q in range(classes):
        r, c = divmod(q, 2)
        x[y == q, :, r * half:(r + 1) * half, c * half:(c + 1) * half] += 0.35
    return x, y


def regression(n=1024, d=8, seed=0):
    """y = x @ w + noise, with unit-scale features and target."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    w = torch.randn(d, generator=g) / d ** 0.5
    return x, x @ w + 0.1 * torch.randn(n, generator=g)


def sequences(n=512, length=32, vocab=16, seed=0):
    """Token sequences that count upward modulo `vocab`, from a random start: next token is predictable."""
    g = torch.Generator().manual_seed(seed)
    start = torch.randint(0, vocab, (n, 1), generator=g)
    return (start + torch.arange(length)) % vocab
