"""Writes cases.jsonl: gold sentence segmentations (each case is its sentences and the separator
that joins them). Hand-written; run `python tests/data/sentences/make_cases.py` after editing."""

import json
from pathlib import Path

S = " "
CASES: list[tuple[str, list[str]]] = [
    # decimals, numbers, money, versions
    (S, ["Revenue rose to 3.5 million dollars in 2023 [1].", "Costs fell by 2.75 %."]),
    (S, ["The price was $4.99 per unit.", "It rose to $5.25 in March."]),
    (S, ["Version 2.1 of the tool fixed the bug.", "Version 3.0.1 followed in May."]),
    (S, ["Python 3.11.4 is required.", "Older releases such as 3.8 are not supported."]),
    (S, ["Pi is about 3.14159.", "E is about 2.718."]),
    (S, ["The temperature was -0.5 degrees.", "It rose to 1.5 by noon."]),
    (S, ["Section 4.2.1 describes the protocol.", "Section 5 lists the results."]),
    (S, ["The score was 0.956 at recall@1 [2].", "Dense search scored 0.901 [3]."]),
    (S, ["About 1,190 questions were asked.", "Of these, 1.5 % failed."]),
    (S, ["The ratio is 1.2:1.", "That is high."]),
    # abbreviations
    (S, ["Use a short key, e.g. a number, for each row.", "Then sort the rows."]),
    (S, ["Some fruits, i.e. apples and pears, keep well.", "Bananas do not."]),
    (S, ["The U.S. economy grew last year.", "Europe's did not."]),
    (S, ["Dr. Smith arrived at noon.", "She left at three."]),
    (S, ["Mr. and Mrs. Jones live here.", "Their son moved away."]),
    (S, ["The meeting is on Jan. 5 at the office.", "Bring the report."]),
    (S, ["It opened in Sept. 2019 after delays.", "Visitors came at once."]),
    (S, ["Prof. Lee wrote the paper with St. John's College.", "It won a prize."]),
    (S, ["Apples, pears, etc. are sold here.", "Prices vary."]),
    (S, ["See Fig. 3 for the layout.", "Table 2 lists the parts."]),
    (S, ["The company, Acme Inc., was founded in 1990.", "It has 200 employees."]),
    (S, ["He works for the U.N. in Geneva.", "His wife teaches there."]),
    (S, ["The results (cf. Table 4) were mixed.", "More work is needed."]),
    (S, ["Compare approx. 30 samples with the control.", "The difference is small."]),
    (S, ["Gen. Patton led the Third Army.", "It crossed the Rhine in 1945."]),
    (S, ["They met at 10 a.m. on Monday.", "The talks lasted until 4 p.m."]),
    (S, ["The U.S. Senate passed the bill [1].", "The House followed [2]."]),
    (S, ["Vol. 2, No. 3 appeared in 2001.", "It sold out."]),
    (S, ["Lt. Col. Harris commanded the unit.", "He retired in 1999."]),
    (S, ["The fee is paid vs. the budget.", "It is small."]),
    # initials and names
    (S, ["J. R. R. Tolkien wrote The Hobbit.", "It appeared in 1937."]),
    (S, ["George W. Bush was president.", "He served two terms."]),
    (S, ["The paper by A. Smith and B. Jones is cited.", "It is old."]),
    (S, ["E. coli bacteria were found.", "The beach was closed."]),
    (S, ["John F. Kennedy was born in 1917.", "He died in 1963."]),
    # file names, code, URLs, e-mail
    (S, ["Edit config.yaml to change the port.", "Then restart the server."]),
    (S, ["The settings live in .env.example for reference.", "Copy it to .env first."]),
    (S, ["Run setup.py install.", "Then import the package."]),
    (S, ["Open the file report.pdf in a viewer.", "It has 12 pages."]),
    (S, ["Visit https://example.com/docs/index.html for details.", "The page is long."]),
    (S, ["The API lives at https://api.example.org/v1/chat?model=a.b.", "It needs a key."]),
    (S, ["Write to support@example.com for help.", "Answers come within a day."]),
    (S, ["Call os.path.splitext() on the name.", "It returns a pair."]),
    (S, ["The module chatbot.citations checks markers.", "It is small."]),
    (S, ["See www.python.org for downloads.", "Pick version 3.11."]),
    (S, ["The file data/corpus.jsonl holds 240 passages.", "Each has an id."]),
    # ellipses
    (S, ["Wait... what happened next?", "Nobody knows."]),
    (S, ["He paused… then he spoke.", "The room was quiet."]),
    (S, ["It was late...", "Everyone had gone home."]),
    (S, ["The list goes on and on . . . without end.", "We stopped reading."]),
    # quotes and brackets
    (S, ['"Is it done?" she asked.', "He nodded."]),
    (S, ['He said "no."', "Then he left."]),
    (S, ["She called it “the best year ever.”", "Others disagreed."]),
    (S, ["The sign read 'Closed!' in red.", "We went home."]),
    (S, ["(This is a note.)", "The text continues here."]),
    (S, ["He asked, “Why now?”", "Nobody answered."]),
    (S, ['"Stop!" he shouted.', "The car stopped."]),
    # question and exclamation marks
    (S, ["Is the server up?", "Yes, it is."]),
    (S, ["What a result!", "Nobody expected it."]),
    (S, ["Really?!", "I did not know that."]),
    (S, ["How about now??", "Still nothing."]),
    # citation markers in model replies
    (S, ["Xi visits Kazakhstan first [1].", "He then goes to Samarkand [2]."]),
    (S, ["Xi visits Kazakhstan first.[1]", "He then goes to Samarkand.[2]"]),
    (S, ["Xi visits Kazakhstan first. [1]", "He then goes to Samarkand. [2]"]),
    (S, ["The summit is in Uzbekistan [1, 2].", "Putin will attend [2]."]),
    (S, ["The summit is in Uzbekistan [1][2].", "Putin will attend [2]."]),
    (S, ["It costs 3.5 million [1].", "That is 2.5 more than planned [2]."]),
    (S, ["Use e.g. the CLI [1].", "Or use the app [2]."]),
    (S, ["The U.S. team won [3].", "The U.K. team came second [3]."]),
    # lower-case starts, digits, mixed
    (S, ["The vote was 5 to 4.", "iPhones were banned in the room."]),
    (S, ["It ended in 2019.", "2020 was different."]),
    (S, ["The count was low.", "eBay sold the rest."]),
    (S, ["This is the end.", "— And this is a new start."]),
    # plain prose
    (S, ["The cat sat on the mat.", "The dog slept.", "Birds sang outside."]),
    (S, ["One.", "Two.", "Three."]),
    (S, ["This sentence has no final stop"]),
    (S, ["A single sentence with a decimal 4.5 in it."]),
    (S, ["The meeting was long.", "Afterwards, everyone went home.", "It rained."]),
    (S, ["Chroma stores vectors.", "SQLite stores records.", "Both live under the data dir."]),
    # list items and lines
    ("\n", ["Steps:", "1. Install the package.", "2. Run the tests.", "3. Ship it."]),
    ("\n", ["- First point about sales [1].", "- Second point about costs [2]."]),
    ("\n", ["* Apples are red.", "* Bananas are yellow."]),
    ("\n", ["Summary", "The report covers 2023.", "Revenue grew."]),
    ("\n", ["a) the first option", "b) the second option"]),
    ("\n", ["1) Open the file.", "2) Read it."]),
    ("\n\n", ["# Heading", "The paragraph under the heading."]),
    ("\n\n", ["First paragraph ends here.", "Second paragraph starts here."]),
    ("\n", ["Name: Alice", "Role: Engineer"]),
    ("\n", ["The first line has no stop", "The second line has none either"]),
    # other languages seen in documents (Latin script)
    (S, ["Der Preis stieg um 3,5 %.", "Das war viel."]),
    (S, ["Il est arrivé à 10 h.", "Il est reparti à midi."]),
    # harder mixes
    (S, ["Revenue rose to 3.5 million dollars in 2023, i.e. by 12 %, per the U.S. filing [1].",
         "Dr. Jones (see report.pdf, p. 4) disagreed [2]."]),
    (S, ["Version 2.1 … e.g. the CLI, works [1].", "The app does too [2]."]),
    (S, ["Between 1.5 and 2.5 kg.", "That is the range."]),
    (S, ["No. 10 Downing Street is in London.", "The prime minister lives there."]),
    (S, ["The flight left at 9.30 from gate B.", "It landed late."]),
    (S, ["He scored 9/10.", "She scored 10/10."]),
    (S, ["The value is 1e-5.", "It is tiny."]),
    (S, ["Items cost 5 EUR ea.", "Shipping is free."]),
]


def main() -> None:
    out = Path(__file__).with_name("cases.jsonl")
    with out.open("w", encoding="utf-8") as handle:
        for sep, sentences in CASES:
            handle.write(json.dumps({"sep": sep, "sentences": sentences}, ensure_ascii=False))
            handle.write("\n")
    print(f"wrote {len(CASES)} cases to {out}")


if __name__ == "__main__":
    main()
