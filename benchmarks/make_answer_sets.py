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
    ("Which was founded first: Warsaw's first stock exchange or Newcastle's Grainger Market?",
     ["xquad-en-01-04", "xquad-en-22-01"], ["stock exchange", "1817"]),
    ("Who died first, Nikola Tesla or Genghis Khan?",
     ["xquad-en-03-00", "xquad-en-25-03"], ["Genghis Khan", "1227"]),
    ("Was oxygen given its name before or after James Hutton presented Theory of the Earth?",
     ["xquad-en-12-00", "xquad-en-21-04"], ["before", "1777"]),
    ("Which opened first: the Museum of Manufactures that became the V&A, or Newcastle's "
     "School of Medicine and Surgery?",
     ["xquad-en-23-00", "xquad-en-22-04"], ["School of Medicine and Surgery", "1834"]),
    ("Which came first, the Treaty of Rome or the Brown v. Board of Education decision?",
     ["xquad-en-15-00", "xquad-en-30-04"], ["Brown v. Board of Education", "1954"]),
    ("Which is older: Victoria's written constitution or the Scottish devolution referendum?",
     ["xquad-en-09-01", "xquad-en-42-00"], ["constitution", "1975"]),
    ("Jean Ribault, who charted the St. Johns River, belonged to a religious group; between "
     "which years did French Reformed church members come to be called by that name?",
     ["xquad-en-32-02", "xquad-en-10-02"], ["1550 and 1580"]),
    ("Which African country did Barack Obama skip in 2013, and which university lists him "
     "among its alumni?",
     ["xquad-en-37-02", "xquad-en-31-04"], ["Kenya"]),
    ("Which city lost up to two-thirds of its people to plague, and which descendant of "
     "Genghis Khan sacked it?",
     ["xquad-en-20-04", "xquad-en-25-04"], ["Hulagu"]),
    ("What are Dharma teachers in Tibet called, and which Tibetan monastery sheltered Genghis "
     "Khan's relics in 1949?",
     ["xquad-en-05-04", "xquad-en-25-02"], ["Kumbum", "Lama"]),
    ("Which Persian scholar wrote on the geology of India and also a book on pharmacology "
     "called The Book of Drugs?",
     ["xquad-en-21-03", "xquad-en-26-01"], ["Biruni"]),
    ("Avicenna explained the formation of mountains; how many drug preparations did he "
     "describe?",
     ["xquad-en-21-03", "xquad-en-26-01"], ["700"]),
    ("Which settlement came first: René Goulaine de Laudonnière's on the St. Johns River or "
     "David Collins's at Sullivan Bay?",
     ["xquad-en-32-02", "xquad-en-09-04"], ["Fort Caroline", "1564"]),
    ("How many people made up the first European settlement in Victoria, and how many "
     "Huguenots were naturalised at Manakintown in 1705?",
     ["xquad-en-09-04", "xquad-en-10-01"], ["402", "148"]),
    ("Which lasted longer: the Black Death's years ravaging Europe before it reached Russia, "
     "or the fighting of the French and Indian War in North America?",
     ["xquad-en-20-03", "xquad-en-46-00"], ["French and Indian War", "six years"]),
    ("Which gas filled the Apollo 1 cabin when the fire broke out, and what do hyperbaric "
     "chambers raise the pressure of?",
     ["xquad-en-14-03", "xquad-en-12-04"], ["oxygen"]),
    ("Which treaty is older: the one that demilitarised the Rhineland or the Treaty of Rome?",
     ["xquad-en-41-04", "xquad-en-15-00"], ["Versailles"]),
    ("Which sea was the eastern edge of the Mongol Empire when Genghis Khan died, and why did "
     "Kublai's second invasion of Japan fail?",
     ["xquad-en-25-03", "xquad-en-36-00"], ["Sea of Japan", "typhoon"]),
    ("Which opened first: the Tyne and Wear Metro or the Abilene network of Internet2?",
     ["xquad-en-22-03", "xquad-en-19-04"], ["Tyne and Wear Metro"]),
    ("Which happened earlier: the launch of Sky Digital or the re-establishment of the Warsaw "
     "Stock Exchange?",
     ["xquad-en-08-01", "xquad-en-01-04"], ["Warsaw Stock Exchange", "1991"]),
    ("In which year did ABC adopt its minimalist ABC Circle identity, and which satellite did "
     "Sky Digital use at its launch that year?",
     ["xquad-en-24-01", "xquad-en-08-01"], ["1998", "Astra 2A"]),
    ("Which has more species: the validated ctenophores or the trees of the Amazon rainforest?",
     ["xquad-en-17-00", "xquad-en-16-00"], ["Amazon", "16,000"]),
    ("What does the name ctenophora mean, and what does the Greek root of oxygen mean?",
     ["xquad-en-17-02", "xquad-en-12-00"], ["comb-bearing", "acid"]),
    ("Milton Friedman advised which British prime minister, and which party's 1997 election "
     "win led the UK to sign the Agreement on Social Policy?",
     ["xquad-en-35-04", "xquad-en-15-04"], ["Thatcher", "Labour"]),
    ("Which came first: the Kibaki-Odinga coalition agreement in Kenya or Toyota's "
     "announcement that it would close its plants in Victoria?",
     ["xquad-en-37-01", "xquad-en-09-02"], ["coalition", "2008"]),
    ("In which year was Fog on the Tyne released and the Merit packet-switched network first "
     "demonstrated?",
     ["xquad-en-22-02", "xquad-en-19-03"], ["1971"]),
    ("Who lived earlier, the polymath Shen Kuo or the physician Rhazes?",
     ["xquad-en-21-03", "xquad-en-26-01"], ["Rhazes"]),
    ("Which came first: Luther's three best-known works or Lefevre's French New Testament?",
     ["xquad-en-06-00", "xquad-en-10-02"], ["Luther", "1520"]),
    ("Which poet inspired Gandhi's Satyagraha, and which poet-philosopher joined the London "
     "branch of the All India Muslim League?",
     ["xquad-en-28-00", "xquad-en-43-02"], ["Shelley", "Iqbal"]),
    ("Which happened earlier: the Peterloo massacre or the founding of Warsaw's first stock "
     "exchange?",
     ["xquad-en-28-00", "xquad-en-01-04"], ["stock exchange", "1817"]),
    ("Which is older: Warsaw's Summer Theatre in the Saxon Garden or Newcastle's Grainger "
     "Market?",
     ["xquad-en-01-00", "xquad-en-22-01"], ["Grainger Market", "1835"]),
    ("Which has more people: the Greater Los Angeles Area or the Jacksonville metropolitan "
     "area?",
     ["xquad-en-07-01", "xquad-en-32-00"], ["Greater Los Angeles", "17,786,419"]),
    ("In which year was oxyacetylene welding first demonstrated and Marconi's first "
     "transatlantic radio transmission made?",
     ["xquad-en-12-01", "xquad-en-03-02"], ["1901"]),
    ("Which came first: the proof that chloroplasts have their own DNA or the Apollo 1 fire?",
     ["xquad-en-39-02", "xquad-en-14-03"], ["chloroplast", "1962"]),
    ("E. I. du Pont was a student of which chemist, and which element did that chemist name?",
     ["xquad-en-10-03", "xquad-en-12-00"], ["Lavoisier", "oxygen"]),
    ("Which came first: Jean Ribault charting the St. Johns River or France taking control of "
     "Algeria?",
     ["xquad-en-32-02", "xquad-en-44-04"], ["Ribault", "1562"]),
    ("In which year did Batu Khan invade Kievan Rus', and in which year did Kublai's second "
     "invasion of Japan fail?",
     ["xquad-en-25-04", "xquad-en-36-00"], ["1237", "1281"]),
    ("The V&A grew out of which exhibition, and at which exhibition was Charles Richard's "
     "steam engine indicator shown?",
     ["xquad-en-23-00", "xquad-en-11-01"], ["Great Exhibition", "1862"]),
    ("Which European power did the British fear would settle Port Phillip in 1803, and which "
     "power took control of Algeria in 1830?",
     ["xquad-en-09-04", "xquad-en-44-04"], ["French", "France"]),
    ("In which year was X.25 introduced and William E. Simon named to head the Federal Energy "
     "Office?",
     ["xquad-en-19-01", "xquad-en-13-02"], ["1973"]),
    ("Which happened first: the Norman conquest of Lanzarote or the last plague outbreak in "
     "Oslo?",
     ["xquad-en-02-04", "xquad-en-20-03"], ["Lanzarote", "1402"]),
    ("Which university has the Regenstein Library, and in which Boston neighbourhood is "
     "Harvard Business School?",
     ["xquad-en-35-01", "xquad-en-31-01"], ["Allston"]),
    ("Who chairs the IPCC, and which country's smuggled drama series influence North Korea?",
     ["xquad-en-38-00", "xquad-en-44-02"], ["Hoesung Lee", "South Korea"]),
    ("Which came first: Tesla's first US patents for his electric lighting company or the "
     "Great Exhibition that led to the V&A?",
     ["xquad-en-03-01", "xquad-en-23-00"], ["Great Exhibition", "1851"]),
    ("Which came first: the Yom Kippur attack behind the 1973 oil crisis or the first direct "
     "elections to the European Parliament?",
     ["xquad-en-13-00", "xquad-en-15-01"], ["Yom Kippur", "1973"]),
    ("Luther's Bible influenced which English translator, and in which year did Lefevre "
     "publish his French New Testament?",
     ["xquad-en-06-02", "xquad-en-10-02"], ["Tyndale", "1523"]),
    ("Which drought affected the Amazon more widely, and in which year did the Ctenophora "
     "fossil with a large mouth get reported?",
     ["xquad-en-16-04", "xquad-en-17-03"], ["2010", "1996"]),
    ("How old was Peyton Manning at Super Bowl 50, and how old must a member of the Scottish "
     "Parliament at least be?",
     ["xquad-en-00-02", "xquad-en-42-04"], ["39", "18"]),
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
    build_multihop(args.xquad)


if __name__ == "__main__":
    main()
