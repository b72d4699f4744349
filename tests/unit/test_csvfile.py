"""csvfile: formula-safe cells, the errors CSV, delimiter sniffing, line numbers, header-less files."""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

import pytest

from campaign_engine.audience.contactrows import validate_contacts
from campaign_engine.audience.csvfile import (
    RowError,
    csv_safe,
    fold_text,
    open_csv,
    read_rows,
    sniff_delimiter,
    write_errors,
)
from campaign_engine.audience.seenrows import SeenRows
from campaign_engine.core.errors import UnreadableFile


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("ada@tiny.example", "ada@tiny.example"),
        ("a=b", "a=b"),
        ("", ""),
        (12, "12"),
        (None, ""),
    ],
)
def test_csv_safe_neutralises_formula_cells(value: object, safe: str) -> None:
    assert csv_safe(value) == safe


def test_errors_csv_has_the_columns_and_no_live_formula(tmp_path: Path) -> None:
    path = tmp_path / "errors.csv"
    errors = [
        RowError("in.csv", 3, "email", "=cmd|' /C calc'!A0 is not valid"),
        RowError("in.csv", 7, "first_name", "contains a line break"),
    ]
    assert write_errors(path, errors) == 2
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [
        ["file", "line", "field", "reason"],
        ["in.csv", "3", "email", "'=cmd|' /C calc'!A0 is not valid"],
        ["in.csv", "7", "first_name", "contains a line break"],
    ]


@pytest.mark.parametrize(
    ("first_line", "delimiter"),
    [
        ("email,name", ","),
        ("email;name;account", ";"),
        ("email\tname", "\t"),
        ("email|name", "|"),
        ('"a;b",c,d', ","),
        ("ada@tiny.example", ","),
    ],
)
def test_sniff_delimiter_counts_outside_quotes(first_line: str, delimiter: str) -> None:
    assert sniff_delimiter(f"\n\n{first_line}\nmore;;;;;;\n") == delimiter


def test_line_numbers_survive_multi_line_fields_and_empty_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b'email,note\r\na@x.example,"one\r\ntwo, three"\r\n\r\nb@x.example,""\r\n')
    rows = list(read_rows(path, {}))
    assert [(r.line, r.values["email"]) for r in rows] == [(2, "a@x.example"), (5, "b@x.example")]
    assert rows[0].values["note"] == "one\r\ntwo, three"


