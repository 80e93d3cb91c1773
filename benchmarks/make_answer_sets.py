"""Build the answer-quality benchmarks in benchmarks/data/ from XQuAD (English).

    .venv/bin/python benchmarks/make_answer_sets.py [--xquad ../shared/benchmarks/xquad_en]

- xquad_abstain: on-topic unanswerable questions. From each of XQuAD's articles 08-47 (the first
  200 XQuAD questions, used for answer match, come from articles 00-07 and stay untouched) one
  paragraph is removed from the corpus while the article's other paragraphs stay. Questions
  about a removed paragraph become unanswerable (no gold passage) unless their gold answer
  still appears in some remaining passage; questions about the remaining paragraphs stay
  answerable and measure false abstention. Even-numbered articles form the development split
  (`dev.jsonl`, used to design and calibrate), odd-numbered ones the held-out split
  (`heldout.jsonl`, measured, never tuned on).
- xquad_abstain_dev2: a second, larger development set from the same even articles, with a
  different paragraph removed (number (a + 2) mod 5 of article a): every question about it
  whose answer appears nowhere else is unanswerable, plus two answerable questions per
  article from paragraphs removed in neither set. Held-out articles are not touched.
- multihop_en: hand-written two-document questions over the full XQuAD corpus
  (HotpotQA-style comparisons and bridges: each needs one passage from each of two different
  articles), split into `dev.jsonl` and `heldout.jsonl` the same way (by position).

The committed files are the reference; both are CC BY-SA 4.0 like XQuAD (see SOURCE.md).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import string
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "data"
DEFAULT_XQUAD = ROOT.parent / "shared" / "benchmarks" / "xquad_en"
#: Articles whose questions are the XQuAD answer-match benchmark (first 200 questions).
ANSWER_MATCH_ARTICLES = range(0, 8)
PER_ARTICLE = 2  # unanswerable and answerable questions taken per article

# (question, gold passage ids (two different articles), answer strings)
MULTIHOP: list[tuple[str, list[str], list[str]]] = [
    ("Did Warsaw get its first stock market before Newcastle upon Tyne got its first "
     "covered market?",
     ["xquad-en-01-04", "xquad-en-22-01"], ["yes", "1817"]),
    ("Who died first, the inventor Nikola Tesla or the Mongol ruler Genghis Khan?",
     ["xquad-en-03-00", "xquad-en-25-03"], ["Genghis", "1227"]),
    ("Was oxygen named before the first modern geologist presented his theory of the "
     "Earth?",
     ["xquad-en-12-00", "xquad-en-21-04"], ["yes", "1777"]),
    ("Which is older: the Victoria and Albert Museum or the medical school from which "
     "Newcastle University grew?",
     ["xquad-en-23-00", "xquad-en-22-04"], ["medical school", "1834"]),
    ("Which came first, the treaty founding the European Economic Community or the US "
     "Supreme Court ruling that ended school segregation?",
     ["xquad-en-15-00", "xquad-en-30-04"], ["ruling", "Brown", "1954"]),
    ("Which is older: the constitution of the Australian state of Victoria or the failed "
     "Scottish devolution vote?",
     ["xquad-en-09-01", "xquad-en-42-00"], ["constitution", "1975"]),
    ("What religious group did the explorer who charted the river at Jacksonville belong "
     "to, and when did that group get its name?",
     ["xquad-en-32-02", "xquad-en-10-02"], ["Huguenot", "1550"]),
    ("Which country did Barack Obama avoid visiting during his 2013 Africa trip, and which"
     " Ivy League university counts him among its alumni?",
     ["xquad-en-37-02", "xquad-en-31-04"], ["Kenya", "Harvard"]),
    ("Which Middle Eastern city lost as much as two-thirds of its people to the plague, "
     "and which descendant of Genghis Khan sacked it?",
     ["xquad-en-20-04", "xquad-en-25-04"], ["Baghdad", "Hulagu"]),
    ("What do Tibetan Buddhists call their teachers, and where was Genghis Khan's "
     "mausoleum taken in 1949?",
     ["xquad-en-05-04", "xquad-en-25-02"], ["Lama", "Kumbum"]),
    ("Which medieval Persian scholar wrote about the geology of India and also wrote a "
     "book on drugs?",
     ["xquad-en-21-03", "xquad-en-26-01"], ["Biruni"]),
    ("Avicenna is credited in both geology and pharmacy; how many medicinal preparations "
     "did he describe?",
     ["xquad-en-21-03", "xquad-en-26-01"], ["700"]),
    ("How many people arrived with the first European settlers of Victoria, and how many "
     "of the Huguenots in Virginia were naturalised in 1705?",
     ["xquad-en-09-04", "xquad-en-10-01"], ["402", "148"]),
    ("Which lasted longer, the fighting of the French and Indian War in North America or "
     "the Black Death's sweep of Europe before it moved on to Russia?",
     ["xquad-en-46-00", "xquad-en-20-03"], ["French and Indian War", "six years"]),
    ("What filled the Apollo 1 cabin and fed the fire, and which gas is given at high "
     "pressure to treat carbon monoxide poisoning?",
     ["xquad-en-14-03", "xquad-en-12-04"], ["oxygen"]),
    ("Is the treaty that demilitarised the Rhineland older than the Treaty of Rome?",
     ["xquad-en-41-04", "xquad-en-15-00"], ["yes", "Versailles"]),
    ("Where did the Mongol Empire end in the east when Genghis Khan died, and what ruined "
     "Kublai Khan's second invasion of Japan?",
     ["xquad-en-25-03", "xquad-en-36-00"], ["Sea of Japan", "typhoon"]),
    ("Which opened first, Newcastle's light rail metro or Internet2's first network?",
     ["xquad-en-22-03", "xquad-en-19-04"], ["metro", "1980"]),
    ("Which happened first: Sky's launch of digital satellite television or the reopening "
     "of Warsaw's stock exchange after communism?",
     ["xquad-en-08-01", "xquad-en-01-04"], ["Warsaw", "1991"]),
    ("Which satellite carried Sky Digital when it launched, and what did ABC's logo look "
     "like in the identity it adopted the same year?",
     ["xquad-en-08-01", "xquad-en-24-01"], ["Astra 2A", "circle"]),
    ("Are there more validated species of comb jellies or tree species in the Amazon "
     "rainforest?",
     ["xquad-en-17-00", "xquad-en-16-00"], ["tree", "16,000"]),
    ("What does the name Ctenophora mean, and what does the Greek root of the word oxygen "
     "mean?",
     ["xquad-en-17-02", "xquad-en-12-00"], ["comb-bearing", "acid"]),
    ("Which Chicago economist advised Margaret Thatcher, and which British party's 1997 "
     "victory brought the UK into the EU's Social Chapter?",
     ["xquad-en-35-04", "xquad-en-15-04"], ["Friedman", "Labour"]),
    ("Which came first: Kenya's power-sharing deal after the 2007 election or Toyota "
     "announcing the end of its car making in Victoria?",
     ["xquad-en-37-01", "xquad-en-09-02"], ["Kenya", "2008"]),
    ("In which year did Lindisfarne release their most famous song and the Michigan "
     "universities' network first connect two mainframes?",
     ["xquad-en-22-02", "xquad-en-19-03"], ["1971"]),
    ("Who lived earlier, the Chinese polymath Shen Kuo or the physician Rhazes?",
     ["xquad-en-21-03", "xquad-en-26-01"], ["Rhazes"]),
    ("Which was published first: Martin Luther's three best-known works or Lefevre's "
     "French New Testament?",
     ["xquad-en-06-00", "xquad-en-10-02"], ["Luther", "1520"]),
    ("Which English poet's nonviolent ideas inspired Gandhi, and which Muslim poet-"
     "philosopher was active in the All India Muslim League?",
     ["xquad-en-28-00", "xquad-en-43-02"], ["Shelley", "Iqbal"]),
    ("Did the Peterloo massacre happen before Warsaw opened its first stock exchange?",
     ["xquad-en-28-00", "xquad-en-01-04"], ["no", "1817"]),
    ("Which is older: the theatre that operated in Warsaw's Saxon Garden or Newcastle's "
     "Grainger Market?",
     ["xquad-en-01-00", "xquad-en-22-01"], ["Grainger Market", "1835"]),
    ("How many more people live in Greater Los Angeles than in the Jacksonville "
     "metropolitan area?",
     ["xquad-en-07-01", "xquad-en-32-00"], ["17,786,419", "1,345,596"]),
    ("In what year did Marconi first send radio across the Atlantic, and was oxyacetylene "
     "welding demonstrated in the same year?",
     ["xquad-en-03-02", "xquad-en-12-01"], ["1901"]),
    ("Which came first: the proof that chloroplasts carry their own DNA or the Apollo 1 "
     "fire?",
     ["xquad-en-39-02", "xquad-en-14-03"], ["chloroplast", "1962"]),
    ("Which chemist taught the founder of the Eleutherian gunpowder mills, and what "
     "element did that chemist name?",
     ["xquad-en-10-03", "xquad-en-12-00"], ["Lavoisier", "oxygen"]),
    ("How many years passed between Jean Ribault's mapping of the St. Johns River and "
     "France's takeover of Algeria?",
     ["xquad-en-32-02", "xquad-en-44-04"], ["268", "1562"]),
    ("When did Batu Khan attack Kievan Rus', and when did Kublai Khan's second invasion of"
     " Japan fail?",
     ["xquad-en-25-04", "xquad-en-36-00"], ["1237", "1281"]),
    ("Which exhibition gave rise to the Victoria and Albert Museum, and at which "
     "exhibition was the most successful steam engine indicator shown?",
     ["xquad-en-23-00", "xquad-en-11-01"], ["Great Exhibition", "1862"]),
    ("Which rival colonial power did Britain fear when it settled Victoria in 1803, and "
     "which country took Algeria in 1830?",
     ["xquad-en-09-04", "xquad-en-44-04"], ["French", "France"]),
    ("When was the X.25 protocol introduced, and who did Nixon put in charge of the "
     "Federal Energy Office during the oil crisis?",
     ["xquad-en-19-01", "xquad-en-13-02"], ["1973", "Simon"]),
    ("Did the Normans conquer the Canary Islands before the last plague outbreak hit Oslo?",
     ["xquad-en-02-04", "xquad-en-20-03"], ["yes", "1402"]),
    ("Which University of Chicago library is the largest building on campus, and where is "
     "Harvard's business school?",
     ["xquad-en-35-01", "xquad-en-31-01"], ["Regenstein", "Allston"]),
    ("Who chairs the Intergovernmental Panel on Climate Change, and whose TV dramas are "
     "smuggled into North Korea?",
     ["xquad-en-38-00", "xquad-en-44-02"], ["Hoesung Lee", "South Korea"]),
    ("Which came first: Tesla's first US patents or the Great Exhibition that led to the "
     "V&A?",
     ["xquad-en-03-01", "xquad-en-23-00"], ["Great Exhibition", "1851"]),
    ("Which English Bible translation did Martin Luther's Bible influence, and when did "
     "Lefevre's French New Testament appear?",
     ["xquad-en-06-02", "xquad-en-10-02"], ["Tyndale", "1523"]),
    ("Which Amazon drought affected a larger area, and in which year was the fossil comb "
     "jelly with a large mouth first reported?",
     ["xquad-en-16-04", "xquad-en-17-03"], ["2010", "1996"]),
    ("How old was the Broncos quarterback at Super Bowl 50, and what is the minimum age to"
     " sit in the Scottish Parliament?",
     ["xquad-en-00-02", "xquad-en-42-04"], ["39", "18"]),
    ("Which came first: the Yom Kippur attack that set off the 1973 oil crisis or the "
     "first direct elections to the European Parliament?",
     ["xquad-en-13-00", "xquad-en-15-01"], ["Yom Kippur", "1973"]),
    ("How many points did the Panthers defense give up in the Super Bowl 50 season, and "
     "how many companies were listed on the Warsaw Stock Exchange in 2009?",
     ["xquad-en-00-00", "xquad-en-01-04"], ["308", "374"]),
    ("Who played the Doctor on stage in Doctor Who – The Ultimate Adventure, and which "
     "Newcastle band pioneered black metal?",
     ["xquad-en-34-04", "xquad-en-22-02"], ["Pertwee", "Venom"]),
    ("What are spiritual teachers called in Hinduism, and what group did pro-life United "
     "Methodists form?",
     ["xquad-en-05-03", "xquad-en-45-01"], ["guru", "TUMAS"]),
    ("How many MEPs sit in the European Parliament, and on which days do Scottish "
     "Parliament committees meet?",
     ["xquad-en-15-01", "xquad-en-42-01"], ["750", "Tuesday"]),
    ("Which primality test always gives the correct answer in polynomial time, and is it "
     "known whether P equals PSPACE?",
     ["xquad-en-40-01", "xquad-en-04-04"], ["AKS", "no"]),
]


def normalize(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def _read(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    path.write_text(text, encoding="utf-8")


def _article(passage_id: object) -> int:
    return int(str(passage_id).split("-")[2])


def build_abstain(xquad: Path) -> None:
    """Remove one paragraph per article 08-47; split its questions and the others'."""
    corpus = _read(xquad / "corpus.jsonl")
    questions = _read(xquad / "questions.jsonl")
    by_passage: dict[str, list[dict[str, object]]] = defaultdict(list)
    for q in questions:
        by_passage[str(q["gold_passage_ids"][0])].append(q)  # type: ignore[index]
    articles = sorted({_article(r["id"]) for r in corpus} - set(ANSWER_MATCH_ARTICLES))
    removed = {f"xquad-en-{a:02d}-{a % 5:02d}" for a in articles}
    kept = [r for r in corpus if r["id"] not in removed]
    kept_text = [f" {normalize(str(r['text']))} " for r in kept]
    splits: dict[str, list[dict[str, object]]] = {"dev": [], "heldout": []}
    for a in articles:
        split = splits["dev" if a % 2 == 0 else "heldout"]
        gone = f"xquad-en-{a:02d}-{a % 5:02d}"
        still = [
            q for q in by_passage[gone]
            if not any(f" {normalize(str(ans))} " in t for ans in q["answers"]  # type: ignore[attr-defined]
                       for t in kept_text)
        ]
        for q in still[:PER_ARTICLE]:
            split.append({
                "id": f"{q['id']}-unanswerable", "question": q["question"], "answers": [],
                "gold_passage_ids": [],
                "meta": {"removed_passage": gone, "removed_answers": q["answers"]},
            })
        others = [f"xquad-en-{a:02d}-{p:02d}" for p in range(5) if p != a % 5]
        picked = [by_passage[p][0] for p in others if by_passage[p]][:PER_ARTICLE]
        for q in picked:
            split.append({k: q[k] for k in ("id", "question", "answers", "gold_passage_ids")})
    folder = OUT / "xquad_abstain"
    _write(folder / "corpus.jsonl", kept)
    for name, rows in splits.items():
        _write(folder / f"{name}.jsonl", rows)
    shutil.copy(xquad / "LICENSE-CC-BY-SA4.0.txt", folder / "LICENSE-CC-BY-SA4.0.txt")


