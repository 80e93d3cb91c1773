"""Which sentences of a document address an AI model with an order (a planted instruction).

Kept apart from `guard`, which decides what to do about them: this module only recognises them,
so the patterns can grow without touching how passages and replies are screened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from chatbot.sentences import sentence_spans

_AI = (
    r"(?<![a-z])(?:ai|a\.i\.|assistants?|chat ?bots?|language models?|llms?|gpt|bots?)"
    r"(?![a-z])"
)
_VERB = (
    r"(?:must|should|shall|always|never|answer|reply|respond|say|print|output|include|add|"
    r"append|end|start|begin|repeat|reveal|refuse|write|translate|sign|mention|tell)"
)
_REPLY = r"(?:answers?|repl(?:y|ies)|responses?)"
#: Phrases that address the model rather than a human reader. Written from how injections are
#: phrased in general (overrides, role tags, requests about "your answer", orders to pass
#: something on to "the reader"), not from any one case.
_CUES = [
    r"\b(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}\b(?:instructions?|rules?|"
    r"prompts?|everything|above|previous|prior|guidelines|directions)\b",
    r"(?<![\w-])(?:system|developer|admin(?:istrator)?)[\s_]+(?:prompt|message|override|instructions?|"
    r"policy|mode|note|order)\b",
    r"\border from the (?:system|admin)",
    rf"{_AI}[^.\n]{{0,60}}\b{_VERB}\b",
    rf"\b(?:to|for|from)\s+(?:the\s+|any\s+|all\s+|this\s+)?(?:developers of )?(?:this\s+)?"
    rf"{_AI}",
    rf"\b(?:your|every|each|all|any)\s+(?:of your\s+)?{_REPLY}\b",
    r"\b(?:correct|only|valid|right|real) answer (?:is|to)\b|\banswer to (?:any|every) question",
    r"\b(?:respond|reply|answer)[\s_]+(?:only|exclusively|solely|just|with the word)",
    r"\b(?:say|print|output|write|type|include)\s+(?:the\s+)?(?:single\s+)?"
    r"(?:word|words|phrase|code word|text|token|secret word)\b",
    r"\b(?:tell|remind|inform|warn)\s+(?:the\s+|all\s+|every\s+)?(?:readers?|users?|everyone|"
    r"visitors?|people)\b",
    r"\b(?:please|kindly)\s+(?:mention|say|include|sign|append)\b",
    r"\bthe user'?s (?:question|query)",
    r"\brewrit(?:e|ing)\b[^.\n]{0,30}\bquestions?\b|\bevery question you\b",
    r"\b(?:append|add|attach|insert)\b[^.\n]{0,80}\bto (?:every|each|your|the|all) "
    rf"(?:questions?|{_REPLY})\b",
    r"\bcite\s*\[\d+\]",
    r"\b(?:you are now|pretend (?:to be|you are)|act as (?:a|an|if)|let'?s play a game|"
    r"role-?play|new (?:rule|task|policy|instruction)s?\b)",
    r"\b(?:reveal|repeat|show|list|print|output)\b[^.\n]{0,40}\b(?:system prompt|instructions|"
    r"rules you|api key|secret|(?:text|words|everything) (?:above|before))",
    r"\bdo not (?:answer|reply|respond)\b|\bdo not provide any\b",
    r"^\s*(?:\[?(?:system|assistant|user|human)\]?\s*:|\"role\"|\{\s*\"(?:role|messages)\")",
    r"^\s*(?:question|answer|q|a)\s*[:-]\s",
    r"^\s*```\s*(?:system|assistant|prompt|instructions?)\b",
    r"</?(?:passages?|context|documents?|system|tool_\w+|instructions?)>",
    r"\bend of (?:the )?(?:context|documents?|passages?)\b",
    r"<(?:im_start|im_end|endoftext|\|)",
    r"\b(?:ignora|ignoriere|ignorez|игнорируй)\b",
    r"(?:忽略|无视|無視|指示|指令)",
    r"\b(?:instrucciones|instruções|istruzioni|anweisungen|инструкции)\b",
]
_INSTRUCTION = re.compile("|".join(f"(?:{c})" for c in _CUES), re.I | re.M)
#: `say PWNED`: a verb followed by a shouted word is an order to echo a token.
_SHOUTED = re.compile(r"\b(?:say|print|output|write)\s+[\"'“‘]?[A-Z0-9][A-Z0-9-]{2,}")


def is_instruction(sentence: str) -> bool:
    """True for a sentence or line that addresses an AI model with an order."""
    return bool(_INSTRUCTION.search(sentence) or _SHOUTED.search(sentence))


def instruction_spans(text: str) -> list[tuple[int, int]]:
    """Offsets of the sentences (a line break ends one too) of `text` that are instructions."""
    return [(a, b) for a, b in sentence_spans(text, lines=True) if is_instruction(text[a:b])]


WITHHELD = "[text withheld: it reads as an instruction to an AI]"


@dataclass
class Withheld:
    """A passage text with its instruction sentences replaced, and what was taken out."""

    text: str
    removed: list[str] = field(default_factory=list)


def withhold(text: str) -> Withheld:
    """`text` with each instruction sentence replaced by `WITHHELD` (runs merged)."""
    spans = instruction_spans(text)
    if not spans:
        return Withheld(text)
    pieces: list[str] = []
    done = 0
    for a, b in spans:
        gap = text[done:a]
        if pieces and pieces[-1] == WITHHELD and not gap.strip():
            done = b
            continue
        pieces += [gap, WITHHELD]
        done = b
    pieces.append(text[done:])
    return Withheld("".join(pieces), [text[a:b].strip() for a, b in spans])