def test_header_predicate_decides_whether_the_first_row_is_data(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("ada@x.example\nbob@x.example\n", encoding="utf-8")
    rows = list(read_rows(path, {}, header=lambda record: "@" not in record[0]))
    assert [(r.line, r.values) for r in rows] == [
        (1, {"value": "ada@x.example"}),
        (2, {"value": "bob@x.example"}),
    ]


def test_seen_rows_remembers_the_first_line_of_each_key() -> None:
    with SeenRows[int]() as seen:
        assert seen.firsts([("a@x.example", 2, 11), ("b@x.example", 3, -5)]) == [None, None]
        assert seen.firsts(
            [("c@x.example", 8, 1), ("a@x.example", 9, 12), ("c@x.example", 10, 2)]
        ) == [
            None,
            (2, 11),
            (8, 1),
        ]


@pytest.mark.parametrize(
    ("value", "folded", "stripped"),
    [
        ("Director; Security\nand Compliance", "Director; Security and Compliance", False),
        ("Head\tof  IT", "Head\tof  IT".replace("\t", " "), False),
        ("  Ada \r\n Lovelace ", "Ada Lovelace", False),
        ("Ad\x00a", "Ada", True),
        ("Bel\x07l\x85", "Bell", True),
        ("José", "José", False),
    ],
)
def test_fold_text_makes_one_clean_line(value: str, folded: str, stripped: bool) -> None:
    assert fold_text(value) == (folded, stripped)


def test_contact_rows_validate_without_a_csv_file() -> None:
    checks = validate_contacts(
        [
            {
                "email": "Ada@Tiny.example",
                "first_name": "Ada\x00",
                "account": "Tiny",
                "employees": "5",
            },
            {"email": "not an address", "account": "Tiny", "employees": "5"},
            {"email": "bo@tiny.example", "account": "", "segment": "SMB"},
        ],
        source="api",
    )
    assert checks[0].row is not None and checks[0].row.email == "ada@tiny.example"
    assert [str(w) for w in checks[0].warnings] == [
        "api:1: first_name: control characters removed (line breaks and tabs became spaces)"
    ]
    assert checks[1].error is not None and str(checks[1].error).startswith("api:2: email: ")
    assert str(checks[2].error) == "api:3: account: is empty"


def test_employees_must_be_a_plausible_whole_number() -> None:
    cells = ["10,000,000", "99999999999999999999999", "9" * 5000, "²", "12.5", "0012"]
    rows = [
        {"email": f"e{i}@tiny.example", "account": "Tiny", "employees": c}
        for i, c in enumerate(cells)
    ]
    errors = [
        str(check.error) if check.error else "" for check in validate_contacts(rows, source="f.csv")
    ]
    assert errors[0] == "" and errors[5] == ""
    assert errors[1] == "f.csv:2: employees: 99999999999999999999999 is over 10,000,000"
    assert errors[2] == "f.csv:3: employees: a 5000-digit number is over 10,000,000"
    assert errors[3] == "f.csv:4: employees: '²' is not a whole number"
    assert errors[4] == "f.csv:5: employees: '12.5' is not a whole number"


def test_an_international_address_is_accepted_and_the_import_says_it_needs_smtputf8() -> None:
    (checked,) = validate_contacts(
        [{"email": "José@smb.example", "account": "SMB Co", "employees": "10"}], "contacts.csv"
    )
    assert checked.row is not None and checked.row.email == "josé@smb.example"
    assert [(w.field, "SMTPUTF8" in w.reason) for w in checked.warnings] == [("email", True)]
    (idn,) = validate_contacts(
        [{"email": "idn@bücher.example", "account": "SMB Co", "employees": "10"}], "contacts.csv"
    )
    assert idn.row is not None and idn.warnings == []  # a domain is sent as A-labels: no warning


def test_ignored_headers_suggest_the_column_only_for_a_likely_typo(tmp_path: Path) -> None:
    path = tmp_path / "list.csv"
    path.write_text("emial,state,frist_name\nada@tiny.example,CA,Ada\n", encoding="utf-8")
    opened = open_csv(path, {}, known=("email", "title", "first_name"))
    assert opened.ignored == ("emial", "state", "frist_name")
    assert opened.suggestions == ("email", "first_name")  # "state" is no typo of "title"


CONTACTS = "email\taccount\nkasia@slask.example\tŚląsk SA\njan@x.example\tZakłady Żółć\n"


def _accounts(path: Path, encoding: str | None = None) -> tuple[list[str], list[str]]:
    opened = open_csv(path, {}, ("email", "account"), encoding)
    return [record.values["account"] for record in opened.records({})], opened.notes


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_files_with_a_byte_order_mark_are_read(tmp_path: Path, codec: str) -> None:
    path = tmp_path / "unicode-text.txt"  # what Excel's "Unicode text" export writes
    bom = {"utf-16-le": codecs.BOM_UTF16_LE, "utf-16-be": codecs.BOM_UTF16_BE}.get(codec, b"")
    path.write_bytes(bom + CONTACTS.encode(codec))
    accounts, notes = _accounts(path)
    assert accounts == ["Śląsk SA", "Zakłady Żółć"]
    assert notes[0].endswith("(byte order mark)")
    assert _accounts(path, "utf-16" if codec != "utf-32" else "utf-32")[0] == accounts


@pytest.mark.parametrize("codec", ["iso-8859-2", "cp1250"])
def test_a_central_european_file_is_refused_by_line_until_its_encoding_is_given(
    tmp_path: Path, codec: str
) -> None:
    path = tmp_path / "pl.csv"
    path.write_bytes(("email,account\nok@x.example,Acme\n" + CONTACTS.replace("\t", ",")
                      .split("\n", 1)[1]).encode(codec))  # fmt: skip
    with pytest.raises(UnreadableFile) as refused:
        _accounts(path)
    line = str(refused.value)
    assert line.startswith(f"{path}:3: ") and "--encoding iso-8859-2" in line, line
    assert "\n" not in line
    assert _accounts(path, codec)[0] == ["Acme", "Śląsk SA", "Zakłady Żółć"]


def test_windows_1252_text_is_still_read_as_such(tmp_path: Path) -> None:
    path = tmp_path / "de.csv"
    rows = ["email,account", "m@x.example,Müller Café GmbH", "j@y.example,Señor Niño S.A.",
            "z@z.example,Acme® «Zoë» Nº 5 – £20 ©2021 ¿Qué?"]  # fmt: skip
    path.write_bytes("\n".join(rows).encode("cp1252"))
    accounts, notes = _accounts(path)
    assert accounts == [row.split(",", 1)[1] for row in rows[1:]]
    assert "read as Windows-1252" in notes[0]