def build_abstain_dev2(xquad: Path) -> None:
    """Even articles only: remove paragraph (a + 2) % 5; all its still-unanswerable questions."""
    corpus = _read(xquad / "corpus.jsonl")
    by_passage: dict[str, list[dict[str, object]]] = defaultdict(list)
    for q in _read(xquad / "questions.jsonl"):
        by_passage[str(q["gold_passage_ids"][0])].append(q)  # type: ignore[index]
    articles = [a for a in sorted({_article(r["id"]) for r in corpus})
                if a not in ANSWER_MATCH_ARTICLES and a % 2 == 0]
    removed = {f"xquad-en-{a:02d}-{(a + 2) % 5:02d}" for a in articles}
    kept = [r for r in corpus if r["id"] not in removed]
    kept_text = [f" {normalize(str(r['text']))} " for r in kept]
    rows: list[dict[str, object]] = []
    for a in articles:
        gone = f"xquad-en-{a:02d}-{(a + 2) % 5:02d}"
        for q in by_passage[gone]:
            answers = q["answers"]
            if any(f" {normalize(str(ans))} " in t for ans in answers  # type: ignore[attr-defined]
                   for t in kept_text):
                continue
            rows.append({"id": f"{q['id']}-unanswerable", "question": q["question"],
                         "answers": [], "gold_passage_ids": [],
                         "meta": {"removed_passage": gone, "removed_answers": answers}})
        others = [f"xquad-en-{a:02d}-{p:02d}" for p in range(5) if p not in ((a + 2) % 5, a % 5)]
        for p in others[:PER_ARTICLE]:
            if by_passage[p]:
                q = by_passage[p][-1]
                rows.append({k: q[k] for k in ("id", "question", "answers", "gold_passage_ids")})
    folder = OUT / "xquad_abstain_dev2"
    _write(folder / "corpus.jsonl", kept)
    _write(folder / "questions.jsonl", rows)
    shutil.copy(xquad / "LICENSE-CC-BY-SA4.0.txt", folder / "LICENSE-CC-BY-SA4.0.txt")


