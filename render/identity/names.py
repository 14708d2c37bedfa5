"""Model names reduced to the character: outfit words, versions, editions and punctuation removed.

One character is often distributed as several files whose names differ only by the outfit or
the release: "初音ミク 水着ver1.2", "初音ミク(制服)", "Miku_Tshirt", "Gene_light", "鏡音リンact2",
"Alice_ver2.0", "Bob_perfectsync". The name key folds these to one string ("初音ミク", "miku",
"gene", "鏡音リン", "alice", "bob") so the grouping can compare them with a dictionary lookup; two
releases of one character with different keys would be two groups, and a ratio split could
put the character in train and test at once. A key that says nothing about who the character
is ("model", "", a single letter) is dropped: it would group unrelated models.

Cutting too much is as bad as cutting too little (two characters in one group), so Latin
edition words are removed only as whole words, or glued to a name at a lower-to-upper case
change ("BobPS", "MikuVer2"), never from inside a word: "Lily" keeps its "ly", "Levi" its "v",
"Oliver2" its "ver". Digits are cut only as a version ("v2", "2.0") or at the very end after
a word of two letters or more ("Miku2" -> "miku"; "2B", "9S", "A2", "R2-D2" and "C.C." stay).
The tables are listed in docs/identity.md.
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
# Versions, editions and rig formats of one character's model (docs/identity.md lists them).
# Latin ones are regular expressions matched as whole words after NFKC + casefold, with `_`
# and `-` read as spaces; each with examples it removes.
EDITION_PATTERNS_EN: tuple[tuple[str, str], ...] = (
    (r"(?:version|ver)[\s.]*\d+(?:\.\d+)*(?:[a-z]|β|α)?", "ver2, Ver.2.0, ver.1.02, version 3, ver1.0β"),
    (r"v\.?\d+(?:\.\d+)*(?:[a-z]|β|α)?", "v2, v1.3, V.2, V4X"),
    (r"act[\s.]*\d+", "act2, Act 2, act.3"),
    (r"rev[\s.]*\d+", "rev2, Rev.3"),
    (r"perfect\s*sync", "perfectsync, perfect sync, Perfect_Sync, perfect-sync"),
    (r"ps", "PS, _PS"),
    (r"arkit", "ARKit"),
    (r"[bsq]def", "_BDEF, SDEF, QDEF"),
    (r"edition|update|updated|latest|final", "edition, update, latest, final"),
)
# Dotted numbers are a version wherever they are ("Alice2.0", "miku 1.02").
DOTTED_VERSION = r"\d+(?:\.\d+)+"
# Japanese editions: removed wherever they occur (like OUTFIT_WORDS_JA).
EDITION_WORDS_JA = (
    "修正版",
    "最新版",
    "軽量版",
    "改良版",
    "更新版",
    "完成版",
    "配布版",
    "公開版",
    "簡易版",
    "旧版",
    "最終版",
    "軽量化",
    "表情追加版",
    "表情追加",
    "表情強化版",
    "表情強化",
    "パーフェクトシンク",
    "バージョン",
    "対応版",
    "対応",
)
# Japanese editions removed only at the end of the name: "島風改", "夕立改二" (a remodel of one
# character); "改" inside a name is left alone.
EDITION_SUFFIX_JA = r"改(?:[二弐三参]|\d+)?"
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

_LATIN = "a-z\u00df-\u024f"  # Latin letters after casefold: a word boundary is "no Latin letter"
_BRACKETS = re.compile(r"[(\[{（［｛【「『〈《<][^)\]}）］｝】」』〉》>]*[)\]}）］｝】」』〉》>]")
_EDITION = re.compile(
    rf"(?<![{_LATIN}])(?:" + "|".join(p for p, _ in EDITION_PATTERNS_EN) + rf")(?![{_LATIN}])"
)
_DOTTED = re.compile(DOTTED_VERSION)
_EN_WORDS = re.compile(
    rf"(?<![{_LATIN}])(?:" + "|".join(sorted(OUTFIT_WORDS_EN, key=len, reverse=True)) + rf")(?![{_LATIN}])"
)
_JA_WORDS = re.compile(
    "|".join(sorted((re.escape(w) for w in OUTFIT_WORDS_JA + EDITION_WORDS_JA), key=len, reverse=True))
)
_GLUED = re.compile(r"(?<=[a-z])(?=[A-Z])")  # a lower-to-upper case change: "Bob|PS", "Miku|Ver2"
# a trailing number after two letters ("miku2"; "a2", "r2d2" stay), or a Japanese edition suffix
_TAIL = re.compile(rf"(?:(?<=[^\W\d_]{{2}})\d+|{EDITION_SUFFIX_JA})$")


def _strip_punctuation(text: str) -> str:
    """Keep letters and digits of every script; drop punctuation, symbols and spaces."""
    return "".join(c for c in text if unicodedata.category(c)[0] in "LN")


def _split_glued(text: str) -> str:
    """A space before an edition word glued to the name at a case change ("BobPS" -> "Bob PS");
    other case changes stay glued, so "McDonald" or "SailorMoon" keep every letter."""
    folded = text.replace("_", " ").replace("-", " ")  # as name_key reads them ("Perfect_Sync")
    cuts = [m.start() for m in _GLUED.finditer(text) if _EDITION.match(folded[m.start() :].casefold())]
    for pos in reversed(cuts):
        text = text[:pos] + " " + text[pos:]
    return text


def _strip_tail(key: str) -> str:
    """Trailing numbers after a word and Japanese edition suffixes, while at least MIN_KEY_CHARS
    stay ("miku2" -> "miku", "島風改" -> "島風"; "a2" and "r2d2" stay: the number is the name's)."""
    while (m := _TAIL.search(key)) is not None and m.start() >= MIN_KEY_CHARS:
        key = key[: m.start()]
    return key


def name_key(name: str) -> str:
    """The character part of a model name, or "" when nothing identifying is left.

    NFKC (full-width -> ASCII, half-width katakana -> full-width), edition words glued at a case
    change split off, casefold, bracketed parts dropped when text is left outside them, version
    and edition words, outfit words and punctuation removed, then trailing numbers.
    "初音ミク(水着) ver1.2" -> "初音ミク"; "Gene_light" -> "gene"; "ジェネ / Gene" -> "ジェネgene";
    "鏡音リンact2" -> "鏡音リン"; "Alice_ver2.0" -> "alice"; "BobPerfectSync" -> "bob".
    """
    text = _split_glued(unicodedata.normalize("NFKC", name or "").strip()).casefold()
    outside = _BRACKETS.sub(" ", text)
    if _strip_punctuation(outside):
        text = outside
    text = text.replace("_", " ").replace("-", " ")
    text = _EDITION.sub(" ", text)
    text = _DOTTED.sub(" ", text)
    text = _EN_WORDS.sub(" ", text)
    text = _JA_WORDS.sub(" ", text)
    key = _strip_tail(_strip_punctuation(text))
    if key in GENERIC_NAMES or len(key) < MIN_KEY_CHARS:
        return ""
    return key
