"""Segmentation, stopwords and query expansion for knowledge-base search.

A private ``jieba.Tokenizer`` is used (not the global one) so the domain words added
here never change how the NLU pipeline segments messages, and vice versa. Documents
and queries go through the same :meth:`KbTokenizer.tokens`, so both sides agree.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import jieba
import jieba.posseg
import yaml

from hotline.textnorm import normalize

log = logging.getLogger(__name__)

_TAG_RE = re.compile(r"<[^<>]{0,200}>")
# Runs of word characters: CJK ideographs, ASCII letters/digits. Everything else splits.
_WORDISH_RE = re.compile(r"[0-9A-Za-z\u3400-\u4dbf\u4e00-\u9fff]")
_DIGITS_RE = re.compile(r"^[0-9.]+$")

#: Function words, question words and hotline small talk: they carry no topic.
STOPWORDS: frozenset[str] = frozenset(
    """
    的 了 吗 呢 吧 啊 呀 哦 嘛 么 哈 啦 喔 呗 哇 嗯 着 过 地 得 之 其 与 及 和 或 跟 同 并 而
    且 但 则 就 都 也 还 又 再 才 很 太 最 更 挺 好 是 不是 有 没有 没 无 在 于 从 向 对 把 被
    给 让 为 为了 因为 所以 如果 要是 的话 那 这 那个 这个 这些 那些 这样 那样 这种 那种 哪
    哪个 哪些 哪里 哪儿 什么 啥 怎么 怎样 怎么样 怎么办 如何 为啥 为什么 多少 几 几个 多久
    多长 多长时间 时间 请问 问 问下 问一下 咨询 一下 下 我 我们 我家 咱 咱们 你 你们 您 他 她
    它 他们 人家 自己 大家 想 想要 要 需要 需 得要 应该 可以 可 能 能否 能不能 会 会不会 是否
    是不是 行 行不行 可不可以 有没有 一个 个 一 一些 些 点 一点 一点儿 样 里 上 中 内 后 前
    时 时候 现在 刚 刚刚 已经 还是 或者 以及 等 等等 等于 啥子 么样 办 办理 弄 搞 做 去 来 到
    找 看 看看 说 讲 听说 知道 告诉 帮 帮忙 帮我 麻烦 谢谢 你好 您好 喂 在吗 老师 领导 同志
    师傅 情况 问题 事 事情 东西 方面 相关 有关 具体 一般 规定 按照 依照 根据 本 该 其他 另外
    呐 喽 咯 哎 唉 哟 诶 请 求 急 急急 谢 多谢 感谢 公司 企业 我司 本公司 那边 这边
    一 二 三 四 五 六 七 八 九 十
    """.split()
)


_GAP = ".{0,8}"


@dataclass(frozen=True, slots=True)
class SynonymRule:
    """When any of ``say`` occurs in a question, also search for ``means``.

    A ``say`` phrase may contain ``*`` for a short gap (up to 8 characters), so
    "税*晚点" matches "税能不能晚点交" — people rarely say a phrase verbatim.
    """

    say: tuple[str, ...]
    means: str
    pattern: re.Pattern[str] | None = None

    def matches(self, text: str) -> bool:
        if self.pattern is not None:
            return self.pattern.search(text) is not None
        return any(word and word in text for word in self.say)


def _rule(say: tuple[str, ...], means: str) -> SynonymRule:
    if not any("*" in w for w in say):
        return SynonymRule(say, means)
    alternatives = [_GAP.join(re.escape(part) for part in w.split("*")) for w in say if w]
    return SynonymRule(say, means, re.compile("|".join(alternatives)))


def load_synonyms(path: Path) -> tuple[SynonymRule, ...]:
    """Read ``kb/synonyms.yml`` (``say``/``means`` rules and ``same`` groups)."""
    if not path.exists():
        return ()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    rules: list[SynonymRule] = []
    for i, raw in enumerate(data):
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: rule {i + 1} is not a mapping")
        if "same" in raw:
            group = tuple(normalize(str(w)) for w in raw["same"])
            for word in group:
                others = " ".join(w for w in group if w != word)
                rules.append(_rule((word,), others))
        else:
            say = raw.get("say")
            means = raw.get("means")
            if not say or not means:
                raise ValueError(f"{path}: rule {i + 1} needs 'say' and 'means' (or 'same')")
            words = (say,) if isinstance(say, str) else tuple(say)
            rules.append(_rule(tuple(normalize(str(w)) for w in words), normalize(str(means))))
    return tuple(rules)


_CJK_RUN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+|[0-9a-z]+")


def char_bigrams(text: str) -> list[str]:
    """Overlapping character pairs of each CJK run (ASCII words kept whole), lower-cased.

    The second retrieval channel: it matches where word segmentation disagrees between
    a question and the text (进项票 / 进项税额, 退伙 / 退伙人) and survives typos in one
    character of a longer word.
    """
    out: list[str] = []
    for run in _CJK_RUN_RE.findall(text.lower()):
        if run.isascii():
            out.append(run)
        elif len(run) == 1:
            out.append(run)
        else:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


def clean_query(text: str) -> str:
    """Normalized question text without HTML tags (pasted web text, injection attempts)."""
    return normalize(_TAG_RE.sub(" ", normalize(text)))


class KbTokenizer:
    """jieba (search mode) + domain dictionary + stopword removal, lower-cased."""

    def __init__(self, userdict: Path | None = None, extra_words: Iterable[str] = ()) -> None:
        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        if userdict is not None and userdict.exists():
            try:
                self._jieba.load_userdict(str(userdict))
            except Exception as exc:  # a broken user dictionary must not break search
                log.warning("ignoring jieba user dictionary %s: %s", userdict, exc)
        for word in extra_words:
            word = word.strip()
            if len(word) >= 2:
                self._jieba.add_word(word, tag="x")
        self._pos = jieba.posseg.POSTokenizer(self._jieba)

    def tokens(self, text: str) -> list[str]:
        """Search tokens of ``text`` (already normalized), in order, duplicates kept."""
        out: list[str] = []
        for tok in self._jieba.cut_for_search(text.lower()):
            tok = tok.strip()
            if not tok or tok in STOPWORDS or not _WORDISH_RE.search(tok):
                continue
            if _DIGITS_RE.match(tok):
                continue
            out.append(tok)
        return out

    def tagged(self, text: str) -> list[tuple[str, str, int, int]]:
        """Content words of ``text`` in jieba's precise mode (no overlaps): word, part of
        speech (``x`` for this tokenizer's domain words), start and end offsets."""
        out: list[tuple[str, str, int, int]] = []
        pos = 0
        lowered = text.lower()
        for pair in self._pos.cut(lowered):
            tok, flag = pair.word, pair.flag
            start = lowered.find(tok, pos)
            start = pos if start < 0 else start
            end = start + len(tok)
            pos = end
            tok = tok.strip()
            if not tok or tok in STOPWORDS or not _WORDISH_RE.search(tok):
                continue
            if _DIGITS_RE.match(tok):
                continue
            out.append((tok, flag, start, end))
        return out

    def general_frequency(self, word: str) -> int:
        """How common ``word`` is in general Chinese (jieba's dictionary count; 0 if absent)."""
        return int(self._jieba.FREQ.get(word) or 0)

    def expand(self, text: str, rules: Iterable[SynonymRule]) -> list[str]:
        """Tokens of the phrases that synonym rules add for ``text``."""
        extra: list[str] = []
        for rule in rules:
            if rule.matches(text):
                extra.extend(self.tokens(rule.means))
        return extra
