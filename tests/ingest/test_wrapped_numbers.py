"""A hard-wrapped line that happens to start with a number goes on with its sentence; real numbered lists stay lists.

* "... any further charges under rule" / "9.  This fee ..." is one paragraph, and "... under rule 9." one sentence.
* A numbered list keeps one item per number: items on consecutive lines, items whose text wraps onto filled lines
  with no closing punctuation, a list that resumes at 17 under the indented end of the text before it, numbers set
  flush right, a list that opens with "1." under a filled lead-in with no colon, and items that go on from a list
  elsewhere under a filled lead-in that ends with a colon or a short one with no punctuation.
"""

from __future__ import annotations

import re

import pytest

from rag.ingest.chunk import chunk_document
from rag.ingest.parse import Document, parse
from rag.ingest.units import LIST, split_units

# Wrapped greedily at 74 columns: "9." did not fit at the end of the line before it.
WRAPPED = """Rules for the loan of shared garden tools

    c) A borrower who keeps a tool past its due date pays the late fee set
    out in the schedule of charges and any further charges owed under rule
    9.  This fee replaces the deposit once the tool has been gone for two
    weeks, and the committee may waive it for a borrower who was ill.

    d) A tool returned broken is repaired at the cost of the borrower, who
    may instead replace it with a tool of the same kind and the same size.

A member who lends a garden tool to someone outside the club answers for it
as for a loan of their own, and the charges in part 2 of the schedule or in
12) apply to that member, who may not pass them on to the other person.
"""


def body_starts(doc: Document) -> list[str]:
    """The first words of each body block, runs of space made one."""
    return [" ".join(doc.text[b.start : b.end].split())[:30] for b in doc.body]


def test_a_wrapped_number_goes_on_with_its_sentence() -> None:
    doc = parse(WRAPPED, "rules.txt")
    starts = body_starts(doc)
    assert not [s for s in starts if re.match(r"\d+[.)]", s)], starts
    clause = next(b for b in doc.body if doc.text[b.start : b.end].startswith("c) A borrower"))
    assert doc.text[clause.start : clause.end].endswith("who was ill.")
    member = next(b for b in doc.body if doc.text[b.start : b.end].startswith("A member who lends"))
    assert doc.text[member.start : member.end].endswith("to the other person.")
    sentences = [doc.text[s:e] for c in chunk_document(doc) for s, e in c.sentences]
    assert any(s.startswith("c) A borrower") and " ".join(s.split()).endswith("under rule 9.") for s in sentences), \
        sentences
    assert any(s.startswith("This fee replaces the deposit") for s in sentences)


LISTS = """How the tool shed is run

To take a tool out of the shed:
1. Sign the register
2. Take the key from the keeper
3. Lock the door behind you

1. The borrower signs the register at the shed door and writes down the
name of the tool, the day it was taken and the day it is due back there
2. The keeper checks the tool for damage when it is returned and records
any fault it finds in the register beside the borrower's name and number
3. A tool that is not back within two weeks is listed on the notice board

    the tools in the second shed, which are lent on the same terms as these
17. Ladders are lent only to members who have used a ladder at the garden
    before under the eye of the keeper or one of the two deputy keepers
18. Hedge trimmers are lent with a pair of gloves and a pair of goggles and
    the borrower returns all three together on the same day to the keeper
19. Wheelbarrows stay inside the garden gate at all times

 8. Trowels
 9. Forks
10. Spades

The tools below are kept in the first shed and are lent to members in turn
1. Rakes
2. Hoes

The duties of the keeper go on from the list pinned inside the first shed:
 4. The keeper may refuse a loan to a member who has not returned a tool on
    time in the past year, and says so in writing within seven days.

Appeals against a refusal
 5. A refusal can be appealed to the committee at its next meeting, which
    hears the member and the keeper and decides by a simple majority of its
    members present.
"""

ITEMS = ["1. Sign the register", "2. Take the key", "3. Lock the door", "1. The borrower signs", "2. The keeper checks",
         "3. A tool that is not back", "17. Ladders are lent", "18. Hedge trimmers", "19. Wheelbarrows stay",
         "8. Trowels", "9. Forks", "10. Spades", "1. Rakes", "2. Hoes", "4. The keeper may refuse",
         "5. A refusal can be"]


@pytest.fixture(scope="module")
def lists() -> Document:
    return parse(LISTS, "shed.txt")


@pytest.mark.parametrize("item", ITEMS)
def test_each_item_of_a_real_list_is_its_own_unit_and_block(lists: Document, item: str) -> None:
    units = [u for u in split_units(LISTS) if LISTS[u.start : u.end].startswith(item)]
    assert len(units) == 1 and units[0].role == LIST, item
    assert sum(s.startswith(item) for s in body_starts(lists)) == 1, body_starts(lists)


def test_list_items_keep_their_wrapped_lines(lists: Document) -> None:
    item = next(b for b in lists.body if lists.text[b.start : b.end].startswith("18. Hedge"))
    assert lists.text[item.start : item.end].endswith("on the same day to the keeper")
    refusal = next(b for b in lists.body if lists.text[b.start : b.end].startswith("5. A refusal"))
    assert lists.text[refusal.start : refusal.end].endswith("members present.")
    # Besides the items, only the four lead-ins (to the first list, to "1. Rakes", to "4." and to "5."): the
    # lower-case line the 17th item resumes after goes on with the open sentence of the item before it.
    assert len(lists.body) == len(ITEMS) + 4
