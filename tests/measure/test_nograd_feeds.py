"""Outputs a model computed under no_grad are followed into another model's training call by identity: the
very tensor fed is a feed; an equal copy, the model's own output fed back to it, or a feed beyond the
remembered outputs is not."""
import torch
import torch.nn as nn

from traindoctor.measure.nograd_feeds import KEPT, NoGradFeeds


def test_the_tensor_a_model_made_under_no_grad_fed_to_another_is_a_feed():
    encoder, head, feeds = nn.Linear(4, 4), nn.Linear(4, 2), NoGradFeeds()
    with torch.no_grad():
        f = encoder(torch.randn(8, 4))
    feeds.produced(encoder, (f, torch.arange(8)), {"file": "train.py", "line": 7})
    feeds.consumed(head, (f,), {})
    feeds.consumed(head, (), {"x": f})
    feed = feeds.feeds[id(encoder)]
    assert (feed.fed, feed.calls, feed.location["line"]) == (id(head), 2, 7)


def test_a_copy_its_own_output_or_a_forgotten_output_is_not_a_feed():
    encoder, head, feeds = nn.Linear(4, 4), nn.Linear(4, 2), NoGradFeeds()
    with torch.no_grad():
        f = encoder(torch.randn(8, 4))
    feeds.produced(encoder, f, {})
    feeds.consumed(head, (f.clone(),), {})
    feeds.consumed(encoder, (f,), {})
    later = [torch.zeros(1) for _ in range(KEPT)]  # alive: each its own id
    for t in later:
        feeds.produced(encoder, t, {})
    feeds.consumed(head, (f,), {})
    assert feeds.feeds == {}
