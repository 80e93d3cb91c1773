"""The embed stage of ingestion: vectors for the new chunks of a batch of document writes.

A chunk whose embedded text the file (or a file it was moved or copied from) already had keeps
its vector, and a vector a killed run already stored is kept, so an edit or a rename embeds
only text that is really new. The rest is embedded in length-sorted batches."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from chatbot.index import DocumentWrite, Index, Space, chunk_id

#: Called as progress("embed", done, total).
ProgressFn = Callable[[str, int, int], None]


class Embedder:
    """Vectors for the new chunks of a batch: reused from the file's previous version where
    the text is the same, kept where a killed run already stored them, else embedded in
    `embed_batch_size` pieces sorted by length (reported as they finish)."""

    def __init__(self, index: Index, space: Space, progress: ProgressFn) -> None:
        self.index = index
        self.space = space
        self.progress = progress
        self.done = 0
        self.total = 0

    def __call__(self, writes: Sequence[DocumentWrite]) -> None:
        pending: dict[str, list[tuple[DocumentWrite, str]]] = {}  # text -> where it goes
        settled = 0
        for write in writes:
            chunks = write.chunks or []
            self.total += len(chunks)
            stored = self.index.stored_ids(self.space, write.path)
            # A moved or copied file is the same text under a new path: reuse its vectors.
            donor = stored or self.index.stored_ids(self.space, write.path, write.fingerprint)
            old_by_text = {text: key for key, text in donor.items()}
            reuse: dict[str, str] = {}
            for chunk in chunks:
                key = chunk_id(write.path, chunk)
                embedded = chunk.embedded_text
                if key in stored:
                    settled += 1
                elif embedded in old_by_text:
                    reuse[key] = old_by_text[embedded]
                else:
                    pending.setdefault(embedded, []).append((write, key))
            settled += self._reuse(write, reuse)
        settled += self._kept(pending)
        self._report(settled)
        self._embed(pending)

    def _reuse(self, write: DocumentWrite, reuse: dict[str, str]) -> int:
        collection = self.index.collection(self.space)
        vectors = collection.vectors(list(set(reuse.values()))) if collection and reuse else {}
        for key, old in reuse.items():
            if old in vectors:
                write.vectors[key] = [float(v) for v in vectors[old]]
        return len(reuse)  # any not found are embedded at commit

    def _kept(self, pending: dict[str, list[tuple[DocumentWrite, str]]]) -> int:
        """Chunks whose vector a killed run already stored: the commit keeps them."""
        collection = self.index.collection(self.space)
        keys = [key for targets in pending.values() for _, key in targets]
        existing = collection.existing(keys) if collection and keys else {}
        settled = 0
        for text in list(pending):
            left = [(w, key) for w, key in pending[text] if key not in existing]
            settled += len(pending[text]) - len(left)
            if left:
                pending[text] = left
            else:
                del pending[text]
        return settled

    def _embed(self, pending: dict[str, list[tuple[DocumentWrite, str]]]) -> None:
        texts = sorted(pending, key=len)
        size = self.index.settings.embed_batch_size
        for begin in range(0, len(texts), size):
            batch = texts[begin : begin + size]
            vectors = self.index.embeddings.embed_documents(batch)
            for text, vector in zip(batch, vectors, strict=True):
                for write, key in pending[text]:
                    write.vectors[key] = vector
            self._report(sum(len(pending[t]) for t in batch))

    def _report(self, count: int) -> None:
        self.done = min(self.done + count, self.total)
        self.progress("embed", self.done, self.total)
