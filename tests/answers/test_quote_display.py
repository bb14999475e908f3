"""How a quote's text is laid out in the plain-text answer (`rag ask`): its characters are never changed."""

from __future__ import annotations

import pytest

from rag.answers.pipeline import quoted_lines


@pytest.mark.parametrize(("text", "lines"), [
    ("The harbour authority said that\n   traffic doubled in 2023.", ["The harbour authority said that traffic doubled in 2023."]),
    ("| Component | Oldest version |\n| automake | 1.14 |", ["| Component | Oldest version |", "| automake | 1.14 |"]),
    ("Three tools:\n- apt-cdrom\n- apt-get", ["Three tools:", "- apt-cdrom", "- apt-get"]),
    ("<pre># /etc/nsswitch.conf\n\npasswd:   compat\nhosts:    files dns</pre>",
     ["<pre># /etc/nsswitch.conf", "passwd: compat", "hosts: files dns</pre>"]),
    ("First paragraph ends here.\n\nSecond one.", ["First paragraph ends here.", "Second one."]),
])
def test_a_paragraph_is_one_line_and_rows_items_and_code_keep_theirs(text: str, lines: list[str]) -> None:
    assert quoted_lines(text) == lines
    assert "".join(lines).replace(" ", "") == "".join(text.split())  # only whitespace moves


def test_the_page_keeps_every_line_of_a_quoted_code_block_and_reflows_a_paragraph() -> None:
    from ui.render import reflow

    code = "<pre># /etc/nsswitch.conf\npasswd:   compat\nhosts:    files dns</pre>"
    assert reflow(code) == code
    prose = "The harbour authority said that\ntraffic doubled in 2023."
    assert reflow(prose) == prose.replace("\n", " ") and len(reflow(prose)) == len(prose)
