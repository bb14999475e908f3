"""Ask questions of a report; get verbatim quotes with exact citations.

    >>> import rag
    >>> passages = rag.retrieve("Why does Taiwan matter to Japan?", k=3)
    >>> passages[0].citation.source
    'japan-nato-alignment.txt'

Importing this package is cheap: the model loads on first use, on ONNX Runtime (torch is
imported only to export it once, or for another model: see `rag.embed.runtime`).
"""

from rag.answers.index import Index
from rag.errors import IndexStateError, IngestError, InputError, ModelError, RagError, StaleIndexError
from rag.service.default import answer, retrieve
from rag.service.loading import build_index, load_index, open_store
from rag.types import Answer, Citation, Passage, Quote

__all__ = [
    "Answer",
    "Citation",
    "Index",
    "IndexStateError",
    "IngestError",
    "InputError",
    "ModelError",
    "Passage",
    "Quote",
    "RagError",
    "StaleIndexError",
    "answer",
    "build_index",
    "load_index",
    "open_store",
    "retrieve",
]
