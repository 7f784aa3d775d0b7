"""Cutting long texts to ``model.max_length`` tokens: head, tail or head+tail, and counting the cuts.

Tweets fit in 128 tokens; product reviews often do not, and which part survives the cut
matters. Sun et al. (2019, "How to Fine-Tune BERT for Text Classification?") compared keeping
the head, the tail and both on long documents (IMDb reviews among them) cut to 512 tokens:
head+tail (the first 128 and the last 382 tokens) was best; reviews tend to open with context
and close with the verdict. :func:`cut` follows that split.

The text prefix (e5's ``"query: "``) and the tokenizer's special tokens are never cut: the
budget for the text itself is ``max_length`` minus both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

STRATEGIES = ("head", "tail", "head+tail")
HEAD_SHARE = 0.25
"""Share of the budget head+tail keeps from the start (Sun et al.: 128 of 510 tokens)."""
WARN_FRACTION = 0.10
"""Above this fraction of cut texts in any language and split, train/evaluate print a warning."""


def head_tail_sizes(budget: int) -> tuple[int, int]:
    """``(k, m)``: head+tail keeps the first k and the last m tokens of a text longer than ``budget``.

    ``k = budget // 4`` (at least 1 when the budget allows) and ``m = budget - k``: a quarter
    from the start, three quarters from the end, as in Sun et al. 2019 (128 + 382 of 510;
    with ``max_length`` 128 and two special tokens, 31 + 95).
    """
    if budget <= 1:
        return 0, max(budget, 0)
    k = max(1, int(budget * HEAD_SHARE))
    return k, budget - k


def cut(ids: Sequence[int], budget: int, strategy: str) -> list[int]:
    """``ids`` cut to at most ``budget`` tokens by ``strategy`` (unchanged when they fit)."""
    ids = list(ids)
    if len(ids) <= budget:
        return ids
    if budget <= 0:
        return []
    if strategy == "head":
        return ids[:budget]
    if strategy == "tail":
        return ids[len(ids) - budget:]
    if strategy == "head+tail":
        k, m = head_tail_sizes(budget)
        return ids[:k] + ids[len(ids) - m:]
    raise ValueError(f"unknown truncation strategy {strategy!r}; one of {', '.join(STRATEGIES)}")


def _special_layout(tokenizer) -> tuple[int, int]:
    """How many special tokens the tokenizer puts before and after a single text (e.g. 1 and 1 for [CLS] … [SEP])."""
    bare = tokenizer("hello", add_special_tokens=False)["input_ids"]
    full = tokenizer("hello", add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(bare) + 1):
        if full[start:start + len(bare)] == bare:
            return start, len(full) - start - len(bare)
    return 0, 0  # a tokenizer that rewrites the text around its specials: treat every token as text


def encode(tokenizer, texts: Sequence[str], max_length: int, text_prefix: str = "",
           strategy: str = "head") -> tuple[list[list[int]], int]:
    """Token ids of ``text_prefix + text`` for each text, cut to ``max_length``; and how many were cut.

    ``head`` gives exactly what ``tokenizer(..., truncation=True, max_length=...)`` gives.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown truncation strategy {strategy!r}; one of {', '.join(STRATEGIES)}")
    before, after = _special_layout(tokenizer)
    prefix = tokenizer(text_prefix, add_special_tokens=False)["input_ids"] if text_prefix else []
    # verbose=False: the whole text is tokenised on purpose (cut below), so transformers' "longer than the
    # specified maximum" warning would be wrong here
    full = tokenizer([text_prefix + t for t in texts], add_special_tokens=True, truncation=False,
                     return_attention_mask=False, return_token_type_ids=False, verbose=False)["input_ids"]
    out, truncated = [], 0
    for ids in full:
        body = ids[before:len(ids) - after]
        room = max(max_length - before - after, 0)
        if len(body) > room:
            truncated += 1
            keep = min(len(prefix), room) if body[:len(prefix)] == prefix else 0
            body = body[:keep] + cut(body[keep:], room - keep, strategy)
        out.append(ids[:before] + body + ids[len(ids) - after:])
    return out, truncated


@dataclass
class TruncationStats:
    """How many texts of one language and split were longer than the budget."""

    n: int
    truncated: int

    @property
    def fraction(self) -> float:
        return self.truncated / self.n if self.n else 0.0


def truncation_report(stats: dict[str, dict[str, TruncationStats]], max_length: int, strategy: str) -> dict:
    """The ``truncation`` block of results.json: per split and language, the count and fraction cut."""
    return {"strategy": strategy, "max_length": max_length, "warn_above_fraction": WARN_FRACTION,
            "splits": {split: {lang: {"n": s.n, "truncated": s.truncated, "fraction": round(s.fraction, 4)}
                               for lang, s in by_language.items()}
                       for split, by_language in stats.items()}}


def truncation_messages(stats: dict[str, dict[str, TruncationStats]], max_length: int, strategy: str) -> list[str]:
    """One line per language and split with a cut: ``truncation: …``, or ``warning: …`` with advice above
    :data:`WARN_FRACTION`."""
    lines = []
    for split, by_language in stats.items():
        for language, s in by_language.items():
            if not s.truncated:
                continue
            line = (f"{language}/{split}: {s.truncated} of {s.n} texts ({100 * s.fraction:.1f}%) are longer than "
                    f"model.max_length={max_length} tokens and were cut ({strategy})")
            if s.fraction <= WARN_FRACTION:
                lines.append(f"truncation: {line}")
                continue
            advice = ("raise model.max_length" if strategy != "head"
                      else "raise model.max_length, or set data.truncation: head+tail to keep the end too")
            lines.append(f"warning: {line}; {advice}")
    return lines
