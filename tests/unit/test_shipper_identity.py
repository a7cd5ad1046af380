"""File identity: device+inode plus a fingerprint that looks past the lines every IIS file shares."""

from __future__ import annotations

import os

from shipper.identity import FINGERPRINT_MAX, FileIdentity, fingerprint_length

IIS_HEADER = (
    "#Software: Microsoft Internet Information Services 6.0\r\n"
    "#Version: 1.0\r\n"
    "#Date: {date} 00:00:{sec:02d}\r\n"
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip sc-status\r\n"
)


def iis_file(date: str, sec: int = 0) -> bytes:
    body = f"{date} 00:00:{sec:02d} 10.0.0.1 GET /SMS_MP/.sms_aut MPLIST 80 - 10.0.0.2 200\r\n"
    return (IIS_HEADER.format(date=date, sec=sec) + body).encode("ascii")


def identity_of(path: str) -> FileIdentity:
    st = os.stat(path)
    with open(path, "rb") as handle:
        head = handle.read(FINGERPRINT_MAX)
    length = fingerprint_length(head)
    assert length is not None
    return FileIdentity.from_head(st.st_dev, st.st_ino, head, length)


def test_fingerprint_covers_the_iis_date_line():
    head = iis_file("2004-12-06")
    length = fingerprint_length(head)
    assert length is not None
    assert b"#Date:" in head[:length]
    assert b"#Fields:" in head[:length]


def test_identical_iis_headers_on_the_same_inode_give_different_identities():
    # the same device and inode (an inode reused after a delete), identical #Software/#Version lines
    day1, day2 = iis_file("2004-12-06"), iis_file("2004-12-07")
    assert day1.splitlines()[:2] == day2.splitlines()[:2]
    first = FileIdentity.from_head(1, 42, day1, fingerprint_length(day1) or 0)
    second = FileIdentity.from_head(1, 42, day2, fingerprint_length(day2) or 0)
    assert first.key != second.key
    assert not first.matches(day2)


def test_two_live_iis_files_with_identical_headers_differ(tmp_path):
    folder = tmp_path / "W3SVC1"
    folder.mkdir()
    a, b = folder / "u_ex041206.log", folder / "u_ex041207.log"
    a.write_bytes(iis_file("2004-12-06"))
    b.write_bytes(iis_file("2004-12-06"))  # even byte-identical content: the inode differs
    assert identity_of(str(a)).key != identity_of(str(b)).key


def test_delete_and_create_gives_a_new_identity_even_if_the_inode_is_reused(tmp_path):
    path = tmp_path / "SiteComp.log"
    lines = "".join(
        f"line {i} $$<SMS_SITE_COMPONENT_MANAGER><12-06-2004 15:35:4{i}.000+480><thread=1>\n"
        for i in range(5)
    )
    path.write_text(lines)
    before = identity_of(str(path))
    path.unlink()
    path.write_text(lines.replace("15:35", "15:36"))
    after = identity_of(str(path))
    assert before.key != after.key
    assert not before.matches(path.read_bytes())


def test_growing_file_keeps_its_identity(tmp_path):
    path = tmp_path / "MPControl.log"
    path.write_bytes(b"".join(b"record %d\n" % i for i in range(4)))
    before = identity_of(str(path))
    with open(path, "ab") as handle:
        handle.write(b"record 4\nrecord 5\n" * 1000)
    assert identity_of(str(path)) == before
    assert before.matches(path.read_bytes()[:FINGERPRINT_MAX])


def test_short_files_are_not_fingerprinted_until_they_have_enough_lines():
    assert fingerprint_length(b"") is None
    assert fingerprint_length(b"one\ntwo\nthree\n") is None
    assert fingerprint_length(b"one\ntwo\nthree\nfour") is None
    assert fingerprint_length(b"one\ntwo\nthree\nfour\n") == len(b"one\ntwo\nthree\nfour\n")
    assert fingerprint_length(b"x" * FINGERPRINT_MAX) == FINGERPRINT_MAX  # one huge first line


def test_a_short_file_identified_early_is_recognised_after_growth():
    head = b"<12-06-2004 15:35:41> MP Setup Started....\n"
    identity = FileIdentity.from_head(3, 7, head, len(head))
    assert identity.matches(head + b"<12-06-2004 15:35:42> Passed OS version check.\n")
    assert not identity.matches(head[:-5])  # shorter than what was fingerprinted: truncated
