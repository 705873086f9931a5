"""Chapter 03's answers: softmax, attention_scores, self_attention."""
import torch

from . import right, wrong


@wrong("softmax", "wrong axis")
def softmax(x):
    return torch.exp(x) / torch.exp(x).sum(0, keepdim=True)


@right("softmax")
def softmax(x):  # noqa: F811 (every answer is named as the student's cell names it)
    return torch.exp(x - torch.logsumexp(x, -1, keepdim=True))
