"""agents.jsonl: one reader, one error policy (issue 16), and the resumable writer on it."""
import gzip
import json
import logging

import pytest

from egcfg_plugin.agents.jsonl import JSONLError, ResumableJSONL, read_jsonl, read_records

A, B, C = {"task_id": "a", "v": 1}, {"task_id": "b", "v": 2}, {"task_id": "c", "v": 3}


def lines(*recs):
    return "".join(json.dumps(r) + "\n" for r in recs)


def test_reads_records_with_their_line_numbers_skipping_blank_lines(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text(lines(A) + "\n" + lines(B))
    rows = read_jsonl(p)
    assert [(r.line, r.record) for r in rows] == [(1, A), (3, B)]
    assert rows[1].text == json.dumps(B) + "\n"


def test_a_cut_last_line_is_skipped_with_a_warning(tmp_path, caplog):
    p = tmp_path / "x.jsonl"
    p.write_text(lines(A) + json.dumps(B)[:7])
    with caplog.at_level(logging.WARNING):
        assert read_records(p) == [A]
    assert "x.jsonl: line 2 is cut short" in caplog.text


def test_a_cut_last_line_is_an_error_when_asked(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text(lines(A) + json.dumps(B)[:7])
    with pytest.raises(JSONLError, match=r"x.jsonl, line 2: not a JSON object"):
        read_jsonl(p, cut_last="error")


@pytest.mark.parametrize("bad", ["{not json", "[1, 2]", "\"text\""])
def test_a_bad_middle_line_is_an_error_naming_file_and_line(tmp_path, bad):
    p = tmp_path / "x.jsonl"
    p.write_text(lines(A) + bad + "\n" + lines(B))
    with pytest.raises(JSONLError) as e:
        read_jsonl(p)
    assert str(e.value).startswith(f"{p}, line 2: not a JSON object") and "\n" not in str(e.value)


def test_gz_files_are_read_and_a_truncated_gz_is_a_one_line_error(tmp_path):
    p = tmp_path / "x.jsonl.gz"
    with gzip.open(p, "wt") as f:
        f.write(lines(A, B, C) * 200)
    assert len(read_jsonl(p)) == 600
    p.write_bytes(p.read_bytes()[:-40])
    with pytest.raises(JSONLError) as e:
        read_jsonl(p)
    assert str(e.value).startswith(f"{p}: the .gz file is truncated or damaged") and "\n" not in str(e.value)


def test_a_gz_with_a_cut_middle_line_names_file_and_line(tmp_path):
    p = tmp_path / "x.jsonl.gz"
    with gzip.open(p, "wt") as f:
        f.write(lines(A) + json.dumps(B)[:9] + "\n" + lines(C))
    with pytest.raises(JSONLError, match=r"x.jsonl.gz, line 2: not a JSON object"):
        read_jsonl(p)


def test_resumable_drops_the_cut_line_before_appending(tmp_path, caplog):
    p = tmp_path / "x.jsonl"
    p.write_text(lines(A) + json.dumps(B)[:7])
    with caplog.at_level(logging.WARNING):
        out = ResumableJSONL(p)
    assert "a" in out and "b" not in out and out.bad_lines == [2]
    out.append(B)
    assert p.read_text() == lines(A, B)
    assert read_records(p) == [A, B]          # the cut text never ends up mid-file


def test_resumable_refuses_a_corrupt_middle_line_and_a_record_without_its_key(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text(lines(A) + "{oops\n" + lines(B))
    with pytest.raises(JSONLError, match="line 2"):
        ResumableJSONL(p)
    p.write_text(lines(A, {"v": 9}, B))
    with pytest.raises(JSONLError, match=r"x.jsonl, line 2 has no 'task_id' field"):
        ResumableJSONL(p)


def test_resumable_rewrite_keeps_the_records_held(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text(lines(A, B, A) + "{cut")
    out = ResumableJSONL(p)
    assert out.lines == 4 and len(out) == 2
    out.rewrite()
    assert p.read_text() == lines(A, B) and out.bad_lines == []
    out.append(C)
    assert read_records(p) == [A, B, C]