def build_multihop(xquad: Path) -> None:
    """Check every hand-written question against the corpus, then split by position."""
    text = {str(r["id"]): str(r["text"]) for r in _read(xquad / "corpus.jsonl")}
    rows: list[dict[str, object]] = []
    for number, (question, gold, answers) in enumerate(MULTIHOP):
        if len(gold) != 2 or any(g not in text for g in gold):
            raise SystemExit(f"bad gold passages for {question!r}: {gold}")
        joined = " ".join(text[g] for g in gold)
        if not any(a.lower() in joined.lower() for a in answers):
            raise SystemExit(f"no answer of {question!r} is in its gold passages")
        rows.append({"id": f"multihop-q{number:03d}", "question": question,
                     "answers": answers, "gold_passage_ids": gold})
    folder = OUT / "multihop_en"
    _write(folder / "dev.jsonl", rows[0::2])
    _write(folder / "heldout.jsonl", rows[1::2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xquad", type=Path, default=DEFAULT_XQUAD,
                        help="folder with XQuAD's corpus.jsonl and questions.jsonl")
    args = parser.parse_args()
    if not (args.xquad / "corpus.jsonl").is_file():
        raise SystemExit(f"{args.xquad}/corpus.jsonl not found; pass --xquad")
    build_abstain(args.xquad)
    build_abstain_dev2(args.xquad)
    build_multihop(args.xquad)


if __name__ == "__main__":
    main()
