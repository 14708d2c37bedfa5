"""Model names reduced to the character: outfit words, versions and punctuation removed.

One character is often distributed as several files whose names differ only by the outfit or
the release: "初音ミク 水着ver1.2", "初音ミク(制服)", "Miku_Tshirt", "Gene_light". The name key
folds these to one string ("初音ミク", "miku", "gene") so the grouping can compare them with a
dictionary lookup. A key that says nothing about who the character is ("model", "", a single
letter) is dropped: it would group unrelated models.
"""

from __future__ import annotations

import re
import unicodedata

# Words that name an outfit, a release or a format rather than the character. Compared after
# NFKC + casefold; Japanese words are removed wherever they occur, English ones as whole words.
OUTFIT_WORDS_JA = (
    "水着",
    "制服",
    "私服",
    "普段着",
    "夏服",
    "冬服",
    "体操服",
    "浴衣",
    "着物",
    "和服",
    "衣装",
    "通常",
    "標準",
    "基本",
    "ドレス",
    "パジャマ",
    "メイド",
    "セーラー",
    "ブレザー",
    "ジャージ",
    "コート",
    "スーツ",
    "tシャツ",
    "シャツ",
    "ちび",
    "ミニ",
    "軽量",
    "ライト",
    "改変",
    "改造",
    "修正",
    "配布",
    "モデル",
    "素体",
    "髪型",
    "髪下ろし",
    "ポニテ",
    "ツイン",
    "なし",
    "無し",
    "あり",
    "有り",
)
OUTFIT_WORDS_EN = (
    "swimsuit",
    "swimwear",
    "bikini",
    "uniform",
    "school",
    "casual",
    "dress",
    "tshirt",
    "t shirt",
    "shirt",
    "summer",
    "winter",
    "spring",
    "autumn",
    "kimono",
    "yukata",
    "maid",
    "pajama",
    "pajamas",
    "sailor",
    "jersey",
    "coat",
    "suit",
    "outfit",
    "costume",
    "cloth",
    "clothes",
    "default",
    "normal",
    "standard",
    "base",
    "chibi",
    "mini",
    "light",
    "lite",
    "low",
    "high",
    "lowpoly",
    "hq",
    "lq",
    "edit",
    "edited",
    "mod",
    "modified",
    "fix",
    "fixed",
    "ver",
    "version",
    "model",
    "mmd",
    "pmx",
    "pmd",
    "new",
    "old",
    "alt",
    "nude",
    "naked",
    "hair",
)
# Names that identify nobody: after folding, a key equal to one of these is dropped.
GENERIC_NAMES = frozenset(
    {
        "",
        "model",
        "character",
        "chara",
        "girl",
        "boy",
        "test",
        "sample",
        "untitled",
        "noname",
        "無題",
        "キャラ",
    }
)
MIN_KEY_CHARS = 2

_BRACKETS = re.compile(r"[(\[{（［｛【「『〈《<][^)\]}）］｝】」』〉》>]*[)\]}）］｝】」』〉》>]")
_VERSION = re.compile(r"(?:ver\.?|version|v)\s*\d+(?:[._]\d+)*|\d+(?:[._]\d+)+")
_EN_WORDS = re.compile(
    r"(?<![a-z])(?:" + "|".join(sorted(OUTFIT_WORDS_EN, key=len, reverse=True)) + r")(?![a-z])"
)
_JA_WORDS = re.compile("|".join(sorted((re.escape(w) for w in OUTFIT_WORDS_JA), key=len, reverse=True)))
_TRAILING_DIGITS = re.compile(r"\d+$")


def _strip_punctuation(text: str) -> str:
    """Keep letters and digits of every script; drop punctuation, symbols and spaces."""
    return "".join(c for c in text if unicodedata.category(c)[0] in "LN")


def name_key(name: str) -> str:
    """The character part of a model name, or "" when nothing identifying is left.

    NFKC (full-width -> ASCII, half-width katakana -> full-width), casefold, bracketed parts
    dropped when text is left outside them, version numbers, outfit words and punctuation
    removed. "初音ミク(水着) ver1.2" -> "初音ミク"; "Gene_light" -> "gene"; "ジェネ / Gene" ->
    "ジェネgene".
    """
    text = unicodedata.normalize("NFKC", name or "").casefold().strip()
    outside = _BRACKETS.sub(" ", text)
    if _strip_punctuation(outside):
        text = outside
    text = _VERSION.sub(" ", text)
    text = text.replace("_", " ").replace("-", " ")
    text = _EN_WORDS.sub(" ", text)
    text = _JA_WORDS.sub(" ", text)
    key = _TRAILING_DIGITS.sub("", _strip_punctuation(text))
    if key in GENERIC_NAMES or len(key) < MIN_KEY_CHARS:
        return ""
    return key
